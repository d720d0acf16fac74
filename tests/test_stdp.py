"""Pair-based STDP (``snnlearn.functional.stdp``) against Norse 1.1.0's ``stdp_step_linear``
and ``stdp_step_conv2d``: the same weights and traces, to the bit, for every weight
dependence, with and without hard bounds, on random spike trains; and the learning window
against its closed form."""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snnlearn.functional.stdp import (
    ALGORITHMS,
    STDPParameters,
    STDPState,
    stdp_initial_state,
    stdp_step,
    stdp_step_conv2d,
    stdp_step_linear,
)
from tiers import examples


def norse_stdp():
    return pytest.importorskip(
        "norse.torch.functional.stdp",
        reason="Norse 1.1.0 is not installed (make install: requirements-peers.txt)")


def test_parameter_names_and_defaults_match_norse():
    norse = norse_stdp()
    theirs = norse.STDPParameters()
    for name, value in zip(STDPParameters._fields, STDPParameters()):
        if not hasattr(theirs, name):  # Norse sets stride etc. only for convolutions
            assert name in ("stride", "padding", "dilation"), name
            continue
        norse_value = getattr(theirs, name)
        if isinstance(value, (str, bool, int)):
            assert norse_value == value, name
        else:
            assert float(torch.as_tensor(norse_value)) == pytest.approx(value), name


def random_parameters(draw_algorithm, hardbound, mu, eta_plus, eta_minus):
    return STDPParameters(a_pre=1.5, a_post=0.75, tau_pre_inv=40.0, tau_post_inv=25.0,
                          w_min=-0.5, w_max=1.25, eta_plus=eta_plus, eta_minus=eta_minus,
                          stdp_algorithm=draw_algorithm, mu=mu, hardbound=hardbound)


def as_norse(norse, p: STDPParameters, convolutional=False):
    return norse.STDPParameters(
        a_pre=p.a_pre, a_post=p.a_post, tau_pre_inv=p.tau_pre_inv, tau_post_inv=p.tau_post_inv,
        w_min=p.w_min, w_max=p.w_max, eta_plus=p.eta_plus, eta_minus=p.eta_minus,
        stdp_algorithm=p.stdp_algorithm, mu=p.mu, hardbound=p.hardbound,
        convolutional=convolutional, stride=p.stride, padding=p.padding, dilation=p.dilation)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), algorithm=st.sampled_from(ALGORITHMS),
       hardbound=st.booleans(), mu=st.floats(0.1, 1.0), eta_plus=st.floats(1e-3, 0.3),
       eta_minus=st.floats(1e-3, 0.3), batch=st.integers(1, 4), n_pre=st.integers(1, 9),
       n_post=st.integers(1, 7), steps=st.integers(1, 30), rate=st.floats(0.05, 0.6),
       dtype=st.sampled_from([torch.float32, torch.float64]), dt=st.floats(1e-4, 3e-3))
def test_linear_equals_norse(seed, algorithm, hardbound, mu, eta_plus, eta_minus, batch, n_pre,
                             n_post, steps, rate, dtype, dt):
    norse = norse_stdp()
    p = random_parameters(algorithm, hardbound, mu, eta_plus, eta_minus)
    g = torch.Generator().manual_seed(seed)
    z_pre = (torch.rand(steps, batch, n_pre, generator=g) < rate).to(dtype)
    z_post = (torch.rand(steps, batch, n_post, generator=g) < rate).to(dtype)
    w0 = (torch.rand(n_post, n_pre, generator=g, dtype=dtype) * 1.75 - 0.5)
    ours_w, ours_s = w0.clone(), stdp_initial_state(z_pre[0], z_post[0])
    theirs_w = w0.clone()
    theirs_s = norse.STDPState(torch.zeros_like(z_pre[0]), torch.zeros_like(z_post[0]))
    theirs_p = as_norse(norse, p)
    for t in range(steps):
        ours_w, ours_s = stdp_step_linear(z_pre[t], z_post[t], ours_w, ours_s, p, dt)
        theirs_w, theirs_s = norse.stdp_step_linear(z_pre[t], z_post[t], theirs_w, theirs_s,
                                                    theirs_p, dt)
        assert torch.equal(ours_s.t_pre, theirs_s.t_pre)
        assert torch.equal(ours_s.t_post, theirs_s.t_post)
        # bit for bit; NaN where Norse has NaN (multiplicative_pow without hard bounds once a
        # weight leaves [w_min, w_max]: a negative number to a fractional power)
        torch.testing.assert_close(ours_w, theirs_w, rtol=0, atol=0, equal_nan=True,
                                   msg=f"weights differ from Norse's at step {t}")
    if hardbound:
        assert float(ours_w.min()) >= p.w_min and float(ours_w.max()) <= p.w_max


