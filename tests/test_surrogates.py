"""The surrogate gradients of ``snnlearn.functional.surrogates``.

Each surrogate is checked three ways: its forward pass is the Heaviside step; its backward
pass is its formula (written out again here, independently, in float64) times the incoming
gradient; and its peak, half width and area are what the module's table says. Those Norse
1.1.0 has (``super`` at ``alpha = 1``, where Norse's SuperSpike agrees with the paper's,
``triangle``, ``tanh``, ``circ``, ``heavi_erfc``) are compared with Norse's to the bit.
"""

from __future__ import annotations

import math

import pytest
import torch

from snnlearn.functional import heaviside
from snnlearn.functional.surrogates import SURROGATES, surrogate_derivative

FORMULAS = {
    "super": lambda x, a: 1 / (a * x.abs() + 1) ** 2,
    "fast_sigmoid": lambda x, a: 1 / (a * x.abs() + 1) ** 2,
    "arctan": lambda x, a: (a / 2) / (1 + (math.pi * a * x / 2) ** 2),
    "triangle": lambda x, a: a * torch.clamp(1 - x.abs(), min=0),
    "tanh": lambda x, a: 1 / torch.cosh(a * x) ** 2,
    "circ": lambda x, a: a**3 / (a**2 + x**2) ** 1.5,
    "heavi_erfc": lambda x, a: 2 / math.sqrt(math.pi) * torch.exp(-(a * x) ** 2),
}

# name: (peak, half width, area) as functions of alpha, as in the module's table
TABLE = {
    "super": (lambda a: 1, lambda a: (math.sqrt(2) - 1) / a, lambda a: 2 / a),
    "fast_sigmoid": (lambda a: 1, lambda a: (math.sqrt(2) - 1) / a, lambda a: 2 / a),
    "arctan": (lambda a: a / 2, lambda a: 2 / (math.pi * a), lambda a: 1),
    "triangle": (lambda a: a, lambda a: 0.5, lambda a: a),
    "tanh": (lambda a: 1, lambda a: math.acosh(math.sqrt(2)) / a, lambda a: 2 / a),
    "circ": (lambda a: 1, lambda a: a * math.sqrt(2 ** (2 / 3) - 1), lambda a: 2 * a),
    "heavi_erfc": (lambda a: 2 / math.sqrt(math.pi), lambda a: math.sqrt(math.log(2)) / a,
                   lambda a: 2 / a),
}

ALPHAS = [0.3, 1.0, 2.5, 10.0, 100.0]


def test_every_surrogate_is_tested():
    assert set(SURROGATES) == set(FORMULAS) == set(TABLE)


