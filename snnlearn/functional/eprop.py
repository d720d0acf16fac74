r"""e-prop: online eligibility traces for a recurrent LIF layer (Bellec et al. 2020).

Bellec, Scherr, Subramoney, Hajek, Salaj, Legenstein & Maass, "A solution to the learning
dilemma for recurrent networks of spiking neurons", Nature Communications 11, 3625 (2020).
Backpropagation through time needs the whole history of a sequence before it can compute a
single weight change. e-prop factorises the gradient into two terms that are both available
*at each step*:

.. math::
    \frac{dE}{dW_{jk}} \approx \sum_t L_j^t\, e_{jk}^t,\qquad
    e_{jk}^t = \frac{\partial z_j^t}{\partial h_j^t} \cdot \epsilon_{jk}^t,\qquad
    \epsilon_{jk}^t = \frac{\partial h_j^t}{\partial h_j^{t-1}}\,\epsilon_{jk}^{t-1}
        + \frac{\partial h_j^t}{\partial W_{jk}},

where :math:`h_j = (v_j, i_j)` is neuron ``j``'s hidden state, the *eligibility vector*
:math:`\epsilon_{jk}` follows how synapse ``jk`` has moved that state through the neuron's own
dynamics (forward in time, so it is known online), and the *learning signal*
:math:`L_j^t = \partial E / \partial z_j^t` says how the loss at step ``t`` wants neuron
``j``'s spike to change (from a readout error, with the readout's weights or fixed random
feedback weights). What e-prop drops is the influence of ``W_jk`` on *other* neurons' spikes
through the recurrent weights; so for a layer without recurrent weights, with a loss whose
learning signals are the exact :math:`\partial E / \partial z_j^t`, e-prop's update equals the
gradient of backpropagation through time (``tests/test_eprop.py`` checks this to 1e-12).

For the LIF step of :func:`snnlearn.functional.lif_recurrent_step` (the reset uses the
detached spike, as in Norse), with :math:`c_m = \Delta t\,\tau_{mem}^{-1}`,
:math:`c_s = \Delta t\,\tau_{syn}^{-1}`, :math:`\psi^t = \sigma'(v_1^t - v_{th})` the
surrogate derivative, and the presynaptic value :math:`x_k^t` (input ``x_k`` for
``input_weights``, the previous spike :math:`z_k^{t-1}` for ``recurrent_weights``)::

    a  = eps_i + x_k                                   # the synapse's current enters i
    e  = psi * ((1 - c_m) * eps_v + c_m * a)           # eligibility trace (dz / dW)
    eps_v' = (1 - z) * ((1 - c_m) * eps_v + c_m * a)   # v1's tangent, zeroed by a spike
    eps_i' = (1 - c_s) * a

The factors (``psi * (1 - c_m)`` and so on) are not written out here: they are the
derivatives of the step itself, taken by autograd from
:func:`~snnlearn.functional.lif_recurrent_step` at every step (the step is elementwise per
neuron, so one vector-Jacobian product with ones gives each diagonal), so the traces follow
the neuron equations and the surrogate (``p.method``) wherever they are defined.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional, Tuple

import torch

from .leaky_integrator import LIParameters, LIState, li_feed_forward_step
from .lif import LIFParameters
from .lif_recurrent import LIFState, lif_recurrent_initial_state, lif_recurrent_step
from .lsnn import LSNNParameters, LSNNState, lsnn_initial_state, lsnn_step

__all__ = ["EpropTraces", "eprop_initial_traces", "lif_recurrent_eprop_step",
           "lif_recurrent_eprop_sequence", "filter_eligibility", "LSNNEpropTraces",
           "lsnn_eprop_initial_traces", "lsnn_eprop_step", "lsnn_eprop_sequence"]


class EpropTraces(NamedTuple):
    """Eligibility vectors of a recurrent LIF layer: the tangents of each neuron's ``v`` and
    ``i`` with respect to each of its incoming weights.

    Attributes:
        v_in, i_in: ``(..., hidden, input)``, for ``input_weights``.
        v_rec, i_rec: ``(..., hidden, hidden)``, for ``recurrent_weights``.
    """

    v_in: torch.Tensor
    i_in: torch.Tensor
    v_rec: torch.Tensor
    i_rec: torch.Tensor


def eprop_initial_traces(batch_shape: Tuple[int, ...], input_size: int, hidden_size: int,
                         dtype: torch.dtype = torch.float32, device=None) -> EpropTraces:
    """Zero eligibility vectors (no weight has moved any state yet).

    >>> eprop_initial_traces((2,), 3, 4).v_in.shape
    torch.Size([2, 4, 3])
    """
    zeros_in = torch.zeros((*batch_shape, hidden_size, input_size), dtype=dtype, device=device)
    zeros_rec = torch.zeros((*batch_shape, hidden_size, hidden_size), dtype=dtype,
                            device=device)
    return EpropTraces(zeros_in, zeros_in.clone(), zeros_rec, zeros_rec.clone())


def _step_derivatives(x, state: LIFState, input_weights, recurrent_weights, p, dt):
    """One :func:`snnlearn.functional.lif_recurrent_step` (without autograd history) and the
    diagonals of its Jacobian with respect to the neuron's own ``v`` and ``i`` (``i`` stands
    in for the current injected at this step, which enters the same sum)."""
    with torch.enable_grad():
        v = state.v.detach().requires_grad_()
        i = state.i.detach().requires_grad_()
        z, new = lif_recurrent_step(x.detach(), LIFState(state.z.detach(), v, i),
                                    input_weights.detach(), recurrent_weights.detach(), p, dt)
        dz_dv, dz_di = torch.autograd.grad(z.sum(), (v, i), retain_graph=True,
                                           allow_unused=True)
        dv_dv, dv_di = torch.autograd.grad(new.v.sum(), (v, i), retain_graph=True,
                                           allow_unused=True)
        (di_di,) = torch.autograd.grad(new.i.sum(), (i,))
    zeros = torch.zeros_like(v)
    jacobian = [zeros if d is None else d for d in (dz_dv, dz_di, dv_dv, dv_di, di_di)]
    return z.detach(), LIFState(z.detach(), new.v.detach(), new.i.detach()), jacobian


def lif_recurrent_eprop_step(
    x: torch.Tensor,
    state: LIFState,
    traces: EpropTraces,
    input_weights: torch.Tensor,
    recurrent_weights: torch.Tensor,
    p: LIFParameters = LIFParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LIFState, EpropTraces, Tuple[torch.Tensor, torch.Tensor]]:
    r"""One step of a recurrent LIF layer with its e-prop eligibility traces.

    .. math::
        a = \epsilon_i + x_k,\quad
        e = \frac{\partial z}{\partial v}\epsilon_v + \frac{\partial z}{\partial i} a,\quad
        \epsilon_v' = \frac{\partial v_2}{\partial v}\epsilon_v + \frac{\partial v_2}{\partial i} a,
        \quad \epsilon_i' = \frac{\partial i_2}{\partial i} a,

    with the partial derivatives of :func:`~snnlearn.functional.lif_recurrent_step` (see
    the module docstring). Returns ``(z, state, traces, (e_in, e_rec))``: the spikes and new
    state (exactly those of ``lif_recurrent_step``, without autograd history), the new
    eligibility vectors, and this step's eligibility traces ``e`` for the input weights
    ``(..., hidden, input)`` and the recurrent weights ``(..., hidden, hidden)``. The
    weight update of the step is ``L[..., :, None] * e``, summed over the batch, for a
    learning signal ``L`` ``(..., hidden)``.

    >>> w_in, w_rec = torch.full((1, 1), 20.0), torch.zeros(1, 1)
    >>> s, tr = lif_recurrent_initial_state((), 1), eprop_initial_traces((), 1, 1)
    >>> for _ in range(3):
    ...     z, s, tr, (e_in, e_rec) = lif_recurrent_eprop_step(torch.ones(1), s, tr, w_in, w_rec)
    >>> tr.i_in  # the input low-pass filtered like the synaptic current: 0.8, 1.44, 1.952
    tensor([[1.9520]])
    """
    z, new_state, (dz_dv, dz_di, dv_dv, dv_di, di_di) = _step_derivatives(
        x, state, input_weights, recurrent_weights, p, dt)
    dz_dv, dz_di, dv_dv, dv_di, di_di = (d.unsqueeze(-1) for d in  # a neuron's factor,
                                         (dz_dv, dz_di, dv_dv, dv_di, di_di))  # per synapse

    def propagate(eps_v, eps_i, presynaptic):
        # (batch, hidden, presynaptic) tensors: three fresh ones per step, the rest in place
        a = eps_i + presynaptic.unsqueeze(-2)
        eligibility = (a * dz_di).addcmul_(eps_v, dz_dv)
        new_v = (a * dv_di).addcmul_(eps_v, dv_dv)
        return eligibility, new_v, a.mul_(di_di)

    e_in, v_in, i_in = propagate(traces.v_in, traces.i_in, x.detach())
    e_rec, v_rec, i_rec = propagate(traces.v_rec, traces.i_rec, state.z.detach())
    return z, new_state, EpropTraces(v_in, i_in, v_rec, i_rec), (e_in, e_rec)


def lif_recurrent_eprop_sequence(
    xs: torch.Tensor,
    input_weights: torch.Tensor,
    recurrent_weights: torch.Tensor,
    learning_signal: Callable[[int, torch.Tensor], torch.Tensor],
    state: Optional[LIFState] = None,
    p: LIFParameters = LIFParameters(),
    dt: float = 0.001,
    readout: Optional[LIParameters] = None,
) -> Tuple[torch.Tensor, LIFState, Tuple[torch.Tensor, torch.Tensor]]:
    r"""Run a recurrent LIF layer over ``xs`` ``(T, batch, input)`` and accumulate e-prop's
    weight gradients online:

    .. math:: \Delta W_{jk} = \sum_t \sum_b L_j^{t,b}\, e_{jk}^{t,b},

    where ``learning_signal(t, z_t)`` returns :math:`L^t` ``(batch, hidden)`` from the step's
    spikes (e.g. ``(readout(z_t) - target[t]) @ feedback``). Memory does not grow with ``T``:
    nothing of a step is kept once it has been folded into the eligibility vectors.

    With ``readout`` (the :class:`~snnlearn.LIParameters` of a leaky-integrator readout
    ``y = LI(z @ W_out.T)``), the eligibility traces are first filtered through the readout's
    own dynamics (:func:`~snnlearn.functional.filter_eligibility`), and ``learning_signal``
    gives :math:`L^t = (\partial E / \partial y^t)\, W_{out}` (or ``B`` for random
    feedback): a loss on the readout's voltages reaches a weight through every earlier spike
    the readout still remembers, and the filtered trace :math:`\bar e` is exactly that memory
    (Bellec et al. 2020 filter the traces with the readout's :math:`\kappa` in the same way):

    .. math:: \Delta W_{jk} = \sum_t \sum_b L_j^{t,b}\, \bar e_{jk}^{t,b}.

    Returns ``(spikes (T, batch, hidden), final state, (grad_input_weights,
    grad_recurrent_weights))``; the gradients have the weights' shapes (descend along minus
    them, as along a loss gradient).

    >>> torch.manual_seed(0) is not None
    True
    >>> xs = (torch.rand(40, 2, 3) < 0.3).float()
    >>> w_in, w_rec = torch.randn(4, 3) * 10, torch.zeros(4, 4)
    >>> z, s, (g_in, g_rec) = lif_recurrent_eprop_sequence(
    ...     xs, w_in, w_rec, lambda t, z_t: z_t - 0.1)  # E = sum_t (z_t - 0.1)^2 / 2
    >>> g_in.shape, g_rec.shape
    (torch.Size([4, 3]), torch.Size([4, 4]))
    """
    return _eprop_loop(xs, input_weights, recurrent_weights, learning_signal, state, p, dt,
                       readout, lif_recurrent_initial_state, eprop_initial_traces,
                       lif_recurrent_eprop_step)


def _eprop_loop(xs, input_weights, recurrent_weights, learning_signal, state, p, dt, readout,
                initial_state, initial_traces, step):
    """The time loop of every e-prop sequence: ``step(x, state, traces, w_in, w_rec, p, dt)
    -> (z, state, traces, (e_in, e_rec))``, the traces optionally filtered by the readout,
    and the update accumulated with the learning signal, one step at a time."""
    if xs.dim() != 3:
        raise ValueError(f"xs must be (T, batch, input), got shape {tuple(xs.shape)}")
    hidden, n_in = input_weights.shape
    if xs.shape[-1] != n_in or tuple(recurrent_weights.shape) != (hidden, hidden):
        raise ValueError(f"weights {tuple(input_weights.shape)} and "
                         f"{tuple(recurrent_weights.shape)} do not fit an input of size "
                         f"{xs.shape[-1]}")
    batch = xs.shape[1]
    if state is None:
        state = initial_state((batch,), hidden, p, xs.dtype, xs.device)
    traces = initial_traces((batch,), n_in, hidden, xs.dtype, xs.device)
    if readout is not None:
        zeros = eprop_initial_traces((batch,), n_in, hidden, xs.dtype, xs.device)
        filtered = (LIState(zeros.v_in, zeros.i_in), LIState(zeros.v_rec, zeros.i_rec))
    grad_in = torch.zeros_like(input_weights, dtype=xs.dtype).detach()
    grad_rec = torch.zeros_like(recurrent_weights, dtype=xs.dtype).detach()
    spikes = []
    for t, x in enumerate(xs.unbind(0)):
        z, state, traces, (e_in, e_rec) = step(
            x, state, traces, input_weights, recurrent_weights, p, dt)
        if readout is not None:
            (e_in, f_in), (e_rec, f_rec) = (filter_eligibility(e, f, readout, dt)
                                            for e, f in zip((e_in, e_rec), filtered))
            filtered = (f_in, f_rec)
        signal = learning_signal(t, z).detach()
        if signal.shape != z.shape:
            raise ValueError(f"learning_signal returned shape {tuple(signal.shape)}; it must "
                             f"be shaped like the spikes {tuple(z.shape)}")
        grad_in += torch.einsum("bj,bjk->jk", signal, e_in)
        grad_rec += torch.einsum("bj,bjk->jk", signal, e_rec)
        spikes.append(z)
    z_all = torch.stack(spikes) if spikes else xs.new_zeros((0, batch, hidden))
    return z_all, state, (grad_in, grad_rec)


def filter_eligibility(eligibility: torch.Tensor, state: LIState,
                       readout: LIParameters = LIParameters(), dt: float = 0.001
                       ) -> Tuple[torch.Tensor, LIState]:
    r"""Filter eligibility traces through a leaky-integrator readout's dynamics: one step of
    :func:`~snnlearn.functional.li_feed_forward_step` with the readout's time constants and
    no leak potential (the readout is linear in its input, so the derivative of its voltage
    :math:`y^t` with respect to a weight is the same filter applied to the derivatives of the
    spikes):

    .. math::
        i_1 = i + e^t,\quad ar e^t = ar e^{t-1} + \Delta t\,	au_{mem}^{-1}(i_1 - ar e^{t-1}),
        \quad i_2 = i_1 - \Delta t\,	au_{syn}^{-1}\, i_1.

    ``state`` is an :class:`~snnlearn.LIState` shaped like ``eligibility`` (zeros
    at the start). Returns ``(filtered trace, new state)``.

    >>> state, out = LIState(torch.zeros(1), torch.zeros(1)), []
    >>> for e in (1.0, 0.0, 0.0):  # a unit trace at the first step, then nothing
    ...     filtered, state = filter_eligibility(torch.tensor([e]), state, LIParameters(v_leak=5.0))
    ...     out.append(round(float(filtered), 4))
    >>> out  # the readout's impulse response; its leak potential plays no part
    [0.1, 0.17, 0.217]
    """
    readout = readout._replace(v_leak=0.0)
    return li_feed_forward_step(eligibility, state, readout, dt)


class LSNNEpropTraces(NamedTuple):
    """Eligibility vectors of a recurrent LSNN (adaptive LIF) layer: the tangents of each
    neuron's ``v``, ``i`` and threshold ``b`` with respect to each of its incoming weights,
    ``(..., hidden, input)`` for ``input_weights`` and ``(..., hidden, hidden)`` for
    ``recurrent_weights``."""

    v_in: torch.Tensor
    i_in: torch.Tensor
    b_in: torch.Tensor
    v_rec: torch.Tensor
    i_rec: torch.Tensor
    b_rec: torch.Tensor


def lsnn_eprop_initial_traces(batch_shape: Tuple[int, ...], input_size: int, hidden_size: int,
                              dtype: torch.dtype = torch.float32, device=None
                              ) -> LSNNEpropTraces:
    """Zero eligibility vectors of an LSNN layer.

    >>> lsnn_eprop_initial_traces((2,), 3, 4).b_rec.shape
    torch.Size([2, 4, 4])
    """
    lif = eprop_initial_traces(batch_shape, input_size, hidden_size, dtype, device)
    return LSNNEpropTraces(lif.v_in, lif.i_in, lif.v_in.clone(), lif.v_rec, lif.i_rec,
                           lif.v_rec.clone())


def lsnn_eprop_step(
    x: torch.Tensor,
    state: LSNNState,
    traces: LSNNEpropTraces,
    input_weights: torch.Tensor,
    recurrent_weights: torch.Tensor,
    p: LSNNParameters = LSNNParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LSNNState, LSNNEpropTraces, Tuple[torch.Tensor, torch.Tensor]]:
    r"""One step of a recurrent LSNN layer (:func:`~snnlearn.functional.lsnn_step`) with its
    e-prop eligibility traces. With the neuron's hidden state :math:`h = (v, i, b)`, its
    step's Jacobian :math:`J = \partial h^t / \partial h^{t-1}` (diagonal per neuron, 3 x 3)
    and the presynaptic value :math:`x_k` (``x`` or the previous spikes), in the order of
    ``lsnn_step`` (the spike reads the old state, the input enters the current last):

    .. math::
        e^t = \frac{\partial z^t}{\partial h^{t-1}}\,\epsilon^{t-1},\qquad
        \epsilon^t = J\,\epsilon^{t-1} + (0, x_k, 0).

    The factors are the step's own derivatives, taken by autograd. Because Norse's
    ``lsnn_step`` raises the threshold with the *detached* spike, no derivative reaches ``b``
    and its trace stays zero: the threshold enters ``e`` only through the surrogate
    derivative at :math:`v - b`. (Bellec et al. 2020's ALIF e-prop keeps a slow adaptive
    trace because their threshold jump carries the pseudo-derivative; with this neuron BPTT
    has no such term either, and e-prop equals it without recurrence, see
    ``tests/test_eprop.py``.)

    Returns ``(z, state, traces, (e_in, e_rec))`` as
    :func:`~snnlearn.functional.lif_recurrent_eprop_step` does.

    >>> w_in, w_rec = torch.full((1, 1), 5.0), torch.zeros(1, 1)
    >>> s = lsnn_initial_state((), 1)
    >>> tr = lsnn_eprop_initial_traces((), 1, 1)
    >>> for _ in range(3):
    ...     z, s, tr, (e_in, _) = lsnn_eprop_step(torch.ones(1), s, tr, w_in, w_rec)
    >>> tr.i_in, tr.b_in  # the input, low-pass filtered: 1, 1.8, 2.44; no threshold trace
    (tensor([[2.4400]]), tensor([[0.]]))
    """
    with torch.enable_grad():
        old = [t.detach().requires_grad_() for t in (state.v, state.i, state.b)]
        z, new = lsnn_step(x.detach(), LSNNState(state.z.detach(), *old),
                           input_weights.detach(), recurrent_weights.detach(), p, dt)
        outputs = (z, new.v, new.i, new.b)
        rows = [torch.autograd.grad(out.sum(), old, retain_graph=True, allow_unused=True)
                if out.requires_grad else (None, None, None) for out in outputs]
    # rows[o][s]: d output o / d state s, per neuron; None where it does not depend on it

    def combine(row, eps, extra=None):
        terms = [d.unsqueeze(-1) * e for d, e in zip(row, eps) if d is not None]
        terms += [] if extra is None else [extra]
        return sum(terms[1:], terms[0]) if terms else torch.zeros_like(eps[0])

    def propagate(eps, presynaptic):
        pre = presynaptic.detach().unsqueeze(-2).expand_as(eps[1])
        eligibility = combine(rows[0], eps)
        new_eps = (combine(rows[1], eps), combine(rows[2], eps, pre), combine(rows[3], eps))
        return eligibility, new_eps

    e_in, (v_in, i_in, b_in) = propagate((traces.v_in, traces.i_in, traces.b_in), x)
    e_rec, (v_rec, i_rec, b_rec) = propagate((traces.v_rec, traces.i_rec, traces.b_rec),
                                             state.z)
    new_state = LSNNState(*(t.detach() for t in new))
    return (z.detach(), new_state, LSNNEpropTraces(v_in, i_in, b_in, v_rec, i_rec, b_rec),
            (e_in, e_rec))


def lsnn_eprop_sequence(
    xs: torch.Tensor,
    input_weights: torch.Tensor,
    recurrent_weights: torch.Tensor,
    learning_signal: Callable[[int, torch.Tensor], torch.Tensor],
    state: Optional[LSNNState] = None,
    p: LSNNParameters = LSNNParameters(),
    dt: float = 0.001,
    readout: Optional[LIParameters] = None,
) -> Tuple[torch.Tensor, LSNNState, Tuple[torch.Tensor, torch.Tensor]]:
    r""":func:`~snnlearn.functional.lif_recurrent_eprop_sequence` for a recurrent LSNN layer
    (:func:`~snnlearn.functional.lsnn_eprop_step`): the spikes, the final state and e-prop's
    :math:`\Delta W = \sum_t \sum_b L^t \bar e^t` for both weight matrices.

    >>> torch.manual_seed(0) is not None
    True
    >>> xs = (torch.rand(30, 2, 3) < 0.3).float()
    >>> z, s, (g_in, g_rec) = lsnn_eprop_sequence(xs, torch.randn(4, 3) * 5, torch.zeros(4, 4),
    ...                                           lambda t, z_t: z_t - 0.1)
    >>> g_in.shape, s.b.shape
    (torch.Size([4, 3]), torch.Size([2, 4]))
    """
    return _eprop_loop(xs, input_weights, recurrent_weights, learning_signal, state, p, dt,
                       readout, lsnn_initial_state, lsnn_eprop_initial_traces, lsnn_eprop_step)
