"""The recurrent LIF C path (``snnlearn._compiled._lif_recurrent``) against the PyTorch reference.

Same spikes, states and gradients (input, initial state z/v/i, input_weights,
recurrent_weights) on random shapes, parameters and ``dt`` (hypothesis); ``gradcheck`` on
float64; thread splitting; the dispatch rules; and bad arguments to the raw C functions.

float64 uses continuous random data (tolerance ~1e-12). In float32 the C path sums a step's
recurrent input spike by spike while the reference's matrix multiply sums in its own order,
so float32 problems are drawn on a coarse binary grid where every such sum is exact: then
spikes must be identical and states equal to ~1e-6, with no flaky threshold flips.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snnlearn
from snnlearn import LIFParameters, LIFRecurrent
from snnlearn.functional import LIFState
from tiers import examples

try:
    from snnlearn._compiled import _lif_recurrent
    from snnlearn._compiled.lif_recurrent_autograd import LIFRecurrentSequenceFunction
except ImportError:  # pragma: no cover - a broken install
    _lif_recurrent = None

pytestmark = pytest.mark.skipif(_lif_recurrent is None, reason="C extension not built")

TOLERANCE = {torch.float32: dict(rtol=1e-6, atol=1e-6),
             torch.float64: dict(rtol=1e-12, atol=1e-12)}

parameters = st.builds(
    LIFParameters,
    tau_syn_inv=st.floats(20.0, 500.0), tau_mem_inv=st.floats(20.0, 300.0),
    v_leak=st.floats(-0.5, 0.5), v_th=st.floats(0.3, 1.5), v_reset=st.floats(-0.5, 0.5),
    alpha=st.floats(0.5, 200.0), method=st.just("super"), reset_method=st.just("value"),
)
time_steps = st.sampled_from([0.0005, 0.001, 0.002])


def grid(tensor, step):
    """Round to multiples of ``step`` (a power of two): sums of these are exact in float32."""
    return torch.round(tensor / step) * step


def random_problem(seed, steps, batch_shape, n_in, hidden, dtype, gain=10.0):
    g = torch.Generator().manual_seed(seed)
    shape = (*batch_shape, hidden)
    problem = dict(
        xs=torch.rand(steps, *batch_shape, n_in, generator=g, dtype=torch.float64),
        w_in=torch.randn(hidden, n_in, generator=g, dtype=torch.float64) * gain / n_in ** 0.5,
        w_rec=torch.randn(hidden, hidden, generator=g, dtype=torch.float64) * 2.0,
        z0=(torch.rand(shape, generator=g, dtype=torch.float64) < 0.3).double(),
        v0=torch.rand(shape, generator=g, dtype=torch.float64),
        i0=torch.randn(shape, generator=g, dtype=torch.float64),
        grad_z=torch.randn(steps, *shape, generator=g, dtype=torch.float64),
    )
    if dtype == torch.float32:
        for name, step in (("xs", 2.0**-4), ("w_in", 2.0**-6), ("w_rec", 2.0**-6),
                           ("i0", 2.0**-6)):
            problem[name] = grid(problem[name], step)
    return {k: v.to(dtype) for k, v in problem.items()}


def run(backend, problem, p, dt, autapses=False, given_state=True):
    layer = LIFRecurrent(problem["w_in"].shape[1], problem["w_in"].shape[0], p, dt, autapses,
                         input_weights=problem["w_in"].clone(),
                         recurrent_weights=problem["w_rec"].clone())
    xs = problem["xs"].clone().requires_grad_()
    state_leaves = [problem[k].clone().requires_grad_() for k in ("z0", "v0", "i0")]
    state = LIFState(*state_leaves) if given_state else None
    with snnlearn.use_backend(backend):
        z, final = layer(xs, state)
        assert snnlearn.last_path() == backend
    loss = ((z * problem["grad_z"]).sum() + (final.z * 0.75).sum() + (final.v * 1.5).sum()
            - (final.i * 0.5).sum())
    leaves = [xs, layer.input_weights, layer.recurrent_weights]
    if given_state:
        leaves += state_leaves
    loss = loss + 0 * sum(leaf.sum() for leaf in leaves)  # T = 0: every gradient is zero
    grads = torch.autograd.grad(loss, leaves)
    return [t.detach() for t in (z, final.z, final.v, final.i)], grads


GRAD_NAMES = ("x", "input_weights", "recurrent_weights", "z0", "v0", "i0")


def assert_same(reference, fused, dtype):
    (outs_ref, grads_ref), (outs_c, grads_c) = reference, fused
    assert torch.equal(outs_ref[0], outs_c[0]), "spikes differ between reference and C"
    assert torch.equal(outs_ref[1], outs_c[1]), "final state z differs"
    for name, a, b in zip(("v", "i"), outs_c[2:], outs_ref[2:]):
        torch.testing.assert_close(a, b, **TOLERANCE[dtype], msg=lambda m: f"state.{name}: {m}")
    for name, a, b in zip(GRAD_NAMES, grads_c, grads_ref):
        scale = max(1.0, float(b.abs().max())) if b.numel() else 1.0
        torch.testing.assert_close(a, b, rtol=TOLERANCE[dtype]["rtol"] * 10,
                                   atol=TOLERANCE[dtype]["atol"] * 10 * scale,
                                   msg=lambda m: f"gradient of {name}: {m}")


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), steps=st.integers(0, 30),
       batch_shape=st.lists(st.integers(1, 6), max_size=2).map(tuple),
       n_in=st.integers(1, 10), hidden=st.integers(1, 40), p=parameters, dt=time_steps,
       dtype=st.sampled_from([torch.float32, torch.float64]), autapses=st.booleans(),
       given_state=st.booleans(), gain=st.sampled_from([2.0, 10.0, 40.0]))
def test_c_equals_reference(seed, steps, batch_shape, n_in, hidden, p, dt, dtype, autapses,
                            given_state, gain):
    problem = random_problem(seed, steps, batch_shape, n_in, hidden, dtype, gain)
    assert_same(run("reference", problem, p, dt, autapses, given_state),
                run("c", problem, p, dt, autapses, given_state), dtype)


@pytest.mark.parametrize("dtype", [  # (float32, on its exact grid, in make test-fast)
    torch.float32, pytest.param(torch.float64, marks=pytest.mark.slow)])
def test_c_equals_reference_at_course_size_with_threads(dtype):
    """Large enough to split the batch over threads (forward and backward); many spikes."""
    problem = random_problem(11, 60, (192,), 20, 96, dtype)
    previous = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        assert 60 * 192 * 96 >= _lif_recurrent.PARALLEL_MIN_WORK
        reference = run("reference", problem, LIFParameters(alpha=5.0), 0.001)
        fused = run("c", problem, LIFParameters(alpha=5.0), 0.001)
    finally:
        torch.set_num_threads(previous)
    rate = float(reference[0][0].mean())
    assert 0.02 < rate < 0.6, f"spike rate {rate}: the test would not exercise the recurrence"
    assert_same(reference, fused, dtype)


def test_the_recurrence_matters_here():
    """Guard for the tests above: these problems' spikes change without recurrent weights."""
    problem = random_problem(11, 60, (32,), 20, 96, torch.float64)
    with_rec = run("c", problem, LIFParameters(), 0.001)[0][0]
    problem["w_rec"] = torch.zeros_like(problem["w_rec"])
    assert not torch.equal(with_rec, run("c", problem, LIFParameters(), 0.001)[0][0])


