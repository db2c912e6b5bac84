"""Simulated printers: true usage (usage.py) and the readings agents would report of it (history.py)."""
