"""``RegularizationCell``: Norse's module that accumulates a regularisation term per step."""

from __future__ import annotations

from typing import Any

import torch

from ..functional.regularization import Accumulator, regularize_step, spike_accumulator

__all__ = ["RegularizationCell"]


class RegularizationCell(torch.nn.Module):
    """Accumulates something (spike counts by default) every call: ``z, term = cell(z, s)``
    returns the spikes unchanged and the running term, also kept in ``cell.state``.

    >>> from snnlearn import LIFCell
    >>> z, s = LIFCell()(torch.full((5, 2), 11.0))
    >>> z, term = RegularizationCell()(z, s)
    >>> term
    tensor(10.)
    """

    def __init__(self, accumulator: Accumulator = spike_accumulator, state: Any = None):
        super().__init__()
        self.accumulator = accumulator
        self.state = state

    def forward(self, z: torch.Tensor, s: Any):
        _, self.state = regularize_step(z, s, self.accumulator, self.state)
        return z, self.state
