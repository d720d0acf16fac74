"""Fluctuation-driven initialisation (``snnlearn.init``): an initialised layer's membrane
statistics hit the target.

Each repetition draws a fresh weight matrix with ``fluctuation_driven_init_`` and fresh
Bernoulli input spikes, and measures the free membrane (the LIF reference with the threshold
removed) of ``H`` neurons over ``B`` independent input trials, after a warm-up: its mean over
neurons, trials and steps, and its variance across the trials at each step (an unbiased
estimate of the stationary variance), averaged over neurons and steps. The tolerance is the
sampling error of those estimates, measured across independent repetitions (weights and
inputs both redrawn): each must lie within 4.5 standard errors of the target. A naive
initialisation (PyTorch's default for ``nn.Linear``) misses the same target by far more,
so the test can fail.
"""

from __future__ import annotations

import math

import pytest
import torch

from snnlearn import LIFParameters
from snnlearn.functional import lif_feed_forward_step, lif_initial_state
from snnlearn.init import fluctuation_driven_init_, fluctuation_driven_parameters, membrane_kernel

N_IN, HIDDEN, TRIALS, WARMUP, STEPS, REPEATS = 120, 40, 24, 150, 200, 12


def repeated(make_weight, rate, p, dt, seed):
    """The membrane statistics of REPEATS independent repetitions (all run at once), as
    (estimates, standard errors): (mean of v, mean over neurons and steps of the
    across-trial variance of v)."""
    g = torch.Generator().manual_seed(seed)
    weights = torch.stack([make_weight(g) for _ in range(REPEATS)])  # (R, HIDDEN, N_IN)
    spikes = (torch.rand(WARMUP + STEPS, REPEATS, TRIALS, N_IN, generator=g) < rate * dt)
    # float32 for the (large) product; the statistics need far less than its precision
    currents = (spikes.float() @ weights.float().transpose(1, 2)).double()  # (T, R, B, H)
    free = p._replace(v_th=math.inf, method="heaviside")
    state = lif_initial_state(currents[0], free)
    vs = []
    for t, x in enumerate(currents.unbind(0)):
        _, state = lif_feed_forward_step(x, state, free, dt)
        if t >= WARMUP:
            vs.append(state.v)
    v = torch.stack(vs)  # (STEPS, R, TRIALS, HIDDEN)
    stats = torch.stack([v.mean(dim=(0, 2, 3)), v.var(dim=2, unbiased=True).mean(dim=(0, 2))],
                        dim=1)  # (R, 2)
    return stats.mean(0), stats.std(0) / REPEATS**0.5


# (the first case in `make test-fast`, all three in `make test`)
@pytest.mark.parametrize("rate, xi, mu_u, p", [
    (20.0, 3.0, None, LIFParameters()),
    pytest.param(50.0, 2.0, 0.4, LIFParameters(), marks=pytest.mark.slow),
    pytest.param(10.0, 2.5, -0.1, LIFParameters(tau_mem_inv=50.0, tau_syn_inv=100.0, v_leak=-0.2),
                 marks=pytest.mark.slow),
])
def test_membrane_statistics_hit_the_target(rate, xi, mu_u, p):
    dt = 0.001

    def make_weight(g):
        w = torch.empty(HIDDEN, N_IN, dtype=torch.float64)
        fluctuation_driven_init_(w, rate, p, dt, xi=xi, mu_u=mu_u, generator=g)
        return w

    target = fluctuation_driven_parameters(N_IN, rate, p, dt, xi=xi, mu_u=mu_u)
    assert target.sigma_u == pytest.approx((p.v_th - target.mu_u) / xi)
    (mean, var), (se_mean, se_var) = repeated(make_weight, rate, p, dt, seed=1)
    assert se_var < 0.05 * target.sigma_u**2, "too few samples for a sharp test"
    assert abs(mean - target.mu_u) < 4.5 * se_mean + 1e-12, (mean, target.mu_u, se_mean)
    assert abs(var - target.sigma_u**2) < 4.5 * se_var, (var, target.sigma_u**2, se_var)


def test_a_naive_initialisation_misses_the_target():
    rate, p, dt = 20.0, LIFParameters(), 0.001
    target = fluctuation_driven_parameters(N_IN, rate, p, dt, xi=3.0)

    def make_weight(g):  # nn.Linear's default: U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        bound = 1 / N_IN**0.5
        return (torch.rand(HIDDEN, N_IN, generator=g, dtype=torch.float64) * 2 - 1) * bound

    (_, var), (_, se_var) = repeated(make_weight, rate, p, dt, seed=2)
    assert abs(var - target.sigma_u**2) > 20 * se_var


def test_with_the_threshold_the_neurons_fire_rarely_but_do_fire():
    """The real neuron (threshold and reset) initialised at xi = 2: a sparse, non-silent layer."""
    rate, p, dt = 20.0, LIFParameters(), 0.001
    g = torch.Generator().manual_seed(3)
    w = torch.empty(100, N_IN)
    fluctuation_driven_init_(w, rate, p, dt, xi=2.0, generator=g)
    spikes = (torch.rand(1000, 8, N_IN, generator=g) < rate * dt).float()
    from snnlearn import LIF
    z, _ = LIF(p, dt)(spikes @ w.T)
    fraction = float(z.mean())
    assert 0.001 < fraction < 0.05, fraction


def test_kernel_sums_match_the_closed_form():
    """The kernel is the closed form of the Euler steps, and K1 = sum_t k[t] = 1 / (dt *
    tau_syn_inv): the membrane's steady response to a unit current is the current itself."""
    for p in (LIFParameters(), LIFParameters(tau_syn_inv=100.0, tau_mem_inv=40.0)):
        dt = 0.001
        tau_mem_inv, tau_syn_inv = float(p.tau_mem_inv), float(p.tau_syn_inv)  # in double
        a, b = 1 - dt * tau_mem_inv, 1 - dt * tau_syn_inv
        k = membrane_kernel(p, dt)
        # v[t] = a v[t-1] + dt tau_mem_inv i[t], i[t] = b^t (input at t=0): a geometric sum,
        # k[t] = dt tau_mem_inv sum_s a^(t-s) b^s = dt tau_mem_inv (a^(t+1) - b^(t+1)) / (a - b)
        t = torch.arange(len(k), dtype=torch.float64)
        expected = dt * tau_mem_inv * (a ** (t + 1) - b ** (t + 1)) / (a - b)
        torch.testing.assert_close(k, expected, rtol=1e-9, atol=1e-15)
        assert float(k.sum()) == pytest.approx(1 / (dt * tau_syn_inv), rel=1e-9)


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="fan_in must be a positive int"):
        fluctuation_driven_parameters(0, 10.0)
    with pytest.raises(ValueError, match="spike probability"):
        fluctuation_driven_parameters(10, 2000.0)
    with pytest.raises(ValueError, match="give the input statistics"):
        fluctuation_driven_parameters(10)
    with pytest.raises(ValueError, match="either rate"):
        fluctuation_driven_parameters(10, 10.0, input_mean=0.1, input_var=0.1)
    with pytest.raises(ValueError, match="mu_u < v_th"):
        fluctuation_driven_parameters(10, 10.0, mu_u=1.5)
    with pytest.raises(ValueError, match="lower mu_u or xi"):
        fluctuation_driven_parameters(10, 10.0, mu_u=0.9, xi=0.5)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        fluctuation_driven_init_(torch.zeros(3), 10.0)
