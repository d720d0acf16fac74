"""``nn.Module`` wrappers around the LIF neuron: one step (``LIFCell``) or a sequence (``LIF``)."""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from ..backend import lif_sequence, lif_step
from ..functional.lif import LIFFeedForwardState, LIFParameters
from .neuron import NeuronModule

__all__ = ["LIFCell", "LIF"]


class LIFCell(NeuronModule):
    """A layer of LIF neurons advanced by one time step per call.

    ``z, state = cell(x, state)``: with ``state=None`` the neurons start at rest
    (``v = v_leak``, ``i = 0``). You write the time loop yourself, passing each returned
    state into the next call. On the CPU the step runs in the C kernel.

    The state carries autograd history. Between training batches start again from
    ``state=None`` or cut the history with :func:`snnlearn.detach_state`.

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
    """A layer of LIF neurons run over a whole time-first input ``(T, ...)``.

    ``z, state = lif(xs, state)`` returns the spikes of every step (shape ``xs.shape``) and
    the final state. On the CPU all ``T`` steps run in one fused C call (and the backward
    pass in one more), which is where the speed of snnlearn comes from.

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
