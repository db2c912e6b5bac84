"""The .snmprec writer and the scrubber, on hand-built records (pure functions, no network)."""

from __future__ import annotations

from agent.snmp.snmprec import SCRUBBED, Record, dumps, scrub


def line_of(records, oid):
    return next(line for line in dumps(records).splitlines() if line.startswith(oid + "|"))


def test_lines_are_sorted_numerically_and_binary_is_hex():
    records = [Record("1.3.6.1.2.1.1.10.0", "4", b"a"), Record("1.3.6.1.2.1.1.9.0", "4", b"b\x00"),
               Record("1.3.6.1.2.1.1.2.0", "4", b" padded "), Record("1.3.6.1.2.1.1.3.0", "67", "5")]
    lines = dumps(records).splitlines()
    assert [line.split("|")[0] for line in lines] == [
        "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.9.0", "1.3.6.1.2.1.1.10.0"]
    assert lines[0] == "1.3.6.1.2.1.1.2.0|4x|2070616464656420"  # edge blanks would be stripped by snmpsim
    assert lines[2] == "1.3.6.1.2.1.1.9.0|4x|6200"
    assert lines[3] == "1.3.6.1.2.1.1.10.0|4|a"


def test_scrub_names_addresses_and_macs_consistently():
    mac = bytes.fromhex("00267354e26a")
    records = [
        Record("1.3.6.1.2.1.1.4.0", "4", b"Jane Doe"), Record("1.3.6.1.2.1.1.5.0", "4", b"PRN-HR-01"),
        Record("1.3.6.1.2.1.1.6.0", "4", b"HR office"),
        Record("1.3.6.1.4.1.367.3.2.1.6.1.1.7.1", "4", b"PRN-HR-01"),  # a vendor copy of sysName
        Record("1.3.6.1.2.1.2.2.1.6.1", "4", mac),
        Record("1.3.6.1.4.1.683.1.6.0", "4", mac),  # the same MAC in a private MIB, binary
        Record("1.3.6.1.4.1.11.2.4.3.1.1.0", "4", b"MAC 00:26:73:54:E2:6A at 10.1.1.1, not 10.1.1.10"),
        Record("1.3.6.1.2.1.4.20.1.1.10.1.1.1", "64", bytes([10, 1, 1, 1])),
        Record("1.3.6.1.2.1.4.20.1.3.10.1.1.1", "64", bytes([255, 255, 255, 0])),
        Record("1.3.6.1.2.1.4.21.1.1.0.0.0.0", "64", bytes(4)),
        Record("1.3.6.1.2.1.43.5.1.1.17.1", "4", b"W492KB03439"),
    ]
    out = {r.oid: r for r in scrub(records)}
    for oid in ("1.3.6.1.2.1.1.4.0", "1.3.6.1.2.1.1.5.0", "1.3.6.1.2.1.1.6.0", "1.3.6.1.4.1.367.3.2.1.6.1.1.7.1"):
        assert out[oid].data == SCRUBBED.encode()
    fake_mac = out["1.3.6.1.2.1.2.2.1.6.1"].data
    assert fake_mac != mac and fake_mac[0] & 0x02, "a locally administered address"
    assert out["1.3.6.1.4.1.683.1.6.0"].data == fake_mac
    assert "1.3.6.1.2.1.4.20.1.1.10.1.1.1" not in out, "the address in the table index is replaced too"
    fake_ip = out["1.3.6.1.2.1.4.20.1.1.192.0.2.1"].data
    assert fake_ip == bytes([192, 0, 2, 1])
    assert out["1.3.6.1.2.1.4.20.1.3.192.0.2.1"].data == bytes([255, 255, 255, 0]), "netmasks are kept"
    assert out["1.3.6.1.2.1.4.21.1.1.0.0.0.0"].data == bytes(4)
    assert out["1.3.6.1.4.1.11.2.4.3.1.1.0"].data == b"MAC 02:00:00:00:00:01 at 192.0.2.1, not 10.1.1.10"
    assert out["1.3.6.1.2.1.43.5.1.1.17.1"].data == b"W492KB03439", "serials are what support needs"
