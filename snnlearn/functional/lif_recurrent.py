"""Recurrent LIF neurons (Norse 1.1.0's ``lif_step``): the pure-PyTorch reference.

A layer of ``hidden`` LIF neurons driven by an input through ``input_weights``
``(hidden, input)`` and by its own spikes of the previous step through
``recurrent_weights`` ``(hidden, hidden)``. State ``LIFState(z, v, i)``. One step::

    i1 = i + x @ input_weights.T + z @ recurrent_weights.T  # input and recurrent spikes jump the current
    v1 = v + dt * tau_mem_inv * ((v_leak - v) + i1)
    i2 = i1 - dt * tau_syn_inv * i1
    z' = H(v1 - v_th)                                       # surrogate gradient as in lif.py
    v2 = (1 - z'.detach()) * v1 + z'.detach() * v_reset     # the reset carries no gradient

Unlike the feed-forward step (:func:`snnlearn.functional.lif_feed_forward_step`), the reset
uses the *detached* spike, exactly as Norse does here, so no gradient flows through the reset.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple

import torch

from .lif import LIFParameters, integrate, reset
from .threshold import threshold

__all__ = [
    "LIFState",
    "lif_recurrent_initial_state",
    "lif_recurrent_step",
    "lif_recurrent_sequence",
]


class LIFState(NamedTuple):
    """State of a recurrent LIF layer (as Norse's ``LIFState``).

    Attributes:
        z: spikes of the last step, ``(..., hidden)``.
        v: membrane voltage, ``(..., hidden)``.
        i: synaptic input current, ``(..., hidden)``.
    """

    z: torch.Tensor
    v: torch.Tensor
    i: torch.Tensor


def lif_recurrent_initial_state(
    batch_shape: Tuple[int, ...], hidden_size: int, p: LIFParameters = LIFParameters(),
    dtype: torch.dtype = torch.float32, device=None,
) -> LIFState:
    """A resting state: ``z = 0``, ``v = v_leak``, ``i = 0``, shaped ``(*batch_shape, hidden)``.

    >>> lif_recurrent_initial_state((2,), 3).v.shape
    torch.Size([2, 3])
    """
    shape = (*batch_shape, hidden_size)
    zeros = torch.zeros(shape, dtype=dtype, device=device)
    v = zeros + torch.as_tensor(p.v_leak, dtype=dtype, device=device)
    return LIFState(z=zeros, v=v, i=torch.zeros(shape, dtype=dtype, device=device))


def lif_recurrent_step(
    x: torch.Tensor,
    state: LIFState,
    input_weights: torch.Tensor,
    recurrent_weights: torch.Tensor,
    p: LIFParameters = LIFParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LIFState]:
    r"""One Euler step of a recurrent LIF layer (the reference; Norse 1.1.0's ``lif_step``).

    .. math::
        i_1 = i + W_{in} x + W_{rec} z,\quad
        v_1 = v + \Delta t\,\tau_{mem}^{-1}\big((v_{leak} - v) + i_1\big),\quad
        i_2 = i_1 - \Delta t\,\tau_{syn}^{-1}\,i_1,

        z' = H(v_1 - v_{th}),\quad
        v_2 = (1 - \mathrm{sg}(z'))\,v_1 + \mathrm{sg}(z')\,v_{reset},

    where :math:`\mathrm{sg}` stops the gradient (``detach``).

    Returns ``(z', LIFState(z', v2, i2))``.

    >>> w_in, w_rec = torch.eye(2) * 10, torch.tensor([[0.0, 50.0], [0.0, 0.0]])
    >>> s = lif_recurrent_initial_state((), 2)
    >>> for _ in range(2):
    ...     z, s = lif_recurrent_step(torch.tensor([1.0, 0.0]), s, w_in, w_rec)
    >>> z, s.i  # neuron 0 spiked at step 2; its spike reaches neuron 1 at step 3
    (tensor([1., 0.]), tensor([14.4000,  0.0000]))
    """
    i_jump = (state.i + torch.nn.functional.linear(x, input_weights)
              + torch.nn.functional.linear(state.z, recurrent_weights))
    v_decayed, i_decayed = integrate(state.v, i_jump, p, dt)
    z = threshold(v_decayed - p.v_th, p.method, p.alpha)
    return z, LIFState(z=z, v=reset(z.detach(), v_decayed, p), i=i_decayed)


def lif_recurrent_sequence(
    xs: torch.Tensor,
    input_weights: torch.Tensor,
    recurrent_weights: torch.Tensor,
    state: Optional[LIFState] = None,
    p: LIFParameters = LIFParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LIFState]:
    """Run :func:`lif_recurrent_step` over the first (time) axis of ``xs`` ``(T, ..., input)``.

    Returns the spikes ``(T, ..., hidden)`` and the final state.

    >>> torch.manual_seed(0) is not None
    True
    >>> z, s = lif_recurrent_sequence(torch.ones(50, 4, 3), torch.rand(5, 3), torch.zeros(5, 5))
    >>> z.shape, s.v.shape
    (torch.Size([50, 4, 5]), torch.Size([4, 5]))
    """
    if state is None:
        state = lif_recurrent_initial_state(tuple(xs.shape[1:-1]), input_weights.shape[0], p,
                                            xs.dtype, xs.device)
    return recurrent_time_loop(lif_recurrent_step, xs, state, input_weights, recurrent_weights,
                               p, dt)


def recurrent_time_loop(step, xs: torch.Tensor, state, input_weights: torch.Tensor,
                        recurrent_weights: torch.Tensor, p, dt: float):
    """``step(x, state, input_weights, recurrent_weights, p, dt) -> (z, state)`` over the
    first (time) axis of ``xs`` ``(T, ..., input)``: the spikes ``(T, ..., hidden)`` stacked,
    and the final state (the loop of every recurrent layer's reference: LIF, LSNN)."""
    spikes = []
    for x in xs.unbind(0):  # unbind, not xs[t]: no full-size zero gradient per step
        z, state = step(x, state, input_weights, recurrent_weights, p, dt)
        spikes.append(z)
    if not spikes:
        return xs.new_zeros((0, *xs.shape[1:-1], input_weights.shape[0])), state
    return torch.stack(spikes), state
