"""``nn.Module`` layers of adaptive (LSNN) neurons, Bellec et al. 2018, with Norse 1.1.0's
names: ``LSNNCell`` / ``LSNN`` (feed-forward, one step / a sequence) and
``LSNNRecurrentCell`` / ``LSNNRecurrent`` (with recurrent weights).

The equations are :func:`snnlearn.functional.lsnn_feed_forward_step` and
:func:`snnlearn.functional.lsnn_step`; these layers always run that PyTorch reference.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from ..functional.lsnn import (
    LSNNFeedForwardState,
    LSNNParameters,
    LSNNState,
    lsnn_feed_forward_initial_state,
    lsnn_feed_forward_sequence,
    lsnn_feed_forward_step,
    lsnn_initial_state,
    lsnn_sequence,
    lsnn_step,
)
from ..functional.threshold import norse_1_1_0_active
from .lif_recurrent import _RecurrentBase
from .neuron import NeuronModule

__all__ = ["LSNNCell", "LSNN", "LSNNRecurrentCell", "LSNNRecurrent"]


def _check_tensor(x) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"input must be a torch.Tensor, got {type(x).__name__}")


def _resting(state, x: torch.Tensor):
    """A fresh resting ``state`` as Norse's layers make it inside
    :func:`snnlearn.norse_1_1_0_gradients` (its ``v`` a leaf that requires a gradient, so
    outputs carry a graph even from plain tensors; see
    :func:`snnlearn.backend.resting_state`); ``state`` itself everywhere else."""
    if torch.is_grad_enabled() and not x.requires_grad and norse_1_1_0_active():
        state.v.requires_grad_(True)
    return state


class LSNNCell(NeuronModule):
    """Feed-forward adaptive neurons advanced by one time step per call.

    ``z, state = cell(x, state)``; ``state=None`` starts from rest (``v = v_leak``,
    ``i = 0``, threshold ``b = v_th``). Arguments as Norse's: ``p``
    (:class:`~snnlearn.functional.LSNNParameters`) and ``dt``.

    >>> cell, state = LSNNCell(), None
    >>> for _ in range(100):
    ...     z, state = cell(torch.tensor([1.0]), state)
    >>> round(float(state.b), 3)  # three spikes raised the threshold by 3 * 1.8
    6.399
    """

    def __init__(self, p: LSNNParameters = LSNNParameters(), dt: float = 0.001):
        super().__init__(p, dt)

    def forward(self, input_tensor: torch.Tensor, state: Optional[LSNNFeedForwardState] = None
                ) -> Tuple[torch.Tensor, LSNNFeedForwardState]:
        _check_tensor(input_tensor)
        if state is None:
            state = _resting(lsnn_feed_forward_initial_state(input_tensor, self.p), input_tensor)
        return lsnn_feed_forward_step(input_tensor, state, self.p, self.dt)


class LSNN(NeuronModule):
    """Feed-forward adaptive neurons over a time-first input ``(T, ...)``.

    Returns the spikes of every step (shape of the input) and the final state.

    >>> z, state = LSNN()(torch.ones(100, 2))
    >>> z.shape, state.b.shape
    (torch.Size([100, 2]), torch.Size([2]))
    """

    def __init__(self, p: LSNNParameters = LSNNParameters(), dt: float = 0.001):
        super().__init__(p, dt)

    def forward(self, input_tensor: torch.Tensor, state: Optional[LSNNFeedForwardState] = None
                ) -> Tuple[torch.Tensor, LSNNFeedForwardState]:
        _check_tensor(input_tensor)
        if input_tensor.dim() < 1:
            raise ValueError("LSNN needs a time-first input (T, ...), got a 0-d tensor")
        if state is None:
            state = _resting(lsnn_feed_forward_initial_state(input_tensor[0], self.p),
                             input_tensor)
        return lsnn_feed_forward_sequence(input_tensor, state, self.p, self.dt)


class LSNNRecurrentCell(_RecurrentBase):
    """Recurrent adaptive neurons advanced by one time step per call.

    ``x`` is ``(..., input_size)``; ``z`` and the state fields ``(z, v, i, b)`` are
    ``(..., hidden_size)``. Arguments as Norse's: ``input_size``, ``hidden_size``, ``p``
    (:class:`~snnlearn.functional.LSNNParameters`), ``dt``, ``autapses`` (default ``False``:
    no synapse from a neuron onto itself) and keyword-only ``input_weights`` /
    ``recurrent_weights``; the weights are drawn from N(0, 2 / hidden) exactly as Norse draws
    them (same seed, same weights).

    >>> cell = LSNNRecurrentCell(4, 8)
    >>> z, state = cell(torch.ones(2, 4))
    >>> z.shape, state.b.shape
    (torch.Size([2, 8]), torch.Size([2, 8]))
    """

    def __init__(self, input_size: int, hidden_size: int, p: LSNNParameters = LSNNParameters(),
                 dt: float = 0.001, autapses: bool = False, *,
                 input_weights: Optional[torch.Tensor] = None,
                 recurrent_weights: Optional[torch.Tensor] = None):
        super().__init__(input_size, hidden_size, p, dt, autapses,
                         input_weights=input_weights, recurrent_weights=recurrent_weights)

    def forward(self, input_tensor: torch.Tensor, state: Optional[LSNNState] = None
                ) -> Tuple[torch.Tensor, LSNNState]:
        self._check_input(input_tensor, "input")
        if state is None:
            state = _resting(lsnn_initial_state(tuple(input_tensor.shape[:-1]), self.hidden_size,
                                                self.p, input_tensor.dtype, input_tensor.device),
                             input_tensor)
        return lsnn_step(input_tensor, state, self.input_weights, self.recurrent_weights,
                         self.p, self.dt)


class LSNNRecurrent(_RecurrentBase):
    """Recurrent adaptive neurons over a time-first input ``(T, ..., input_size)``.

    Returns the spikes ``(T, ..., hidden_size)`` and the final
    :class:`snnlearn.functional.LSNNState`. Arguments as :class:`snnlearn.LSNNRecurrentCell`.

    >>> z, state = LSNNRecurrent(4, 8)(torch.ones(20, 2, 4))
    >>> z.shape
    torch.Size([20, 2, 8])
    """

    def __init__(self, input_size: int, hidden_size: int, p: LSNNParameters = LSNNParameters(),
                 dt: float = 0.001, autapses: bool = False, *,
                 input_weights: Optional[torch.Tensor] = None,
                 recurrent_weights: Optional[torch.Tensor] = None):
        super().__init__(input_size, hidden_size, p, dt, autapses,
                         input_weights=input_weights, recurrent_weights=recurrent_weights)

    def forward(self, input_tensor: torch.Tensor, state: Optional[LSNNState] = None
                ) -> Tuple[torch.Tensor, LSNNState]:
        self._check_input(input_tensor, "input (T, ..., input_size)")
        if input_tensor.dim() < 2:
            raise ValueError("LSNNRecurrent needs a time-first input (T, ..., input_size), "
                             f"got shape {tuple(input_tensor.shape)}")
        if state is None:
            state = _resting(lsnn_initial_state(tuple(input_tensor.shape[1:-1]),
                                                self.hidden_size, self.p, input_tensor.dtype,
                                                input_tensor.device), input_tensor)
        return lsnn_sequence(input_tensor, self.input_weights, self.recurrent_weights, state,
                             self.p, self.dt)
