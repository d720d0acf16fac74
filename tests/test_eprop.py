"""e-prop (``snnlearn.functional.eprop``) against backpropagation through time.

Theory (Bellec et al. 2020): e-prop drops only the paths by which a weight changes *other*
neurons' spikes through the recurrent weights. Without recurrent weights, and with learning
signals that are the exact partial derivatives ``dE/dz_t`` of a loss whose step-``t`` term
depends only on that step's spikes, e-prop's update must equal the BPTT gradient (here that
of ``torch.autograd`` through ``lif_recurrent_sequence``), for the input weights and for the
recurrent weights evaluated at zero. With recurrent weights it is an approximation: the test
checks that it then differs (so the equality above is not an accident of the set-up) while
still pointing the same way.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snnlearn.functional import (
    LIFParameters,
    LIParameters,
    LSNNParameters,
    lif_recurrent_sequence,
    lsnn_sequence,
)
from snnlearn.functional.leaky_integrator import (
    li_feed_forward_sequence,
    li_feed_forward_step,
    li_initial_state,
)
from snnlearn.functional.eprop import (
    eprop_initial_traces,
    lif_recurrent_eprop_sequence,
    lif_recurrent_eprop_step,
    lsnn_eprop_sequence,
)
from snnlearn.functional.lif_recurrent import lif_recurrent_initial_state
from tiers import examples


def problem(seed, batch, n_in, hidden, n_out, steps, rec_scale, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    xs = (torch.rand(steps, batch, n_in, generator=g) < 0.3).to(dtype)
    w_in = torch.randn(hidden, n_in, generator=g, dtype=dtype) * 6.0
    w_rec = torch.randn(hidden, hidden, generator=g, dtype=dtype) * rec_scale
    w_out = torch.randn(n_out, hidden, generator=g, dtype=dtype)
    targets = torch.randn(steps, batch, n_out, generator=g, dtype=dtype) * 0.5
    return xs, w_in, w_rec, w_out, targets


def bptt(xs, w_in, w_rec, w_out, targets, p):
    """The loss E = sum_t ||W_out z_t - y*_t||^2 / 2 and its autograd gradients."""
    w_in, w_rec = w_in.clone().requires_grad_(), w_rec.clone().requires_grad_()
    z, _ = lif_recurrent_sequence(xs, w_in, w_rec, p=p)
    loss = 0.5 * ((z @ w_out.T - targets) ** 2).sum()
    return z.detach(), torch.autograd.grad(loss, (w_in, w_rec))


def eprop(xs, w_in, w_rec, w_out, targets, p):
    def learning_signal(t, z_t):  # exact dE/dz_t: the loss at t depends on z_t alone
        return (z_t @ w_out.T - targets[t]) @ w_out
    z, _, grads = lif_recurrent_eprop_sequence(xs, w_in, w_rec, learning_signal, p=p)
    return z, grads


parameters = st.builds(
    LIFParameters, tau_syn_inv=st.floats(50.0, 400.0), tau_mem_inv=st.floats(30.0, 250.0),
    v_leak=st.floats(-0.3, 0.3), v_th=st.floats(0.5, 1.5), v_reset=st.floats(-0.3, 0.3),
    alpha=st.floats(1.0, 100.0), method=st.just("super"), reset_method=st.just("value"))


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 4), n_in=st.integers(1, 6),
       hidden=st.integers(1, 8), n_out=st.integers(1, 3), steps=st.integers(1, 40),
       p=parameters)
def test_without_recurrence_eprop_equals_bptt(seed, batch, n_in, hidden, n_out, steps, p):
    xs, w_in, w_rec, w_out, targets = problem(seed, batch, n_in, hidden, n_out, steps, 0.0)
    z_bptt, (g_in_bptt, g_rec_bptt) = bptt(xs, w_in, w_rec, w_out, targets, p)
    z_eprop, (g_in, g_rec) = eprop(xs, w_in, w_rec, w_out, targets, p)
    assert torch.equal(z_eprop, z_bptt), "e-prop's forward pass must be the layer's"
    torch.testing.assert_close(g_in, g_in_bptt, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g_rec, g_rec_bptt, rtol=1e-10, atol=1e-12)


def test_the_equality_is_not_vacuous():
    """The comparison above sees spikes and non-zero gradients."""
    xs, w_in, w_rec, w_out, targets = problem(4, 3, 5, 6, 2, 60, 0.0)
    z, (g_in, g_rec) = eprop(xs, w_in, w_rec, w_out, targets, LIFParameters())
    assert 0.02 < float(z.mean()) < 0.5
    assert float(g_in.abs().mean()) > 1e-2 and float(g_rec.abs().mean()) > 1e-2


def test_with_recurrence_eprop_approximates_bptt():
    xs, w_in, w_rec, w_out, targets = problem(5, 4, 5, 8, 2, 80, 2.0)
    p = LIFParameters(alpha=10.0)
    z_bptt, (g_in_bptt, g_rec_bptt) = bptt(xs, w_in, w_rec, w_out, targets, p)
    z_eprop, (g_in, g_rec) = eprop(xs, w_in, w_rec, w_out, targets, p)
    assert torch.equal(z_eprop, z_bptt)
    assert (g_in - g_in_bptt).abs().max() > 1e-3 * g_in_bptt.abs().max(), \
        "with recurrent weights e-prop drops terms: it should not equal BPTT here"
    cosine = torch.nn.functional.cosine_similarity(
        torch.cat([g_in.flatten(), g_rec.flatten()]),
        torch.cat([g_in_bptt.flatten(), g_rec_bptt.flatten()]), dim=0)
    assert cosine > 0.5, float(cosine)


def test_step_matches_the_closed_form_of_the_traces():
    """The module docstring's trace equations, written out, for one neuron and one input."""
    p, dt = LIFParameters(alpha=2.0), 0.001
    # the parameters are Norse's 0-d float32 tensors: dt * tau_inv is rounded to float32 as
    # the step rounds it, everything else here is in double
    c_m, c_s = float(dt * p.tau_mem_inv), float(dt * p.tau_syn_inv)
    v_leak, v_th, v_reset, alpha = (float(f) for f in (p.v_leak, p.v_th, p.v_reset, p.alpha))
    w_in, w_rec = torch.tensor([[30.0]], dtype=torch.float64), torch.zeros(1, 1,
                                                                          dtype=torch.float64)
    xs = torch.tensor([1.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0, 0.0], dtype=torch.float64)
    s = lif_recurrent_initial_state((), 1, p, torch.float64)
    traces = eprop_initial_traces((), 1, 1, torch.float64)
    eps_v = eps_i = 0.0
    v = i = 0.0
    for x in xs:
        z, s, traces, (e_in, _) = lif_recurrent_eprop_step(x.reshape(1), s, traces, w_in, w_rec,
                                                           p, dt)
        i1 = i + 30.0 * float(x)
        v1 = v + c_m * ((v_leak - v) + i1)
        psi = 1 / (alpha * abs(v1 - v_th) + 1) ** 2
        a = eps_i + float(x)
        e = psi * ((1 - c_m) * eps_v + c_m * a)
        spike = float(v1 > v_th)
        eps_v, eps_i = (1 - spike) * ((1 - c_m) * eps_v + c_m * a), (1 - c_s) * a
        v, i = (1 - spike) * v1 + spike * v_reset, (1 - c_s) * i1
        assert float(z) == spike
        assert float(e_in) == pytest.approx(e, rel=1e-12)
        assert float(traces.v_in) == pytest.approx(eps_v, rel=1e-12, abs=1e-15)
        assert float(traces.i_in) == pytest.approx(eps_i, rel=1e-12)
    assert float(xs.sum()) > 0 and float(s.v) == pytest.approx(v)


