"""Running the service in the foreground until a stop signal (the `run` command and the Windows service)."""

from __future__ import annotations

import asyncio
import signal

from agent.scheduler.service import Service


def serve(service: Service, on_loop=None) -> int:
    """Run until a stop signal; `on_loop(loop, service)` lets the Windows service hook its stop request."""

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(signum, service.request_stop)
            except (NotImplementedError, RuntimeError):  # Windows: signal.signal instead
                signal.signal(signum, lambda *_: loop.call_soon_threadsafe(service.request_stop))
        if on_loop is not None:
            on_loop(loop, service)
        await service.run()

    asyncio.run(main())
    return 0
