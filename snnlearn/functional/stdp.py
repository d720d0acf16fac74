r"""Pair-based spike-timing-dependent plasticity (STDP) with traces, as Norse 1.1.0's
``stdp_step_linear`` / ``stdp_step_conv2d`` (same names, parameters and numbers).

Each synapse ``w[i, j]`` (post ``i``, pre ``j``) sees two low-pass traces of the spike trains
(Morrison, Diesmann & Gerstner 2008, "Phenomenological models of synaptic plasticity based
on spike timing"). One step with pre- and postsynaptic spikes ``z_pre``, ``z_post`` (0/1)::

    t_pre  = t_pre  + dt * tau_pre_inv  * (-t_pre  + a_pre  * z_pre)    # traces decay and jump
    t_post = t_post + dt * tau_post_inv * (-t_post + a_post * z_post)
    dw+ = A+(w) * sum_batch z_post[b, i] * t_pre[b, j]      # post spike after pre: potentiate
    dw- = A-(w) * sum_batch t_post[b, i] * z_pre[b, j]      # pre spike after post: depress
    w   = clip(w + dw+ - dw-, w_min, w_max)                 # if hardbound

so a pre spike ``k + 1`` steps before a post spike (``k`` quiet steps between) potentiates by
``eta_plus * a_pre * c * (1 - c)^(k + 1)`` with ``c = dt * tau_pre_inv`` (additive rule), and
the reverse order depresses in the same way:
the exponential learning window of Bi & Poo (1998). (Norse's traces jump by
``dt * tau_inv * a`` at a spike, not by ``a``; this is kept, so that numbers match.)

The weight dependence ``A+(w), A-(w)`` is chosen by ``stdp_algorithm``:

=======================  ==================================  ==================================
``stdp_algorithm``       ``A+(w)``                           ``A-(w)``
=======================  ==================================  ==================================
``additive``             ``eta_plus``                        ``eta_minus``
``additive_step``        ``eta_plus * H(w_max - w)``         ``eta_minus * H(w - w_min)``
``multiplicative_pow``   ``eta_plus * (w_max - w)^mu``       ``eta_minus * (w - w_min)^mu``
``multiplicative_relu``  ``eta_plus * relu(w_max - w)``      ``eta_minus * relu(w - w_min)``
=======================  ==================================  ==================================

``multiplicative_pow`` without ``hardbound`` gives NaN once a weight leaves ``[w_min, w_max]``
(a negative number to a fractional power), as in Norse: keep the hard bounds with it.

These functions take no gradient and need none: STDP is a local rule, run under
``torch.no_grad()`` beside (or instead of) backpropagation.
"""

from __future__ import annotations

from typing import NamedTuple, Tuple, Union

import torch

from .threshold import heaviside

__all__ = ["STDPParameters", "STDPState", "stdp_initial_state", "stdp_step", "stdp_step_linear",
           "stdp_step_conv2d"]

Number = Union[float, torch.Tensor]
ALGORITHMS = ("additive", "additive_step", "multiplicative_pow", "multiplicative_relu")


class STDPParameters(NamedTuple):
    """STDP parameters; names and defaults as Norse 1.1.0's ``STDPParameters``.

    Attributes:
        a_pre: how much a presynaptic spike adds to its trace (times ``dt * tau_pre_inv``,
            as in Norse).
        a_post: the same for a postsynaptic spike.
        tau_pre_inv: inverse decay time constant of the presynaptic trace (1/s).
        tau_post_inv: inverse decay time constant of the postsynaptic trace (1/s).
        w_min: lower bound of the weights.
        w_max: upper bound of the weights.
        eta_plus: learning rate of potentiation.
        eta_minus: learning rate of depression.
        stdp_algorithm: the weight dependence, one of ``additive``, ``additive_step``,
            ``multiplicative_pow``, ``multiplicative_relu`` (see the module docstring).
        mu: exponent of ``multiplicative_pow`` (Norse ignores it for the other algorithms).
        hardbound: clip the weights to ``[w_min, w_max]`` after each step.
        convolutional: the weights are a 2-d convolution's
            (:func:`snnlearn.functional.stdp_step` then runs
            :func:`snnlearn.functional.stdp_step_conv2d`).
        stride: the convolution's stride.
        padding: the convolution's padding.
        dilation: the convolution's dilation.

    >>> STDPParameters().tau_pre_inv
    20.0
    """

    a_pre: Number = 1.0
    a_post: Number = 1.0
    tau_pre_inv: Number = 1.0 / 50e-3
    tau_post_inv: Number = 1.0 / 50e-3
    w_min: Number = 0.0
    w_max: Number = 1.0
    eta_plus: Number = 1e-3
    eta_minus: Number = 1e-3
    stdp_algorithm: str = "additive"
    mu: Number = 0.0
    hardbound: bool = True
    convolutional: bool = False
    stride: int = 1
    padding: int = 0
    dilation: int = 1


