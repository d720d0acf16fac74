"""``nn.Module`` wrappers around the leaky integrator, the usual non-spiking readout."""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from ..backend import li_sequence
from ..functional.leaky_integrator import (
    LIParameters,
    LIState,
    li_feed_forward_step,
    li_initial_state,
)
from .neuron import NeuronModule

__all__ = ["LICell", "LI"]


class LICell(NeuronModule):
    """Leaky integrators advanced one step per call: ``v, state = cell(x, state)``.

    >>> v, s = LICell()(torch.tensor([10.0]))
    >>> v
    tensor([1.])
    """

    def __init__(self, p: LIParameters = LIParameters(), dt: float = 0.001):
        super().__init__(p, dt)

    def forward(
        self, input_tensor: torch.Tensor, state: Optional[LIState] = None
    ) -> Tuple[torch.Tensor, LIState]:
        if state is None:
            state = li_initial_state(input_tensor, self.p)
        return li_feed_forward_step(input_tensor, state, self.p, self.dt)


class LI(NeuronModule):
    """Leaky integrators over a time-first input ``(T, ...)``: returns all voltages and the
    final state. On the CPU all ``T`` steps run in one fused C call (and the backward pass
    in one more), as for :class:`LIF`.

    >>> v, s = LI()(torch.ones(5, 2))
    >>> v.shape
    torch.Size([5, 2])
    """

    def __init__(self, p: LIParameters = LIParameters(), dt: float = 0.001):
        super().__init__(p, dt)

    def forward(
        self, input_tensor: torch.Tensor, state: Optional[LIState] = None
    ) -> Tuple[torch.Tensor, LIState]:
        return li_sequence(input_tensor, state, self.p, self.dt)
