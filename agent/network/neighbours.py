"""The local neighbour (ARP) table: hosts this machine has talked to recently, with their MACs.

Linux: /proc/net/arp (complete entries only), else `ip neigh`; Windows and others: `arp -a`. Reading
the table sends nothing on the network.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

_MAC = r"([0-9a-fA-F]{2}(?:[:-][0-9a-fA-F]{2}){5})"
_IP_NEIGH = re.compile(r"^(\d+\.\d+\.\d+\.\d+) .*lladdr " + _MAC + r".*?(REACHABLE|STALE|DELAY|PROBE|PERMANENT)")
_ARP_A = re.compile(r"(\d+\.\d+\.\d+\.\d+)\s+(?:\S+\s+)?" + _MAC)
_INCOMPLETE = {"00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"}


def read_neighbours(proc_arp: Path = Path("/proc/net/arp")) -> dict[str, str]:
    """{IPv4 address: MAC (lower case, colons)} of the neighbours with a known link-layer address."""
    if proc_arp.exists():
        return parse_proc_arp(proc_arp.read_text())
    if sys.platform.startswith("linux"):
        return parse_ip_neigh(_run(["ip", "-4", "neigh", "show"]))
    return parse_arp_a(_run(["arp", "-a"]))


def parse_proc_arp(text: str) -> dict[str, str]:
    result = {}
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 4 and int(parts[2], 16) & 0x2:  # ATF_COM: entry complete
            _add(result, parts[0], parts[3])
    return result


def parse_ip_neigh(text: str) -> dict[str, str]:
    result: dict[str, str] = {}
    for line in text.splitlines():
        match = _IP_NEIGH.match(line.strip())
        if match:
            _add(result, match.group(1), match.group(2))
    return result


def parse_arp_a(text: str) -> dict[str, str]:
    """Windows ("  10.0.0.5   00-26-73-54-e2-6a   dynamic") and BSD/macOS ("? (10.0.0.5) at 0:26:..")."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        bsd = re.search(r"\((\d+\.\d+\.\d+\.\d+)\) at ([0-9a-fA-F:]{11,17})", line)
        if bsd:
            _add(result, bsd.group(1), ":".join(f"{int(p, 16):02x}" for p in bsd.group(2).split(":")))
            continue
        match = _ARP_A.search(line)
        if match:
            _add(result, match.group(1), match.group(2))
    return result


def _add(result: dict[str, str], address: str, mac: str) -> None:
    mac = mac.lower().replace("-", ":")
    if len(mac) == 17 and mac not in _INCOMPLETE:
        result[address] = mac


def _run(command: list[str]) -> str:
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.SubprocessError):
        return ""