def test_bad_shapes_are_explained():
    w_in, w_rec = torch.zeros(3, 2), torch.zeros(3, 3)
    with pytest.raises(ValueError, match="xs must be"):
        lif_recurrent_eprop_sequence(torch.zeros(5, 2), w_in, w_rec, lambda t, z: z)
    with pytest.raises(ValueError, match="do not fit"):
        lif_recurrent_eprop_sequence(torch.zeros(5, 1, 4), w_in, w_rec, lambda t, z: z)
    with pytest.raises(ValueError, match="learning_signal returned shape"):
        lif_recurrent_eprop_sequence(torch.zeros(5, 1, 2), w_in, w_rec,
                                     lambda t, z: z.sum(-1))


def bptt_li_readout(xs, w_in, w_rec, w_out, targets, p, p_out):
    """E = sum_t CE(y_t, target), y = LI(z @ W_out.T), and its autograd gradients."""
    w_in, w_rec = w_in.clone().requires_grad_(), w_rec.clone().requires_grad_()
    z, _ = lif_recurrent_sequence(xs, w_in, w_rec, p=p)
    y, _ = li_feed_forward_sequence(z @ w_out.T, li_initial_state(z[0] @ w_out.T, p_out), p_out)
    loss = torch.nn.functional.cross_entropy(y.flatten(0, 1), targets.repeat(len(xs)),
                                             reduction="sum")
    return z.detach(), torch.autograd.grad(loss, (w_in, w_rec))


