"""Errors meant for the person running pipeport, not for a debugger."""


class ConfigError(ValueError):
    """The training config is wrong; the message names the key and the valid choices."""


class DataError(ValueError):
    """The raw data does not match the config; the message names the column and row."""
