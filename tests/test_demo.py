"""The demo (`fleetmeter-server demo`, what ./scripts/demo.sh runs): the whole chain comes up on loopback, the
server holds the imported history, both sites' agents, a forecast, an order consolidation placed, a consumable
job and last month's bill (tests/demo_holds.py), and Ctrl-C stops every process the demo started.
(`demo --once` runs from an installed wheel in test_packaging.py.)"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests
from prometheus_client.parser import text_string_to_metric_families

from demo_holds import assert_demo_holds
from peers import free_udp_port
from test_packaging import short_home  # noqa: F401 (fixture)
from trust_peers import free_tcp_port

SERVER = str(Path(sys.executable).parent / "fleetmeter-server")


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def test_demo_runs_until_ctrl_c_and_leaves_no_process(tmp_path, short_home):
    port = free_tcp_port()
    out = tmp_path / "demo.out"
    env = {k: v for k, v in os.environ.items() if k not in ("FLEETMETER_DB", "FLEETMETER_HOME")}
    with open(out, "w") as sink:
        demo = subprocess.Popen([SERVER, "demo", "--home", str(short_home), "--port", str(port),
                                 "--snmp-port", str(free_udp_port("127.0.20.1")), "--days", "62", "--devices", "4"],
                                stdout=sink, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 400
        while "Ctrl-C stops" not in out.read_text():
            assert demo.poll() is None and time.monotonic() < deadline, out.read_text()[-3000:]
            time.sleep(0.5)
        text = out.read_text()
        assert_demo_holds(SERVER, short_home, text)  # a forecast, a consolidated order, a job, a bill
        # devices list: the printers as assets on the client's two sites, with the simulator's model
        assert re.search(r"North\s+active\s+Fleetmeter Demo \w+ \d+\s+SIM000000", text), text[-3000:]
        assert re.search(r"South\s+active\s+Fleetmeter Demo", text) and "demo-south" in text
        with requests.Session() as http:
            http.trust_env = False
            scraped = http.get(f"http://127.0.0.1:{port}/metrics", timeout=30).text
            # the console login the demo printed opens the console
            login, password = re.search(r"users add (\S+) --role admin\n  password: (\S+)", text).groups()
            token = re.search(r'name="csrf" value="([^"]*)"', http.get(f"http://127.0.0.1:{port}/login",
                                                                      timeout=30).text).group(1)
            answer = http.post(f"http://127.0.0.1:{port}/login", data={"csrf": token, "email": login,
                                                                      "password": password},
                               allow_redirects=False, timeout=30)
            assert answer.status_code == 303, answer.text[-500:]
            assert "Demo Customer Ltd" in http.get(f"http://127.0.0.1:{port}/", timeout=30).text
        samples = {(s.name, tuple(s.labels.items())): s.value
                   for family in text_string_to_metric_families(scraped) for s in family.samples}
        history = sum(1 for _ in (short_home / "history.jsonl").open())
        assert samples[("fleetmeter_readings_ingested_total", ())] >= history + 4  # history, then live reads
        assert samples[("fleetmeter_agents", (("state", "connected"),))] == 2
        # Ctrl-C reaches the demo alone here (not its children): it must stop each of them itself
        demo.send_signal(signal.SIGINT)
        assert demo.wait(60) == 0
        deadline = time.monotonic() + 5
        while group_alive(demo.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not group_alive(demo.pid), subprocess.run(["ps", "-o", "pid,pgid,args", "-g", str(demo.pid)],
                                                         capture_output=True, text=True).stdout
    finally:
        if group_alive(demo.pid):
            os.killpg(demo.pid, signal.SIGKILL)
