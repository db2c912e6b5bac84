"""`fleetmeter-server`: the receiving server's command line (built in its own issue)."""

import sys


def main(argv: list[str] | None = None) -> int:
    print("fleetmeter-server: not built yet", file=sys.stderr)
    return 1
