"""Failures of enrolment and upload a user can act on: one line, an exit code."""

from __future__ import annotations


class TrustError(Exception):
    """exit_code 1: refused or failed; 2: usage error or server unreachable."""

    def __init__(self, message: str, exit_code: int = 1) -> None:
        super().__init__(message)
        self.exit_code = exit_code
