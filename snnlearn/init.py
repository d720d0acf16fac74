r"""Fluctuation-driven initialisation (Rossbroich, Gygax & Zenke 2022).

Rossbroich, Gygax & Zenke, "Fluctuation-driven initialization for spiking neural network
training", Neuromorphic Computing and Engineering 2, 044016 (2022). Instead of guessing an
input scale, choose the mean and spread of a layer's weights so that, for the input
statistics the layer will see, its neurons' membrane potential has a chosen mean ``mu_u``
and fluctuates with a standard deviation ``sigma_u`` that puts the threshold ``xi``
standard deviations above the mean:

.. math::  v_{th} - \mu_U = \xi\, \sigma_U .

The membrane below threshold is a linear filter of the input current: an input ``x`` at
step ``s`` moves ``v`` at step ``t >= s`` by ``k[t - s] * x`` (the kernel
:func:`snnlearn.init.membrane_kernel`, computed by running the LIF reference itself on a unit
impulse). With ``N`` inputs per neuron
whose values per step are independent, of mean ``m`` and variance ``s^2`` (spikes with
probability ``q = rate * dt`` per step: ``m = q``, ``s^2 = q (1 - q)``), and weights drawn
from :math:`\mathcal N(\mu_w, \sigma_w^2)`, a neuron's membrane has, over time,

.. math::
    E[v] = v_{leak} + N \mu_w\, m\, K_1,\qquad
    E[\mathrm{Var}\,v] = N (\sigma_w^2 + \mu_w^2)\, s^2\, K_2,\qquad
    K_1 = \sum_t k[t],\ K_2 = \sum_t k[t]^2,

(the expectation over the weight draw), so

.. math::
    \mu_w = \frac{\mu_U - v_{leak}}{N\, m\, K_1},\qquad
    \sigma_w^2 = \frac{\sigma_U^2}{N\, s^2\, K_2} - \mu_w^2 .

These are the paper's equations with its continuous-time kernel integrals replaced by the
sums of the discrete kernel this library integrates (exact for the Euler steps used here).
They describe the free membrane (no reset); with the threshold several ``sigma_u`` away,
the neurons rarely spike and the reset changes little. For a hidden layer, ``rate`` is the
firing rate expected of the layer before it.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional, Tuple

import torch

from .functional.lif import LIFParameters, lif_feed_forward_step, lif_initial_state

__all__ = ["membrane_kernel", "FluctuationTarget", "fluctuation_driven_parameters",
           "fluctuation_driven_init_"]


def membrane_kernel(p: LIFParameters = LIFParameters(), dt: float = 0.001,
                    tolerance: float = 1e-12) -> torch.Tensor:
    """The free membrane's response ``k[t]`` to a unit input current at step 0 (float64),
    run through :func:`snnlearn.functional.lif_feed_forward_step` with the threshold removed,
    until it has decayed below ``tolerance`` times its peak.

    >>> k = membrane_kernel()
    >>> round(float(k[0]), 3), round(float(k.sum()), 3)  # v jumps by dt * tau_mem_inv first
    (0.1, 5.0)
    """
    free = LIFParameters(tau_syn_inv=float(p.tau_syn_inv), tau_mem_inv=float(p.tau_mem_inv),
                         v_leak=0.0, v_th=math.inf, v_reset=0.0, method="heaviside")
    x = torch.ones(1, dtype=torch.float64)
    state = lif_initial_state(x, free)
    values, peak = [], 0.0
    for step in range(1_000_000):
        _, state = lif_feed_forward_step(x if step == 0 else x * 0, state, free, dt)
        value = float(state.v)
        values.append(value)
        peak = max(peak, abs(value))
        if step > 0 and abs(value) < tolerance * peak and abs(float(state.i)) * dt * float(
                p.tau_mem_inv) < tolerance * peak:
            break
    else:  # pragma: no cover - only for absurd time constants
        raise ValueError("the membrane kernel did not decay within 1e6 steps; check tau_*_inv")
    return torch.tensor(values, dtype=torch.float64)


class FluctuationTarget(NamedTuple):
    """The weight statistics chosen and the membrane statistics they aim at.

    Attributes:
        weight_mean, weight_std: mean and standard deviation to draw the weights from.
        mu_u, sigma_u: target mean and standard deviation of the membrane potential.
    """

    weight_mean: float
    weight_std: float
    mu_u: float
    sigma_u: float


def fluctuation_driven_parameters(
    fan_in: int, rate: Optional[float] = None, p: LIFParameters = LIFParameters(),
    dt: float = 0.001, *, xi: float = 3.0, mu_u: Optional[float] = None,
    input_mean: Optional[float] = None, input_var: Optional[float] = None,
) -> FluctuationTarget:
    r"""Weight mean and standard deviation for a layer of LIF neurons with ``fan_in`` inputs.

    .. math::
        \sigma_U = (v_{th} - \mu_U) / \xi,\quad
        \mu_w = \frac{\mu_U - v_{leak}}{N m K_1},\quad
        \sigma_w = \sqrt{\frac{\sigma_U^2}{N s^2 K_2} - \mu_w^2}

    (see the module docstring). The inputs are spikes firing at ``rate`` Hz (``m = q``,
    ``s^2 = q (1 - q)``, ``q = rate * dt``), or, for other inputs, give their per-step
    ``input_mean`` and ``input_var`` instead. ``mu_u`` defaults to ``v_leak`` (zero-mean
    weights: a purely fluctuation-driven layer); ``xi`` is the distance from the mean to the
    threshold in standard deviations (3: a Gaussian membrane exceeds it 0.13 % of the time).

    >>> target = fluctuation_driven_parameters(100, rate=20.0)
    >>> target.weight_mean, round(target.weight_std, 4), round(target.sigma_u, 4)
    (0.0, 0.2512, 0.3333)
    """
    if not isinstance(fan_in, int) or isinstance(fan_in, bool) or fan_in < 1:
        raise ValueError(f"fan_in must be a positive int, got {fan_in!r}")
    if rate is not None:
        if input_mean is not None or input_var is not None:
            raise ValueError("give either rate (spiking inputs) or input_mean and input_var")
        q = rate * dt
        if not 0 < q <= 1:
            raise ValueError(f"rate * dt must be a spike probability in (0, 1], got {q!r} "
                             f"(rate={rate!r} Hz, dt={dt!r} s)")
        input_mean, input_var = q, q * (1 - q)
    if input_mean is None or input_var is None:
        raise ValueError("give the input statistics: rate (Hz) for spikes, or input_mean and "
                         "input_var per step")
    if input_var <= 0:
        raise ValueError(f"input_var must be positive (inputs must fluctuate), got {input_var!r}")
    v_leak, v_th = float(p.v_leak), float(p.v_th)
    mu_u = v_leak if mu_u is None else float(mu_u)
    if not xi > 0 or not mu_u < v_th:
        raise ValueError(f"the target needs xi > 0 and mu_u < v_th; got xi={xi!r}, "
                         f"mu_u={mu_u!r}, v_th={v_th!r}")
    sigma_u = (v_th - mu_u) / xi
    kernel = membrane_kernel(p, dt)
    k1, k2 = float(kernel.sum()), float(kernel.pow(2).sum())
    if mu_u != v_leak and input_mean == 0:
        raise ValueError("inputs of mean 0 cannot move the mean membrane: use mu_u=v_leak")
    weight_mean = 0.0 if mu_u == v_leak else (mu_u - v_leak) / (fan_in * input_mean * k1)
    variance = sigma_u**2 / (fan_in * input_var * k2) - weight_mean**2
    if variance < 0:
        raise ValueError(
            f"the target mean mu_u={mu_u} already brings fluctuations larger than sigma_u="
            f"{sigma_u:.4g} by itself; lower mu_u or xi")
    return FluctuationTarget(weight_mean, math.sqrt(variance), mu_u, sigma_u)


def fluctuation_driven_init_(
    weight: torch.Tensor, rate: Optional[float] = None, p: LIFParameters = LIFParameters(),
    dt: float = 0.001, *, xi: float = 3.0, mu_u: Optional[float] = None,
    input_mean: Optional[float] = None, input_var: Optional[float] = None,
    generator: Optional[torch.Generator] = None,
) -> FluctuationTarget:
    """Fill ``weight`` ``(out, in, ...)`` in place (as ``torch.nn.init`` functions do) from
    the normal distribution of :func:`snnlearn.init.fluctuation_driven_parameters`, with
    ``fan_in`` the number of inputs per output (``in`` times the kernel size for a
    convolution). Returns the :class:`snnlearn.init.FluctuationTarget`.

    >>> layer = torch.nn.Linear(200, 50, bias=False)
    >>> target = fluctuation_driven_init_(layer.weight, rate=10.0, xi=2.0)
    >>> round(target.sigma_u, 3)
    0.5
    """
    if not isinstance(weight, torch.Tensor) or weight.dim() < 2:
        raise ValueError("weight must be a tensor (out, in, ...) of at least 2 dimensions")
    fan_in = int(weight[0].numel())
    target = fluctuation_driven_parameters(fan_in, rate, p, dt, xi=xi, mu_u=mu_u,
                                           input_mean=input_mean, input_var=input_var)
    with torch.no_grad():
        weight.normal_(target.weight_mean, target.weight_std, generator=generator)
    return target
