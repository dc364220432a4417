"""Errors a user can cause. The CLI prints these on one line and exits non-zero."""


class AdsimError(Exception):
    """Base class for every error caused by input (config, files, data), not by a bug."""


class ConfigError(AdsimError):
    """A configuration file or override is malformed, unknown, mistyped or out of range."""


class DataError(AdsimError):
    """A file or array the user supplied is missing, corrupt, or has the wrong shape or values."""