def test_gradcheck_float64():
    """Finite differences agree with the C backward, through xp, v0, i0 and recurrent_weights.

    The surrogate is not the true derivative of the step, so (as for the feed-forward
    kernel) the check uses a huge ``alpha`` and inputs that keep every pre-reset voltage away
    from the threshold; spikes still happen, so recurrent_weights' gradient (through the
    current jumps the spikes cause) is checked too.
    """
    torch.manual_seed(3)
    p, dt, steps, batch, hidden = LIFParameters(alpha=1e9), 0.001, 10, 2, 5
    xp = (torch.rand(steps, batch, hidden, dtype=torch.float64) * 3).requires_grad_()
    v0 = (torch.rand(batch, hidden, dtype=torch.float64) * 0.5).requires_grad_()
    i0 = torch.rand(batch, hidden, dtype=torch.float64).requires_grad_()
    w_rec = (torch.randn(hidden, hidden, dtype=torch.float64) * 0.5).requires_grad_()
    v_pre, z = torch.empty_like(xp), torch.empty_like(xp)
    _lif_recurrent.forward(
        xp.detach().numpy(), w_rec.detach().t().contiguous().numpy(), v0.detach().clone().numpy(),
        i0.detach().clone().numpy(), z.numpy(), v_pre.numpy(), steps=steps, batch=batch,
        hidden=hidden, dt=dt, tau_syn_inv=p.tau_syn_inv, tau_mem_inv=p.tau_mem_inv,
        v_leak=p.v_leak, v_th=p.v_th, v_reset=p.v_reset, threads=1)
    assert z[:-1].sum() > 3, "the check should cover spikes feeding the recurrence"
    assert float((v_pre - p.v_th).abs().min()) > 1e-3, "a voltage sits at the threshold"
    assert torch.autograd.gradcheck(
        lambda a, b, c, d: LIFRecurrentSequenceFunction.apply(a, b, c, d, p, dt),
        (xp, v0, i0, w_rec), eps=1e-7, atol=1e-6, rtol=1e-5)


