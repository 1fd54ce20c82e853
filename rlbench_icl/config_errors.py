"""The error for a bad training configuration (kept torch-free so the CLI can catch it)."""


class ConfigError(ValueError):
    """A training config that cannot be read, or that contradicts a run being resumed."""