def eprop_li_readout(xs, w_in, w_rec, w_out, targets, p, p_out):
    state = [None]

    def learning_signal(t, z_t):  # dE/dy_t W_out: y_t's loss term, known at step t
        x = z_t @ w_out.T
        y, state[0] = li_feed_forward_step(x, state[0] or li_initial_state(x, p_out), p_out)
        error = torch.softmax(y, -1) - torch.nn.functional.one_hot(targets, y.shape[-1])
        return error @ w_out

    z, _, grads = lif_recurrent_eprop_sequence(xs, w_in, w_rec, learning_signal, p=p,
                                               readout=p_out)
    return z, grads


@settings(max_examples=examples(8), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 4), n_in=st.integers(1, 6),
       hidden=st.integers(1, 8), steps=st.integers(1, 25),
       tau_syn_inv=st.floats(50.0, 1000.0), tau_mem_inv=st.floats(20.0, 200.0),
       v_leak=st.floats(-1.0, 1.0))
def test_with_a_leaky_readout_the_filtered_traces_give_the_gradient(
        seed, batch, n_in, hidden, steps, tau_syn_inv, tau_mem_inv, v_leak):
    """A cross-entropy at every step on a leaky-integrator readout: without recurrence,
    e-prop with the readout-filtered traces equals BPTT (the readout's leak potential, which
    shifts y but not its derivatives, plays no part)."""
    xs, w_in, w_rec, w_out, _ = problem(seed, batch, n_in, hidden, 3, steps, 0.0)
    targets = torch.randint(0, 3, (batch,), generator=torch.Generator().manual_seed(seed))
    p = LIFParameters(alpha=20.0)
    p_out = LIParameters(tau_syn_inv=torch.as_tensor(tau_syn_inv, dtype=torch.float64),
                         tau_mem_inv=torch.as_tensor(tau_mem_inv, dtype=torch.float64),
                         v_leak=torch.as_tensor(v_leak, dtype=torch.float64))
    z_bptt, (g_in_bptt, g_rec_bptt) = bptt_li_readout(xs, w_in, w_rec, w_out, targets, p, p_out)
    z_eprop, (g_in, g_rec) = eprop_li_readout(xs, w_in, w_rec, w_out, targets, p, p_out)
    assert torch.equal(z_eprop, z_bptt)
    torch.testing.assert_close(g_in, g_in_bptt, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(g_rec, g_rec_bptt, rtol=1e-9, atol=1e-12)


def test_the_readout_filter_matters():
    """Without the filter (the raw traces with the same learning signal) the update is not
    the gradient: the filter is not a no-op that the test above would pass anyway."""
    xs, w_in, w_rec, w_out, _ = problem(3, 3, 5, 6, 3, 30, 0.0)
    targets = torch.tensor([0, 1, 2])
    p, p_out = LIFParameters(alpha=20.0), LIParameters()
    _, (g_in_bptt, _) = bptt_li_readout(xs, w_in, w_rec, w_out, targets, p, p_out)
    _, (g_in, _) = eprop_li_readout(xs, w_in, w_rec, w_out, targets, p, p_out)
    torch.testing.assert_close(g_in, g_in_bptt, rtol=1e-9, atol=1e-12)
    state = [None]

    def unfiltered_signal(t, z_t):
        x = z_t @ w_out.T
        y, state[0] = li_feed_forward_step(x, state[0] or li_initial_state(x, p_out), p_out)
        return (torch.softmax(y, -1) - torch.nn.functional.one_hot(targets, 3)) @ w_out

    _, _, (g_raw, _) = lif_recurrent_eprop_sequence(xs, w_in, w_rec, unfiltered_signal, p=p)
    assert float(g_in_bptt.abs().max()) > 1e-3
    assert (g_raw - g_in_bptt).abs().max() > 0.1 * g_in_bptt.abs().max()


lsnn_parameters = st.builds(
    LSNNParameters, tau_syn_inv=st.floats(50.0, 400.0), tau_mem_inv=st.floats(30.0, 250.0),
    tau_adapt_inv=st.floats(1.0, 50.0), beta=st.floats(0.2, 3.0),
    v_leak=st.floats(-0.3, 0.3), v_th=st.floats(0.5, 1.5), v_reset=st.floats(-0.3, 0.3),
    alpha=st.floats(1.0, 100.0), method=st.just("super"))


def lsnn_bptt(xs, w_in, w_rec, w_out, targets, p):
    w_in, w_rec = w_in.clone().requires_grad_(), w_rec.clone().requires_grad_()
    z, _ = lsnn_sequence(xs, w_in, w_rec, p=p)
    loss = 0.5 * ((z @ w_out.T - targets) ** 2).sum()
    if not loss.requires_grad:  # one step: the input reaches the spikes one step later
        return z.detach(), (torch.zeros_like(w_in), torch.zeros_like(w_rec))
    grads = torch.autograd.grad(loss, (w_in, w_rec), allow_unused=True)
    return z.detach(), tuple(torch.zeros_like(w) if g is None else g
                             for g, w in zip(grads, (w_in, w_rec)))


def lsnn_eprop(xs, w_in, w_rec, w_out, targets, p):
    def learning_signal(t, z_t):
        return (z_t @ w_out.T - targets[t]) @ w_out
    z, _, grads = lsnn_eprop_sequence(xs, w_in, w_rec, learning_signal, p=p)
    return z, grads


@settings(max_examples=examples(12), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 4), n_in=st.integers(1, 6),
       hidden=st.integers(1, 8), n_out=st.integers(1, 3), steps=st.integers(1, 40),
       p=lsnn_parameters)
