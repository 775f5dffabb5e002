"""The normalisation exact_dedup compares on, for the tests' own checks."""

from lmforge.data.steps.dedup import normalize_for_dedup as norm

__all__ = ["norm"]
