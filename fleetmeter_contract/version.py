"""The installed Fleetmeter version (one number for agent and server), from the package metadata."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fleetmeter")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