def test_lsnn_without_recurrence_eprop_equals_bptt(seed, batch, n_in, hidden, n_out, steps, p):
    """The adaptive (LSNN) layer: the same theorem as for the LIF layer."""
    xs, w_in, w_rec, w_out, targets = problem(seed, batch, n_in, hidden, n_out, steps, 0.0)
    z_bptt, (g_in_bptt, g_rec_bptt) = lsnn_bptt(xs, w_in, w_rec, w_out, targets, p)
    z_eprop, (g_in, g_rec) = lsnn_eprop(xs, w_in, w_rec, w_out, targets, p)
    assert torch.equal(z_eprop, z_bptt), "e-prop's forward pass must be the layer's"
    torch.testing.assert_close(g_in, g_in_bptt, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(g_rec, g_rec_bptt, rtol=1e-10, atol=1e-12)


def test_lsnn_case_is_not_vacuous_and_recurrence_breaks_the_equality():
    """Adaptation changes the spikes here (so the threshold enters the traces), the gradients
    are not zero, and with recurrent weights e-prop differs from BPTT yet points its way."""
    xs, w_in, w_rec, w_out, targets = problem(6, 3, 5, 6, 2, 60, 0.0)
    p = LSNNParameters(tau_adapt_inv=10.0, beta=1.0, alpha=10.0)
    z, (g_in, g_rec) = lsnn_eprop(xs, w_in, w_rec, w_out, targets, p)
    z_no_adaptation, _ = lsnn_eprop(xs, w_in, w_rec, w_out, targets, p._replace(beta=0.0))
    assert 0.02 < float(z.mean()) < 0.5 and not torch.equal(z, z_no_adaptation)
    assert float(g_in.abs().mean()) > 1e-2 and float(g_rec.abs().mean()) > 1e-2
    xs, w_in, w_rec, w_out, targets = problem(7, 4, 5, 8, 2, 80, 2.0)
    _, (b_in, b_rec) = lsnn_bptt(xs, w_in, w_rec, w_out, targets, p)
    _, (e_in, e_rec) = lsnn_eprop(xs, w_in, w_rec, w_out, targets, p)
    assert (e_in - b_in).abs().max() > 1e-3 * b_in.abs().max()
    cosine = torch.nn.functional.cosine_similarity(
        torch.cat([e_in.flatten(), e_rec.flatten()]), torch.cat([b_in.flatten(),
                                                                 b_rec.flatten()]), dim=0)
    assert cosine > 0.5, float(cosine)
