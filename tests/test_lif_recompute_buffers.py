"""The LIF Function's backward without kept voltages (issue 21): which buffers a training
step keeps, and that recomputing the pre-reset voltages changes no bit of any gradient.

``_lif.backward_recompute`` recomputes, tile by tile, the voltages that ``_lif.forward``
used to write into ``v_pre``; ``LIFSequenceFunction`` saves the input and the initial state
instead of those voltages (or, for a short sequence from a given state, still the voltages).
Both are checked here against the kernel pair they replace, bit for bit.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import snnlearn
from snnlearn import LIFParameters
from snnlearn._compiled import lif_autograd
from snnlearn._compiled.kernel_args import kernel_args

pytestmark = pytest.mark.skipif(not snnlearn.c_available(), reason="C extension not built")

if snnlearn.c_available():
    from snnlearn._compiled import _lif

P = LIFParameters(alpha=60.0)
DT = 0.001


def bits(array) -> bytes:
    return np.ascontiguousarray(array).view(np.uint8).tobytes()


def c_problem(steps, n, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = (rng.random((steps, n)) * 0.8).astype(dtype)  # spikes at the default threshold
    v0, i0 = (rng.random(n) * 0.5).astype(dtype), rng.random(n).astype(dtype)
    grad_z = rng.standard_normal((steps, n)).astype(dtype)
    grad_v, grad_i = rng.standard_normal(n).astype(dtype), rng.standard_normal(n).astype(dtype)
    return x, v0, i0, grad_z, grad_v, grad_i


def kept_voltages_backward(x, v0, i0, grad_z, grad_v, grad_i, from_rest, threads):
    """The pair the recompute replaces: forward keeping v_pre, then backward reading it."""
    args = kernel_args(P, DT)
    steps, n = x.shape
    v, i, z, v_pre = v0.copy(), i0.copy(), np.empty_like(x), np.empty_like(x)
    _lif.forward(x, v, i, z, v_pre, steps=steps, v_leak=args.v_leak, from_rest=from_rest,
                 threads=threads, **args.numbers)
    gv, gi, gx = grad_v.copy(), grad_i.copy(), np.empty_like(x)
    _lif.backward(grad_z, v_pre, gv, gi, gx, steps=steps, threads=threads, alpha=args.alpha,
                  **args.numbers)
    return gx, gv, gi, z


def recomputed_backward(x, v0, i0, grad_z, grad_v, grad_i, from_rest, threads):
    args = kernel_args(P, DT)
    steps = x.shape[0]
    gv, gi, gx = grad_v.copy(), grad_i.copy(), np.full_like(x, np.nan)
    _lif.backward_recompute(grad_z, x, None if from_rest else v0, None if from_rest else i0,
                            gv, gi, gx, steps=steps, v_leak=args.v_leak, from_rest=from_rest,
                            threads=threads, alpha=args.alpha, **args.numbers)
    return gx, gv, gi


# (steps, neurons): one tile, several tiles with a ragged end, a tile clamped to its
# minimum width (many steps), chapter 3's size (split over threads), empty calls
SHAPES = [(1, 5), (7, 3001), (300, 700), (2000, 40), (32, 64 * 256), (0, 10), (5, 0)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("steps,n", SHAPES)
@pytest.mark.parametrize("from_rest", [True, False])
@pytest.mark.parametrize("threads", [1, 2])
def test_recomputed_gradients_are_bit_identical(dtype, steps, n, from_rest, threads):
    problem = c_problem(steps, n, dtype)
    *expected, z = kept_voltages_backward(*problem, from_rest, threads)
    got = recomputed_backward(*problem, from_rest, threads)
    for name, e, g in zip(("grad_x", "grad_v", "grad_i"), expected, got):
        assert bits(e) == bits(g), f"{name} differs in some bit"
    if steps * n > 10_000:
        assert 0 < z.mean() < 0.5, "no spikes (or only spikes): the reset is not exercised"


def backward_kernels(x, grad_z, gv, gi, threads):
    """What the three backward kernels (LIF reading v_pre, LIF recomputing, LI) return,
    each given the gradients of the final state ``gv``, ``gi`` (arrays, copied, or None):
    per kernel ``(grad_x, grad_v, grad_i)``, the last two the initial state's gradients
    written over the copies (None where None was passed)."""
    args, li_args = kernel_args(P, DT), kernel_args(snnlearn.LIParameters(), DT)
    steps, n = x.shape
    v, i, z, v_pre = np.empty(n, x.dtype), np.empty(n, x.dtype), np.empty_like(x), np.empty_like(x)
    _lif.forward(x, v, i, z, v_pre, steps=steps, v_leak=args.v_leak, from_rest=True,
                 threads=threads, **args.numbers)
    calls = [
        lambda state, gx: _lif.backward(grad_z, v_pre, *state, gx, steps=steps, threads=threads,
                                        alpha=args.alpha, **args.numbers),
        lambda state, gx: _lif.backward_recompute(
            grad_z, x, None, None, *state, gx, steps=steps, v_leak=args.v_leak, from_rest=True,
            threads=threads, alpha=args.alpha, **args.numbers),
        lambda state, gx: _lif.li_backward(grad_z, *state, gx, steps=steps, threads=threads,
                                           **li_args.numbers),
    ]
    out = []
    for call in calls:  # the kernels overwrite the state's gradient: a copy for each
        state = (None if gv is None else gv.copy(), None if gi is None else gi.copy())
        grad_x = np.full_like(x, np.nan)
        call(state, grad_x)
        out.append((grad_x, *state))
    return out


KERNELS = ("backward", "backward_recompute", "li_backward")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("steps,n", SHAPES + [(3, 2048), (3, 2049), (2, 70_000)])
@pytest.mark.parametrize("threads", [1, 2])
def test_no_state_gradient_is_a_zero_one_bit_for_bit(dtype, steps, n, threads):
    """grad_v / grad_i None (what the Functions pass when the final state is unused and the
    initial state needs no gradient): the same grad_x (and the other state gradient, when
    given) as zeros passed in, for neuron counts across the kernels' on-stack chunks
    (LOCAL_STATE) and thread splits."""
    assert _lif.LOCAL_STATE == 2048  # the shapes above straddle it
    x, _, _, grad_z, _, _ = c_problem(steps, n, dtype)
    zeros = np.zeros(n, dtype)
    expected = backward_kernels(x, grad_z, zeros, zeros, threads)
    for gv, gi in ((None, None), (None, zeros), (zeros, None)):
        got = backward_kernels(x, grad_z, gv, gi, threads)
        for kernel, e, g in zip(KERNELS, expected, got):
            for name, want, have in zip(("grad_x", "grad_v", "grad_i"), e, g):
                if have is not None:
                    assert bits(want) == bits(have), \
                        f"{kernel}: {name} differs with grad_v={gv is not None}, grad_i={gi is not None}"


def test_one_state_gradient_given_is_used_and_the_other_is_zero():
    x, _, _, grad_z, grad_v, _ = c_problem(6, 37, np.float64)
    expected = backward_kernels(x, grad_z, grad_v, np.zeros_like(grad_v), 1)
    got = backward_kernels(x, grad_z, grad_v, None, 1)
    for kernel, (gx, gv, _), (gx2, gv2, gi2) in zip(KERNELS, expected, got):
        assert gi2 is None and bits(gx) == bits(gx2) and bits(gv) == bits(gv2), kernel


def test_without_state_gradients_the_count_comes_from_the_steps():
    args = kernel_args(P, DT)
    with pytest.raises(ValueError, match="grad_x has 10 elements, not a multiple of steps=3"):
        _lif.backward(np.zeros(10), np.zeros(10), None, None, np.zeros(10), steps=3, threads=1,
                      alpha=args.alpha, **args.numbers)


class TestRecomputeArguments:
    def call(self, **change):
        x, v0, i0, grad_z, grad_v, grad_i = c_problem(4, 8, np.float32)
        kwargs = dict(grad_z=grad_z, x=x, v0=v0, i0=i0, grad_v=grad_v, grad_i=grad_i,
                      grad_x=np.empty_like(x), steps=4, dt=DT, tau_syn_inv=200.0,
                      tau_mem_inv=100.0, v_leak=0.0, v_th=1.0, v_reset=0.0, alpha=100.0,
                      threads=1, from_rest=False)
        kwargs.update(change)
        return _lif.backward_recompute(**kwargs)

    def test_a_given_state_is_required_unless_from_rest(self):
        with pytest.raises(ValueError, match="v0 and i0 are required unless from_rest"):
            self.call(v0=None)
        self.call(v0=None, i0=None, from_rest=True)  # ignored from rest

    def test_wrong_lengths_dtypes_and_overlaps_are_refused(self):
        with pytest.raises(ValueError, match="x has 31 elements, expected 32"):
            self.call(x=np.zeros(31, np.float32))
        with pytest.raises(ValueError, match="v0 has 7 elements, expected 8"):
            self.call(v0=np.zeros(7, np.float32))
        with pytest.raises(TypeError, match="one dtype"):
            self.call(x=np.zeros(32, np.float64))
        x = np.zeros(32, np.float32)
        with pytest.raises(ValueError, match="output grad_x overlaps x"):
            self.call(x=x, grad_x=x)
        with pytest.raises(ValueError, match="writable"):
            read_only = np.zeros(32, np.float32)
            read_only.flags.writeable = False
            self.call(grad_x=read_only)


def function_gradients(xs, v0, i0, grad_z, min_steps, monkeypatch):
    """(z, v_T, i_T) and the gradients of (xs, v0, i0) through LIFSequenceFunction, with
    the recompute threshold set to ``min_steps`` (0: always recompute; huge: never)."""
    monkeypatch.setattr(lif_autograd, "RECOMPUTE_MIN_STEPS", min_steps)
    leaves = [t.clone().requires_grad_() if t is not None else None for t in (xs, v0, i0)]
    z, v, i = lif_autograd.LIFSequenceFunction.apply(*leaves, P, DT)
    loss = (z * grad_z).sum() + (v * 1.5).sum() - (i * 0.5).sum()
    wrt = [t for t in leaves if t is not None]
    return (z, v, i), torch.autograd.grad(loss, wrt)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("steps", [1, 3, 40])
@pytest.mark.parametrize("from_rest", [True, False])
def test_the_function_gives_the_same_bits_either_way(dtype, steps, from_rest, monkeypatch):
    generator = torch.Generator().manual_seed(steps)
    xs = torch.rand(steps, 6, 70, generator=generator, dtype=dtype) * 0.8
    v0 = None if from_rest else torch.rand(6, 70, generator=generator, dtype=dtype) * 0.5
    i0 = None if from_rest else torch.rand(6, 70, generator=generator, dtype=dtype)
    grad_z = torch.randn(steps, 6, 70, generator=generator, dtype=dtype)
    kept = function_gradients(xs, v0, i0, grad_z, 10 ** 9, monkeypatch)
    recomputed = function_gradients(xs, v0, i0, grad_z, 0, monkeypatch)
    for e, g in zip(kept[0] + kept[1], recomputed[0] + recomputed[1]):
        assert bits(e.detach().numpy()) == bits(g.detach().numpy())


def saved_of(z) -> tuple:
    return z.grad_fn.saved_tensors


def test_a_sequence_from_rest_keeps_its_input_not_its_voltages():
    xs = torch.rand(32, 4, 50).requires_grad_()
    z, _, _ = lif_autograd.LIFSequenceFunction.apply(xs, None, None, P, DT)
    saved = saved_of(z)
    assert len(saved) == 3 and saved[1] is None and saved[2] is None
    assert saved[0].data_ptr() == xs.data_ptr(), "the input itself, no copy of it"


def test_one_step_from_a_state_keeps_its_voltages():
    """(T + 2) / T times the memory would be a regression for a time loop of cells."""
    xs, v0, i0 = (torch.rand(1, 4, 50).requires_grad_(), torch.rand(4, 50), torch.rand(4, 50))
    z, _, _ = lif_autograd.LIFSequenceFunction.apply(xs, v0, i0, P, DT)
    saved = saved_of(z)
    assert len(saved) == 1 and saved[0].shape == xs.shape
    assert saved[0].data_ptr() != xs.data_ptr(), "the pre-reset voltages, not the input"


def test_a_long_sequence_from_a_state_keeps_its_input_and_state():
    steps = lif_autograd.RECOMPUTE_MIN_STEPS
    xs = torch.rand(steps, 4, 50).requires_grad_()
    v0, i0 = torch.rand(4, 50), torch.rand(4, 50)
    z, _, _ = lif_autograd.LIFSequenceFunction.apply(xs, v0, i0, P, DT)
    saved = saved_of(z)
    assert [t.data_ptr() for t in saved] == [xs.data_ptr(), v0.data_ptr(), i0.data_ptr()]


def test_changing_the_input_in_place_before_backward_is_an_error_not_a_wrong_gradient():
    xs = (torch.rand(32, 4, 50) * 0.8).requires_grad_()
    hidden = xs * 1.0  # what a Linear layer hands the LIF layer
    z, _, _ = lif_autograd.LIFSequenceFunction.apply(hidden, None, None, P, DT)
    hidden.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.sum().backward()


def test_two_backward_passes_in_a_row_give_independent_equal_gradients():
    xs = (torch.rand(32, 4, 50) * 0.8).requires_grad_()
    z, _, _ = lif_autograd.LIFSequenceFunction.apply(xs, None, None, P, DT)
    weights = torch.randn_like(z)
    (first,) = torch.autograd.grad((z * weights).sum(), xs, retain_graph=True)
    kept = first.clone()
    (second,) = torch.autograd.grad((z * weights).sum(), xs)
    assert first.data_ptr() != second.data_ptr()
    assert torch.equal(first, kept), "the second pass wrote into the first one's gradient"
    assert torch.equal(first, second)


def test_the_layer_from_rest_matches_the_reference_after_the_change():
    """The module path (LIF from rest, chapter 3's use) still agrees with the reference."""
    xs = torch.rand(32, 8, 40, generator=torch.Generator().manual_seed(3)) * 0.8
    grads = {}
    for backend in ("c", "reference"):
        x = xs.clone().requires_grad_()
        with snnlearn.use_backend(backend):
            z, _ = snnlearn.LIF(P, DT)(x)
            assert snnlearn.last_path() == backend
        (grads[backend],) = torch.autograd.grad(z.sum(), x)
    torch.testing.assert_close(grads["c"], grads["reference"], rtol=1e-6, atol=1e-6)