class STDPState(NamedTuple):
    """The STDP traces: ``t_pre`` shaped like the presynaptic spikes, ``t_post`` like the
    postsynaptic ones (Norse's ``STDPState``, here immutable: each step returns a new one)."""

    t_pre: torch.Tensor
    t_post: torch.Tensor


def stdp_initial_state(z_pre: torch.Tensor, z_post: torch.Tensor) -> STDPState:
    """Empty traces shaped like one step's pre- and postsynaptic spikes.

    >>> stdp_initial_state(torch.zeros(1, 3), torch.zeros(1, 2)).t_post
    tensor([[0., 0.]])
    """
    return STDPState(torch.zeros_like(z_pre), torch.zeros_like(z_post))


def _amplitudes(w: torch.Tensor, p: STDPParameters):
    """``(A+(w), A-(w))`` for ``p.stdp_algorithm``, written as Norse writes them."""
    if p.stdp_algorithm == "additive":
        return p.eta_plus, p.eta_minus
    if p.stdp_algorithm == "additive_step":
        return p.eta_plus * heaviside(p.w_max - w), p.eta_minus * heaviside(w - p.w_min)
    if p.stdp_algorithm == "multiplicative_pow":
        mu = torch.tensor(p.mu)
        return (p.eta_plus * torch.pow(p.w_max - w, mu), p.eta_minus * torch.pow(w - p.w_min, mu))
    if p.stdp_algorithm == "multiplicative_relu":
        return (p.eta_plus * torch.nn.functional.relu(p.w_max - w),
                p.eta_minus * torch.nn.functional.relu(w - p.w_min))
    raise ValueError(f"unknown stdp_algorithm {p.stdp_algorithm!r}; choose one of {ALGORITHMS}")


def _decay_traces(z_pre, z_post, state: STDPState, p: STDPParameters, dt: float) -> STDPState:
    t_pre = state.t_pre + (dt * p.tau_pre_inv * (-state.t_pre + p.a_pre * z_pre))
    t_post = state.t_post + (dt * p.tau_post_inv * (-state.t_post + p.a_post * z_post))
    return STDPState(t_pre, t_post)


def _bound(w: torch.Tensor, p: STDPParameters) -> torch.Tensor:
    return torch.clamp(w, p.w_min, p.w_max) if p.hardbound else w


