"""The fleetmeter-server command line (thin: parse, call a domain function, print)."""