def test_surrogate_and_recurrent_carry_against_reference_float64():
    """An ordinary alpha: gradients through spikes and the dense recurrent carry."""
    problem = random_problem(4, 40, (5,), 6, 33, torch.float64)
    p = LIFParameters(alpha=3.0)
    assert_same(run("reference", problem, p, 0.001), run("c", problem, p, 0.001), torch.float64)


# ---- dispatch -----------------------------------------------------------------------------

def test_auto_picks_c_and_falls_back_with_a_reason():
    layer = LIFRecurrent(3, 4)
    xs = torch.rand(5, 2, 3)
    layer(xs)
    assert snnlearn.last_path() == "c"
    with pytest.raises(TypeError, match="input is torch.float64 but input_weights is"):
        layer(xs.double())
    per_neuron = LIFRecurrent(3, 4, LIFParameters(v_th=torch.full((4,), 1.0)))
    per_neuron(xs)
    assert snnlearn.last_path() == "reference"
    with snnlearn.use_backend("c"), pytest.raises(ValueError, match="v_th"):
        per_neuron(xs)


def test_mismatched_state_takes_the_reference_which_reports_it():
    layer = LIFRecurrent(3, 4)
    xs = torch.rand(5, 2, 3)
    bad = LIFState(torch.zeros(2, 5), torch.zeros(2, 5), torch.zeros(2, 5))
    with snnlearn.use_backend("c"), pytest.raises(ValueError, match="state.z"):
        layer(xs, bad)


def test_no_grad_runs_without_a_graph_and_agrees():
    problem = random_problem(2, 20, (3,), 4, 9, torch.float64)
    layer = LIFRecurrent(4, 9, input_weights=problem["w_in"], recurrent_weights=problem["w_rec"])
    with torch.no_grad():
        z, state = layer(problem["xs"])
    assert z.grad_fn is None
    with snnlearn.use_backend("reference"), torch.no_grad():
        z_ref, state_ref = layer(problem["xs"])
    assert torch.equal(z, z_ref)
    torch.testing.assert_close(state.v, state_ref.v, **TOLERANCE[torch.float64])


def test_unbatched_input():
    layer = LIFRecurrent(3, 4).double()
    xs = torch.rand(6, 3, dtype=torch.float64) * 20
    z, state = layer(xs)
    assert snnlearn.last_path() == "c" and z.shape == (6, 4) and state.v.shape == (4,)
    with snnlearn.use_backend("reference"):
        z_ref, _ = layer(xs)
    assert torch.equal(z, z_ref)


def test_state_carries_over_between_calls():
    """Two halves with the state passed on equal one call over the whole sequence."""
    problem = random_problem(8, 30, (4,), 5, 12, torch.float64)
    layer = LIFRecurrent(5, 12, input_weights=problem["w_in"], recurrent_weights=problem["w_rec"])
    whole, _ = layer(problem["xs"])
    first, state = layer(problem["xs"][:13])
    second, _ = layer(problem["xs"][13:], state)
    assert torch.equal(whole, torch.cat([first, second]))


