"""Small data sets that need no download: shipped with scikit-learn, or generated (seeded)."""

from .digits import DigitsSplit, load_digits
from .random_manifold import (
    RandomManifold,
    RandomManifoldSplit,
    random_manifold,
    spike_times_to_dense,
)

__all__ = ["DigitsSplit", "load_digits",
           "RandomManifold", "RandomManifoldSplit", "random_manifold", "spike_times_to_dense"]
