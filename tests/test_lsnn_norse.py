"""snnlearn's adaptive (LSNN) neurons against Norse 1.1.0: same spikes, states, gradients.

Compared here, to the bit:

* the functional steps (``lsnn_step``, ``lsnn_feed_forward_step``) against Norse's, on random
  sizes, parameters, ``dt``, weights and states, float32 and float64: spikes, the state
  ``(z, v, i, b)`` after several steps, and the gradients of a loss that depends on all of
  them with respect to the input, the weights, the initial state and three parameters
  (``v_th``, ``beta``, ``tau_adapt_inv``, given as tensors);
* the layers (``LSNNCell``, ``LSNN``, ``LSNNRecurrentCell``, ``LSNNRecurrent``) against Norse's,
  built with the same parameters and seed: same weights, spikes, states and gradients.

Norse 1.1.0's SuperSpike ignores ``alpha`` (it uses ``1 / (|x| + 1)^2``); ours follows the
paper, ``1 / (alpha |x| + 1)^2``. Every comparison runs at ``alpha = 1``, where they agree.
Norse's layers need tensor parameters (they call ``p.v_leak.detach()``); both sides get the
same 0-d float32 tensors there, so both compute the same float32 numbers.
"""

from __future__ import annotations

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snnlearn import LSNN, LSNNCell, LSNNRecurrent, LSNNRecurrentCell
from snnlearn.functional import (
    LSNNFeedForwardState,
    LSNNParameters,
    LSNNState,
    ada_lif_step,
    lsnn_feed_forward_initial_state,
    lsnn_feed_forward_step,
    lsnn_initial_state,
    lsnn_step,
)
from tiers import examples

norse = pytest.importorskip(
    "norse.torch", reason="Norse 1.1.0 is not installed (make install: requirements-peers.txt)")
from norse.torch.functional import lsnn as norse_lsnn  # noqa: E402

SETTINGS = settings(max_examples=examples(30), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors])


def norse_parameters(p: LSNNParameters):
    return norse_lsnn.LSNNParameters(*p)


def test_names_and_defaults_match_norse():
    assert LSNNParameters._fields == norse_lsnn.LSNNParameters._fields
    for ours, theirs in zip(LSNNParameters(), norse_lsnn.LSNNParameters()):
        if isinstance(theirs, torch.Tensor):  # Norse's are float32 tensors, ours numbers
            assert torch.as_tensor(ours, dtype=torch.float32) == theirs
        else:
            assert ours == theirs
    assert LSNNState._fields == norse_lsnn.LSNNState._fields
    assert LSNNFeedForwardState._fields == norse_lsnn.LSNNFeedForwardState._fields


any_parameters = st.builds(
    LSNNParameters,
    tau_syn_inv=st.floats(20.0, 500.0), tau_mem_inv=st.floats(20.0, 300.0),
    tau_adapt_inv=st.floats(0.5, 50.0), v_leak=st.floats(-0.5, 0.5), v_th=st.floats(0.3, 1.5),
    v_reset=st.floats(-0.5, 0.5), beta=st.floats(0.0, 3.0),
    method=st.just("super"), alpha=st.just(1.0),
)


def as_tensors(p: LSNNParameters, dtype, names=("v_th", "beta", "tau_adapt_inv")):
    """``p`` with the named fields as 0-d leaf tensors that require a gradient."""
    return p._replace(**{n: torch.tensor(getattr(p, n), dtype=dtype, requires_grad=True)
                         for n in names})


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 5), n_in=st.integers(1, 7),
       hidden=st.integers(1, 13), steps=st.integers(1, 15), p=any_parameters,
       dt=st.floats(1e-4, 3e-3), dtype=st.sampled_from([torch.float32, torch.float64]),
       scale=st.floats(0.5, 30.0), recurrent=st.booleans())
