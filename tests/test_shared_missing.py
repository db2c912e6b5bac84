"""Without ../shared the suite says so in one line at the start and skips, with that reason, the tests
that need the shared recordings; the others still run."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT


def test_missing_shared_recordings_are_one_line_and_skips(tmp_path):
    env = dict(os.environ, FLEETMETER_SHARED=str(tmp_path / "no-shared"))
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           "tests/test_poll_recordings.py", "tests/test_ber.py", "tests/test_poll_edge_devices.py"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    out = done.stdout
    assert done.returncode == 0, out[-3000:]
    header = [line for line in out.splitlines() if line.startswith("fleetmeter: ")]
    assert len(header) == 1 and "no-shared not found" in header[0], out[:2000]
    assert out.index(header[0]) < out.index("PASSED" if "PASSED" in out else "passed")
    summary = out.strip().splitlines()[-1]
    assert " passed" in summary and " skipped" in summary and "error" not in summary, summary
    assert "SKIPPED" in out and "no-shared not found" in out.split("short test summary info", 1)[1]
