"""Current-based leaky integrate-and-fire (LIF) neuron: the pure-PyTorch reference.

This is the one Python source of truth for the neuron equations: the integrate lines
(:func:`integrate`) and the reset (:func:`reset`) are written here once, and the leaky
integrator, the recurrent LIF and the constant-current encoder call them. The C kernels
in ``snnlearn/_compiled/_lif_kernels.h`` implement the same lines and the tests tie the two
together.
One feed-forward step with input ``x`` and state ``(v, i)``::

    i1 = i + x                                      # input current jumps
    v1 = v + dt * tau_mem_inv * ((v_leak - v) + i1) # membrane integrates
    i2 = i1 - dt * tau_syn_inv * i1                 # synaptic current decays
    z  = H(v1 - v_th)                               # spike where v1 > v_th
    v2 = (1 - z) * v1 + z * v_reset                 # reset where it spiked
"""

from __future__ import annotations

from typing import NamedTuple, Optional, Tuple, Union

import torch

from .parameters import METHODS, default
from .threshold import threshold

__all__ = [
    "LIFParameters",
    "LIFFeedForwardState",
    "lif_initial_state",
    "lif_feed_forward_step",
    "lif_feed_forward_sequence",
    "integrate",
    "integrate_membrane",
    "reset",
    "RESET_METHODS",
]

Number = Union[float, torch.Tensor]


class LIFParameters(NamedTuple):
    """Parameters of a LIF neuron (defaults as in Norse 1.1.0: 0-d float32 tensors).

    Parameters may be Python numbers or 0-d tensors (shared by all neurons; both run on the
    C kernels) or tensors that broadcast against the input (per-neuron or learnable
    parameters). ``p.to(device_or_dtype)``, ``p.cuda()``, ``p.cpu()``, ``p.float()`` and
    ``p.double()`` move every tensor field, as Norse's do.

    Attributes:
        tau_syn_inv: inverse synaptic time constant (1/s).
        tau_mem_inv: inverse membrane time constant (1/s).
        v_leak: leak (resting) potential.
        v_th: firing threshold.
        v_reset: potential after a spike.
        method: surrogate gradient: ``"super"`` (SuperSpike), ``"super_norse110"`` (Norse
            1.1.0's SuperSpike, which ignores ``alpha``), ``"heaviside"`` (none), or one of
            the shapes of ``snnlearn.functional.surrogates.SURROGATES`` (``"fast_sigmoid"``,
            ``"arctan"``, ``"triangle"``, ``"tanh"``, ``"circ"``, ``"heavi_erfc"``: these
            run on the reference path).
        alpha: sharpness of the surrogate.
        reset_method: what a spike does to the voltage (not in Norse, which always resets
            to a value; appended last, so Norse's positional arguments keep their
            meaning): ``"value"`` (default, Norse's) sets it to ``v_reset``;
            ``"subtract"`` lowers it by ``v_th - v_reset`` (reset by subtraction, as
            snnTorch's ``reset_mechanism="subtract"`` for ``v_reset = 0``), so a neuron
            driven far above threshold keeps the excess towards its next spike. The C
            kernels implement ``"value"``; ``"subtract"`` runs on the reference
            (:func:`snnlearn.backend.why_not_c` says so).

    >>> LIFParameters().v_th
    tensor(1.)
    >>> LIFParameters(v_th=0.5).v_th
    0.5
    """

    tau_syn_inv: Number = default(1.0 / 5e-3)
    tau_mem_inv: Number = default(1.0 / 1e-2)
    v_leak: Number = default(0.0)
    v_th: Number = default(1.0)
    v_reset: Number = default(0.0)
    method: str = "super"
    alpha: Number = default(100.0)
    reset_method: str = "value"

    to = METHODS["to"]
    cuda = METHODS["cuda"]
    cpu = METHODS["cpu"]
    float = METHODS["float"]
    double = METHODS["double"]


class LIFFeedForwardState(NamedTuple):
    """State of a feed-forward LIF neuron.

    Attributes:
        v: membrane voltage, shaped like the input.
        i: synaptic input current, shaped like the input.
    """

    v: torch.Tensor
    i: torch.Tensor



def integrate(
    v: torch.Tensor, i_jump: torch.Tensor, p, dt: float
) -> Tuple[torch.Tensor, torch.Tensor]:
    """The membrane and synapse of one step after the input has jumped the current to
    ``i_jump`` (``i1``): ``(v1, i2)`` with

        v1 = v + dt * tau_mem_inv * ((v_leak - v) + i1)
        i2 = i1 - dt * tau_syn_inv * i1

    ``p`` is any parameters tuple with ``tau_syn_inv``, ``tau_mem_inv`` and ``v_leak``
    (``LIFParameters``, ``LIParameters``). The order of operations is the C kernels'
    (``a = dt * tau_mem_inv`` and ``c = -dt * tau_syn_inv`` rounded once): do not reorder.

    >>> integrate(torch.tensor([0.0]), torch.tensor([10.0]), LIFParameters(), 0.001)
    (tensor([1.]), tensor([8.]))
    """
    return integrate_membrane(v, i_jump, p, dt), i_jump + (-dt * p.tau_syn_inv) * i_jump


