"""Fleet: agents' state, their remote configuration, silence alerts and device listings."""
