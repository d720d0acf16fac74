"""Leaky integrator (LI): a LIF neuron that never spikes, used as a readout layer.

One step with input ``x`` and state ``(v, i)``::

    i1 = i + x
    v1 = v + dt * tau_mem_inv * ((v_leak - v) + i1)
    i2 = i1 - dt * tau_syn_inv * i1
    return v1, (v1, i2)
"""

from __future__ import annotations

from typing import NamedTuple, Tuple, Union

import torch

from .lif import integrate
from .parameters import METHODS, default

__all__ = ["LIParameters", "LIState", "li_initial_state", "li_feed_forward_step",
           "li_feed_forward_sequence", "li_step"]

Number = Union[float, torch.Tensor]


class LIParameters(NamedTuple):
    """Parameters of a leaky integrator (defaults as in Norse 1.1.0: 0-d float32 tensors;
    ``to``/``cuda``/``cpu``/``float``/``double`` as for ``LIFParameters``).

    Attributes:
        tau_syn_inv: inverse synaptic time constant (1/s).
        tau_mem_inv: inverse membrane time constant (1/s).
        v_leak: leak (resting) potential.
    """

    tau_syn_inv: Number = default(1.0 / 5e-3)
    tau_mem_inv: Number = default(1.0 / 1e-2)
    v_leak: Number = default(0.0)

    to = METHODS["to"]
    cuda = METHODS["cuda"]
    cpu = METHODS["cpu"]
    float = METHODS["float"]
    double = METHODS["double"]


class LIState(NamedTuple):
    """State of a leaky integrator.

    Attributes:
        v: membrane voltage (the readout value).
        i: synaptic input current.
    """

    v: torch.Tensor
    i: torch.Tensor


def li_initial_state(x: torch.Tensor, p: LIParameters = LIParameters()) -> LIState:
    """A resting state shaped like ``x``: ``v = v_leak``, ``i = 0``."""
    v = torch.zeros_like(x) + torch.as_tensor(p.v_leak, dtype=x.dtype, device=x.device)
    return LIState(v=v, i=torch.zeros_like(x))


def li_feed_forward_step(
    x: torch.Tensor,
    state: LIState,
    p: LIParameters = LIParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LIState]:
    r"""One Euler step of the leaky integrator.

    .. math::
        i_1 = i + x,\quad v_1 = v + \Delta t\,\tau_{mem}^{-1}\big((v_{leak} - v) + i_1\big),
        \quad i_2 = i_1 - \Delta t\,\tau_{syn}^{-1}\,i_1.

    Returns ``(v1, LIState(v1, i2))``.

    >>> v, s = li_feed_forward_step(torch.tensor([10.0]), li_initial_state(torch.zeros(1)))
    >>> v, s.i
    (tensor([1.]), tensor([8.]))
    """
    v_new, i_decayed = integrate(state.v, state.i + x, p, dt)
    return v_new, LIState(v=v_new, i=i_decayed)


def li_feed_forward_sequence(
    xs: torch.Tensor,
    state: LIState,
    p: LIParameters = LIParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LIState]:
    """Run :func:`li_feed_forward_step` over the first (time) axis of ``xs``: the voltages
    of every step (shaped like ``xs``) and the final state.

    >>> v, s = li_feed_forward_sequence(torch.full((3, 1), 10.0), li_initial_state(torch.zeros(1)))
    >>> v.flatten()
    tensor([1.0000, 2.7000, 4.8700])
    """
    voltages = []
    for x in xs.unbind(0):  # unbind, not xs[t]: no full-size zero gradient per step
        v, state = li_feed_forward_step(x, state, p, dt)
        voltages.append(v)
    if not voltages:
        return xs * 0, state  # T = 0: an empty result that stays linked to the input
    return torch.stack(voltages), state


def li_step(
    input_tensor: torch.Tensor,
    state: LIState,
    input_weights: torch.Tensor,
    p: LIParameters = LIParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LIState]:
    """Norse's ``li_step``: a leaky integrator behind a linear map, i.e.
    :func:`li_feed_forward_step` of ``x @ input_weights.T``.

    >>> w = torch.full((1, 2), 5.0)
    >>> v, s = li_step(torch.ones(2), li_initial_state(torch.zeros(1)), w)
    >>> v
    tensor([1.])
    """
    return li_feed_forward_step(
        torch.nn.functional.linear(input_tensor, input_weights), state, p, dt)
