"""Both command lines piped into a reader that stops early (`| head`): no traceback, nothing else on stderr."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("command", [["fleetmeter-server", "--help"], ["fleetmeter-agent", "--help"]])
def test_a_reader_that_goes_away_gets_no_traceback(command, tmp_path):
    # the reader is gone before the command writes anything (start-up takes far longer than closing a pipe)
    proc = subprocess.Popen([str(BIN / command[0]), *command[1:]], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={"PATH": "/usr/bin:/bin", "FLEETMETER_HOME": str(tmp_path)})
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    proc.wait(60)
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
