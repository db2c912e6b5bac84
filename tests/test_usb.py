"""USB printers through the real pyusb core above a backend double (tests/usb_double.py)."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import pty
import select
import shutil
import subprocess
import sys
import termios
import threading
import time
import tty
from pathlib import Path

import pytest
import usb.core

import usb_scenarios as sc
from agent.cli import main
from agent.usb import UsbOptions, find_printers, inspect_usb, linux, pjl, windows
from agent.usb.session import LpChannel, Traffic
from agent.usb.device_id import parse_device_id, unframe
from fleetmeter_contract.reading import SCHEMA
from usb_double import FakeBackend, PjlResponder, framed

FAST = UsbOptions(budget_s=0.3)


def read_all(*devices, options: UsbOptions = FAST):
    return inspect_usb(options, backend=FakeBackend(list(devices)))


def test_two_printers_and_a_keyboard_give_two_separate_devices():
    readings = read_all(sc.laserjet(), sc.brother(), sc.keyboard())
    assert [r.address for r in readings] == ["usb:1-1.4", "usb:1-2"]
    assert [r.identity.serial for r in readings] == [sc.LASERJET.serial, sc.BROTHER.serial]
    assert all(r.transport == "usb" and r.is_printer for r in readings)


@pytest.mark.parametrize("build, spec", [(sc.laserjet, sc.LASERJET), (sc.brother, sc.BROTHER)])
def test_identity_meters_supplies_and_status(build, spec):
    [reading] = read_all(build())
    doc = reading.to_json()
    assert doc["schema"] == SCHEMA and doc["transport"] == "usb"
    assert (reading.identity.serial, reading.identity.manufacturer, reading.identity.model) == (
        spec.serial, spec.manufacturer, spec.model)
    assert reading.counters["total"] == spec.pagecount
    assert reading.counter_sources["total"].origin == "pjl"
    assert [(s.type, s.percent, s.color) for s in reading.supplies] == list(spec.supplies)
    assert (reading.status.device, reading.status.printer) == spec.status
    assert reading.identity.firmware == spec.firmware
    assert reading.warnings == []
    assert reading.stats.pdus > 0 and reading.stats.bytes > 0


def test_laserjet_uses_ipp_usb_on_its_own_interface_and_pjl_on_the_other():
    device = sc.laserjet()
    read_all(device)
    writes = {event[1] for event in device.events if event[0] == "write"}
    assert writes == {0, 1}  # PJL on 0, IPP-USB on 1 (interface 2 left for a print queue)
    assert device.responders[1].operations == [0x000B]
    assert device.claimed == set() and device.kernel_driver == set()


def test_pjl_is_never_sent_to_a_printer_whose_command_set_lacks_it():
    device = sc.inkjet_without_pjl()
    [reading] = read_all(device)
    assert not [e for e in device.events if e[0] == "write"]
    assert reading.counters["total"] is None
    assert (reading.identity.manufacturer, reading.identity.model) == ("Epson", "ET-2720 Series")
    assert reading.identity.sys_descr.endswith("DES:EPSON ET-2720 Ser")  # truncated answer kept as far as it got


def test_a_printer_that_never_answers_pjl_costs_a_bounded_time():
    options = UsbOptions(budget_s=0.3)
    started = time.monotonic()
    [reading] = read_all(sc.silent(), options=options)
    elapsed = time.monotonic() - started
    assert elapsed < 10 * options.budget_s  # bounded by the budget, not by libusb's default 1 s reads
    assert any("no PJL answer" in w for w in reading.warnings)
    assert (reading.identity.manufacturer, reading.identity.model) == ("Lexmark", "B2236dw")
    assert reading.identity.serial == "SILENT001"


def test_usblp_is_detached_for_the_request_and_always_reattached():
    device = sc.usblp_bound()
    [reading] = read_all(device)
    assert reading.identity.serial == sc.LASERJET.serial and reading.counters["total"] == sc.LASERJET.pagecount
    names = [e[0] for e in device.events if e[0] in ("detach", "claim", "release", "attach") and e[1] == 0]
    assert names == ["detach", "claim", "release", "attach"]  # one detach for Device ID and PJL together
    assert device.kernel_driver == {0} and device.claimed == set()


def test_usblp_is_reattached_when_the_conversation_fails():
    class Exploding:
        def feed(self, data):
            raise usb.core.USBError("Input/Output Error", -1, errno.EIO)

    device = sc.usblp_bound()
    device.responders[0] = Exploding()  # the bulk write fails mid-conversation
    [reading] = read_all(device)
    assert device.kernel_driver == {0}
    assert any("USB error" in w for w in reading.warnings)


def test_a_failed_reattach_is_reported_with_what_to_do():
    device = sc.usblp_bound()
    device.fail_reattach = True
    [reading] = read_all(device)
    assert any("kernel driver" in w and "replug" in w for w in reading.warnings)


def test_no_detach_leaves_the_kernel_driver_alone():
    device = sc.usblp_bound()
    [reading] = read_all(device, options=UsbOptions(budget_s=0.3, allow_detach=False))
    assert not [e for e in device.events if e[0] in ("detach", "attach")]
    assert reading.identity.serial == sc.LASERJET.serial  # still identified by its USB serial
    assert any("held by a kernel driver" in w for w in reading.warnings)


def test_usblp_node_that_is_no_usblp_falls_back_to_libusb(tmp_path):
    sysfs, dev = tmp_path / "sys", tmp_path / "dev"
    (sysfs / "1-1.4:1.0" / "usbmisc" / "lp0").mkdir(parents=True)
    dev.mkdir()
    (dev / "lp0").write_bytes(b"")  # a regular file: the ioctl fails with ENOTTY
    device = sc.usblp_bound()
    [reading] = read_all(device, options=UsbOptions(budget_s=0.3, sysfs=sysfs, dev=dev))
    assert reading.identity.serial == sc.LASERJET.serial
    assert device.kernel_driver == {0}


def test_ipp_usb_moves_to_the_next_interface_when_one_is_held_by_another_program():
    device = sc.laserjet()
    device.responders[2] = device.responders.pop(1)
    device.busy = {1}  # the ipp-usb daemon holds interface 1
    [reading] = read_all(device)
    assert [(s.type, s.percent, s.color) for s in reading.supplies] == list(sc.LASERJET.supplies)
    assert reading.warnings == []


def test_busy_printer_interface_is_left_alone_with_a_warning_that_says_why():
    device = sc.laserjet()
    device.busy = {0, 1, 2}  # CUPS is printing through libusb; ipp-usb holds the rest
    [reading] = read_all(device)
    assert reading.identity.serial == sc.LASERJET.serial  # from the USB strings
    assert not [e for e in device.events if e[0] == "write"]
    assert any("in use by another program" in w for w in reading.warnings)


def test_unsolicited_ustatus_left_on_by_a_driver_is_used():
    device = sc.silent()
    device.responders[0] = PjlResponder({}, unsolicited="@PJL USTATUS DEVICE\r\nCODE=10006\r\nTONER=8\r\n\f")
    [reading] = read_all(device)
    assert (reading.status.device, reading.status.errors) == ("warning", ["lowToner"])
    assert [(s.type, s.percent, s.state) for s in reading.supplies] == [("toner", 8.0, "low")]


def test_device_that_libusb_cannot_open_still_appears():
    device = sc.laserjet()
    device.open_error = True  # Windows with usbprint.sys: listed, not openable
    [reading] = read_all(device)
    assert reading.address == "usb:1-1.4" and reading.is_printer
    assert [w for w in reading.warnings if "libusb cannot open" in w] == [
        "usb:1-1.4: libusb cannot open this device: Operation not supported or unimplemented on this platform"]
    assert any("no serial" in w for w in reading.warnings)


@pytest.mark.parametrize("answer", [None, b"", b"\x00", b"\x00\x02", b"\xff\xff\x00\x00"])
def test_a_stalled_empty_or_short_device_id_keeps_the_usb_strings(answer):
    device = sc.laserjet()
    device.device_id = answer
    [reading] = read_all(device)
    assert (reading.identity.manufacturer, reading.identity.model) == ("HP", "LaserJet Pro M404dn")
    assert any("no IEEE 1284 Device ID" in w for w in reading.warnings)


@pytest.mark.parametrize("raw, manufacturer, model", [
    (framed("MFG:HP;MDL:LaserJet 1020;"), "HP", "LaserJet 1020"),
    (framed("MFG:HP;MDL:LaserJet 1020;", order="little"), "HP", "LaserJet 1020"),
    (framed("MFG:HP;MDL:LaserJet 1020;", extra=-2), "HP", "LaserJet 1020"),  # length leaves itself out
    (framed("MFG:HP;MDL:LaserJet 1020;", extra=500), "HP", "LaserJet 1020"),  # says more than arrives
    (framed("MFG:HP;MDL:LaserJet 1020;") + b"\x00" * 40, "HP", "LaserJet 1020"),  # padding
    (b"MFG:HP;MDL:LaserJet 1020;", "HP", "LaserJet 1020"),  # no length prefix at all
    (framed("MANUFACTURER:KYOCERA;MODEL:ECOSYS P2040dn;DES:Drucker für Büro;", "latin-1"), "KYOCERA",
     "ECOSYS P2040dn"),
    (framed("MFG:Canon;MDL:iR C3025 \u30ab\u30e9\u30fc;", "utf-8"), "Canon", "iR C3025 \u30ab\u30e9\u30fc"),
    (b"\x00", None, None),
])
def test_device_id_framings(raw, manufacturer, model):
    device_id = parse_device_id(unframe(raw))
    assert (device_id.manufacturer, device_id.model) == (manufacturer, model)


def test_device_that_stalls_on_a_large_device_id_buffer_is_asked_again():
    device = sc.laserjet()
    device.stall_above = 255
    [reading] = read_all(device)
    assert reading.identity.serial == sc.LASERJET.serial and reading.identity.sys_descr == sc.LASERJET_ID
    assert [e[4] for e in device.events if e[0] == "get_device_id"] == [1024, 255]


def test_placeholder_usb_serial_falls_back_to_the_1284_serial():
    device = sc.laserjet()
    device.strings[3] = "000000000000"
    [reading] = read_all(device)
    assert reading.identity.serial == parse_device_id(sc.LASERJET_ID).serial


def test_non_ascii_device_id_through_pyusb():
    device = sc.laserjet()
    device.device_id = framed("MFG:KYOCERA;MDL:ECOSYS P2040dn;CMD:PJL;DES:Drucker für Büro;", "latin-1")
    [reading] = read_all(device)
    assert reading.identity.manufacturer == "Kyocera" and reading.identity.model == "ECOSYS P2040dn"
    assert "Drucker für Büro" in reading.identity.sys_descr


def test_listing_printers_claims_and_detaches_nothing():
    device = sc.usblp_bound()
    [printer] = find_printers(FakeBackend([device]))
    assert printer.serial == sc.LASERJET.serial
    assert not [e for e in device.events if e[0] in ("claim", "detach", "write", "get_device_id")]


def test_find_printers_reads_interfaces_and_alt_settings():
    [printer] = find_printers(FakeBackend([sc.brother()]))
    assert [(i.number, i.alt, i.protocol_name, i.ep_in) for i in printer.interfaces] == [
        (0, 0, "unidirectional", None), (0, 1, "bidirectional", 0x82)]


# --- the command line, with the double selected through FLEETMETER_USB_BACKEND ---

def run_cli(capsys, monkeypatch, scenario: str, *argv: str) -> tuple[int, str, str]:
    monkeypatch.setenv("FLEETMETER_USB_BACKEND", f"usb_scenarios:{scenario}")
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_usb_list_json(capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "office", "usb", "list", "--json")
    assert code == 0 and err == ""
    printers = json.loads(out)["printers"]
    assert [p["serial"] for p in printers] == [sc.LASERJET.serial, None]
    assert [i["protocol"] for i in printers[0]["interfaces"]] == ["bidirectional", "ipp-usb", "ipp-usb"]


def test_cli_usb_poll_json_is_one_document_of_readings(capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "office", "usb", "poll", "--json", "--timeout", "0.3")
    assert code == 0
    docs = json.loads(out)
    assert [d["identity"]["serial"] for d in docs] == [sc.LASERJET.serial, sc.BROTHER.serial]
    assert all(d["schema"] == SCHEMA and d["transport"] == "usb" for d in docs)


def test_cli_usb_poll_human(capsys, monkeypatch):
    code, out, _ = run_cli(capsys, monkeypatch, "office", "usb", "poll", "--timeout", "0.3")
    assert code == 0
    assert "usb:1-1.4" in out and "LaserJet Pro M404dn" in out and f"{sc.LASERJET.pagecount:,}" in out


def test_cli_usb_poll_without_printers_exits_2(capsys, monkeypatch):
    code, out, _ = run_cli(capsys, monkeypatch, "nothing", "usb", "poll")
    assert code == 2 and "no USB printers attached" in out


def test_cli_bad_backend_is_one_line(capsys, monkeypatch):
    code, out, err = run_cli(capsys, monkeypatch, "no_such_factory", "usb", "list")
    assert code == 2 and out == "" and err.count("\n") == 1 and "FLEETMETER_USB_BACKEND" in err


def test_cli_rejects_a_non_positive_timeout(capsys, monkeypatch):
    with pytest.raises(SystemExit) as exit_info:
        run_cli(capsys, monkeypatch, "office", "usb", "poll", "--timeout", "0")
    assert exit_info.value.code == 2


# --- platform pieces that need no printer ---

@pytest.mark.skipif(shutil.which("cc") is None or not Path("/usr/include/linux/ioctl.h").exists(),
                    reason="needs a C compiler and Linux headers")
def test_lpioc_get_device_id_matches_the_kernel_headers(tmp_path):
    source = tmp_path / "ioc.c"
    source.write_text('#include <stdio.h>\n#include <linux/ioctl.h>\n'
                      '#define IOCNR_GET_DEVICE_ID 1\n'
                      '#define LPIOC_GET_DEVICE_ID(len) _IOC(_IOC_READ, \'P\', IOCNR_GET_DEVICE_ID, len)\n'
                      'int main(void) { printf("%lu", (unsigned long) LPIOC_GET_DEVICE_ID(1024)); return 0; }\n')
    subprocess.run(["cc", str(source), "-o", str(tmp_path / "ioc")], check=True)
    expected = int(subprocess.run([str(tmp_path / "ioc")], capture_output=True, text=True, check=True).stdout)
    assert linux.lpioc_get_device_id(1024) == expected


USBPRINT = windows.GUID_DEVINTERFACE_USBPRINT


@pytest.mark.parametrize("paths, serial, picked", [
    ([rf"\\?\usb#vid_03f0&pid_8a2a#PHBQB12345#{USBPRINT}", rf"\\?\usb#vid_03f0&pid_8a2a#OTHER#{USBPRINT}"],
     "PHBQB12345", 0),
    ([rf"\\?\usb#vid_03f0&pid_8a2a#PHBQB12345#{USBPRINT}", rf"\\?\usb#vid_04f9&pid_0043#X#{USBPRINT}"], None, 0),
    ([rf"\\?\usb#vid_03f0&pid_8a2a&mi_00#6&1a2b3c&0&0000#{USBPRINT}"], None, 0),
    ([rf"\\?\usb#vid_03f0&pid_8a2a#A1#{USBPRINT}", rf"\\?\usb#vid_03f0&pid_8a2a#B2#{USBPRINT}"], None, None),
    ([rf"\\?\usb#vid_04f9&pid_0043#X#{USBPRINT}"], None, None),
])
def test_usbprint_paths_are_matched_only_when_unambiguous(paths, serial, picked):
    assert windows.pick_path(paths, 0x03F0, 0x8A2A, serial) == (paths[picked] if picked is not None else None)


def test_usbprint_serial_is_the_instance_name_unless_windows_invented_it():
    assert windows.serial_from_path(rf"\\?\usb#vid_03f0&pid_8a2a#PHBQB12345#{USBPRINT}") == "PHBQB12345"
    assert windows.serial_from_path(rf"\\?\usb#vid_03f0&pid_8a2a&mi_00#6&1a2b3c&0&0000#{USBPRINT}") is None


@pytest.mark.skipif(sys.platform == "win32", reason="checks the guard on other platforms")
def test_usbprint_is_not_tried_off_windows():
    assert windows.read_device_id(0x03F0, 0x8A2A, None) is None


class PtyPrinter:
    """A pseudo-terminal in raw mode standing in for /dev/usb/lpN: the agent opens the slave side like
    the usblp node, a thread answers on the master side with a PJL responder."""

    def __init__(self, responder) -> None:
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)
        self.path = Path(os.ttyname(self.slave))
        self.responder = responder
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        while not self.stop.is_set():
            readable, _, _ = select.select([self.master], [], [], 0.02)
            if readable and self.responder is not None:
                answer = self.responder.feed(os.read(self.master, 4096))
                if answer:
                    os.write(self.master, answer)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        os.close(self.master)
        os.close(self.slave)


@pytest.fixture
def pty_printer():
    printers = []

    def make(responder):
        printers.append(PtyPrinter(responder))
        return printers[-1]
    yield make
    for printer in printers:
        printer.close()


def test_pjl_through_a_usblp_style_node(pty_printer):
    node = pty_printer(sc.laserjet().responders[0])
    traffic = Traffic()
    with linux.open_lp(node.path) as fd:
        assert linux.device_id_ioctl(fd) is None  # a tty is no usblp node: the ioctl is refused, not fatal
        answers = pjl.ask(LpChannel(fd, traffic), ("ID", "STATUS", "PAGECOUNT"), budget_s=2.0)
    assert pjl.parse_pagecount(answers.info("PAGECOUNT")) == sc.LASERJET.pagecount
    assert pjl.parse_status(answers.info("STATUS")).code == 10001
    assert traffic.transfers >= 2 and traffic.bytes > 0


def test_a_usblp_node_that_never_answers_costs_a_bounded_time(pty_printer):
    node = pty_printer(None)  # nobody reads or answers
    started = time.monotonic()
    with linux.open_lp(node.path) as fd:
        answers = pjl.ask(LpChannel(fd, Traffic()), ("PAGECOUNT",), budget_s=0.3)
        assert answers.blocks == {}
        with pytest.raises(TimeoutError):
            LpChannel(fd, Traffic()).write(b"x" * 1_000_000, timeout_s=0.3)  # the tty buffer fills up
    assert time.monotonic() - started < 5


def usblp_tree(tmp_path: Path, node_target: Path | None, device_id: str | None) -> UsbOptions:
    """A sysfs/dev tree as usblp leaves it for the LaserJet on usb:1-1.4 (interface 0)."""
    sysfs, dev = tmp_path / "sys", tmp_path / "dev"
    interface = sysfs / "1-1.4:1.0"
    (interface / "usbmisc" / "lp0").mkdir(parents=True)
    dev.mkdir()
    if device_id is not None:
        (interface / "ieee1284_id").write_text(device_id + "\n")
    if node_target is not None:
        (dev / "lp0").symlink_to(node_target)
    return UsbOptions(budget_s=0.5, sysfs=sysfs, dev=dev)


def test_usblp_held_printer_is_read_through_its_node_without_unbinding(tmp_path, pty_printer):
    device = sc.usblp_bound()
    node = pty_printer(device.responders.pop(0))  # PJL answers come from the node, not the bulk endpoint
    [reading] = read_all(device, options=usblp_tree(tmp_path, node.path, sc.LASERJET_ID))
    assert not [e for e in device.events if e[0] in ("detach", "attach", "get_device_id")]
    assert device.kernel_driver == {0}
    assert (reading.identity.serial, reading.identity.model) == (sc.LASERJET.serial, sc.LASERJET.model)
    assert reading.counters["total"] == sc.LASERJET.pagecount
    assert [(s.type, s.percent, s.color) for s in reading.supplies] == list(sc.LASERJET.supplies)  # IPP-USB
    assert reading.warnings == []


def test_usblp_node_in_use_leaves_the_printer_alone(tmp_path, pty_printer):
    """Root may open a tty in exclusive mode anyway: the read runs as an unprivileged user (as root's
    CI would otherwise skip it), with the node and the sysfs/dev tree readable by that user."""
    from other_user import run_as

    device = sc.usblp_bound()
    node = pty_printer(device.responders.pop(0))
    fcntl.ioctl(node.slave, termios.TIOCEXCL)  # further opens fail with EBUSY, as usblp's do
    options = usblp_tree(tmp_path, node.path, sc.LASERJET_ID)
    if os.geteuid() == 0:
        os.chmod(node.path, 0o666)
        for path in [tmp_path, *tmp_path.parents[:2], *tmp_path.rglob("*")]:
            os.chmod(path, os.stat(path).st_mode | 0o005 | (0o001 if path.is_dir() else 0))

    def read() -> tuple:
        [reading] = read_all(device, options=options)
        return [e[0] for e in device.events], reading.identity.serial, reading.identity.sys_descr, reading.warnings

    events, serial, sys_descr, warnings = run_as(read)
    assert not [e for e in events if e in ("detach", "claim", "write")]
    assert serial == sc.LASERJET.serial and sys_descr == sc.LASERJET_ID
    assert any("not disturbed" in w for w in warnings), warnings


def test_without_permission_to_open_the_device_sysfs_still_identifies_it(tmp_path):
    device = sc.usblp_bound()
    device.open_error = True  # e.g. the agent runs unprivileged: libusb may list but not open
    options = usblp_tree(tmp_path, None, sc.LASERJET_ID)
    (options.sysfs / "1-1.4").mkdir()
    (options.sysfs / "1-1.4" / "serial").write_text(sc.LASERJET.serial + "\n")
    device.strings = {3: "unreadable"}  # the descriptor says there is a serial; reading it fails
    [reading] = read_all(device, options=options)
    assert (reading.identity.serial, reading.identity.manufacturer, reading.identity.model) == (
        sc.LASERJET.serial, sc.LASERJET.manufacturer, sc.LASERJET.model)
    assert device.kernel_driver == {0}