def test_step_equals_norse(seed, batch, n_in, hidden, steps, p, dt, dtype, scale, recurrent):
    g = torch.Generator().manual_seed(seed)
    xs = torch.rand(steps, batch, n_in if recurrent else hidden, generator=g, dtype=dtype) * (
        1.0 if recurrent else scale)
    w_in = torch.randn(hidden, n_in, generator=g, dtype=dtype) * scale
    w_rec = torch.randn(hidden, hidden, generator=g, dtype=dtype) * scale
    z0 = (torch.rand(batch, hidden, generator=g, dtype=dtype) < 0.3).to(dtype)
    v0 = torch.rand(batch, hidden, generator=g, dtype=dtype)
    i0 = torch.randn(batch, hidden, generator=g, dtype=dtype) * scale
    b0 = p.v_th + torch.rand(batch, hidden, generator=g, dtype=dtype)
    weights = torch.randn(steps, batch, hidden, generator=g, dtype=dtype)

    def run(module, make_params):
        params = as_tensors(make_params(p), dtype)
        leaves = [t.clone().requires_grad_() for t in (xs, w_in, w_rec, v0, i0, b0)]
        x, wi, wr, v, i, b = leaves
        spikes = []
        if recurrent:
            state = module.LSNNState(z0, v, i, b)
            for x_t in x.unbind(0):
                z, state = module.lsnn_step(x_t, state, wi, wr, params, dt)
                spikes.append(z)
        else:
            state = module.LSNNFeedForwardState(v, i, b)
            for x_t in x.unbind(0):
                z, state = module.lsnn_feed_forward_step(x_t, state, params, dt)
                spikes.append(z)
        z = torch.stack(spikes)
        loss = ((z * weights).sum() + state.v.sum() * 0.5 + state.i.sum() * 0.25
                + state.b.sum() * 0.125)
        wrt = leaves + [params.v_th, params.beta, params.tau_adapt_inv]
        grads = torch.autograd.grad(loss, wrt, allow_unused=True)
        return (z, *state), grads

    import snnlearn.functional.lsnn as ours_module

    ours, our_grads = run(ours_module, lambda q: q)
    theirs, their_grads = run(norse_lsnn, norse_parameters)
    names = ("z", "z_state", "v", "i", "b") if recurrent else ("z", "v", "i", "b")
    for name, a, b in zip(names, ours, theirs):
        assert torch.equal(a, b), f"{name} differs from Norse's"
    grad_names = ("x", "input_weights", "recurrent_weights", "v0", "i0", "b0", "v_th", "beta",
                  "tau_adapt_inv")
    for name, a, b in zip(grad_names, our_grads, their_grads):
        assert (a is None) == (b is None), f"gradient of {name}: one side has none"
        if a is not None:
            assert torch.equal(a, b), f"gradient of {name} differs from Norse's"


# ---- the layers ---------------------------------------------------------------------------

def exact_parameters():
    """Values float32 holds exactly, as 0-d float32 tensors (Norse's layers need tensors)."""
    def tensors(**fields):
        as_tensors_ = {k: torch.tensor(v, dtype=torch.float32) for k, v in fields.items()}
        return LSNNParameters(**as_tensors_, method="super", alpha=1.0)
    pick = st.sampled_from
    return st.builds(tensors, tau_syn_inv=pick([50.0, 100.0, 200.0, 256.0]),
                     tau_mem_inv=pick([50.0, 64.0, 100.0, 125.0]),
                     tau_adapt_inv=pick([0.00125, 1.0, 4.0, 16.0]), v_leak=pick([0.0, 0.125]),
                     v_th=pick([0.5, 1.0]), v_reset=pick([-0.25, 0.0]), beta=pick([0.0, 0.5, 1.8]))


def run_layer(layer, xs, weights):
    xs = xs.clone().requires_grad_()
    if "Cell" in type(layer).__name__:
        spikes, state = [], None
        for x in xs.unbind(0):
            z, state = layer(x, state)
            spikes.append(z)
        z = torch.stack(spikes)
    else:
        z, state = layer(xs)
    loss = ((z * weights).sum() + state.v.sum() * 0.5 + state.i.sum() * 0.25
            + state.b.sum() * 0.125)
    params = [xs] + [getattr(layer, n) for n in ("input_weights", "recurrent_weights")
                     if hasattr(layer, n)]
    return (z, *(torch.broadcast_to(t, z.shape[1:]) for t in state)), torch.autograd.grad(
        loss, params)


