"""Small data sets that need no download: shipped with scikit-learn, or generated (seeded)."""

from .digits import DigitsSplit, load_digits

__all__ = ["DigitsSplit", "load_digits"]
