"""The printer model every transport (SNMP, USB, IPP) imports and none owns: supply semantics
(supplies.py), counter precedence (counters.py), vendor profiles as data (profile.py, profiles/*.toml,
profile_schema.py), IPP supply rows (ipp_supplies.py), vendor record strings (records.py) and the user's
read settings (settings.py: meters.toml, the low-supply threshold). It imports no transport."""