@pytest.mark.parametrize("cls", [LSNNCell, LSNN, LSNNRecurrentCell, LSNNRecurrent])
@settings(max_examples=examples(10), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.differing_executors])
@given(seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 4), n_in=st.integers(1, 6),
       hidden=st.integers(1, 12), steps=st.integers(1, 30), p=exact_parameters(),
       dt=st.sampled_from([2.0**-10, 2.0**-9]), autapses=st.booleans(),
       gain=st.sampled_from([2.0, 8.0, 32.0]))
def test_layer_equals_norse(cls, seed, batch, n_in, hidden, steps, p, dt, autapses, gain):
    theirs_cls = getattr(norse, cls.__name__)
    recurrent = "Recurrent" in cls.__name__
    torch.manual_seed(seed)
    ours = cls(n_in, hidden, p, dt, autapses) if recurrent else cls(p, dt)
    torch.manual_seed(seed)
    theirs = (theirs_cls(n_in, hidden, p, dt=dt, autapses=autapses) if recurrent
              else theirs_cls(p, dt=dt))
    if recurrent:
        assert torch.equal(ours.input_weights, theirs.input_weights)
        assert torch.equal(ours.recurrent_weights, theirs.recurrent_weights)
    g = torch.Generator().manual_seed(seed)
    xs = torch.rand(steps, batch, n_in if recurrent else hidden, generator=g) * gain
    weights = torch.randn(steps, batch, hidden, generator=g)
    mine, my_grads = run_layer(ours, xs, weights)
    theirs_out, their_grads = run_layer(theirs, xs, weights)
    for name, a, b in zip(("z", "state"), mine[:1], theirs_out[:1]):
        assert torch.equal(a, b), f"{name} differs from Norse's"
    for a, b in zip(mine[1:], theirs_out[1:]):
        assert torch.equal(a, b), "state differs from Norse's"
    for a, b in zip(my_grads, their_grads):
        assert torch.equal(a, b), "gradient differs from Norse's"


def test_adaptation_needs_spikes_to_matter():
    """A check that the comparisons exercise adaptation: with these inputs neurons fire
    several times, and beta changes the spike count."""
    xs = torch.full((200, 1), 1.5)
    counts = [int(LSNN(LSNNParameters(tau_adapt_inv=2.0, beta=beta))(xs)[0].sum())
              for beta in (0.0, 1.8)]
    assert counts[0] > counts[1] > 1


# ---- behaviour and errors -----------------------------------------------------------------

def test_threshold_rises_by_beta_and_relaxes_to_v_th():
    p = LSNNParameters(tau_adapt_inv=10.0, beta=0.75)
    s = LSNNFeedForwardState(v=torch.tensor([2.0], dtype=torch.float64),
                             i=torch.zeros(1, dtype=torch.float64),
                             b=torch.tensor([1.0], dtype=torch.float64))
    z, s = lsnn_feed_forward_step(torch.zeros(1, dtype=torch.float64), s, p)
    assert z.item() == 1.0 and s.b.item() == pytest.approx(1.75)
    for _ in range(2000):  # 2 s = 20 adaptation time constants, no input
        z, s = lsnn_feed_forward_step(torch.zeros(1, dtype=torch.float64), s, p)
        assert z.item() == 0.0
    assert s.b.item() == pytest.approx(1.0 + 0.75 * 0.99**2000, abs=1e-12)