def _check(z_pre, z_post, w, state, dims: int, what: str) -> None:
    for name, t in (("z_pre", z_pre), ("z_post", z_post), ("w", w)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if z_pre.dim() != dims or z_post.dim() != dims:
        raise ValueError(f"{what} STDP needs z_pre and z_post of {dims} dimensions (batch first), "
                         f"got {tuple(z_pre.shape)} and {tuple(z_post.shape)}")
    if z_pre.shape[0] != z_post.shape[0]:
        raise ValueError(f"z_pre and z_post have different batch sizes: {z_pre.shape[0]} and "
                         f"{z_post.shape[0]}")
    if state.t_pre.shape != z_pre.shape or state.t_post.shape != z_post.shape:
        raise ValueError("the traces must be shaped like the spikes: t_pre "
                         f"{tuple(state.t_pre.shape)} vs z_pre {tuple(z_pre.shape)}, t_post "
                         f"{tuple(state.t_post.shape)} vs z_post {tuple(z_post.shape)}")


def stdp_step_linear(
    z_pre: torch.Tensor,
    z_post: torch.Tensor,
    w: torch.Tensor,
    state_stdp: STDPState,
    p_stdp: STDPParameters = STDPParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, STDPState]:
    r"""One STDP step for a linear layer ``w`` ``(n_post, n_pre)`` (Norse's ``stdp_step_linear``).

    .. math::
        t_{pre} \leftarrow t_{pre} + \Delta t\,\tau_{pre}^{-1}(-t_{pre} + a_{pre} z_{pre}),\quad
        t_{post} \leftarrow t_{post} + \Delta t\,\tau_{post}^{-1}(-t_{post} + a_{post} z_{post}),

        w \leftarrow \mathrm{clip}\Big(w + A_+(w) \sum_b z_{post}^{b} (t_{pre}^{b})^\top
        - A_-(w) \sum_b t_{post}^{b} (z_{pre}^{b})^\top,\ w_{min}, w_{max}\Big).

    ``z_pre`` is ``(batch, n_pre)``, ``z_post`` ``(batch, n_post)``. Returns the new weights
    and traces.

    The learning window: a pre spike, ``k`` quiet steps, a post spike potentiates; the
    reverse order depresses, both less the longer the gap.

    >>> p = STDPParameters(eta_plus=1.0, eta_minus=1.0, w_min=-1.0)
    >>> def change(pre_first, k):
    ...     w, s = torch.zeros(1, 1), stdp_initial_state(torch.zeros(1, 1), torch.zeros(1, 1))
    ...     first, second = ((1.0, 0.0), (0.0, 1.0)) if pre_first else ((0.0, 1.0), (1.0, 0.0))
    ...     spikes = [first] + [(0.0, 0.0)] * k + [second]
    ...     for pre, post in spikes:
    ...         w, s = stdp_step_linear(torch.tensor([[pre]]), torch.tensor([[post]]), w, s, p)
    ...     return float(w)
    >>> [round(change(True, k), 4) for k in (0, 10)], [round(change(False, k), 4) for k in (0, 10)]
    ([0.0196, 0.016], [-0.0196, -0.016])
    """
    _check(z_pre, z_post, w, state_stdp, 2, "linear")
    if tuple(w.shape) != (z_post.shape[1], z_pre.shape[1]):
        raise ValueError(f"w must be (n_post, n_pre) = {(z_post.shape[1], z_pre.shape[1])}, "
                         f"got {tuple(w.shape)}")
    state = _decay_traces(z_pre, z_post, state_stdp, p_stdp, dt)
    a_plus, a_minus = _amplitudes(w, p_stdp)
    dw_plus = a_plus * torch.einsum("bi,bj->ij", z_post, state.t_pre)
    dw_minus = a_minus * torch.einsum("bi,bj->ij", state.t_post, z_pre)
    return _bound(w + (dw_plus - dw_minus), p_stdp), state


def stdp_step_conv2d(
    z_pre: torch.Tensor,
    z_post: torch.Tensor,
    w: torch.Tensor,
    state_stdp: STDPState,
    p_stdp: STDPParameters = STDPParameters(convolutional=True),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, STDPState]:
    r"""One STDP step for a 2-d convolution's weights ``w`` ``(c_out, c_in, kh, kw)``
    (Norse's ``stdp_step_conv2d``): the linear rule applied to every receptive field and
    summed over positions, with the geometry ``p_stdp.stride``, ``padding``, ``dilation``.

    ``z_pre`` is ``(batch, c_in, h, w)``, ``z_post`` ``(batch, c_out, h', w')``.

    >>> w = torch.full((1, 1, 2, 2), 0.5)
    >>> s = stdp_initial_state(torch.zeros(1, 1, 3, 3), torch.zeros(1, 1, 2, 2))
    >>> w, s = stdp_step_conv2d(torch.ones(1, 1, 3, 3), torch.zeros(1, 1, 2, 2), w, s)
    >>> w, s = stdp_step_conv2d(torch.zeros(1, 1, 3, 3), torch.ones(1, 1, 2, 2), w, s)
    >>> w.flatten()  # 4 positions x eta_plus 1e-3 x trace 0.02 * 0.98
    tensor([0.5001, 0.5001, 0.5001, 0.5001])
    """
    _check(z_pre, z_post, w, state_stdp, 4, "conv2d")
    if w.dim() != 4 or w.shape[0] != z_post.shape[1] or w.shape[1] != z_pre.shape[1]:
        raise ValueError(f"w must be (c_out={z_post.shape[1]}, c_in={z_pre.shape[1]}, kh, kw), "
                         f"got {tuple(w.shape)}")
    state = _decay_traces(z_pre, z_post, state_stdp, p_stdp, dt)
    batch_size = z_pre.shape[0]
    out_channels, _, kernel_h, kernel_w = w.shape
    geometry = dict(dilation=p_stdp.dilation, padding=p_stdp.padding, stride=p_stdp.stride)
    t_pre_unfolded = torch.nn.functional.unfold(state.t_pre, (kernel_h, kernel_w), **geometry)
    z_pre_unfolded = torch.nn.functional.unfold(z_pre, (kernel_h, kernel_w), **geometry)
    a_plus, a_minus = _amplitudes(w, p_stdp)
    dw_plus = a_plus * torch.einsum(
        "bik,bjk->ij", z_post.view(batch_size, out_channels, -1), t_pre_unfolded).view(w.shape)
    dw_minus = a_minus * torch.einsum(
        "bik,bjk->ij", state.t_post.view(batch_size, out_channels, -1),
        z_pre_unfolded).view(w.shape)
    return _bound(w + (dw_plus - dw_minus), p_stdp), state


def stdp_step(
    z_pre: torch.Tensor,
    z_post: torch.Tensor,
    w: torch.Tensor,
    state_stdp: STDPState,
    p_stdp: STDPParameters = STDPParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, STDPState]:
    """One STDP step: :func:`snnlearn.functional.stdp_step_conv2d` if ``p_stdp.convolutional``, else
    :func:`snnlearn.functional.stdp_step_linear`.

    >>> w, s = stdp_step(torch.ones(1, 2), torch.ones(1, 3), torch.full((3, 2), 0.5),
    ...                  stdp_initial_state(torch.ones(1, 2), torch.ones(1, 3)))
    >>> w.shape
    torch.Size([3, 2])
    """
    step = stdp_step_conv2d if p_stdp.convolutional else stdp_step_linear
    return step(z_pre, z_post, w, state_stdp, p_stdp, dt)
