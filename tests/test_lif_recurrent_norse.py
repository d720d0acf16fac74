"""snnlearn's recurrent LIF against Norse 1.1.0: same spikes, states, gradients, weights.

Norse is the reference semantics (issue 8). Compared here:

* the functional step (``snnlearn.functional.lif_recurrent_step`` against Norse's
  ``norse.torch.functional.lif.lif_step``) to the bit, on random sizes, parameters, ``dt``
  and weights, float32 and float64, forward and gradients;
* the layers (``LIFRecurrentCell``/``LIFRecurrent`` against Norse's), on both of our
  backends: the same seed draws the same weights to the bit, the same autapse mask and
  the same spikes, states and weight/input gradients.

Surrogates: Norse 1.1.0's ``SuperSpike.backward`` returns ``grad / (|x| + 1)^2`` and ignores
``alpha`` altogether (``norse/torch/functional/superspike.py``); ours is
``grad / (alpha |x| + 1)^2``. They agree at ``alpha = 1``, which every comparison uses.

Norse's layers turn the parameters into float32 0-d tensors and compute ``dt * tau_inv`` in
float32, and start from a float32 resting state; ours keep Python floats (double). The layer
comparisons therefore draw ``dt`` and the parameters from values that float32 holds exactly
(so that both compute the same numbers), in float32.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import snnlearn
from snnlearn import LIFParameters, LIFRecurrent, LIFRecurrentCell
from snnlearn.functional import LIFState, lif_recurrent_step
from tiers import examples

norse = pytest.importorskip(
    "norse.torch", reason="Norse 1.1.0 is not installed (make install: requirements-peers.txt)")
from norse.torch.functional import lif as norse_lif  # noqa: E402

BACKENDS = ["reference", "c"] if snnlearn.c_available() else ["reference"]


def test_norse_version():
    import norse as norse_package

    assert norse_package.__version__.startswith("1.1.0"), norse_package.__version__


def norse_parameters(p: LIFParameters):
    return norse_lif.LIFParameters(p.tau_syn_inv, p.tau_mem_inv, p.v_leak, p.v_th, p.v_reset,
                                   p.method, p.alpha)


# ---- the functional step, to the bit ------------------------------------------------------

any_parameters = st.builds(
    LIFParameters,
    tau_syn_inv=st.floats(20.0, 500.0), tau_mem_inv=st.floats(20.0, 300.0),
    v_leak=st.floats(-0.5, 0.5), v_th=st.floats(0.3, 1.5), v_reset=st.floats(-0.5, 0.5),
    alpha=st.just(1.0), method=st.just("super"), reset_method=st.just("value"),
)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 6), n_in=st.integers(1, 9),
       hidden=st.integers(1, 17), steps=st.integers(1, 12), p=any_parameters,
       dt=st.floats(1e-4, 3e-3), dtype=st.sampled_from([torch.float32, torch.float64]),
       scale=st.floats(0.5, 30.0))
def test_step_equals_norse_lif_step(seed, batch, n_in, hidden, steps, p, dt, dtype, scale):
    g = torch.Generator().manual_seed(seed)
    xs = torch.rand(steps, batch, n_in, generator=g, dtype=dtype)
    w_in = torch.randn(hidden, n_in, generator=g, dtype=dtype) * scale
    w_rec = torch.randn(hidden, hidden, generator=g, dtype=dtype) * scale
    z0 = (torch.rand(batch, hidden, generator=g, dtype=dtype) < 0.3).to(dtype)
    v0 = torch.rand(batch, hidden, generator=g, dtype=dtype)
    i0 = torch.randn(batch, hidden, generator=g, dtype=dtype)
    weights = torch.randn(steps, batch, hidden, generator=g, dtype=dtype)

    def run(step, state_type, params):
        leaves = [t.clone().requires_grad_() for t in (xs, w_in, w_rec, v0, i0)]
        x, wi, wr, v, i = leaves
        state, spikes = state_type(z0, v, i), []
        for x_t in x.unbind(0):
            z, state = step(x_t, state, wi, wr, params, dt)
            spikes.append(z)
        z = torch.stack(spikes)
        loss = (z * weights).sum() + state.v.sum() * 0.5 + state.i.sum() * 0.25
        return (z, state.v, state.i), torch.autograd.grad(loss, leaves)

    ours, our_grads = run(lif_recurrent_step, LIFState, p)
    theirs, their_grads = run(norse_lif.lif_step, norse_lif.LIFState, norse_parameters(p))
    for name, a, b in zip(("z", "v", "i"), ours, theirs):
        assert torch.equal(a, b), f"{name} differs from Norse's lif_step"
    for name, a, b in zip(("x", "input_weights", "recurrent_weights", "v0", "i0"),
                          our_grads, their_grads):
        assert torch.equal(a, b), f"gradient of {name} differs from Norse's lif_step"


# ---- the layers ---------------------------------------------------------------------------

def exact(values):
    """Values that float32 holds exactly (so Norse's float32 parameters equal ours)."""
    return st.sampled_from(values)


exact_parameters = st.builds(
    LIFParameters,
    tau_syn_inv=exact([25.0, 50.0, 100.0, 200.0, 256.0, 400.0]),
    tau_mem_inv=exact([20.0, 50.0, 64.0, 100.0, 125.0, 250.0]),
    v_leak=exact([-0.25, 0.0, 0.125]), v_th=exact([0.25, 0.5, 1.0, 1.5]),
    v_reset=exact([-0.5, 0.0, 0.125]), alpha=st.just(1.0), method=st.just("super"), reset_method=st.just("value"),
)
exact_dt = exact([2.0**-9, 2.0**-10, 2.0**-11, 0.00048828125 * 3])


def make_pair(cls, seed, n_in, hidden, p, dt, autapses):
    norse_cls = getattr(norse, cls.__name__)
    torch.manual_seed(seed)
    ours = cls(n_in, hidden, p, dt, autapses)
    torch.manual_seed(seed)
    theirs = norse_cls(n_in, hidden, norse_parameters(p), dt=dt, autapses=autapses)
    return ours, theirs


@pytest.mark.parametrize("autapses", [False, True])
@pytest.mark.parametrize("cls", [LIFRecurrentCell, LIFRecurrent])
def test_same_seed_same_weights_and_autapse_mask(cls, autapses):
    ours, theirs = make_pair(cls, 3, 7, 11, LIFParameters(alpha=1.0), 0.001, autapses)
    assert torch.equal(ours.input_weights, theirs.input_weights)
    assert torch.equal(ours.recurrent_weights, theirs.recurrent_weights)
    diagonal = torch.diagonal(ours.recurrent_weights)
    assert (diagonal == 0).all() != autapses
    assert {n for n, _ in ours.named_parameters()} == {"input_weights", "recurrent_weights"}


def test_initialisation_statistics():
    """N(0, 2 / hidden) for both weights, as Norse draws them."""
    torch.manual_seed(0)
    hidden = 400
    layer = LIFRecurrent(300, hidden, autapses=True)
    for w in (layer.input_weights.detach(), layer.recurrent_weights.detach()):
        sigma = (2 / hidden) ** 0.5
        assert abs(float(w.mean())) < 5 * sigma / w.numel() ** 0.5  # 5 standard errors
        assert float(w.var()) == pytest.approx(2 / hidden, rel=0.03)


def test_given_weights_lose_their_autapses_as_in_norse():
    w_rec = torch.ones(4, 4)
    ours = LIFRecurrent(3, 4, recurrent_weights=w_rec.clone())
    theirs = norse.LIFRecurrent(3, 4, recurrent_weights=w_rec.clone())
    assert torch.equal(ours.recurrent_weights.detach(), theirs.recurrent_weights.detach())
    assert torch.equal(torch.diagonal(ours.recurrent_weights), torch.zeros(4))
    with pytest.raises(ValueError, match="recurrent_weights must have shape"):
        LIFRecurrent(3, 4, recurrent_weights=torch.ones(4, 3))


def grid(tensor, step):
    """Round ``tensor`` (in place) to multiples of ``step``, a power of two."""
    return tensor.copy_(torch.round(tensor / step) * step)


def run_layer(layer, xs, state, weights):
    xs = xs.clone().requires_grad_()
    if isinstance(layer, (LIFRecurrentCell, norse.LIFRecurrentCell)):
        spikes = []
        for x in xs.unbind(0):
            z, state = layer(x, state)
            spikes.append(z)
        z = torch.stack(spikes)
    else:
        z, state = layer(xs, state)
    loss = (z * weights).sum() + state.v.sum() * 0.5 + state.i.sum() * 0.25
    params = [layer.input_weights, layer.recurrent_weights]
    grads = torch.autograd.grad(loss, [xs, *params])
    return (z, state.z, state.v, state.i), grads


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("cls", [LIFRecurrentCell, LIFRecurrent])
@settings(max_examples=examples(15), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.differing_executors])
@given(seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 5), n_in=st.integers(1, 8),
       hidden=st.integers(1, 24), steps=st.integers(1, 25), p=exact_parameters, dt=exact_dt,
       autapses=st.booleans(), gain=st.sampled_from([2.0, 8.0, 32.0]), given_state=st.booleans())
