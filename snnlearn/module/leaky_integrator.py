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
        if state is None:
            state = li_initial_state(input_tensor, self.p)
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
