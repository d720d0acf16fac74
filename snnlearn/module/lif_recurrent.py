"""``nn.Module`` layers of recurrent LIF neurons: one step (``LIFRecurrentCell``) or a
sequence (``LIFRecurrent``), with Norse 1.1.0's parameter names and initialisation."""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch

from ..functional.lif import LIFParameters
from ..functional.lif_recurrent import (
    LIFState,
    lif_recurrent_initial_state,
    lif_recurrent_sequence,
    lif_recurrent_step,
)
from .neuron import NeuronModule

__all__ = ["LIFRecurrentCell", "LIFRecurrent"]


class _RecurrentBase(NeuronModule):
    """Weights ``input_weights`` (hidden × input) and ``recurrent_weights`` (hidden × hidden),
    both drawn from N(0, 2 / hidden) as in Norse. Without ``autapses`` the diagonal of
    ``recurrent_weights`` (a neuron's synapse onto itself) is zero and stays zero: its
    gradient is masked."""

    def __init__(self, input_size: int, hidden_size: int, p: LIFParameters = LIFParameters(),
                 dt: float = 0.001, autapses: bool = False):
        super().__init__(p, dt)
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.input_size, self.hidden_size, self.autapses = input_size, hidden_size, autapses
        scale = math.sqrt(2.0 / hidden_size)
        self.input_weights = torch.nn.Parameter(torch.randn(hidden_size, input_size) * scale)
        self.recurrent_weights = torch.nn.Parameter(torch.randn(hidden_size, hidden_size) * scale)
        if not autapses:
            with torch.no_grad():
                self.recurrent_weights.fill_diagonal_(0.0)
            self.recurrent_weights.register_hook(_zero_diagonal)

    def _check_input(self, x: torch.Tensor, where: str) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"input must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() < 1 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{where} must end in input_size={self.input_size}, got shape {tuple(x.shape)}")

    def extra_repr(self) -> str:
        return (f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"autapses={self.autapses}, {super().extra_repr()}")


def _zero_diagonal(grad: torch.Tensor) -> torch.Tensor:
    return grad - torch.diag_embed(torch.diagonal(grad))


class LIFRecurrentCell(_RecurrentBase):
    """Recurrent LIF neurons advanced by one time step per call: ``z, state = cell(x, state)``.

    ``x`` is ``(..., input_size)``; ``z`` and the state fields are ``(..., hidden_size)``.
    ``state=None`` starts from rest. Equations: :func:`snnlearn.functional.lif_recurrent_step`.

    >>> cell = LIFRecurrentCell(4, 8)
    >>> z, state = cell(torch.ones(2, 4))
    >>> z.shape, state.z.shape
    (torch.Size([2, 8]), torch.Size([2, 8]))
    """

    def forward(self, input_tensor: torch.Tensor,
                state: Optional[LIFState] = None) -> Tuple[torch.Tensor, LIFState]:
        self._check_input(input_tensor, "input")
        if state is None:
            state = lif_recurrent_initial_state(tuple(input_tensor.shape[:-1]), self.hidden_size,
                                                self.p, input_tensor.dtype, input_tensor.device)
        return lif_recurrent_step(input_tensor, state, self.input_weights,
                                  self.recurrent_weights, self.p, self.dt)


class LIFRecurrent(_RecurrentBase):
    """Recurrent LIF neurons over a time-first input ``(T, ..., input_size)``.

    Returns the spikes of every step ``(T, ..., hidden_size)`` and the final state.

    >>> z, state = LIFRecurrent(4, 8)(torch.ones(20, 2, 4))
    >>> z.shape
    torch.Size([20, 2, 8])
    """

    def forward(self, input_tensor: torch.Tensor,
                state: Optional[LIFState] = None) -> Tuple[torch.Tensor, LIFState]:
        self._check_input(input_tensor, "input (T, ..., input_size)")
        return lif_recurrent_sequence(input_tensor, self.input_weights, self.recurrent_weights,
                                      state, self.p, self.dt)
