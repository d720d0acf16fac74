"""The fused leaky-integrator (LI) C kernels against the PyTorch reference.

Property-based over shapes, dtypes, parameters and time steps (hypothesis): voltages,
final state and the gradients of input and initial state agree (float64 ~1e-12,
float32 ~1e-6); ``gradcheck`` on float64; the dispatch rules are LIF's.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snnlearn
from snnlearn import LI, LIParameters, LIState
from snnlearn._compiled.lif_autograd import LISequenceFunction
from tiers import examples

pytestmark = pytest.mark.skipif(not snnlearn.c_available(), reason="C extension not built")

TOLERANCE = {torch.float32: dict(rtol=1e-6, atol=1e-6), torch.float64: dict(rtol=1e-12, atol=1e-12)}

parameters = st.builds(
    LIParameters,
    tau_syn_inv=st.floats(20.0, 500.0),
    tau_mem_inv=st.floats(20.0, 300.0),
    v_leak=st.floats(-0.5, 0.5),
)
shapes = st.lists(st.integers(1, 37), min_size=1, max_size=3).map(tuple)
dtypes = st.sampled_from([torch.float32, torch.float64])
time_steps = st.sampled_from([0.0005, 0.001, 0.002])


def random_problem(seed, steps, shape, dtype):
    generator = torch.Generator().manual_seed(seed)
    xs = torch.randn(steps, *shape, generator=generator, dtype=dtype) * 2.0 + 0.5
    v0 = torch.rand(shape, generator=generator, dtype=dtype)
    i0 = torch.randn(shape, generator=generator, dtype=dtype)
    grad_y = torch.randn(steps, *shape, generator=generator, dtype=dtype)
    return xs, v0, i0, grad_y


def run(backend, xs, v0, i0, grad_y, p, dt, from_rest=False):
    xs, v0, i0 = (t.clone().requires_grad_() for t in (xs, v0, i0))
    with snnlearn.use_backend(backend):
        ys, state = LI(p, dt)(xs, None if from_rest else LIState(v0, i0))
        assert snnlearn.last_path() == backend
    loss = (ys * grad_y).sum() + (state.v * 1.5).sum() - (state.i * 0.5).sum()
    inputs = (xs,) if from_rest else (xs, v0, i0)
    grads = torch.autograd.grad(loss, inputs, allow_unused=True)
    return (ys.detach(), state.v.detach(), state.i.detach()), grads


def assert_same(reference, fused, dtype):
    outputs_ref, grads_ref = reference
    outputs_c, grads_c = fused
    for name, out_c, out_ref in zip(("voltages", "state.v", "state.i"), outputs_c, outputs_ref):
        torch.testing.assert_close(out_c, out_ref, **TOLERANCE[dtype],
                                   msg=lambda m: f"{name}: {m}")
    for name, g_c, g_ref in zip(("x", "v0", "i0"), grads_c, grads_ref):
        scale = max(1.0, float(g_ref.abs().max())) if g_ref.numel() else 1.0
        torch.testing.assert_close(g_c, g_ref, rtol=TOLERANCE[dtype]["rtol"] * 10,
                                   atol=TOLERANCE[dtype]["atol"] * 10 * scale,
                                   msg=lambda m: f"gradient of {name}: {m}")


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), steps=st.integers(0, 40), shape=shapes, dtype=dtypes,
       p=parameters, dt=time_steps, from_rest=st.booleans())
def test_li_sequence_matches_reference(seed, steps, shape, dtype, p, dt, from_rest):
    problem = random_problem(seed, steps, shape, dtype)
    assert_same(run("reference", *problem, p, dt, from_rest),
                run("c", *problem, p, dt, from_rest), dtype)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_is_bit_identical(dtype):
    """Same order of operations as the reference, no fused multiply-adds: same bits."""
    xs, v0, i0, _ = random_problem(3, 50, (8, 13), dtype)
    p = LIParameters(tau_syn_inv=170.0, tau_mem_inv=90.0, v_leak=0.25)
    with snnlearn.use_backend("reference"):
        ref = LI(p, 0.001)(xs, LIState(v0, i0))
    with snnlearn.use_backend("c"):
        fused = LI(p, 0.001)(xs, LIState(v0, i0))
    assert torch.equal(ref[0], fused[0])
    assert torch.equal(ref[1].v, fused[1].v) and torch.equal(ref[1].i, fused[1].i)


def test_gradcheck_float64():
    xs, v0, i0, _ = random_problem(1, 6, (3, 4), torch.float64)
    p = LIParameters(tau_syn_inv=200.0, tau_mem_inv=100.0, v_leak=0.1)
    inputs = tuple(t.clone().requires_grad_() for t in (xs, v0, i0))
    assert torch.autograd.gradcheck(
        lambda x, v, i: LISequenceFunction.apply(x, v, i, p, 0.001), inputs)
    assert torch.autograd.gradcheck(
        lambda x: LISequenceFunction.apply(x, None, None, p, 0.001), inputs[:1])


def test_unused_outputs_and_no_grad():
    xs = torch.randn(7, 2, 3, requires_grad=True)
    ys, state = LI()(xs)
    (grad,) = torch.autograd.grad(state.i.sum(), xs)  # only the final current is used
    with snnlearn.use_backend("reference"):
        ys_ref, state_ref = LI()(xs)
        (grad_ref,) = torch.autograd.grad(state_ref.i.sum(), xs)
    torch.testing.assert_close(grad, grad_ref, **TOLERANCE[torch.float32])
    with torch.no_grad():
        ys, _ = LI()(xs)
    assert ys.grad_fn is None and snnlearn.last_path() == "c"


def test_state_passed_in_is_not_written():
    v0, i0 = torch.rand(4), torch.rand(4)
    kept = (v0.clone(), i0.clone())
    LI()(torch.ones(5, 4), LIState(v0, i0))
    assert torch.equal(v0, kept[0]) and torch.equal(i0, kept[1])


def test_dispatch_follows_lif_rules():
    learnable = LIParameters(tau_mem_inv=torch.nn.Parameter(torch.full((3,), 100.0)))
    assert "tau_mem_inv" in snnlearn.why_not_c(torch.ones(3), learnable, 0.001)
    LI(learnable)(torch.ones(4, 3))
    assert snnlearn.last_path() == "reference"
    with pytest.raises(ValueError, match="tau_mem_inv"), snnlearn.use_backend("c"):
        LI(learnable)(torch.ones(4, 3))
    LI()(torch.ones(4, 3, dtype=torch.float16))
    assert snnlearn.last_path() == "reference"
    assert snnlearn.why_not_c(torch.ones(3), LIParameters(), 0.001) is None
    # the verdict on a parameters object is remembered, the input is still checked each call
    plain = LIParameters()
    assert snnlearn.why_not_c(torch.ones(3), plain, 0.001) is None
    assert "float16" in snnlearn.why_not_c(torch.ones(3, dtype=torch.float16), plain, 0.001)
    assert "dt" in snnlearn.why_not_c(torch.ones(3), plain, torch.ones(3))


def test_bad_state_names_li_state():
    with pytest.raises(TypeError, match="LIState"):
        LI()(torch.ones(3, 2), state=(1, 2))
    with pytest.raises(ValueError, match="state.v has shape"):
        LI()(torch.ones(3, 2), LIState(torch.zeros(3), torch.zeros(3)))
