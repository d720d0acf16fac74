"""The C kernels against the PyTorch reference: same spikes, states and gradients.

Property-based over shapes, dtypes and parameters (hypothesis), for the sequence kernel
(``LIF``) and the step kernel (``LIFCell``), plus ``gradcheck`` on float64.
"""

from __future__ import annotations

import json
import sys

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snnlearn
from fresh_python import run_fresh
from snnlearn import LIF, LIFCell, LIFFeedForwardState, LIFParameters
from snnlearn._compiled.lif_autograd import LIFSequenceFunction
from tiers import examples

pytestmark = pytest.mark.skipif(not snnlearn.c_available(), reason="C extension not built")

TOLERANCE = {torch.float32: dict(rtol=1e-6, atol=1e-6), torch.float64: dict(rtol=1e-12, atol=1e-12)}

parameters = st.builds(
    LIFParameters,
    tau_syn_inv=st.floats(20.0, 500.0),
    tau_mem_inv=st.floats(20.0, 300.0),
    v_leak=st.floats(-0.5, 0.5),
    v_th=st.floats(0.3, 1.5),
    v_reset=st.floats(-0.5, 0.5),
    alpha=st.floats(0.5, 200.0),
    method=st.just("super"), reset_method=st.just("value"),
)
shapes = st.lists(st.integers(1, 37), min_size=1, max_size=3).map(tuple)
dtypes = st.sampled_from([torch.float32, torch.float64])
time_steps = st.sampled_from([0.0005, 0.001, 0.002])


def random_problem(seed, steps, shape, dtype):
    generator = torch.Generator().manual_seed(seed)
    xs = torch.randn(steps, *shape, generator=generator, dtype=dtype) * 2.0 + 0.5
    v0 = torch.rand(shape, generator=generator, dtype=dtype)
    i0 = torch.randn(shape, generator=generator, dtype=dtype)
    grad_z = torch.randn(steps, *shape, generator=generator, dtype=dtype)
    return xs, v0, i0, grad_z


def run_sequence(backend, xs, v0, i0, grad_z, p, dt):
    xs, v0, i0 = (t.clone().requires_grad_() for t in (xs, v0, i0))
    with snnlearn.use_backend(backend):
        z, state = LIF(p, dt)(xs, LIFFeedForwardState(v0, i0))
        assert snnlearn.last_path() == backend
    loss = (z * grad_z).sum() + (state.v * 1.5).sum() - (state.i * 0.5).sum()
    grads = torch.autograd.grad(loss, (xs, v0, i0))
    return (z.detach(), state.v.detach(), state.i.detach()), grads


def run_cell(backend, xs, v0, i0, grad_z, p, dt):
    xs, v0, i0 = (t.clone().requires_grad_() for t in (xs, v0, i0))
    cell, state, spikes = LIFCell(p, dt), LIFFeedForwardState(v0, i0), []
    with snnlearn.use_backend(backend):
        for x in xs.unbind(0):
            z, state = cell(x, state)
            spikes.append(z)
        assert snnlearn.last_path() == backend
    z = torch.stack(spikes)
    loss = (z * grad_z).sum() + (state.v * 1.5).sum() - (state.i * 0.5).sum()
    grads = torch.autograd.grad(loss, (xs, v0, i0))
    return (z.detach(), state.v.detach(), state.i.detach()), grads


def assert_same(reference, fused, dtype):
    (z_ref, v_ref, i_ref), grads_ref = reference
    (z_c, v_c, i_c), grads_c = fused
    assert torch.equal(z_ref, z_c), "spikes differ between the reference and the C kernel"
    torch.testing.assert_close(v_c, v_ref, **TOLERANCE[dtype])
    torch.testing.assert_close(i_c, i_ref, **TOLERANCE[dtype])
    for name, g_c, g_ref in zip(("x", "v0", "i0"), grads_c, grads_ref):
        scale = max(1.0, float(g_ref.abs().max())) if g_ref.numel() else 1.0
        torch.testing.assert_close(g_c, g_ref, rtol=TOLERANCE[dtype]["rtol"] * 10,
                                   atol=TOLERANCE[dtype]["atol"] * 10 * scale,
                                   msg=lambda m: f"gradient of {name}: {m}")


SETTINGS = settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(seed=st.integers(0, 2**31), steps=st.integers(1, 30), shape=shapes, dtype=dtypes,
       p=parameters, dt=time_steps)
def test_sequence_kernel_matches_reference(seed, steps, shape, dtype, p, dt):
    problem = random_problem(seed, steps, shape, dtype)
    assert_same(run_sequence("reference", *problem, p, dt), run_sequence("c", *problem, p, dt), dtype)


@SETTINGS
@given(seed=st.integers(0, 2**31), steps=st.integers(1, 12), shape=shapes, dtype=dtypes,
       p=parameters, dt=time_steps)