@pytest.mark.parametrize("algorithm, geometry", [
    *((algorithm, {}) for algorithm in ALGORITHMS),
    ("multiplicative_pow", dict(stride=2, padding=1, dilation=1)),
    ("additive_step", dict(stride=1, padding=0, dilation=2)),
])
def test_conv2d_equals_norse(algorithm, geometry):
    norse = norse_stdp()
    p = random_parameters(algorithm, True, 0.75, 0.05, 0.03)._replace(convolutional=True,
                                                                      **geometry)
    g = torch.Generator().manual_seed(7)
    conv = torch.nn.Conv2d(2, 3, 3, stride=p.stride, padding=p.padding, dilation=p.dilation)
    z_pre = (torch.rand(8, 2, 2, 9, 9, generator=g) < 0.3).float()
    out_shape = conv(z_pre[0]).shape
    z_post = (torch.rand(8, *out_shape, generator=g) < 0.3).float()
    w0 = torch.rand(conv.weight.shape, generator=g) * 1.75 - 0.5
    ours_w, ours_s = w0.clone(), stdp_initial_state(z_pre[0], z_post[0])
    theirs_w, theirs_p = w0.clone(), as_norse(norse, p, convolutional=True)
    theirs_s = norse.STDPState(torch.zeros_like(z_pre[0]), torch.zeros_like(z_post[0]))
    for t in range(len(z_pre)):
        ours_w, ours_s = stdp_step(z_pre[t], z_post[t], ours_w, ours_s, p)
        theirs_w, theirs_s = norse.stdp_step_conv2d(z_pre[t], z_post[t], theirs_w, theirs_s,
                                                    theirs_p)
        assert torch.equal(ours_w, theirs_w), f"weights differ from Norse's at step {t}"
        assert torch.equal(ours_s.t_pre, theirs_s.t_pre)
        assert torch.equal(ours_s.t_post, theirs_s.t_post)
    assert not torch.equal(ours_w, w0), "no change: the test would test nothing"


@pytest.mark.parametrize("gap", [0, 1, 5, 20, 60])
def test_learning_window_is_the_closed_form(gap):
    p = STDPParameters(eta_plus=0.5, eta_minus=0.25, a_pre=2.0, a_post=3.0, tau_pre_inv=30.0,
                       tau_post_inv=60.0, w_min=-10.0, w_max=10.0)
    dt = 0.001

    def change(pre_first: bool) -> float:
        w = torch.zeros(1, 1, dtype=torch.float64)
        s = stdp_initial_state(torch.zeros(1, 1, dtype=torch.float64),
                               torch.zeros(1, 1, dtype=torch.float64))
        on, off = torch.ones(1, 1, dtype=torch.float64), torch.zeros(1, 1, dtype=torch.float64)
        trains = [(on, off)] + [(off, off)] * gap + [(off, on)]
        for pre, post in trains:
            w, s = stdp_step_linear(pre if pre_first else post, post if pre_first else pre, w,
                                    s, p, dt)
        return float(w)

    c_pre, c_post = dt * p.tau_pre_inv, dt * p.tau_post_inv
    assert change(True) == pytest.approx(
        p.eta_plus * p.a_pre * c_pre * (1 - c_pre) ** (gap + 1), rel=1e-12)
    assert change(False) == pytest.approx(
        -p.eta_minus * p.a_post * c_post * (1 - c_post) ** (gap + 1), rel=1e-12)


def test_hard_bounds_hold_and_soft_bounds_saturate():
    """Post-then-pre pairs with eta_minus > eta_plus drive the weights down: clipped exactly
    at w_min by the additive rule with hard bounds, and to a fixed point inside (w_min, w_max)
    by the multiplicative rule, whose depression shrinks as w nears w_min."""
    spike, quiet = torch.ones(1, 4), torch.zeros(1, 4)

    def run(p):
        w, s = torch.full((4, 4), 0.9), stdp_initial_state(quiet, quiet)
        for _ in range(300):
            w, s = stdp_step_linear(quiet, spike, w, s, p)  # post ...
            w, s = stdp_step_linear(spike, quiet, w, s, p)  # ... then pre: depression
        return w

    p = STDPParameters(eta_plus=0.1, eta_minus=0.5)
    assert torch.equal(run(p), torch.zeros(4, 4))
    w = run(p._replace(stdp_algorithm="multiplicative_relu", hardbound=False))
    assert 0 < float(w.min()) and float(w.max()) < 0.9


def test_bad_input_is_explained():
    z_pre, z_post, w = torch.ones(2, 3), torch.ones(2, 4), torch.ones(4, 3)
    s = stdp_initial_state(z_pre, z_post)
    with pytest.raises(ValueError, match="unknown stdp_algorithm 'hebbian'"):
        stdp_step(z_pre, z_post, w, s, STDPParameters(stdp_algorithm="hebbian"))
    with pytest.raises(ValueError, match=r"w must be \(n_post, n_pre\) = \(4, 3\)"):
        stdp_step(z_pre, z_post, torch.ones(3, 4), s)
    with pytest.raises(ValueError, match="batch sizes"):
        stdp_step(z_pre, torch.ones(1, 4), w, stdp_initial_state(z_pre, torch.ones(1, 4)))
    with pytest.raises(ValueError, match="traces must be shaped like the spikes"):
        stdp_step(z_pre, z_post, w, STDPState(torch.zeros(3), torch.zeros(4)))
    with pytest.raises(ValueError, match="conv2d STDP needs"):
        stdp_step(z_pre, z_post, w, s, STDPParameters(convolutional=True))
    with pytest.raises(TypeError, match="z_pre must be a torch.Tensor"):
        stdp_step([1.0], z_post, w, s)
