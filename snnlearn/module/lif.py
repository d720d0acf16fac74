"""``nn.Module`` wrappers around the LIF neuron: one step (``LIFCell``) or a sequence (``LIF``)."""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from ..backend import lif_sequence, lif_step
from ..functional.lif import LIFFeedForwardState, LIFParameters
from .neuron import NeuronModule

__all__ = ["LIFCell", "LIF"]


class LIFCell(NeuronModule):
    r"""A layer of LIF neurons advanced by one time step per call.

    Each call is one step of :func:`snnlearn.functional.lif_feed_forward_step`: the input
    jumps the synaptic current, the membrane integrates it, a neuron spikes where its
    voltage crosses ``v_th`` and is reset to ``v_reset``. You write the time loop yourself,
    passing each returned state into the next call. On the CPU the step runs in the C
    kernel (:mod:`snnlearn.backend` says when, and which path ran).

    The state carries autograd history. Between training batches start again from
    ``state=None`` or cut the history with :func:`snnlearn.detach_state`.

    Args:
        p (LIFParameters): neuron parameters. Plain numbers are shared by all neurons;
            tensor fields (per-neuron or learnable) are registered on the layer as
            parameters or buffers ``p_<field>`` (see ``snnlearn.module.neuron.NeuronModule``).
        dt (float): time step in seconds. Default: ``0.001``.

    Shape:
        - input_tensor: :math:`(*)`, any shape (e.g. ``(batch, neurons)``).
        - state: ``LIFFeedForwardState(v, i)``, each field :math:`(*)` like the input, or
          ``None`` for neurons at rest (``v = v_leak``, ``i = 0``).
        - Output: spikes ``z`` :math:`(*)` (0 or 1, in the input's dtype) and the new state.

    Attributes:
        p: the parameters, with tensor fields read from the layer's
            parameters and buffers (so they follow ``.to()`` and training).
        dt: the time step.

    Examples:
        >>> cell = LIFCell()
        >>> state = None
        >>> for _ in range(100):
        ...     z, state = cell(torch.tensor([0.3]), state)
        >>> state.v.shape
        torch.Size([1])
    """

    def __init__(self, p: LIFParameters = LIFParameters(), dt: float = 0.001):
        super().__init__(p, dt)

    def forward(
        self, input_tensor: torch.Tensor, state: Optional[LIFFeedForwardState] = None
    ) -> Tuple[torch.Tensor, LIFFeedForwardState]:
        return lif_step(input_tensor, state, self.p, self.dt)


class LIF(NeuronModule):
    r"""A layer of LIF neurons run over a whole time-first input.

    ``z, state = lif(xs, state)`` runs :func:`snnlearn.functional.lif_feed_forward_step`
    for every step of ``xs`` and returns the spikes of every step and the final state. On
    the CPU all ``T`` steps run in one fused C call (and the backward pass in one more),
    which is where the speed of snnlearn comes from.

    Args:
        p (LIFParameters): neuron parameters, as for :class:`LIFCell`.
        dt (float): time step in seconds. Default: ``0.001``.

    Shape:
        - input_tensor: :math:`(T, *)`, time first.
        - state: ``LIFFeedForwardState(v, i)``, each field :math:`(*)`, or ``None`` (rest).
        - Output: spikes :math:`(T, *)` and the final state, fields :math:`(*)`.

    Attributes:
        p: the parameters, as for :class:`LIFCell`.
        dt: the time step.

    Examples:
        >>> z, state = LIF()(torch.ones(100, 1) * 0.3)
        >>> z.shape, int(z.sum())
        (torch.Size([100, 1]), 8)
    """

    def __init__(self, p: LIFParameters = LIFParameters(), dt: float = 0.001):
        super().__init__(p, dt)

    def forward(
        self, input_tensor: torch.Tensor, state: Optional[LIFFeedForwardState] = None
    ) -> Tuple[torch.Tensor, LIFFeedForwardState]:
        return lif_sequence(input_tensor, state, self.p, self.dt)
