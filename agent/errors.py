"""Errors a user fixes in their own files (configuration, MIB directory): one line, exit code 2."""


class UserConfigError(ValueError):
    """A configuration file or MIB the user supplied cannot be used; the message says what and where."""


class MibError(UserConfigError):
    """A MIB symbol or module that cannot be resolved; the message names the module and what to do."""