# ---- the C module itself ---------------------------------------------------------------
# The argument checks every compiled function shares (buffers, threads, sizes) are tested
# once for all of them, in tests/test_c_fuzz.py; here what only _lif_recurrent does.

class TestCModuleArguments:
    steps, batch, hidden = 4, 3, 5

    def forward_buffers(self, dtype=np.float32):
        t, b, h = self.steps, self.batch, self.hidden
        return dict(xp=np.ones(t * b * h, dtype) * 80, w_rec_t=np.ones(h * h, dtype),
                    v=np.zeros(b * h, dtype), i=np.zeros(b * h, dtype),
                    z=np.empty(t * b * h, dtype), v_pre=np.empty(t * b * h, dtype))

    def backward_buffers(self, dtype=np.float32):
        t, b, h = self.steps, self.batch, self.hidden
        return dict(grad_z=np.ones(t * b * h, dtype), v_pre=np.ones(t * b * h, dtype),
                    w_rec=np.ones(h * h, dtype), grad_v=np.zeros(b * h, dtype),
                    grad_i=np.zeros(b * h, dtype), grad_i1=np.empty(t * b * h, dtype))

    def forward(self, buffers, **overrides):
        keywords = dict(steps=self.steps, batch=self.batch, hidden=self.hidden, dt=0.001,
                        tau_syn_inv=200.0, tau_mem_inv=100.0, v_leak=0.0, v_th=1.0,
                        v_reset=0.0, threads=1)
        keywords.update(overrides)
        return _lif_recurrent.forward(*buffers.values(), **keywords)

    def backward(self, buffers, **overrides):
        keywords = dict(steps=self.steps, batch=self.batch, hidden=self.hidden, dt=0.001,
                        tau_syn_inv=200.0, tau_mem_inv=100.0, v_th=1.0, v_reset=0.0,
                        alpha=100.0, threads=1)
        keywords.update(overrides)
        return _lif_recurrent.backward(*buffers.values(), **keywords)

    def test_valid_calls(self):
        b = self.forward_buffers()
        self.forward(b)
        assert b["z"].sum() > 0 and b["v"].max() < 1.0  # spiked and reset
        b = self.backward_buffers()
        self.backward(b)
        assert np.isfinite(b["grad_i1"]).all() and b["grad_v"].any()

    def test_v_pre_is_optional_in_forward_only(self):
        b = self.forward_buffers()
        b["v_pre"] = None
        self.forward(b)
        b = self.backward_buffers()
        b["v_pre"] = None
        with pytest.raises(TypeError, match="v_pre must be a float32 or float64 buffer .* got NoneType"):
            self.backward(b)

    @pytest.mark.parametrize("sizes", [dict(steps=-1), dict(batch=-2), dict(hidden=0),
                                       dict(threads=0)])
    def test_bad_sizes(self, sizes):
        with pytest.raises(ValueError, match=">= 1|>= 0"):
            self.forward(self.forward_buffers(), **sizes)


def test_the_gil_is_released_inside_the_loops():
    """Python keeps running in another thread while a long C call is in progress."""
    layer = LIFRecurrent(8, 256)
    xs = torch.rand(400, 64, 8) * 5
    counter, done = [0], threading.Event()

    def count():
        while not done.is_set():
            counter[0] += 1

    thread = threading.Thread(target=count)
    with snnlearn.use_backend("c"), torch.no_grad():
        thread.start()
        time.sleep(0.01)
        before = counter[0]
        start = time.perf_counter()
        layer(xs)
        elapsed = time.perf_counter() - start
        during = counter[0] - before
    done.set()
    thread.join()
    assert elapsed > 0.002, "the call was too short to tell"
    assert during > 100, f"the counting thread only ran {during} times during the C call"


