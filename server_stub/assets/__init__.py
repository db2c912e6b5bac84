"""Assets: the dealer's devices, one per physical printer (fleet-model issue #10)."""
