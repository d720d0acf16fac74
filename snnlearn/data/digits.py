"""Small data sets that need no download: scikit-learn's 8×8 handwritten digits."""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["DigitsSplit", "load_digits"]


class DigitsSplit(NamedTuple):
    """Train/test tensors: images ``(n, 64)`` scaled to ``[0, 1]`` and labels ``(n,)``."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def load_digits(test_fraction: float = 0.25, seed: int = 0) -> DigitsSplit:
    """The 1,797 digits shipped with scikit-learn, shuffled with ``seed`` and split.

    Pixels (0–16) are scaled to ``[0, 1]``, ready to use as input currents or firing rates.

    >>> split = load_digits()
    >>> split.x_train.shape, split.x_test.shape, int(split.y_train.max())
    (torch.Size([1348, 64]), torch.Size([449, 64]), 9)
    """
    from sklearn.datasets import load_digits as sklearn_digits

    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    digits = sklearn_digits()
    images = torch.tensor(digits.data, dtype=torch.float32) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.long)
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    n_test = int(round(test_fraction * len(labels)))
    test, train = order[:n_test], order[n_test:]
    return DigitsSplit(images[train], labels[train], images[test], labels[test])