@pytest.mark.parametrize("shape", [(5, 0, 3), (5, 2, 0, 3), (0, 2, 3)])
def test_zero_size_inputs_agree_with_the_reference(shape):
    layer = LIFRecurrent(3, 4)
    xs = torch.rand(shape)
    z, state = layer(xs)
    assert snnlearn.last_path() == "c"
    with snnlearn.use_backend("reference"):
        z_ref, state_ref = layer(xs)
    assert z.shape == z_ref.shape and state.v.shape == state_ref.v.shape
    assert torch.equal(state.v, state_ref.v) and torch.equal(state.z, state_ref.z)


def test_non_contiguous_input_and_state():
    problem = random_problem(5, 12, (3,), 4, 6, torch.float64)
    layer = LIFRecurrent(4, 6, input_weights=problem["w_in"], recurrent_weights=problem["w_rec"])
    xs = problem["xs"].transpose(0, 1).contiguous().transpose(0, 1)  # same values, strided
    assert not xs.is_contiguous()
    state = LIFState(*(problem[k].t().contiguous().t() for k in ("z0", "v0", "i0")))
    z, final = layer(xs, state)
    assert snnlearn.last_path() == "c"
    with snnlearn.use_backend("reference"):
        z_ref, final_ref = layer(problem["xs"], LIFState(problem["z0"], problem["v0"], problem["i0"]))
    assert torch.equal(z, z_ref)
    torch.testing.assert_close(final.v, final_ref.v, **TOLERANCE[torch.float64])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("into", ["z", "v_pre"])
def test_forward_may_write_its_output_over_the_projected_input(dtype, threads, into):
    """The layer lets the kernel write the spikes (no gradient) or the pre-reset voltages
    (training) over its own projection, one buffer fewer per call: same numbers as apart,
    also when the batch rows are split over threads."""
    rng = np.random.default_rng(7)
    steps, batch, hidden = 30, 2 * _lif_recurrent.PARALLEL_MIN_WORK // (30 * 64) + 2, 64
    xp = (rng.random((steps, batch, hidden)) * 3.0).astype(dtype)
    w_rec_t = (rng.standard_normal((hidden, hidden)) * 0.5).astype(dtype)
    kwargs = dict(steps=steps, batch=batch, hidden=hidden, dt=1.0, tau_syn_inv=0.2,
                  tau_mem_inv=0.1, v_leak=0.0, v_th=1.0, v_reset=0.0, threads=threads)

    def run(shared):
        x = xp.copy()
        v, i = np.zeros((batch, hidden), dtype), np.zeros((batch, hidden), dtype)
        z, v_pre = np.empty_like(x), np.empty_like(x)
        if shared and into == "z":
            z = x
        elif shared:
            v_pre = x
        _lif_recurrent.forward(x, w_rec_t, v, i, z, v_pre, **kwargs)
        return z.copy(), v_pre.copy(), v, i

    apart, shared = run(False), run(True)
    assert apart[0].sum() > 0, "no spikes: the test would not see a wrong spike"
    for a, b in zip(apart, shared):
        np.testing.assert_array_equal(a, b)


def test_the_layer_gives_the_same_numbers_when_it_reuses_its_projection():
    """LIFRecurrent without a gradient (spikes written over the projection) and with one
    (pre-reset voltages kept there) against the reference, and the gradients after."""
    torch.manual_seed(3)
    layer = LIFRecurrent(6, 24).double()
    xs = torch.rand(40, 3, 6, dtype=torch.float64) * 6
    with torch.no_grad():
        z_fast, s_fast = layer(xs)
    z_grad, _ = layer(xs)
    z_grad.sum().backward()
    grads = [w.grad.clone() for w in (layer.input_weights, layer.recurrent_weights)]
    layer.zero_grad()
    with snnlearn.use_backend("reference"):
        z_ref, s_ref = layer(xs)
        z_ref.sum().backward()
    assert z_ref.sum() > 0
    torch.testing.assert_close(z_fast, z_ref, rtol=0, atol=0)
    torch.testing.assert_close(z_grad.detach(), z_ref.detach(), rtol=0, atol=0)
    torch.testing.assert_close(s_fast.v, s_ref.v.detach(), **TOLERANCE[torch.float64])
    for g, w in zip(grads, (layer.input_weights, layer.recurrent_weights)):
        torch.testing.assert_close(g, w.grad, **TOLERANCE[torch.float64])
