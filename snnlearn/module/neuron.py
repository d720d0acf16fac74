"""The base of every neuron layer: its parameters ``p`` and time step ``dt``."""

from __future__ import annotations

from typing import NamedTuple

import torch

__all__ = ["NeuronModule"]


class NeuronModule(torch.nn.Module):
    """A layer of neurons with parameters ``p`` (a NamedTuple) and time step ``dt`` (s).

    Subclasses implement ``forward(input_tensor, state=None) -> (output, state)``.
    """

    def __init__(self, p: NamedTuple, dt: float):
        super().__init__()
        self.p = p
        self.dt = dt

    def extra_repr(self) -> str:
        return f"p={self.p}, dt={self.dt}"
