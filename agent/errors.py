"""Errors a user fixes in their own files (meters.toml, profiles, MIB directory): one line, exit code 2.

The configuration document's own error is fleetmeter_contract.config.ConfigError (the schema shared with the
server); agent.cli maps both to exit 2."""


class UserConfigError(ValueError):
    """A configuration file or MIB the user supplied cannot be used; the message says what and where."""


class MibError(UserConfigError):
    """A MIB symbol or module that cannot be resolved; the message names the module and what to do."""
