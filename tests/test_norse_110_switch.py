"""The Norse 1.1.0 switch: ``method="super_norse110"`` (or ``method="super"`` inside
``snnlearn.norse_1_1_0_gradients()``) gives Norse 1.1.0's spikes, states and gradients to
the bit, on the reference and on the C kernels; ``method="super"`` outside it follows the
SuperSpike paper (``alpha`` honoured), which Norse 1.1.0 is not (its SuperSpike ignores
``alpha``; fixed after 1.1.0 in Norse #403)."""

from __future__ import annotations

import pytest
import torch

import snnlearn
from snnlearn import LIF, LIFCell, LIFParameters, LIFRecurrent
from snnlearn.functional import lif_feed_forward_step, lif_initial_state

norse = pytest.importorskip(
    "norse.torch", reason="Norse 1.1.0 is not installed (make install: requirements-peers.txt)")
from norse.torch.functional import lif as norse_lif  # noqa: E402

BACKENDS = ["reference", "c"] if snnlearn.c_available() else ["reference"]


def inputs(seed, shape, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(shape, generator=g, dtype=dtype) * 3.0).requires_grad_()


def run_sequence(step, xs, state, p):
    spikes = []
    for x in xs.unbind(0):
        z, state = step(x, state, p)
        spikes.append(z)
    return torch.stack(spikes), state


def loss_and_grads(z, state, leaves):
    weights = torch.linspace(-1.0, 2.0, z.numel(), dtype=z.dtype).reshape(z.shape)
    loss = (z * weights).sum() + state.v.sum() * 0.5 + state.i.sum() * 0.25
    return torch.autograd.grad(loss, leaves)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_functional_step_equals_norse_110_bit_for_bit(seed, dtype):
    xs = inputs(seed, (30, 4, 7), dtype)
    theirs_z, theirs_s = run_sequence(
        norse_lif.lif_feed_forward_step, xs,
        norse_lif.LIFFeedForwardState(*lif_initial_state(xs[0].detach())),
        norse_lif.LIFParameters())
    their_grads = loss_and_grads(theirs_z, theirs_s, [xs])
    for p, switch in ((LIFParameters(method="super_norse110"), False),
                      (LIFParameters(), True)):
        with snnlearn.norse_1_1_0_gradients() if switch else torch.enable_grad():
            z, s = run_sequence(lambda x, st, p: lif_feed_forward_step(x, st, p), xs,
                                lif_initial_state(xs[0].detach()), p)
            grads = loss_and_grads(z, s, [xs])
        assert torch.equal(z, theirs_z) and torch.equal(s.v, theirs_s.v)
        assert torch.equal(s.i, theirs_s.i)
        assert torch.equal(grads[0], their_grads[0])
    # without the switch, alpha = 100 is honoured: the gradients differ from 1.1.0's
    z, s = run_sequence(lambda x, st, p: lif_feed_forward_step(x, st, p), xs,
                        lif_initial_state(xs[0].detach()), LIFParameters())
    assert torch.equal(z, theirs_z)
    assert not torch.equal(loss_and_grads(z, s, [xs])[0], their_grads[0])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("layer", ["LIF", "LIFCell"])
def test_layers_equal_norse_110_bit_for_bit_on_both_backends(backend, layer):
    xs = inputs(7, (40, 3, 5))
    theirs_layer = getattr(norse, layer)()
    if layer == "LIF":
        theirs_z, theirs_s = theirs_layer(xs)
    else:
        theirs_z, theirs_s = run_sequence(lambda x, st, p: theirs_layer(x, st), xs, None, None)
    their_grads = loss_and_grads(theirs_z, theirs_s, [xs])
    for ours in (getattr(snnlearn, layer)(LIFParameters(method="super_norse110")),
                 getattr(snnlearn, layer)()):
        switch = ours.p.method == "super"
        with snnlearn.use_backend(backend), (
                snnlearn.norse_1_1_0_gradients() if switch else torch.enable_grad()):
            if layer == "LIF":
                z, s = ours(xs)
            else:
                z, s = run_sequence(lambda x, st, p: ours(x, st), xs, None, None)
            grads = loss_and_grads(z, s, [xs])
            assert snnlearn.last_path() == backend
        assert torch.equal(z, theirs_z) and torch.equal(s.v, theirs_s.v)
        assert torch.equal(s.i, theirs_s.i)
        assert torch.equal(grads[0], their_grads[0]), f"{layer} on {backend}, switch {switch}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_recurrent_layer_equals_norse_110_bit_for_bit(backend):
    """Reference: to the bit. The recurrent C kernel adds a step's recurrent input spike by
    spike (Norse: one matmul), so its states and gradients agree to float32 rounding
    (1e-5), as in test_lif_recurrent_norse.py; the spikes are the same here."""
    xs = inputs(3, (25, 2, 6))
    torch.manual_seed(5)
    theirs = norse.LIFRecurrent(6, 9)
    torch.manual_seed(5)
    ours = LIFRecurrent(6, 9, LIFParameters(method="super_norse110"))
    theirs_z, theirs_s = theirs(xs)
    leaves = [xs, theirs.input_weights, theirs.recurrent_weights]
    their_grads = loss_and_grads(theirs_z, theirs_s, leaves)
    with snnlearn.use_backend(backend):
        z, s = ours(xs)
        assert snnlearn.last_path() == backend
    grads = loss_and_grads(z, s, [xs, ours.input_weights, ours.recurrent_weights])
    assert torch.equal(z, theirs_z)
    if backend == "reference":  # the same PyTorch operations as Norse: to the bit
        assert torch.equal(s.v, theirs_s.v) and torch.equal(s.i, theirs_s.i)
        for name, a, b in zip(("x", "input_weights", "recurrent_weights"), grads, their_grads):
            assert torch.equal(a, b), f"gradient of {name} differs from Norse 1.1.0"
    else:  # the C kernel sums a step's recurrent input spike by spike (another order)
        torch.testing.assert_close(s.v, theirs_s.v, rtol=1e-5, atol=1e-5)
        for a, b in zip(grads, their_grads):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * max(1.0, float(b.abs().max())))


def test_default_parameters_are_zero_dim_tensors_and_keep_the_c_path():
    p = LIFParameters()
    assert all(isinstance(getattr(p, f), torch.Tensor) and getattr(p, f).dim() == 0
               for f in ("tau_syn_inv", "tau_mem_inv", "v_leak", "v_th", "v_reset", "alpha"))
    assert p.v_th.item() == 1.0 and p.to(torch.float64).v_th.dtype == torch.float64
    assert snnlearn.why_not_c(torch.ones(2), p, 0.001) is None
    assert snnlearn.why_not_c(torch.ones(2), LIFParameters(method="super_norse110"), 0.001) is None
    LIF()(torch.ones(3, 2))
    assert snnlearn.last_path() == ("c" if snnlearn.c_available() else "reference")
    assert list(LIF().buffers()) == []
