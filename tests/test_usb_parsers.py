"""Property tests: the 1284, PJL and IPP-USB parsers take any bytes without raising, and read back
what a well-formed answer carries."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from agent.printer.ipp_supplies import parse_supply_value
from agent.usb import ipp, pjl
from agent.usb.device_id import parse_device_id, unframe
from usb_double import framed

SETTINGS = settings(max_examples=300, deadline=None)
value_text = st.text(alphabet=st.characters(blacklist_characters=";:\x00", blacklist_categories=("Cc", "Cs")),
                     min_size=1, max_size=40).map(str.strip).filter(bool)


@SETTINGS
@given(st.binary(max_size=1200))
def test_device_id_garbage_never_raises(raw):
    device_id = parse_device_id(unframe(raw))
    assert isinstance(device_id.text, str)
    device_id.command_set, device_id.serial, device_id.speaks("PJL")


@SETTINGS
@given(value_text, value_text, st.lists(st.sampled_from(["PJL", "PCL", "ESCPL2", "URF"]), max_size=4),
       st.sampled_from(["big", "little"]), st.sampled_from([0, -2, 300]))
def test_device_id_round_trip(manufacturer, model, commands, order, extra):
    text = f"MFG:{manufacturer};MDL:{model};CMD:{','.join(commands)};"
    device_id = parse_device_id(unframe(framed(text, "utf-8", order, extra)))
    assert (device_id.manufacturer, device_id.model) == (manufacturer, model)
    assert device_id.command_set == tuple(commands)


@SETTINGS
@given(st.binary(max_size=2000))
def test_pjl_garbage_never_raises(raw):
    blocks = pjl.split_blocks(raw)
    for body in list(blocks.values()) + [raw.decode("latin-1")]:
        pjl.parse_pagecount(body), pjl.parse_status(body), pjl.parse_id(body)
        for supply in pjl.parse_supplies(body):
            assert 0 <= supply.percent <= 100


@SETTINGS
@given(st.integers(min_value=0, max_value=10**11), st.sampled_from(["{}", "PAGECOUNT={}", '"{}"', "{} PAGES"]),
       st.booleans(), st.binary(max_size=30).filter(lambda b: b"\f" not in b and b"@PJL" not in b))
def test_pjl_pagecount_round_trip(count, shape, echo, noise):
    answer = noise + (b"@PJL INFO PAGECOUNT\r\n" if echo else b"")
    answer += b"@PJL INFO PAGECOUNT\r\n" + shape.format(count).encode() + b"\r\n\f"
    blocks = pjl.split_blocks(answer)
    assert pjl.parse_pagecount(blocks["INFO PAGECOUNT"]) == count


def test_truncated_pjl_block_is_not_used():
    assert pjl.split_blocks(b"@PJL INFO PAGECOUNT\r\n1234") == {}  # "123456" cut short must not count


def test_pjl_supply_shapes():
    body = "TONER=44\nDRUM LIFE REMAINING = 71%\nTONER=K=85%,C=70%\nMODEL=HL-1\nINK=250\nCODE=10001"
    found = [(s.description, s.percent) for s in pjl.parse_supplies(body)]
    assert ("Toner", 44) in found and ("Drum Life Remaining", 71) in found
    assert not any("Model" in d or d == "Ink" for d, _ in found)  # not supplies / not a percentage


@SETTINGS
@given(st.binary(max_size=2000))
def test_ipp_garbage_never_raises(raw):
    ipp.decode_attributes(raw)
    ipp.parse_http_response(raw)
    parse_supply_value(raw)


@SETTINGS
@given(st.lists(st.integers(min_value=-3, max_value=100), min_size=1, max_size=6), st.integers(1, 40))
def test_ipp_marker_levels_round_trip_through_http_chunks(levels, cut):
    message = struct.pack(">HHI", 0x0200, 0, 1) + b"\x04"
    for number, level in enumerate(levels):
        name = b"marker-levels" if number == 0 else b""
        message += struct.pack(">BH", 0x21, len(name)) + name + struct.pack(">Hi", 4, level)
    message += b"\x03"
    body = b"".join(b"%x\r\n%s\r\n" % (len(message[i:i + cut]), message[i:i + cut])
                    for i in range(0, len(message), cut))
    status, decoded, complete = ipp.parse_http_response(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body + b"0\r\n\r\n")
    assert (status, complete) == (200, True)
    assert ipp.decode_attributes(decoded)[1]["marker-levels"] == levels