def test_step_kernel_matches_reference(seed, steps, shape, dtype, p, dt):
    problem = random_problem(seed, steps, shape, dtype)
    assert_same(run_cell("reference", *problem, p, dt), run_cell("c", *problem, p, dt), dtype)


@SETTINGS
@given(seed=st.integers(0, 2**31), steps=st.integers(0, 30), shape=shapes, dtype=dtypes,
       p=parameters, dt=time_steps, from_rest=st.booleans())
def test_forward_is_bit_identical(seed, steps, shape, dtype, p, dt, from_rest):
    """The claim setup.py makes for -ffp-contract=off: the C forward pass gives the
    reference's spikes and final state bit for bit (same operations in the same order)."""
    xs, v0, i0, _ = random_problem(seed, steps, shape, dtype)
    state = None if from_rest else LIFFeedForwardState(v0, i0)
    results = {}
    for backend in ("reference", "c"):
        with snnlearn.use_backend(backend):
            z, final = LIF(p, dt)(xs, state)
        results[backend] = (z, final.v, final.i)
    for name, ref, fused in zip(("z", "v", "i"), results["reference"], results["c"]):
        assert torch.equal(ref, fused), f"{name} differs in some bit"


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_spikes_happen_and_match_at_default_parameters(dtype):
    """A sanity anchor for the property tests: defaults, many neurons, many spikes."""
    problem = random_problem(0, 100, (16, 100), dtype)
    reference = run_sequence("reference", *problem, LIFParameters(), 0.001)
    fused = run_sequence("c", *problem, LIFParameters(), 0.001)
    assert reference[0][0].sum() > 1000
    assert_same(reference, fused, dtype)


# n = blocks * BLOCK + extra; one block and one neuron more in `make test-fast` (each case is
# large: BLOCK is 65536 neurons), all four in `make test`
@pytest.mark.parametrize("blocks, extra", [pytest.param(1, -1, marks=pytest.mark.slow),
                                           pytest.param(1, 0, marks=pytest.mark.slow),
                                           (1, 1),
                                           pytest.param(2, 3, marks=pytest.mark.slow)])
def test_block_boundaries(blocks, extra):
    """Neuron counts around the kernel's block size (state kept per block)."""
    from snnlearn._compiled import _lif

    n = blocks * _lif.BLOCK + extra
    problem = random_problem(n, 7, (n,), torch.float64)
    assert_same(run_sequence("reference", *problem, LIFParameters(), 0.001),
                run_sequence("c", *problem, LIFParameters(), 0.001), torch.float64)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("from_rest", [True, False])
def test_inference_path_without_autograd_matches_and_leaves_the_state_alone(dtype, from_rest):
    """With nothing to differentiate, the C path runs without an autograd node: same
    results, and a state passed in is never written to."""
    xs, v0, i0, _ = random_problem(11, 20, (3, 50), dtype)
    p = LIFParameters(v_leak=0.1)
    state = None if from_rest else LIFFeedForwardState(v0, i0)
    kept = None if from_rest else (v0.clone(), i0.clone())
    results = {}
    for backend in ("reference", "c"):
        with snnlearn.use_backend(backend), torch.no_grad():
            z, final = LIF(p)(xs, state)
            cell_state, spikes = state, []
            for x in xs.unbind(0):
                spike, cell_state = LIFCell(p)(x, cell_state)
                spikes.append(spike)
        assert snnlearn.last_path() == backend
        assert not z.requires_grad and z.grad_fn is None
        results[backend] = (z, final, torch.stack(spikes), cell_state)
    (z_ref, s_ref, zc_ref, sc_ref), (z_c, s_c, zc_c, sc_c) = results["reference"], results["c"]
    assert torch.equal(z_ref, z_c) and torch.equal(zc_ref, zc_c) and torch.equal(z_c, zc_c)
    for a, b in ((s_ref, s_c), (sc_ref, sc_c)):
        torch.testing.assert_close(b.v, a.v, **TOLERANCE[dtype])
        torch.testing.assert_close(b.i, a.i, **TOLERANCE[dtype])
    if kept is not None:
        assert torch.equal(v0, kept[0]) and torch.equal(i0, kept[1]), "the caller's state changed"


@pytest.mark.parametrize("threads", [2, 3, 5])
def test_large_calls_split_over_threads_give_the_same_results(threads):
    """Above PARALLEL_MIN_WORK neuron-steps the C kernels split the neurons over threads
    (ranges aligned to 16 neurons; here n is not a multiple of anything): same results."""
    from snnlearn._compiled import _lif

    steps, n = 4, _lif.PARALLEL_MIN_WORK // 4 + 37
    problem = random_problem(threads, steps, (n,), torch.float32)
    reference = run_sequence("reference", *problem, LIFParameters(), 0.001)
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        fused = run_sequence("c", *problem, LIFParameters(), 0.001)
    finally:
        torch.set_num_threads(previous)
    assert reference[0][0].sum() > 1000
    assert_same(reference, fused, torch.float32)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/maps")