def test_layer_equals_norse(backend, cls, seed, batch, n_in, hidden, steps, p, dt, autapses,
                            gain, given_state):
    ours, theirs = make_pair(cls, seed, n_in, hidden, p, dt, autapses)
    # Weights, inputs and initial currents on a coarse binary grid: every matrix-vector sum
    # is then exact in float32, in whatever order it is summed (the C path sums a step's
    # recurrent input spike by spike, Norse's matmul in its own order), so spikes cannot
    # flip at the threshold by a rounding difference.
    with torch.no_grad():
        for name in ("input_weights", "recurrent_weights"):
            grid(getattr(ours, name), 2.0**-6)
            getattr(theirs, name).copy_(getattr(ours, name))
    g = torch.Generator().manual_seed(seed)
    xs = grid(torch.rand(steps, batch, n_in, generator=g) * gain, 2.0**-4)
    weights = torch.randn(steps, batch, hidden, generator=g)
    state = None
    if given_state:
        state = LIFState(z=(torch.rand(batch, hidden, generator=g) < 0.3).float(),
                         v=torch.rand(batch, hidden, generator=g),
                         i=grid(torch.randn(batch, hidden, generator=g), 2.0**-6))
    with snnlearn.use_backend(backend):
        mine, my_grads = run_layer(ours, xs, state, weights)
        if cls is LIFRecurrent:
            assert snnlearn.last_path() == backend
    norse_state = None if state is None else norse_lif.LIFState(*state)
    theirs_out, their_grads = run_layer(theirs, xs, norse_state, weights)
    assert torch.equal(mine[0], theirs_out[0]), "spikes differ from Norse"
    for name, a, b in zip(("z", "v", "i"), mine[1:], theirs_out[1:]):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5, msg=lambda m: f"state.{name}: {m}")
    for name, a, b in zip(("input", "input_weights", "recurrent_weights"), my_grads, their_grads):
        scale = max(1.0, float(b.abs().max()))
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5 * scale,
                                   msg=lambda m: f"gradient of {name}: {m}")
    if not autapses:
        assert torch.equal(torch.diagonal(my_grads[2]), torch.zeros(hidden))


@pytest.mark.parametrize("backend", BACKENDS)
def test_parameter_gradients_masked_like_norse(backend):
    """After backward(), .grad of recurrent_weights has a zero diagonal, as Norse's hook."""
    ours, theirs = make_pair(LIFRecurrent, 5, 4, 9, LIFParameters(alpha=1.0), 2.0**-10, False)
    xs = torch.rand(40, 3, 4) * 40
    with snnlearn.use_backend(backend):
        z, _ = ours(xs)
    z.sum().backward()
    theirs(xs)[0].sum().backward()
    assert z.sum() > 0, "no spikes: the test would not test anything"
    assert torch.equal(torch.diagonal(ours.recurrent_weights.grad), torch.zeros(9))
    torch.testing.assert_close(ours.recurrent_weights.grad, theirs.recurrent_weights.grad,
                               rtol=1e-5, atol=1e-5)
