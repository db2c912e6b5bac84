"""The contract between agent and server: the reading, the configuration, durations and ranges.

Depends only on pydantic (and the standard library), so both sides import it without each other's stack.
"""
