"""`fleetmeter-agent usb list|poll`: the USB printers attached to this machine."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys

import usb.backend

from agent.render import render_reading
from agent.usb import UsbOptions, find_printers, read_printer
from agent.usb.backend import NoUsbBackend, default_backend
from agent.usb.devices import UsbPrinter
from agent.usb.session import release

# For tests and diagnostics: "module:callable" returning a pyusb backend to use instead of libusb.
BACKEND_ENV = "FLEETMETER_USB_BACKEND"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("usb", help="list or read the USB printers attached to this machine",
                                   description="USB printers (printer-class interfaces) attached to this machine.")
    actions = parser.add_subparsers(dest="usb_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="list attached USB printers (no printer is claimed)",
                                 description="List attached USB printers with their USB identity and interfaces.")
    listing.add_argument("--json", action="store_true", help="print one JSON document")
    listing.set_defaults(handler=run_list)
    poll = actions.add_parser("poll", help="read identity, meters and supplies of every USB printer",
                              description="Read every attached USB printer: IEEE 1284 Device ID, PJL and "
                                          "IPP-USB meters, supplies and status.")
    poll.add_argument("--json", action="store_true", help="print a JSON list of fleetmeter.device/1 documents")
    poll.add_argument("--timeout", type=_positive, default=UsbOptions.budget_s,
                      help=f"seconds one PJL or IPP-USB conversation may take (default {UsbOptions.budget_s:g})")
    poll.add_argument("--no-detach", action="store_true",
                      help="never detach a kernel driver (usblp) to talk to a printer")
    poll.add_argument("--no-pjl", action="store_true", help="do not send PJL queries")
    poll.add_argument("--no-ipp", action="store_true", help="do not use IPP-USB")
    poll.set_defaults(handler=run_poll)


def run_list(args: argparse.Namespace) -> int:
    printers = _printers()
    if printers is None:
        return 2
    if args.json:
        print(json.dumps({"printers": [_describe(p) for p in printers]}, indent=2, ensure_ascii=False))
        return 0
    if not printers:
        print("no USB printers attached")
    for printer in printers:
        doc = _describe(printer)
        name = doc["product"] or ""
        if doc["manufacturer"] and not name.lower().startswith(doc["manufacturer"].lower()):
            name = f"{doc['manufacturer']} {name}".strip()
        print(f"{doc['address']}  {doc['vendor_id']}:{doc['product_id']}  {name or 'unknown printer'}")
        print(f"  serial {doc['serial'] or '-'}   interfaces "
              + ", ".join(f"{i['number']}.{i['alt']} {i['protocol']}" for i in doc["interfaces"]))
    return 0


def run_poll(args: argparse.Namespace) -> int:
    printers = _printers()
    if printers is None:
        return 2
    options = UsbOptions(budget_s=args.timeout, allow_detach=not args.no_detach, pjl=not args.no_pjl,
                         ipp=not args.no_ipp)
    readings = [read_printer(printer, options) for printer in printers]
    if args.json:
        print(json.dumps([r.to_json() for r in readings], indent=2, ensure_ascii=False))
    else:
        print("\n\n".join(render_reading(r) for r in readings) or "no USB printers attached")
    return 0 if readings else 2


def _printers() -> list[UsbPrinter] | None:
    """The attached printers, or None (after one line on stderr) when USB cannot be used at all."""
    try:
        return find_printers(_backend())
    except NoUsbBackend as exc:
        print(f"fleetmeter-agent: {exc}", file=sys.stderr)
        return None


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _backend() -> usb.backend.IBackend:
    spec = os.environ.get(BACKEND_ENV)
    if not spec:
        return default_backend()
    module, _, name = spec.partition(":")
    try:
        return getattr(importlib.import_module(module), name)()
    except (ImportError, AttributeError) as exc:
        raise NoUsbBackend(f"{BACKEND_ENV}={spec!r} is not a usable backend factory ({exc})") from None


def _describe(printer: UsbPrinter) -> dict:
    """What `usb list` shows: USB-level facts only, no request to the printer beyond string reads."""
    release(printer)
    return {
        "address": printer.path,
        "vendor_id": f"{printer.vendor_id:04x}",
        "product_id": f"{printer.product_id:04x}",
        "manufacturer": printer.manufacturer,
        "product": printer.product,
        "serial": printer.serial,
        "interfaces": [{"number": i.number, "alt": i.alt, "protocol": i.protocol_name,
                        "bulk_in": i.ep_in is not None} for i in printer.interfaces],
    }
