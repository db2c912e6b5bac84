"""IPP supplies over the network (a real IPP server on loopback) and over IPP-USB (the USB double) go
through one mapping: the type comes from the supply's type keyword in any spelling real printers use,
never from a word in the description (the descriptions here say nothing: "Box B")."""

from __future__ import annotations

import asyncio

import pytest
from pyipp.enums import IppTag

from agent.network.ipp import read_ipp
from agent.usb import UsbOptions, inspect_usb
from usb_double import Endpoint, FakeBackend, FakeDevice, Interface, IppResponder, framed
from usb_scenarios import IPP_KEYWORD, IPP_OCTETS, IPP_TEXT

# (printer-supply type keyword as sent, the RFC 3805 type it names -> our type, class it implies)
TYPES = [
    ("tonerCartridge", "toner", "consumed"),
    ("wasteToner", "waste_toner", "receptacle"),
    ("opc", "drum", "consumed"),
    ("fuser", "fuser", "consumed"),
    ("developer", "developer", "consumed"),
    ("transferUnit", "transfer", "consumed"),
    ("inkCartridge", "ink", "consumed"),
]
SPELLINGS = {"camel": lambda k: k, "kebab": lambda k: "".join("-" + c.lower() if c.isupper() else c for c in k),
             "lower": str.lower}


def supply_values(spelling: str) -> tuple[list[str], list[str]]:
    spell = SPELLINGS[spelling]
    rows = [f"index={i};type={spell(keyword)};unit=percent;maxcapacity=100;level={10 * i};"
            for i, (keyword, _kind, _klass) in enumerate(TYPES, 1)]
    return rows, [f"Box {chr(64 + i)}" for i in range(1, len(TYPES) + 1)]


def expected() -> list[tuple[str, str, str, float]]:
    return [(f"Box {chr(64 + i)}", kind, klass, float(10 * i)) for i, (_k, kind, klass) in enumerate(TYPES, 1)]


def seen(supplies) -> list[tuple[str, str, str, float]]:
    return [(s.description, s.type, s.class_, s.percent) for s in supplies]


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_network_ipp_types_come_from_the_keyword(spelling):
    from ipp_server import IppPrinter

    rows, descriptions = supply_values(spelling)
    printer = IppPrinter("127.0.0.1", [("printer-supply", rows, IppTag.STRING),
                                       ("printer-supply-description", descriptions, IppTag.TEXT)])
    try:
        found = asyncio.run(read_ipp("127.0.0.1", printer.port, timeout=5))
    finally:
        printer.stop()
    assert seen(found.supplies) == expected()


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_ipp_usb_types_come_from_the_keyword(spelling):
    rows, descriptions = supply_values(spelling)
    ipp = IppResponder({"printer-supply": (IPP_OCTETS, rows), "printer-supply-description": (IPP_TEXT, descriptions)})
    device = FakeDevice(vendor_id=0x1234, product_id=0x0001, bus=3, ports=(1,),
                        interfaces=(Interface(0, protocol=4, endpoints=(Endpoint(0x02), Endpoint(0x83))),),
                        strings={1: "ACME", 2: "Box Printer", 3: "ACME0001"},
                        device_id=framed("MFG:ACME;MDL:Box Printer;CMD:URF;CLS:PRINTER;"), responders={0: ipp})
    [reading] = inspect_usb(UsbOptions(budget_s=0.5), backend=FakeBackend([device]))
    assert seen(reading.supplies) == expected()


def test_marker_types_in_any_spelling_over_ipp_usb():
    names = ["Box A", "Box B"]
    ipp = IppResponder({"marker-names": (IPP_TEXT, names), "marker-types": (IPP_KEYWORD, ["toner-cartridge", "wasteToner"]),
                        "marker-levels": (0x21, [55, 20])})
    device = FakeDevice(vendor_id=0x1234, product_id=0x0002, bus=3, ports=(2,),
                        interfaces=(Interface(0, protocol=4, endpoints=(Endpoint(0x02), Endpoint(0x83))),),
                        strings={1: "ACME", 2: "Box Printer", 3: "ACME0002"},
                        device_id=framed("MFG:ACME;MDL:Box Printer;CMD:URF;CLS:PRINTER;"), responders={0: ipp})
    [reading] = inspect_usb(UsbOptions(budget_s=0.5), backend=FakeBackend([device]))
    assert seen(reading.supplies) == [("Box A", "toner", "consumed", 55.0), ("Box B", "waste_toner", "receptacle", 20.0)]
