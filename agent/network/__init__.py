"""Finding devices on the network: device records and their merging, the known-devices store, and the
sources besides the SNMP sweep (neighbour table, mDNS/DNS-SD, IPP)."""
