"""The dealer's web console under `/`: fleet overview, devices, agents, devices to complete, and one page per
domain still being built elsewhere (server_stub/console/domains). Routes: routes.py (thin); queries: overview.py,
device.py, agents.py (each a function taking a Connection); the supply chart: chart.py; CSV: export.py; who may
change what: roles.py."""
