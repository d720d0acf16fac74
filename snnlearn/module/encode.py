"""Encoder modules: real values in, spike trains ``(T, *input.shape)`` out."""

from __future__ import annotations

from typing import Optional

import torch

from ..functional.encode import constant_current_lif_encode, poisson_encode
from ..functional.lif import LIFParameters

__all__ = ["ConstantCurrentLIFEncoder", "PoissonEncoder"]


class ConstantCurrentLIFEncoder(torch.nn.Module):
    """Encode values as the spikes of LIF membranes driven by them as constant currents.

    >>> ConstantCurrentLIFEncoder(20)(torch.tensor([0.0, 2.0])).shape
    torch.Size([20, 2])
    """

    def __init__(self, seq_length: int, p: LIFParameters = LIFParameters(), dt: float = 0.001):
        super().__init__()
        self.seq_length, self.p, self.dt = seq_length, p, dt

    def forward(self, input_currents: torch.Tensor) -> torch.Tensor:
        return constant_current_lif_encode(input_currents, self.seq_length, self.p, self.dt)


class PoissonEncoder(torch.nn.Module):
    """Encode values in ``[0, 1]`` as Poisson spike trains of mean rate ``f_max * x`` Hz.

    >>> PoissonEncoder(50)(torch.rand(4)).shape
    torch.Size([50, 4])
    """

    def __init__(self, seq_length: int, f_max: float = 100.0, dt: float = 0.001,
                 generator: Optional[torch.Generator] = None):
        super().__init__()
        self.seq_length, self.f_max, self.dt, self.generator = seq_length, f_max, dt, generator

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        return poisson_encode(input_values, self.seq_length, self.f_max, self.dt, self.generator)
