"""The package version, in a module of its own so that stamping a cache or manifest imports nothing else."""

__version__ = "0.1.0"