@pytest.mark.parametrize("name", sorted(SURROGATES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_forward_is_the_heaviside_step(name, dtype):
    x = torch.tensor([-2.0, -1e-6, 0.0, 1e-6, 0.5, 3.0], dtype=dtype)
    z = SURROGATES[name](x, 1.0)
    assert z.dtype == dtype
    assert torch.equal(z, heaviside(x))
    assert torch.equal(z, torch.tensor([0, 0, 0, 1, 1, 1], dtype=dtype))


@pytest.mark.parametrize("name", sorted(SURROGATES))
@pytest.mark.parametrize("alpha", ALPHAS)
def test_backward_is_the_formula_times_the_incoming_gradient(name, alpha):
    g = torch.Generator().manual_seed(0)
    x = torch.cat([torch.linspace(-3, 3, 601, dtype=torch.float64),
                   torch.randn(200, generator=g, dtype=torch.float64) * 0.05])
    upstream = torch.randn(x.shape, generator=g, dtype=torch.float64)
    x.requires_grad_()
    (grad,) = torch.autograd.grad(SURROGATES[name](x, alpha), x, upstream)
    expected = upstream * FORMULAS[name](x.detach(), alpha)
    torch.testing.assert_close(grad, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(SURROGATES))
@pytest.mark.parametrize("alpha", [  # (the area's grid is large: alpha = 2 in make test-fast)
    pytest.param(0.5, marks=pytest.mark.slow), 2.0, pytest.param(8.0, marks=pytest.mark.slow)])
def test_peak_half_width_and_area_are_as_documented(name, alpha):
    peak, half_width, area = (f(alpha) for f in TABLE[name])
    assert float(surrogate_derivative(name, torch.zeros(1, dtype=torch.float64), alpha)) == \
        pytest.approx(peak, rel=1e-12)
    at_half = surrogate_derivative(name, torch.tensor([half_width], dtype=torch.float64), alpha)
    assert float(at_half) == pytest.approx(peak / 2, rel=1e-9)
    # the area: a fine grid on [-L, L] plus the tails' integral of the 1/x^2 and 1/x^3 tails
    length = 400.0 / min(alpha, 1.0)
    x = torch.linspace(-length, length, 2_000_001, dtype=torch.float64)
    numeric = float(torch.trapezoid(surrogate_derivative(name, x, alpha), x))
    assert numeric == pytest.approx(area, rel=3e-3)


def test_surrogates_are_symmetric_and_peak_at_zero():
    x = torch.linspace(0.01, 4, 50, dtype=torch.float64)
    for name in SURROGATES:
        right = surrogate_derivative(name, x, 1.5)
        left = surrogate_derivative(name, -x, 1.5)
        assert torch.equal(left, right), name
        assert (right <= surrogate_derivative(name, torch.zeros(1, dtype=torch.float64), 1.5)).all()


def test_unknown_surrogate_is_explained():
    with pytest.raises(ValueError, match="unknown surrogate 'sigmoidal'.*arctan"):
        surrogate_derivative("sigmoidal", torch.zeros(1), 1.0)


def test_freed_graph_error_names_the_stale_state():
    x = torch.ones(2, requires_grad=True)
    z = SURROGATES["arctan"](x, 2.0)
    y = z.sum()
    y.backward()
    with pytest.raises(RuntimeError, match="earlier batch"):
        y.backward()


# ---- against Norse 1.1.0 -------------------------------------------------------------------

@pytest.mark.parametrize("name", ["super", "triangle", "tanh", "circ", "heavi_erfc"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_equals_norse(name, dtype):
    norse_threshold = pytest.importorskip(
        "norse.torch.functional.threshold",
        reason="Norse 1.1.0 is not installed (make install: requirements-peers.txt)")
    g = torch.Generator().manual_seed(1)
    x = torch.randn(500, generator=g, dtype=dtype) * 2
    upstream = torch.randn(500, generator=g, dtype=dtype)
    # Norse 1.1.0's SuperSpike ignores alpha (uses 1): compare SuperSpike at alpha = 1 only
    for alpha in ([1.0] if name == "super" else [0.3, 1.0, 7.0]):
        results = []
        for function in (SURROGATES[name],
                         lambda x_, a: norse_threshold.threshold(x_, name, a)):
            leaf = x.clone().requires_grad_()
            z = function(leaf, alpha)
            (grad,) = torch.autograd.grad(z, leaf, upstream)
            results.append((z, grad))
        (z_ours, g_ours), (z_norse, g_norse) = results
        assert torch.equal(z_ours, z_norse), f"{name}: spikes differ from Norse's"
        if name == "heavi_erfc":  # Norse divides by a float32 sqrt(pi): 3e-8 relative
            torch.testing.assert_close(g_ours, g_norse, rtol=1e-7, atol=0)
        else:
            assert torch.equal(g_ours, g_norse), f"{name} (alpha={alpha}): gradient differs"


@pytest.mark.parametrize("method", ["fast_sigmoid", "arctan", "triangle"])
def test_lif_trains_through_every_surrogate_by_method(method):
    """``LIFParameters(method=...)`` selects the shape: the layer's input gradient is the
    chain rule through that surrogate's derivative (here one step from rest, one neuron)."""
    import snnlearn
    from snnlearn.functional import LIFParameters
    from snnlearn.functional.surrogates import surrogate_derivative

    x = torch.tensor([[12.0], [0.0]], requires_grad=True)
    p = LIFParameters(method=method, alpha=3.0)
    z, _ = snnlearn.LIF(p)(x)
    z[0].sum().backward()
    v1 = 0.001 * 100.0 * 12.0  # v after one step from rest with i1 = x: 1.2, above v_th = 1
    expected = surrogate_derivative(method, torch.tensor(v1 - 1.0), 3.0)
    assert expected > 0
    assert snnlearn.last_path() == "reference"
    assert torch.allclose(x.grad[0], 0.1 * expected)


def test_unknown_method_lists_every_surrogate():
    from snnlearn.functional.threshold import threshold

    with pytest.raises(ValueError, match="arctan"):
        threshold(torch.zeros(1), "no_such_surrogate", 1.0)
