r"""Adaptive LIF neurons (LSNN, Bellec et al. 2018): the pure-PyTorch reference.

Bellec, Salaj, Subramoney, Legenstein & Maass, "Long short-term memory and
learning-to-learn in networks of spiking neurons", NeurIPS 2018. Each neuron's threshold
``b`` rises by ``beta`` at every spike and relaxes back to ``v_th`` with the (slow) time
constant ``1 / tau_adapt_inv``; a neuron that fired a lot is harder to excite for a while,
which gives the network a memory far longer than its membrane time constant.

Norse 1.1.0's ``lsnn_step`` / ``lsnn_feed_forward_step``, line by line (same names, same
parameters, same numbers to the bit; ``tests/test_lsnn_norse.py`` checks it). One step with
input ``x`` and state ``(v, i, b)`` (and ``z``, the last spikes, in the recurrent layer)::

    v1 = v + dt * tau_mem_inv * ((v_leak - v) + i)    # membrane integrates the *old* current
    i1 = i + (-dt * tau_syn_inv) * i                  # synaptic current decays
    b1 = b + dt * tau_adapt_inv * (v_th - b)          # threshold relaxes towards v_th
    z' = H(v1 - b1)                                   # spike above the adaptive threshold
    v2 = (1 - z') * v1 + z' * v_reset                 # reset
    b2 = b1 + beta * z'                               # each spike raises the threshold
    i2 = i1 + x                    (feed-forward)     # the input jumps the current last
    i2 = i1 + W_in x + W_rec z     (recurrent)

Two differences from the LIF step (:func:`snnlearn.functional.lif_feed_forward_step`), both
Norse's: the current jumps *after* the membrane update (so an input reaches ``v`` one step
later than in the LIF), which is why this step does not call the LIF's; and in the
recurrent step the reset and the threshold jump use the detached spike (no gradient flows
through them), as in Norse's ``lsnn_step`` (the feed-forward step keeps it, as Norse's).

``b`` is the whole threshold, not the adaptation alone: a resting neuron has ``b = v_th``.
(Norse's docstrings write the jump condition as ``H(v - v_th + b)``; its code, and this one,
compute ``H(v - b)``.)

:func:`snnlearn.functional.ada_lif_step` is Norse's other adaptive neuron: an adaptation
current ``b`` subtracted from the membrane's drive, with reset by subtraction.
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple, Union

import torch

from .lif_recurrent import recurrent_time_loop
from .threshold import threshold

__all__ = [
    "LSNNParameters",
    "LSNNState",
    "LSNNFeedForwardState",
    "lsnn_initial_state",
    "lsnn_feed_forward_initial_state",
    "lsnn_step",
    "lsnn_feed_forward_step",
    "lsnn_sequence",
    "lsnn_feed_forward_sequence",
    "ada_lif_step",
]

Number = Union[float, torch.Tensor]


class LSNNParameters(NamedTuple):
    """Parameters of an adaptive (LSNN) neuron; names and defaults as Norse 1.1.0's.

    Attributes:
        tau_syn_inv: inverse synaptic time constant (1/s).
        tau_mem_inv: inverse membrane time constant (1/s).
        tau_adapt_inv: inverse adaptation time constant (1/s). Norse's default ``1/800``
            means an 800 s time constant: with it the threshold hardly relaxes within a
            trial. Bellec et al. (2018) used 1200 ms, i.e. ``tau_adapt_inv=1/1.2``.
        v_leak: leak (resting) potential.
        v_th: resting threshold, which the adaptive threshold ``b`` relaxes to.
        v_reset: potential after a spike.
        beta: threshold increase per spike.
        method: surrogate gradient (see :func:`snnlearn.functional.threshold`).
        alpha: sharpness of the surrogate.

    Parameters may be Python numbers or tensors that broadcast against the layer.

    >>> LSNNParameters().beta
    1.8
    """

    tau_syn_inv: Number = 1.0 / 5e-3
    tau_mem_inv: Number = 1.0 / 1e-2
    tau_adapt_inv: Number = 1.0 / 800
    v_leak: Number = 0.0
    v_th: Number = 1.0
    v_reset: Number = 0.0
    beta: Number = 1.8
    method: str = "super"
    alpha: float = 100.0


class LSNNState(NamedTuple):
    """State of a recurrent LSNN layer (as Norse's).

    Attributes:
        z: spikes of the last step, ``(..., hidden)``.
        v: membrane voltage.
        i: synaptic input current.
        b: adaptive threshold (``v_th`` at rest).
    """

    z: torch.Tensor
    v: torch.Tensor
    i: torch.Tensor
    b: torch.Tensor


class LSNNFeedForwardState(NamedTuple):
    """State of a feed-forward LSNN layer (as Norse's): ``v``, ``i`` and the threshold ``b``."""

    v: torch.Tensor
    i: torch.Tensor
    b: torch.Tensor


def _full(shape, value: Number, dtype, device) -> torch.Tensor:
    """A tensor of ``shape`` filled with ``value`` (a number, or a tensor that broadcasts)."""
    return torch.zeros(shape, dtype=dtype, device=device) + torch.as_tensor(
        value, dtype=dtype, device=device)


def lsnn_feed_forward_initial_state(
    x: torch.Tensor, p: LSNNParameters = LSNNParameters()
) -> LSNNFeedForwardState:
    """A resting state shaped like ``x``: ``v = v_leak``, ``i = 0``, ``b = v_th``.

    >>> lsnn_feed_forward_initial_state(torch.zeros(2))
    LSNNFeedForwardState(v=tensor([0., 0.]), i=tensor([0., 0.]), b=tensor([1., 1.]))
    """
    return LSNNFeedForwardState(
        v=_full(x.shape, p.v_leak, x.dtype, x.device),
        i=torch.zeros(x.shape, dtype=x.dtype, device=x.device),
        b=_full(x.shape, p.v_th, x.dtype, x.device))


def lsnn_initial_state(
    batch_shape: Tuple[int, ...], hidden_size: int, p: LSNNParameters = LSNNParameters(),
    dtype: torch.dtype = torch.float32, device=None,
) -> LSNNState:
    """A resting recurrent state ``(*batch_shape, hidden)``: ``z = 0``, ``v = v_leak``,
    ``i = 0``, ``b = v_th``.

    >>> lsnn_initial_state((2,), 3).b
    tensor([[1., 1., 1.],
            [1., 1., 1.]])
    """
    shape = (*batch_shape, hidden_size)
    zeros = torch.zeros(shape, dtype=dtype, device=device)
    return LSNNState(z=zeros, v=_full(shape, p.v_leak, dtype, device),
                     i=torch.zeros(shape, dtype=dtype, device=device),
                     b=_full(shape, p.v_th, dtype, device))


def _integrate(v, i, b, p: LSNNParameters, dt: float):
    """The sub-threshold part of both steps: ``(v1, i1, b1)`` before spike, reset and jump."""
    v_decayed = v + dt * p.tau_mem_inv * ((p.v_leak - v) + i)
    i_decayed = i + (-dt * p.tau_syn_inv * i)
    b_decayed = b + dt * p.tau_adapt_inv * (p.v_th - b)
    return v_decayed, i_decayed, b_decayed


def lsnn_feed_forward_step(
    x: torch.Tensor,
    state: LSNNFeedForwardState,
    p: LSNNParameters = LSNNParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LSNNFeedForwardState]:
    r"""One Euler step of feed-forward adaptive neurons (Norse's ``lsnn_feed_forward_step``).

    .. math::
        v_1 = v + \Delta t\,\tau_{mem}^{-1}\big((v_{leak} - v) + i\big),\quad
        i_1 = i - \Delta t\,\tau_{syn}^{-1}\,i,\quad
        b_1 = b + \Delta t\,\tau_{adapt}^{-1}\,(v_{th} - b),

        z = H(v_1 - b_1),\quad v_2 = (1 - z)\,v_1 + z\,v_{reset},\quad
        b_2 = b_1 + \beta z,\quad i_2 = i_1 + x.

    Returns ``(z, LSNNFeedForwardState(v2, i2, b2))``. The input reaches the membrane one
    step after it arrives (the current jumps last), as in Norse.

    Each spike raises the threshold by ``beta``, so under a constant drive the gaps between
    spikes grow (spike-frequency adaptation):

    >>> p = LSNNParameters(tau_adapt_inv=1 / 0.2, beta=0.5)
    >>> s, spikes = lsnn_feed_forward_initial_state(torch.zeros(1), p), []
    >>> for t in range(300):
    ...     z, s = lsnn_feed_forward_step(torch.tensor([0.5]), s, p)
    ...     spikes += [t] * int(z)
    >>> gaps = [b - a for a, b in zip(spikes, spikes[1:])]
    >>> gaps[0] < gaps[-1], round(float(s.b), 2)
    (True, 2.66)
    """
    v_decayed, i_decayed, b_decayed = _integrate(state.v, state.i, state.b, p, dt)
    z = threshold(v_decayed - b_decayed, p.method, p.alpha)
    v_new = (1 - z) * v_decayed + z * p.v_reset
    b_new = b_decayed + z * p.beta
    i_new = i_decayed + x
    return z, LSNNFeedForwardState(v=v_new, i=i_new, b=b_new)


def lsnn_step(
    x: torch.Tensor,
    state: LSNNState,
    input_weights: torch.Tensor,
    recurrent_weights: torch.Tensor,
    p: LSNNParameters = LSNNParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LSNNState]:
    r"""One Euler step of a recurrent layer of adaptive neurons (Norse's ``lsnn_step``).

    .. math::
        v_1 = v + \Delta t\,\tau_{mem}^{-1}\big((v_{leak} - v) + i\big),\quad
        i_1 = i - \Delta t\,\tau_{syn}^{-1}\,i,\quad
        b_1 = b + \Delta t\,\tau_{adapt}^{-1}\,(v_{th} - b),

        z' = H(v_1 - b_1),\quad
        v_2 = (1 - \mathrm{sg}(z'))\,v_1 + \mathrm{sg}(z')\,v_{reset},\quad
        b_2 = b_1 + \beta\,\mathrm{sg}(z'),

        i_2 = i_1 + W_{in}\,x + W_{rec}\,z,

    where :math:`\mathrm{sg}` stops the gradient. ``input_weights`` is ``(hidden, input)``,
    ``recurrent_weights`` ``(hidden, hidden)``. Returns ``(z', LSNNState(z', v2, i2, b2))``.

    >>> w_in, w_rec = torch.ones(1, 1), torch.zeros(1, 1)
    >>> s, spikes = lsnn_initial_state((), 1), 0
    >>> for _ in range(100):
    ...     z, s = lsnn_step(torch.ones(1), s, w_in, w_rec)
    ...     spikes += int(z)
    >>> spikes, round(float(s.b), 3)  # each spike added beta = 1.8 to the threshold
    (3, 6.399)
    """
    v_decayed, i_decayed, b_decayed = _integrate(state.v, state.i, state.b, p, dt)
    z = threshold(v_decayed - b_decayed, p.method, p.alpha)
    reset = z.detach()
    v_new = (1 - reset) * v_decayed + reset * p.v_reset
    i_new = (i_decayed + torch.nn.functional.linear(x, input_weights)
             + torch.nn.functional.linear(state.z, recurrent_weights))
    b_new = b_decayed + reset * p.beta
    return z, LSNNState(z=z, v=v_new, i=i_new, b=b_new)


def ada_lif_step(
    x: torch.Tensor,
    state: LSNNState,
    input_weights: torch.Tensor,
    recurrent_weights: torch.Tensor,
    p: LSNNParameters = LSNNParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LSNNState]:
    r"""One step of recurrent LIF neurons with an adaptation *current* and reset by
    subtraction (Norse 1.1.0's ``ada_lif_step``, same numbers).

    .. math::
        v_1 = v + \Delta t\,\tau_{mem}^{-1}\big((v_{leak} - v) + i - b\big),\quad
        i_1 = i - \Delta t\,\tau_{syn}^{-1}\,i,\quad
        b_1 = b - \Delta t\,\tau_{adapt}^{-1}\,b,

        z' = H(v_1 - v_{th}),\quad
        v_2 = v_1 - z'\,(v_{th} - v_{reset}),\quad
        b_2 = b_1 + \beta z',\quad
        i_2 = i_1 + W_{in}\,x + W_{rec}\,z.

    Here ``b`` (0 at rest) is subtracted from the membrane's drive rather than added to the
    threshold, a spike lowers ``v`` by ``v_th - v_reset`` instead of setting it to
    ``v_reset``, and, unlike :func:`snnlearn.functional.lsnn_step`, the reset and the
    adaptation keep their gradients (as in Norse).

    >>> s = LSNNState(*(torch.zeros(1) for _ in range(4)))
    >>> spikes = 0
    >>> for _ in range(100):
    ...     z, s = ada_lif_step(torch.ones(1), s, torch.ones(1, 1), torch.zeros(1, 1))
    ...     spikes += int(z)
    >>> spikes, round(float(s.b), 3)
    (3, 5.399)
    """
    v_decayed = state.v + dt * p.tau_mem_inv * ((p.v_leak - state.v) + state.i - state.b)
    i_decayed = state.i + (-dt * p.tau_syn_inv * state.i)
    b_decayed = state.b + (-dt * p.tau_adapt_inv * state.b)
    z = threshold(v_decayed - p.v_th, p.method, p.alpha)
    v_new = v_decayed - z * (p.v_th - p.v_reset)
    b_new = b_decayed + z * p.beta
    i_new = (i_decayed + torch.nn.functional.linear(x, input_weights)
             + torch.nn.functional.linear(state.z, recurrent_weights))
    return z, LSNNState(z, v_new, i_new, b_new)


def lsnn_feed_forward_sequence(
    xs: torch.Tensor,
    state: Optional[LSNNFeedForwardState] = None,
    p: LSNNParameters = LSNNParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LSNNFeedForwardState]:
    """Run :func:`snnlearn.functional.lsnn_feed_forward_step` over the first (time) axis of
    ``xs``.

    Returns the spikes (shape ``xs.shape``) and the final state.

    >>> z, s = lsnn_feed_forward_sequence(torch.full((100, 1), 3.0))
    >>> int(z.sum()), round(float(s.b), 3)
    (8, 15.399)
    """
    if state is None:
        state = lsnn_feed_forward_initial_state(xs[0] if len(xs) else xs.new_zeros(xs.shape[1:]),
                                                p)
    spikes = []
    for x in xs.unbind(0):
        z, state = lsnn_feed_forward_step(x, state, p, dt)
        spikes.append(z)
    if not spikes:
        return xs * 0, state
    return torch.stack(spikes), state


def lsnn_sequence(
    xs: torch.Tensor,
    input_weights: torch.Tensor,
    recurrent_weights: torch.Tensor,
    state: Optional[LSNNState] = None,
    p: LSNNParameters = LSNNParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LSNNState]:
    """Run :func:`snnlearn.functional.lsnn_step` over the first (time) axis of ``xs``
    ``(T, ..., input)``.

    Returns the spikes ``(T, ..., hidden)`` and the final state.

    >>> z, s = lsnn_sequence(torch.ones(30, 4, 3), torch.ones(5, 3), torch.zeros(5, 5))
    >>> z.shape, s.b.shape
    (torch.Size([30, 4, 5]), torch.Size([4, 5]))
    """
    if state is None:
        state = lsnn_initial_state(tuple(xs.shape[1:-1]), input_weights.shape[0], p, xs.dtype,
                                   xs.device)
    return recurrent_time_loop(lsnn_step, xs, state, input_weights, recurrent_weights, p, dt)
