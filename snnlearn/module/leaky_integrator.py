"""``nn.Module`` wrappers around the leaky integrator, the usual non-spiking readout."""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch

from ..backend import as_neuron_input, li_sequence, resting_state
from ..functional.leaky_integrator import (
    LIParameters,
    LIState,
    li_feed_forward_step,
    li_initial_state,
    li_step,
)
from .neuron import NeuronModule

__all__ = ["LICell", "LI", "LILinearCell"]


class LICell(NeuronModule):
    r"""Leaky integrators advanced one step per call: ``v, state = cell(x, state)``.

    One step of :func:`snnlearn.functional.li_feed_forward_step`: a LIF neuron without
    threshold and reset, whose voltage is the output (the usual readout layer).

    Args:
        p (LIParameters): parameters (``tau_syn_inv``, ``tau_mem_inv``, ``v_leak``); tensor
            fields are registered on the layer as for :class:`~snnlearn.LIFCell`.
        dt (float): time step in seconds. Default: ``0.001``.

    Shape:
        - input_tensor: :math:`(*)`, any shape.
        - state: ``LIState(v, i)``, each field :math:`(*)`, or ``None`` (rest).
        - Output: voltages :math:`(*)` and the new state.

    Attributes:
        p: the parameters, tensor fields read from the layer.
        dt: the time step.

    Examples:
        >>> v, s = LICell()(torch.tensor([10.0]))
        >>> v
        tensor([1.])
    """

    def __init__(self, p: LIParameters = LIParameters(), dt: float = 0.001):
        super().__init__(p, dt)

    def forward(
        self, input_tensor: torch.Tensor, state: Optional[LIState] = None
    ) -> Tuple[torch.Tensor, LIState]:
        input_tensor = as_neuron_input(input_tensor)
        if state is None:
            state = resting_state(input_tensor, self.p, li_initial_state) or \
                li_initial_state(input_tensor, self.p)
        return li_feed_forward_step(input_tensor, state, self.p, self.dt)


class LI(NeuronModule):
    r"""Leaky integrators over a time-first input: the voltages of every step and the
    final state. On the CPU all ``T`` steps run in one fused C call (and the backward pass
    in one more), as for :class:`~snnlearn.LIF`.

    Args:
        p (LIParameters): parameters, as for :class:`LICell`.
        dt (float): time step in seconds. Default: ``0.001``.

    Shape:
        - input_tensor: :math:`(T, *)`, time first.
        - state: ``LIState(v, i)``, each field :math:`(*)`, or ``None`` (rest).
        - Output: voltages :math:`(T, *)` and the final state, fields :math:`(*)`.

    Attributes:
        p: the parameters, tensor fields read from the layer.
        dt: the time step.

    Examples:
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


class LILinearCell(NeuronModule):
    """Leaky integrators behind a linear map (Norse's ``LILinearCell``), one step per call:
    ``v, state = cell(x, state)`` with ``x`` of shape ``(batch, input_size)``; equations
    :func:`snnlearn.functional.leaky_integrator.li_step`. The weights
    ``input_weights`` (hidden × input) start as N(0, 1/input_size), drawn as Norse draws them.

    >>> v, state = LILinearCell(3, 2)(torch.ones(4, 3))
    >>> v.shape
    torch.Size([4, 2])
    """

    def __init__(self, input_size: int, hidden_size: int, p: LIParameters = LIParameters(),
                 dt: float = 0.001):
        super().__init__(p, dt)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.input_weights = torch.nn.Parameter(
            torch.randn(hidden_size, input_size) / math.sqrt(input_size))

    def forward(
        self, input_tensor: torch.Tensor, state: Optional[LIState] = None
    ) -> Tuple[torch.Tensor, LIState]:
        input_tensor = as_neuron_input(input_tensor)
        if state is None:
            shape = (*input_tensor.shape[:-1], self.hidden_size)
            state = li_initial_state(input_tensor.new_zeros(shape), self.p)
        return li_step(input_tensor, state, self.input_weights, self.p, self.dt)
