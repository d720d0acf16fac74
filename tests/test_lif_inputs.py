"""Bad input gets a clear error (or is handled correctly), never a crash or garbage."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

import snnlearn
from snnlearn import LIF, LIFCell, LIFFeedForwardState, LIFParameters
from snnlearn.functional import lif_feed_forward_sequence

needs_c = pytest.mark.skipif(not snnlearn.c_available(), reason="C extension not built")


@pytest.mark.parametrize("module", [LIFCell(), LIF()])
@pytest.mark.parametrize("dtype", [torch.int64, torch.int32, torch.bool])
def test_bool_and_integer_inputs_are_taken_as_float32_as_in_norse(module, dtype):
    z, state = module(torch.ones(4, 3).to(dtype) * 3)
    z_float, state_float = module(torch.ones(4, 3).to(dtype).float() * 3)
    assert z.dtype == state.v.dtype == torch.float32
    assert torch.equal(z, z_float) and torch.equal(state.v, state_float.v)


@pytest.mark.parametrize("module", [LIFCell(), LIF()])
def test_complex_input_is_a_type_error_saying_what_to_pass(module):
    with pytest.raises(TypeError, match="input is complex.*pass a real tensor"):
        module(torch.ones(4, 3, dtype=torch.complex64))


@pytest.mark.parametrize("module", [LIFCell(), LIF()])
def test_sparse_input_gives_sparse_spikes_as_in_norse(module):
    x = torch.zeros(4, 3)
    x[1, 2] = 5.0
    z, state = module(x.to_sparse())
    z_dense, state_dense = module(x)
    assert z.is_sparse and torch.equal(z.to_dense(), z_dense)
    assert torch.equal(state.v, state_dense.v)


@pytest.mark.parametrize("module", [LIFCell(), LIF()])
def test_zero_dim_integer_state_broadcasts_as_in_norse(module):
    from snnlearn import LIFFeedForwardState

    x = torch.full((4, 3), 0.5)
    z, state = module(x, LIFFeedForwardState(torch.tensor(0), torch.tensor(0)))
    z_rest, state_rest = module(x)
    assert torch.equal(z, z_rest) and torch.equal(state.v, state_rest.v)


def test_norse_resting_state_graph_only_inside_the_switch():
    import snnlearn

    out, _ = LIF()(torch.ones(10, 2))
    assert not out.requires_grad  # plain tensors in, plain tensors out (the course plots them)
    with snnlearn.norse_1_1_0_gradients():
        out, _ = LIF()(torch.ones(10, 2))
        out.sum().backward()  # Norse's resting v requires a gradient
    assert out.requires_grad


def test_non_tensor_input_is_a_type_error():
    with pytest.raises(TypeError, match="input must be a torch.Tensor"):
        LIFCell()([0.1, 0.2])


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_runs_the_reference_and_agrees(dtype):
    xs = torch.full((50, 3), 0.3)
    z16, _ = LIF()(xs.to(dtype))
    assert snnlearn.last_path() == "reference"
    assert z16.dtype == dtype
    z32, _ = LIF()(xs)
    assert abs(int(z16.sum()) - int(z32.sum())) <= 3


@pytest.mark.parametrize("field", ["v", "i"])
def test_state_shape_mismatch_names_the_field(field):
    state = LIFFeedForwardState(v=torch.zeros(3), i=torch.zeros(3))
    state = state._replace(**{field: torch.zeros(4)})
    with pytest.raises(ValueError, match=f"state.{field} has shape"):
        LIFCell()(torch.ones(3), state)
    with pytest.raises(ValueError, match=f"state.{field} has shape"):
        LIF()(torch.ones(10, 3), state)


def test_state_dtype_mismatch_is_a_type_error():
    state = LIFFeedForwardState(v=torch.zeros(3, dtype=torch.float64), i=torch.zeros(3, dtype=torch.float64))
    with pytest.raises(TypeError, match="state.v is torch.float64 but the input is torch.float32"):
        LIFCell()(torch.ones(3), state)


def test_state_on_another_device_is_a_value_error():
    state = LIFFeedForwardState(v=torch.zeros(3, device="meta"), i=torch.zeros(3, device="meta"))
    with pytest.raises(ValueError, match="state.v is on meta but the input is on cpu"):
        LIFCell()(torch.ones(3), state)


def test_state_of_the_wrong_kind_is_a_type_error():
    with pytest.raises(TypeError, match="LIFFeedForwardState"):
        LIFCell()(torch.ones(3), torch.zeros(3))


def test_zero_dimensional_sequence_input_is_rejected():
    with pytest.raises(ValueError, match="time-first"):
        LIF()(torch.tensor(1.0))


@pytest.mark.parametrize("backend", ["c", "reference"])
def test_non_contiguous_and_expanded_inputs_give_the_contiguous_result(backend):
    if backend == "c" and not snnlearn.c_available():
        pytest.skip("C extension not built")
    torch.manual_seed(0)
    base = torch.randn(8, 20, 30)
    transposed = base.transpose(1, 2)  # non-contiguous
    expanded = torch.randn(8, 1, 30).expand(8, 20, 30)  # stride-0
    with snnlearn.use_backend(backend):
        for xs in (transposed, expanded, base[:, ::2]):
            z, s = LIF()(xs)
            z_ref, s_ref = lif_feed_forward_sequence(xs.contiguous())
            assert torch.equal(z, z_ref)
            torch.testing.assert_close(s.v, s_ref.v)
            state = LIFFeedForwardState(v=torch.zeros(1, 1).expand(xs.shape[1:]), i=torch.zeros(xs.shape[1:]))
            z, _ = LIF()(xs, state)
            assert torch.equal(z, z_ref)


@pytest.mark.parametrize("backend", ["c", "reference"])
@pytest.mark.parametrize("shape", [(0, 5), (4, 0), (3, 0, 2)])
def test_zero_size_inputs_are_handled(backend, shape):
    if backend == "c" and not snnlearn.c_available():
        pytest.skip("C extension not built")
    xs = torch.ones(shape, requires_grad=True)
    with snnlearn.use_backend(backend):
        z, state = LIF()(xs)
    assert z.shape == xs.shape and state.v.shape == xs.shape[1:]
    (z.sum() + state.v.sum()).backward()
    assert xs.grad.shape == xs.shape
    z, state = LIFCell()(torch.ones(shape[1:]))
    assert z.shape == shape[1:]


@needs_c
def test_nan_and_inf_propagate_as_in_the_reference():
    xs = torch.tensor([[0.5, float("nan"), float("inf"), -float("inf")]] * 3)
    with snnlearn.use_backend("c"):
        z_c, s_c = LIF()(xs)
    z_r, s_r = lif_feed_forward_sequence(xs)
    torch.testing.assert_close(z_c, z_r, equal_nan=True)
    torch.testing.assert_close(s_c.v, s_r.v, equal_nan=True)
    torch.testing.assert_close(s_c.i, s_r.i, equal_nan=True)


def test_backend_switch_and_reporting():
    with pytest.raises(ValueError, match="backend must be one of"):
        snnlearn.set_backend("gpu")
    with snnlearn.use_backend("reference"):
        LIF()(torch.ones(3, 2))
        assert snnlearn.last_path() == "reference"
        assert snnlearn.get_backend() == "reference"
    assert snnlearn.get_backend() == "auto"
    if snnlearn.c_available():
        LIF()(torch.ones(3, 2, dtype=torch.float64))
        assert snnlearn.last_path() == "c"
        with snnlearn.use_backend("c"), pytest.raises(ValueError, match="float16"):
            LIF()(torch.ones(3, 2, dtype=torch.float16))


def test_learnable_parameters_take_the_reference_path_and_get_gradients():
    v_th = torch.nn.Parameter(torch.full((4,), 0.8))
    p = LIFParameters(v_th=v_th)
    assert "v_th" in snnlearn.why_not_c(torch.ones(4), p, 0.001)
    z, _ = LIF(p)(torch.full((30, 4), 0.5))
    assert snnlearn.last_path() == "reference"
    z.sum().backward()
    assert v_th.grad is not None and v_th.grad.abs().sum() > 0


@pytest.mark.parametrize("backend", ["c", "reference"])
def test_reusing_a_freed_state_explains_what_to_do(backend):
    if backend == "c" and not snnlearn.c_available():
        pytest.skip("C extension not built")
    layer = torch.nn.Linear(3, 3)
    with snnlearn.use_backend(backend):
        z, state = LIF()(layer(torch.ones(5, 2, 3)))
        z.sum().backward()
        z, state = LIF()(layer(torch.ones(5, 2, 3)), state)
        with pytest.raises(RuntimeError, match="detach_state"):
            (z.sum() + state.v.sum()).backward()
        z, state = LIF()(layer(torch.ones(5, 2, 3)), snnlearn.detach_state(state))
        z.sum().backward()  # fine after detaching


# ---- the C module itself -------------------------------------------------------------
# The argument checks every compiled function shares (buffers, threads, sizes) are tested
# once for all of them, in tests/test_c_fuzz.py; here what only _lif does.

@needs_c
class TestCModuleArguments:
    def setup_method(self):
        from snnlearn._compiled import _lif

        self.lif = _lif
        self.n, self.steps = 6, 4
        self.params = dict(dt=0.001, tau_syn_inv=200.0, tau_mem_inv=100.0, v_leak=0.0, v_th=1.0,
                           v_reset=0.0, threads=1, from_rest=False)

    def buffers(self, dtype=np.float32):
        n, t = self.n, self.steps
        return [np.ones(t * n, dtype), np.zeros(n, dtype), np.zeros(n, dtype),
                np.empty(t * n, dtype), np.empty(t * n, dtype)]

    def call(self, buffers, **overrides):
        return self.lif.forward(*buffers, **{"steps": self.steps, **self.params, **overrides})

    def test_valid_call(self):
        b = self.buffers()
        self.call(b)
        assert b[1].max() > 0

    def test_from_rest_ignores_the_state_passed_in(self):
        """from_rest: the kernel writes the resting state itself (v = v_leak, i = 0)."""
        rested, garbage = self.buffers(), self.buffers()
        garbage[1][:], garbage[2][:] = np.nan, 1e30
        rested[1][:], rested[2][:] = 0.25, 0.0
        self.call(rested, v_leak=0.25)
        self.call(garbage, v_leak=0.25, from_rest=True)
        for a, b in zip(rested, garbage):
            np.testing.assert_array_equal(a, b)

    def test_backward_requires_v_pre(self):
        n, t = self.n, self.steps
        with pytest.raises(ValueError, match="v_pre is required"):
            self.lif.backward(np.ones(t * n), None, np.zeros(n), np.zeros(n), np.empty(t * n),
                              steps=t, dt=0.001, tau_syn_inv=200.0, tau_mem_inv=100.0, v_th=1.0,
                              v_reset=0.0, alpha=100.0, threads=1)


@needs_c
def test_the_gil_is_released_inside_the_loops():
    """Python keeps running in another thread while a long C call is in progress."""
    xs = torch.rand(300, 50_000)
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
        LIF()(xs)
        elapsed = time.perf_counter() - start
        during = counter[0] - before
    done.set()
    thread.join()
    assert elapsed > 0.002, "the call was too short to tell"
    assert during > 100, f"the counting thread only ran {during} times during the C call"