def test_recurrent_reset_and_threshold_jump_carry_no_gradient():
    """As Norse's lsnn_step: the reset and the threshold jump use the detached spike, so the
    voltage after a spike has no gradient and the threshold none at all; the feed-forward
    step (as Norse's) keeps both."""
    w_in = torch.full((1, 1), 20.0, requires_grad=True)
    s = lsnn_initial_state((), 1)
    for _ in range(2):  # the input reaches v on the second step, which spikes
        z, s = lsnn_step(torch.ones(1), s, w_in, torch.zeros(1, 1))
    assert z.item() == 1.0 and z.requires_grad
    assert not s.b.requires_grad
    (grad_v,) = torch.autograd.grad(s.v.sum(), w_in)
    assert grad_v.item() == 0.0
    x = torch.full((1,), 20.0, requires_grad=True)
    s = lsnn_feed_forward_initial_state(x)
    for _ in range(2):
        z, s = lsnn_feed_forward_step(x, s)
    assert z.item() == 1.0
    (grad_v,) = torch.autograd.grad(s.v.sum(), x, retain_graph=True)
    (grad_b,) = torch.autograd.grad(s.b.sum(), x)
    assert grad_v.item() != 0.0 and grad_b.item() != 0.0


def test_state_none_starts_from_rest_and_bad_input_is_explained():
    cell = LSNNRecurrentCell(3, 4)
    with pytest.raises(ValueError, match="input_size=3"):
        cell(torch.ones(2, 5))
    with pytest.raises(TypeError, match="torch.Tensor"):
        LSNNCell()([1.0, 2.0])
    with pytest.raises(ValueError, match="time-first"):
        LSNNRecurrent(3, 4)(torch.ones(3))
    z, s = LSNN()(torch.zeros(5, 2))
    assert torch.equal(s.b, torch.ones(2)) and torch.equal(z, torch.zeros(5, 2))


def test_learnable_adaptation_parameters_train():
    p = LSNNParameters(beta=torch.nn.Parameter(torch.tensor(1.0)),
                       tau_adapt_inv=torch.nn.Parameter(torch.tensor(5.0)))
    layer = LSNNRecurrent(2, 3, p)
    names = {n for n, _ in layer.named_parameters()}
    assert {"p_beta", "p_tau_adapt_inv", "input_weights", "recurrent_weights"} <= names
    with torch.no_grad():
        layer.input_weights.fill_(20.0)
    z, s = layer(torch.ones(50, 1, 2))
    s.b.sum().backward()
    assert layer.p_beta.grad is not None and layer.p_beta.grad != 0


@SETTINGS
@given(seed=st.integers(0, 2**31 - 1), batch=st.integers(1, 4), n_in=st.integers(1, 6),
       hidden=st.integers(1, 10), steps=st.integers(1, 15), p=any_parameters,
       dt=st.floats(1e-4, 3e-3), dtype=st.sampled_from([torch.float32, torch.float64]),
       scale=st.floats(0.5, 30.0))
def test_ada_lif_step_equals_norse(seed, batch, n_in, hidden, steps, p, dt, dtype, scale):
    g = torch.Generator().manual_seed(seed)
    xs = torch.rand(steps, batch, n_in, generator=g, dtype=dtype)
    w_in = torch.randn(hidden, n_in, generator=g, dtype=dtype) * scale
    w_rec = torch.randn(hidden, hidden, generator=g, dtype=dtype) * scale
    z0 = (torch.rand(batch, hidden, generator=g, dtype=dtype) < 0.3).to(dtype)
    v0, b0 = (torch.rand(batch, hidden, generator=g, dtype=dtype) for _ in range(2))
    i0 = torch.randn(batch, hidden, generator=g, dtype=dtype) * scale

    def run(step, state_type, params):
        leaves = [t.clone().requires_grad_() for t in (xs, w_in, w_rec, v0, i0, b0)]
        x, wi, wr, v, i, b = leaves
        state, spikes = state_type(z0, v, i, b), []
        for x_t in x.unbind(0):
            z, state = step(x_t, state, wi, wr, params, dt)
            spikes.append(z)
        z = torch.stack(spikes)
        loss = z.sum() + state.v.sum() * 0.5 + state.i.sum() * 0.25 + state.b.sum() * 0.125
        return (z, *state), torch.autograd.grad(loss, leaves)

    ours, our_grads = run(ada_lif_step, LSNNState, p)
    theirs, their_grads = run(norse_lsnn.ada_lif_step, norse_lsnn.LSNNState, norse_parameters(p))
    for a, b in zip(ours + our_grads, theirs + their_grads):
        assert torch.equal(a, b)
