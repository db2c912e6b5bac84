"""Running a piece of a test as another user (CI runs as root, which bypasses the checks under test:
exclusive tty opens, peer-uid checks). Forks; the child drops to `uid` and runs `fn`; its result (or
its exception, as text) comes back through a pipe."""

from __future__ import annotations

import os
import pickle
import traceback
from collections.abc import Callable
from typing import Any

NOBODY = 65534


def run_as(fn: Callable[[], Any], uid: int = NOBODY, gid: int = NOBODY) -> Any:
    if os.geteuid() != 0:
        return fn()  # already unprivileged: nothing to drop
    "".encode("utf-16-le")  # codecs load lazily, from directories (under /root) the child may not read
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_end)
        try:
            os.setgroups([])
            os.setgid(gid)
            os.setuid(uid)
            payload = ("ok", fn())
        except BaseException:  # noqa: BLE001 - everything goes back to the parent
            payload = ("error", traceback.format_exc())
        with os.fdopen(write_end, "wb") as out:
            pickle.dump(payload, out)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as incoming:
        data = incoming.read()
    os.waitpid(pid, 0)
    status, value = pickle.loads(data)
    if status == "error":
        raise AssertionError(f"as uid {uid}:\n{value}")
    return value
