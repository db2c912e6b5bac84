"""A packet-rate limit shared by every sender of a sweep (one asyncio loop, no threads)."""

from __future__ import annotations

import asyncio


class PacketRate:
    """Spaces requests evenly at `per_second`; callers are served in the order they ask.

    Each `acquire` books the next free slot and sleeps until it, so a burst of callers is spread out
    instead of released at once: the network sees at most `per_second` packets in any second.
    """

    def __init__(self, per_second: float) -> None:
        if per_second <= 0:
            raise ValueError("the packet rate must be positive")
        self.interval = 1.0 / per_second
        self._next = 0.0
        self.sent = 0

    async def acquire(self) -> None:
        now = asyncio.get_running_loop().time()
        slot = max(now, self._next)
        self._next = slot + self.interval
        self.sent += 1
        if slot > now:
            await asyncio.sleep(slot - now)
