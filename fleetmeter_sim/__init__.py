"""Fleetmeter's printer simulator (`fleetmeter-sim`): many SNMP printers on loopback whose meters rise,
supplies fall, cartridges get replaced and alerts come and go as simulated pages are printed.

- `models`: the simulated models (device files in `devices/`, behaviour in `models.toml`);
- `fleet`: which device is which model, with its serial, name, MAC and address;
- `live`: the seam between printing and SNMP (`DeviceState`: counters, supply levels and alerts at a
  simulated time) and a small placeholder printing model;
- `mibview`: a model's MIB as sorted OIDs, answering GET/GETNEXT/GETBULK from a device's state;
- `server`: the UDP sockets; `cli`: the command line;
- `usage`: the fleet's true usage (seeded: pages, patterns, cartridges, swaps); `history`: the readings
  agents would report of it (noise, coarse gauges, gaps); `score`: the supply benchmark's ground truth.
"""
