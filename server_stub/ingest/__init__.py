"""Ingest: storing a verified batch of readings and the device identity it is keyed by."""
