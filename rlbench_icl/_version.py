"""The one version string of rlbench-icl (pyproject.toml reads it); results record it."""

__version__ = "0.2.0"
