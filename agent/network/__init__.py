"""Finding devices on the network: device records and their merging, the known-devices store (also the
service's inspection targets), the SNMP sweep (sweep.py) and the sources besides it (neighbour table,
mDNS/DNS-SD, IPP)."""
