"""``nn.Module`` wrappers around the leaky integrator, the usual non-spiking readout."""

from __future__ import annotations

from typing import Optional, Tuple

import torch

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
    final state.

    >>> v, s = LI()(torch.ones(5, 2))
    >>> v.shape
    torch.Size([5, 2])
    """

    def __init__(self, p: LIParameters = LIParameters(), dt: float = 0.001):
        super().__init__(p, dt)

    def forward(
        self, input_tensor: torch.Tensor, state: Optional[LIState] = None
    ) -> Tuple[torch.Tensor, LIState]:
        if state is None:
            state = li_initial_state(input_tensor.new_zeros(input_tensor.shape[1:]), self.p)
        voltages = []
        for x in input_tensor.unbind(0):
            v, state = li_feed_forward_step(x, state, self.p, self.dt)
            voltages.append(v)
        if not voltages:
            return input_tensor * 0, state  # T = 0: an empty result that stays linked to the input
        return torch.stack(voltages), state
