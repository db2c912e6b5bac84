"""USB printers for the tests: each builder returns fresh FakeDevice objects (the double keeps state).

The specs here are the source of truth the tests compare against (no value is copied into a test).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from usb_double import Endpoint, FakeBackend, FakeDevice, Interface, IppResponder, PjlResponder, framed

IPP_TEXT, IPP_KEYWORD, IPP_INTEGER, IPP_ENUM, IPP_OCTETS = 0x41, 0x44, 0x21, 0x23, 0x30


@dataclass(frozen=True)
class Spec:
    """What a scenario printer is, as the tests expect to read it."""

    serial: str | None
    manufacturer: str | None
    model: str | None
    pagecount: int | None = None
    supplies: tuple[tuple[str, float | None, str | None], ...] = ()  # (type, percent, color)
    status: tuple[str | None, str | None] = (None, None)
    firmware: str | None = None
    extra: dict = field(default_factory=dict)


LASERJET = Spec(serial="PHBQB12345", manufacturer="HP", model="LaserJet Pro M404dn", pagecount=12345,
                supplies=(("toner", 62.0, "black"), ("drum", 80.0, None)), status=("running", "idle"),
                firmware="20231108")
LASERJET_ID = ("MFG:HP;MDL:HP LaserJet Pro M404dn;CMD:PJL,PCL,PCLXL,URF,PWGRaster;CLS:PRINTER;"
               "DES:HP LaserJet Pro M404dn;SN:PHBQB12345;")


def laserjet(bus: int = 1, ports: tuple[int, ...] = (1, 4)) -> FakeDevice:
    """PJL on interface 0 (7/1/2), IPP-USB on interfaces 1 and 2 (7/1/4)."""
    pjl = PjlResponder({"ID": '"HP LaserJet Pro M404dn"', "STATUS": 'CODE=10001\r\nDISPLAY="Ready"\r\nONLINE=TRUE',
                        "PAGECOUNT": str(LASERJET.pagecount)})
    ipp = IppResponder({
        "printer-state": (IPP_ENUM, [3]), "printer-state-reasons": (IPP_KEYWORD, ["none"]),
        "printer-firmware-string-version": (IPP_TEXT, [LASERJET.firmware]),
        "printer-supply": (IPP_OCTETS, [
            "index=1;class=supplyThatIsConsumed;type=tonerCartridge;unit=percent;maxcapacity=100;level=62;"
            "colorantname=black;",
            "index=2;class=supplyThatIsConsumed;type=opc;unit=percent;maxcapacity=100;level=80;colorantname=none;"]),
        "printer-supply-description": (IPP_TEXT, ["Black Cartridge HP 58A", "Imaging Drum"]),
    })
    return FakeDevice(
        vendor_id=0x03F0, product_id=0x8A2A, bus=bus, ports=ports,
        interfaces=(Interface(0, protocol=2, endpoints=(Endpoint(0x02), Endpoint(0x83))),
                    Interface(1, protocol=4, endpoints=(Endpoint(0x04), Endpoint(0x85))),
                    Interface(2, protocol=4, endpoints=(Endpoint(0x06), Endpoint(0x87)))),
        strings={1: "HP", 2: "HP LaserJet Pro M404dn", 3: LASERJET.serial},
        device_id=framed(LASERJET_ID), responders={0: pjl, 1: ipp})


BROTHER = Spec(serial="E78123K0N123456", manufacturer="Brother", model="HL-L2350DW series", pagecount=18421,
               supplies=(("toner", 44.0, None), ("drum", 71.0, None)), status=("running", "idle"))


def brother(bus: int = 1, ports: tuple[int, ...] = (2,)) -> FakeDevice:
    """No iSerialNumber (serial only in the 1284 SERN field), little-endian length, echoing PJL,
    supplies only in the vendor's MAINTENANCE category, unidirectional alt setting 0."""
    pjl = PjlResponder({"PAGECOUNT": f"PAGECOUNT={BROTHER.pagecount}", "STATUS": "CODE=40000\r\nDISPLAY=\"Sleep\"",
                        "MAINTENANCE": "TONER=44\r\nDRUM=71\r\nMODEL=HL-L2350DW"}, echo=True, chunk=7)
    device_id = (f"MFG:Brother;CMD:PJL,HBP,URF;MDL:HL-L2350DW series;CLS:PRINTER;CID:Brother Laser Type1;"
                 f"SERN:{BROTHER.serial};")
    return FakeDevice(
        vendor_id=0x04F9, product_id=0x0043, bus=bus, ports=ports,
        interfaces=(Interface(0, alt=0, protocol=1, endpoints=(Endpoint(0x01),)),
                    Interface(0, alt=1, protocol=2, endpoints=(Endpoint(0x01), Endpoint(0x82)))),
        strings={1: "Brother", 2: "HL-L2350DW series"},
        device_id=framed(device_id, order="little"), responders={0: pjl})


def inkjet_without_pjl(bus: int = 2, ports: tuple[int, ...] = (1,)) -> FakeDevice:
    """ESC/P only (PJL would print as text), Device ID truncated: its length says more than arrives."""
    return FakeDevice(
        vendor_id=0x04B8, product_id=0x1107, bus=bus, ports=ports, interfaces=(Interface(0, protocol=2),),
        strings={1: "EPSON", 2: "ET-2720 Series", 3: "5839414E3032313734"},
        device_id=framed("MFG:EPSON;CMD:ESCPL2,BDC,D4,D4PX,ESCPR7,END4;MDL:ET-2720 Series;CLS:PRINTER;DES:EPSON "
                         "ET-2720 Ser", extra=200),
        responders={0: PjlResponder({"PAGECOUNT": "999"})})


def silent(bus: int = 3, ports: tuple[int, ...] = (7,)) -> FakeDevice:
    """Claims PJL in its command set but never answers on the bulk IN endpoint."""
    return FakeDevice(
        vendor_id=0x17EF, product_id=0x5678, bus=bus, ports=ports, interfaces=(Interface(0, protocol=2),),
        strings={3: "SILENT001"}, device_id=framed("MFG:Lexmark International;MDL:Lexmark B2236dw;CMD:PJL,PCL;"),
        responders={0: PjlResponder({}, silent=True)})


def keyboard(bus: int = 1, ports: tuple[int, ...] = (3,)) -> FakeDevice:
    return FakeDevice(vendor_id=0x046D, product_id=0xC31C, bus=bus, ports=ports,
                      interfaces=(Interface(0, cls=3, subclass=1, protocol=1, endpoints=(Endpoint(0x81, 3, 8),)),),
                      strings={1: "Logitech", 2: "USB Keyboard"})


def usblp_bound(**kwargs) -> FakeDevice:
    """The LaserJet with the usblp kernel driver bound to its printer interface."""
    device = laserjet(**kwargs)
    device.kernel_driver = {0}
    return device


def office() -> FakeBackend:
    """Two printers and a keyboard on one agent (used by the CLI tests through FLEETMETER_USB_BACKEND)."""
    return FakeBackend([laserjet(), brother(), keyboard()])


def nothing() -> FakeBackend:
    return FakeBackend([keyboard()])
