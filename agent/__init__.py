from fleetmeter_contract.version import __version__

__all__ = ["__version__"]