def integrate_membrane(v: torch.Tensor, current: torch.Tensor, p, dt: float) -> torch.Tensor:
    """The membrane line of :func:`integrate` alone,
    ``v1 = v + dt * tau_mem_inv * ((v_leak - v) + current)`` (for a neuron without a
    synapse, such as the constant-current encoder)."""
    return v + dt * p.tau_mem_inv * ((p.v_leak - v) + current)


RESET_METHODS = ("value", "subtract")


def reset(z: torch.Tensor, v: torch.Tensor, p: LIFParameters) -> torch.Tensor:
    """The voltage after a spike ``z`` (0 or 1), by ``p.reset_method``:

        "value":    v2 = (1 - z) * v + z * v_reset
        "subtract": v2 = v - z * (v_th - v_reset)

    >>> v = torch.tensor([0.7, 1.2])
    >>> reset(torch.tensor([0.0, 1.0]), v, LIFParameters())
    tensor([0.7000, 0.0000])
    >>> reset(torch.tensor([0.0, 1.0]), v, LIFParameters(reset_method="subtract"))
    tensor([0.7000, 0.2000])
    """
    method = getattr(p, "reset_method", "value")
    if method == "value":
        return (1 - z) * v + z * p.v_reset
    if method == "subtract":
        return v - z * (p.v_th - p.v_reset)
    raise ValueError(f"reset_method must be one of {RESET_METHODS}, got {method!r}")


def lif_initial_state(x: torch.Tensor, p: LIFParameters = LIFParameters()) -> LIFFeedForwardState:
    """A resting state shaped like ``x``: ``v = v_leak``, ``i = 0``.

    >>> lif_initial_state(torch.zeros(2))
    LIFFeedForwardState(v=tensor([0., 0.]), i=tensor([0., 0.]))
    """
    if isinstance(p.v_leak, (int, float)):
        v = torch.full_like(x, p.v_leak, memory_format=torch.contiguous_format)
    else:  # per-neuron or learnable: broadcast, and keep its autograd graph
        v = torch.zeros_like(x) + torch.as_tensor(p.v_leak, dtype=x.dtype, device=x.device)
    return LIFFeedForwardState(v=v, i=torch.zeros_like(x, memory_format=torch.contiguous_format))


def lif_feed_forward_step(
    x: torch.Tensor,
    state: LIFFeedForwardState,
    p: LIFParameters = LIFParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LIFFeedForwardState]:
    r"""One Euler step of the LIF neuron (the reference implementation).

    .. math::
        i_1 = i + x,\quad
        v_1 = v + \Delta t\,\tau_{mem}^{-1}\big((v_{leak} - v) + i_1\big),\quad
        i_2 = i_1 - \Delta t\,\tau_{syn}^{-1}\,i_1,

        z = H(v_1 - v_{th}),\quad v_2 = (1 - z)\,v_1 + z\,v_{reset}

    (or :math:`v_2 = v_1 - z\,(v_{th} - v_{reset})` with ``reset_method="subtract"``,
    see ``reset`` in this module). Returns ``(z, LIFFeedForwardState(v2, i2))``.

    >>> s = lif_initial_state(torch.zeros(1))
    >>> z, s = lif_feed_forward_step(torch.tensor([10.0]), s)
    >>> z, s.v, s.i
    (tensor([0.]), tensor([1.]), tensor([8.]))
    >>> z, s = lif_feed_forward_step(torch.tensor([10.0]), s)
    >>> z, s.v
    (tensor([1.]), tensor([0.]))
    """
    v_decayed, i_decayed = integrate(state.v, state.i + x, p, dt)
    z = threshold(v_decayed - p.v_th, p.method, p.alpha)
    return z, LIFFeedForwardState(v=reset(z, v_decayed, p), i=i_decayed)


def lif_feed_forward_sequence(
    xs: torch.Tensor,
    state: Optional[LIFFeedForwardState] = None,
    p: LIFParameters = LIFParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LIFFeedForwardState]:
    """Run :func:`lif_feed_forward_step` over the first (time) axis of ``xs``.

    Returns the spikes ``z`` of shape ``xs.shape`` and the final state.

    >>> z, s = lif_feed_forward_sequence(torch.full((100, 1), 0.3))
    >>> int(z.sum())
    8
    """
    if state is None:
        state = lif_initial_state(xs[0] if len(xs) else xs.new_zeros(xs.shape[1:]), p)
    spikes = []
    for x in xs.unbind(0):  # unbind, not xs[t]: no full-size zero gradient per step
        z, state = lif_feed_forward_step(x, state, p, dt)
        spikes.append(z)
    if not spikes:
        return xs * 0, state  # T = 0: an empty result that stays linked to the input
    return torch.stack(spikes), state