def test_the_kernels_share_pytorchs_openmp_runtime():
    """The split runs on PyTorch's own OpenMP pool: in a fresh process, importing snnlearn's
    extensions loads no OpenMP runtime besides PyTorch's (two pools would compete for the
    cores), and the C kernels may use as many threads as PyTorch. (The fresh process is
    forked from one that imported torch only: tests/fresh_python.py.)"""
    script = (
        "import json, torch\n"
        "def runtimes():\n"
        "    with open('/proc/self/maps') as maps:\n"
        "        return sorted({l.split()[-1] for l in maps\n"
        "                       if any(r in l for r in ('libgomp', 'libiomp', 'libomp'))})\n"
        "before = runtimes()\n"
        "from snnlearn._compiled import _lif, _lif_recurrent\n"
        "print(json.dumps([before, runtimes(), _lif.MAX_THREADS]))\n"
    )
    result = run_fresh({"maps": (script, {})}, timeout=120)["maps"]
    assert result.returncode == 0, result.stderr
    before, after, max_threads = json.loads(result.stdout)
    assert len(before) == 1, f"PyTorch brings {before}"
    assert after == before, f"OpenMP runtimes before snnlearn's extensions {before}, after {after}"
    assert max_threads > 1, "built without OpenMP: every call runs on one thread"


def test_gradcheck_float64_sequence():
    """Finite differences agree with the C backward pass.

    The surrogate is not the true derivative of the step, so the check uses a huge
    ``alpha`` (surrogate ≈ 0 away from threshold, i.e. the true derivative) and inputs
    that keep every pre-reset voltage away from the threshold; spikes and resets still
    happen, so the reset path's gradient is checked too.
    """
    torch.manual_seed(3)
    p = LIFParameters(alpha=1e9)
    xs = torch.rand(12, 5, dtype=torch.float64).requires_grad_()
    v0 = (torch.rand(5, dtype=torch.float64) * 0.5).requires_grad_()
    i0 = torch.rand(5, dtype=torch.float64).requires_grad_()
    z, _, _ = LIFSequenceFunction.apply(xs, v0, i0, p, 0.001)
    assert z.sum() > 0, "the check should cover resets"
    v_pre_margin = _pre_reset_margin(xs, v0, i0, p)
    assert v_pre_margin > 1e-3, "inputs put a voltage at the threshold; pick another seed"
    assert torch.autograd.gradcheck(
        lambda a, b, c: LIFSequenceFunction.apply(a, b, c, p, 0.001), (xs, v0, i0),
        eps=1e-7, atol=1e-6, rtol=1e-5)


def _pre_reset_margin(xs, v0, i0, p):
    """Smallest |v1 - v_th| over the sequence (reference step, no grad)."""
    from snnlearn.functional.lif import lif_feed_forward_step

    state, margin = LIFFeedForwardState(v0.detach(), i0.detach()), float("inf")
    for x in xs.detach().unbind(0):
        i1 = state.i + x
        v1 = state.v + 0.001 * p.tau_mem_inv * ((p.v_leak - state.v) + i1)
        margin = min(margin, float((v1 - p.v_th).abs().min()))
        _, state = lif_feed_forward_step(x, state, p, 0.001)
    return margin


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_from_rest_then_chained_matches_reference(dtype):
    """The C path builds a resting state itself (one allocation, updated in place): same
    spikes and gradients as the reference, through a second call that continues from the
    first call's state, with only some outputs used in the loss."""
    xs1, _, _, g1 = random_problem(21, 15, (4, 9), dtype)
    xs2, _, _, g2 = random_problem(22, 10, (4, 9), dtype)
    p = LIFParameters(v_leak=0.2)
    results = {}
    for backend in ("reference", "c"):
        a, b = xs1.clone().requires_grad_(), xs2.clone().requires_grad_()
        with snnlearn.use_backend(backend):
            z1, state = LIF(p)(a)
            z2, final = LIF(p)(b, state)
            assert snnlearn.last_path() == backend
        loss = (z1 * g1).sum() + (z2 * g2).sum() + final.v.sum()  # final.i unused
        results[backend] = (z1.detach(), z2.detach(), *torch.autograd.grad(loss, (a, b)))
    for ref, c in zip(results["reference"], results["c"]):
        torch.testing.assert_close(c, ref, rtol=TOLERANCE[dtype]["rtol"] * 10,
                                   atol=TOLERANCE[dtype]["atol"] * 10)
