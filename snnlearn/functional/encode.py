"""Encoders: turn real values into spike trains of shape ``(T, *input.shape)``."""

from __future__ import annotations

import operator
from typing import Optional

import torch

from .lif import LIFParameters, integrate_membrane
from .threshold import threshold

__all__ = [
    "constant_current_lif_encode",
    "lif_current_encoder",
    "poisson_encode_step",
    "signed_poisson_encode",
    "signed_poisson_encode_step",
    "population_encode",
    "population_decode",
    "gaussian_rbf",
    "euclidean_distance",
    "delta_encode",
    "poisson_encode",
    "spike_latency_encode",
    "spike_latency_lif_encode",
]


def _check_seq_length(seq_length) -> int:
    """``seq_length`` as an ``int`` >= 0, or a clear error naming it."""
    if isinstance(seq_length, bool):
        raise TypeError(f"seq_length must be an int, got {seq_length!r}")
    try:
        seq_length = operator.index(seq_length)
    except TypeError:
        raise TypeError(
            f"seq_length must be an int, got {type(seq_length).__name__} {seq_length!r}") from None
    if seq_length < 0:
        raise ValueError(f"seq_length must be >= 0, got {seq_length}")
    return seq_length


def constant_current_lif_encode(
    input_current: torch.Tensor,
    seq_length: int,
    p: LIFParameters = LIFParameters(),
    dt: float = 0.001,
) -> torch.Tensor:
    """Feed a constant current into LIF membranes (no synapse) and record the spikes.

    Each step: ``v = v + dt * tau_mem_inv * ((v_leak - v) + input_current)`` (the LIF's
    ``snnlearn.functional.lif.integrate_membrane`` with the current as ``i1``; no synapse),
    ``z = H(v - v_th)``, ``v = v - z * (v - v_reset)``. Larger currents spike more often
    (rate coding). The reset is written as Norse's ``lif_current_encoder`` writes it, not as
    ``snnlearn.functional.lif.reset``: both give ``v_reset`` after a spike, but
    ``v - (v - v_reset)`` can differ from ``v_reset`` in the last bit, and this encoder
    matches Norse's bit for bit.

    >>> constant_current_lif_encode(torch.tensor([0.0, 2.0]), 20).sum(0)
    tensor([0., 2.])
    """
    seq_length = _check_seq_length(seq_length)
    v = torch.zeros_like(input_current)
    spikes = []
    for _ in range(seq_length):
        z, v = lif_current_encoder(input_current, v, p, dt)
        spikes.append(z)
    if not spikes:
        return input_current.new_zeros((0, *input_current.shape))
    return torch.stack(spikes)


def poisson_encode(
    input_values: torch.Tensor,
    seq_length: int,
    f_max: float = 100.0,
    dt: float = 0.001,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Poisson spike trains: at each step a neuron spikes with probability ``f_max * dt * x``.

    ``input_values`` should lie in ``[0, 1]``; the mean rate is ``f_max * x`` Hz.

    >>> g = torch.Generator().manual_seed(0)
    >>> poisson_encode(torch.tensor([0.0, 1.0]), 1000, generator=g).mean(0)
    tensor([0.0000, 0.1090])
    """
    seq_length = _check_seq_length(seq_length)
    noise = torch.rand(
        seq_length, *input_values.shape, device=input_values.device, generator=generator
    )
    return (noise < f_max * dt * input_values).to(
        input_values.dtype if input_values.is_floating_point() else torch.float32
    )


def _check_tensor(value, name: str, min_dim: int = 0) -> None:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.dim() < min_dim:
        raise ValueError(
            f"{name} must have at least {min_dim} dimension(s) (time first), "
            f"got shape {tuple(value.shape)}")


def spike_latency_encode(input_spikes: torch.Tensor) -> torch.Tensor:
    """Keep only the first spike of every neuron in a time-first spike train.

    With ``n_t = sum_{s <= t} z_s`` the number of spikes up to step ``t``, the output is
    ``z_t * [n_t == 1]``: each neuron keeps its first spike and drops all later ones, so the
    information left is *when* it first spiked (a time-to-first-spike or latency code, Van
    Rullen & Thorpe 2001). Same as Norse's ``spike_latency_encode``; gradients pass to the
    kept spikes.

    >>> spike_latency_encode(torch.tensor([[0., 1., 1.], [1., 1., 1.], [1., 0., 1.]]))
    tensor([[0., 1., 1.],
            [1., 0., 0.],
            [0., 0., 0.]])
    """
    _check_tensor(input_spikes, "input_spikes", min_dim=1)
    spiked = (input_spikes != 0).to(torch.int64)
    first = (spiked.cumsum(0) == 1) & (spiked == 1)
    return input_spikes * first.to(input_spikes.dtype)


def spike_latency_lif_encode(
    input_current: torch.Tensor,
    seq_length: int,
    p: LIFParameters = LIFParameters(),
    dt: float = 0.001,
) -> torch.Tensor:
    """Latency code: a LIF membrane driven by a constant current, keeping only its first spike.

    The membrane follows :func:`constant_current_lif_encode` (``v`` starts at 0,
    ``v <- v + dt * tau_mem_inv * ((v_leak - v) + I)``, spike when ``v > v_th``), and
    :func:`spike_latency_encode` removes every spike after the first, as if the neuron had an
    infinite refractory period. A larger current reaches the threshold sooner; with the
    defaults (``v_leak = 0``, ``v_th = 1``) a current ``I <= 1`` never spikes, and for ``I > 1``
    the first spike comes at the step index ``k`` where ``I * (1 - (1 - dt * tau_mem_inv)^(k+1))``
    first exceeds 1. Same as Norse's ``spike_latency_lif_encode``.

    >>> z = spike_latency_lif_encode(torch.tensor([0.5, 1.5, 3.0, 10.0]), 20)
    >>> z.sum(0)                       # at most one spike each
    tensor([0., 1., 1., 1.])
    >>> z.argmax(0)[1:]                # stronger current, earlier spike
    tensor([10,  3,  1])
    """
    _check_tensor(input_current, "input_current")
    return spike_latency_encode(constant_current_lif_encode(input_current, seq_length, p, dt))


def delta_encode(
    input_sequence: torch.Tensor,
    threshold: float,
    reference: Optional[torch.Tensor] = None,
) -> torch.Tensor:
    """Delta (send-on-change) code: an ON or OFF event when the input has changed by more
    than ``threshold`` since the last event, as the pixels of an event camera do.

    For a time-first ``input_sequence`` ``x`` of shape ``(T, *shape)`` and a reference ``r``
    (the value the events so far account for; ``r = x[0]`` unless ``reference`` is given)::

        on_t  = H(x_t - r - threshold)       # rose by more than threshold
        off_t = H(r - x_t - threshold)       # fell by more than threshold
        r     = r + threshold * (on_t - off_t)

    Returns events of shape ``(T, *shape, 2)``: ``[..., 0]`` the ON and ``[..., 1]`` the OFF
    channel, each 0 or 1 (at most one event per element and step). Summing the events gives
    the reconstruction ``r_t = r + threshold * (ON_t - OFF_t)`` (cumulative counts), and if the
    input moves by at most ``threshold`` per step, ``|x_t - r_t| <= threshold`` at every step.
    A faster change is sent as one event per step until ``r`` catches up. Move the polarity
    axis where a layer wants it with ``movedim`` (``events.movedim(-1, 2)`` for ``Conv2d`` on
    ``(T, B, H, W)`` input). Norse has no delta encoder; snnTorch's ``spikegen.delta``
    compares consecutive samples instead of the last event.

    >>> x = torch.tensor([0.0, 0.3, 0.6, 0.6, 0.2, -0.1])
    >>> events = delta_encode(x, threshold=0.25)
    >>> events[:, 0], events[:, 1]     # ON, OFF
    (tensor([0., 1., 1., 0., 0., 0.]), tensor([0., 0., 0., 0., 1., 1.]))
    >>> 0.25 * (events[:, 0] - events[:, 1]).cumsum(0)   # reconstruction
    tensor([0.0000, 0.2500, 0.5000, 0.5000, 0.2500, 0.0000])
    """
    _check_tensor(input_sequence, "input_sequence", min_dim=1)
    if not input_sequence.is_floating_point():
        raise TypeError(
            f"input_sequence must be a floating-point tensor, got {input_sequence.dtype}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
        raise ValueError(f"threshold must be a positive number, got {threshold!r}")
    if reference is None:
        r = input_sequence[0] if len(input_sequence) else input_sequence.new_zeros(
            input_sequence.shape[1:])
    else:
        _check_tensor(reference, "reference")
        if reference.shape != input_sequence.shape[1:]:
            raise ValueError(
                f"reference must have the shape of one time step of input_sequence, "
                f"{tuple(input_sequence.shape[1:])}, got {tuple(reference.shape)}")
        r = reference.to(input_sequence.dtype)
    events = []
    for x in input_sequence.unbind(0):
        on = (x - r > threshold).to(x.dtype)
        off = (r - x > threshold).to(x.dtype)
        r = r + threshold * (on - off)
        events.append(torch.stack((on, off), dim=-1))
    if not events:
        return input_sequence.new_zeros((0, *input_sequence.shape[1:], 2))
    return torch.stack(events)


def lif_current_encoder(
    input_current: torch.Tensor,
    voltage: torch.Tensor,
    p: LIFParameters = LIFParameters(),
    dt: float = 0.001,
):
    """One step of a LIF membrane driven directly by a current (no synapse), Norse's
    ``lif_current_encoder``; :func:`constant_current_lif_encode` repeats it.

    ``v1 = v + dt * tau_mem_inv * ((v_leak - v) + x)``, ``z = H(v1 - v_th)``,
    ``v2 = v1 - z * (v1 - v_reset)``. Returns ``(z, v2)``.

    >>> z, v = lif_current_encoder(torch.ones(1), torch.zeros(1))
    >>> z, v
    (tensor([0.]), tensor([0.1000]))
    """
    voltage = integrate_membrane(voltage, input_current, p, dt)
    z = threshold(voltage - p.v_th, p.method, p.alpha)
    return z, voltage - z * (voltage - p.v_reset)


def poisson_encode_step(
    input_values: torch.Tensor,
    f_max: float = 1000.0,
    dt: float = 0.001,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """One time step of :func:`poisson_encode` (Norse's ``poisson_encode_step``; note its
    default ``f_max = 1000``): spikes shaped like ``input_values``.

    >>> poisson_encode_step(torch.tensor([0.0, 1.0])).shape
    torch.Size([2])
    """
    return poisson_encode(input_values, 1, f_max, dt, generator)[0]


def signed_poisson_encode(
    input_values: torch.Tensor,
    seq_length: int,
    f_max: float = 100.0,
    dt: float = 0.001,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """Poisson spike trains of ``|x|`` carrying the sign of ``x`` (values in ``{-1, 0, 1}``),
    Norse's ``signed_poisson_encode``.

    >>> g = torch.Generator().manual_seed(0)
    >>> signed_poisson_encode(torch.tensor([-1.0, 1.0]), 1000, generator=g).sum(0)
    tensor([-93., 109.])
    """
    return torch.sign(input_values) * poisson_encode(
        torch.abs(input_values), seq_length, f_max, dt, generator)


def signed_poisson_encode_step(
    input_values: torch.Tensor,
    f_max: float = 1000.0,
    dt: float = 0.001,
    generator: Optional[torch.Generator] = None,
) -> torch.Tensor:
    """One time step of :func:`signed_poisson_encode` (Norse's default ``f_max = 1000``)."""
    return signed_poisson_encode(input_values, 1, f_max, dt, generator)[0]


def gaussian_rbf(tensor: torch.Tensor, sigma: float = 1) -> torch.Tensor:
    """Gaussian radial basis kernel of a (squared) distance: ``exp(-d / (2 sigma^2))``."""
    return torch.exp(-tensor / (2 * sigma**2))


def euclidean_distance(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared difference ``(x - y)^2``, the distance Norse's population code uses."""
    return (x - y).pow(2)


def population_encode(
    input_values: torch.Tensor,
    out_features: int,
    scale=None,
    kernel=gaussian_rbf,
    distance_function=euclidean_distance,
) -> torch.Tensor:
    """Population code (Norse's ``population_encode``): each value becomes ``out_features``
    activities ``kernel(distance(x, c_k) * scale)`` of receptive fields centred at
    ``c_k = linspace(0, scale, out_features)``; ``scale`` defaults to the largest input.

    >>> population_encode(torch.tensor([0.0, 0.5, 1.0]), 3)
    tensor([[1.0000, 0.8825, 0.6065],
            [0.8825, 1.0000, 0.8825],
            [0.6065, 0.8825, 1.0000]])
    """
    size = input_values.shape + (out_features,)
    if not scale:
        scale = input_values.max()
    centres = torch.linspace(0, scale, out_features).expand(size)
    x = input_values.unsqueeze(-1).expand(size)
    return kernel(distance_function(x, centres) * scale)


def population_decode(activity: torch.Tensor, scale: float = 1.0, empty=None) -> torch.Tensor:
    r"""Read a value back out of a population code: the centre of mass of the activity.

    For activities (e.g. spike counts) ``n_k >= 0`` of ``N`` neurons whose tuning curves are
    centred at ``c_k = k * scale / (N - 1)`` (the centres of :func:`population_encode`,
    ``linspace(0, scale, N)``), the estimate is

    .. math::

        \hat x = \frac{\sum_k n_k\,c_k}{\sum_k n_k},

    each neuron voting for its preferred value with its activity: the population vector of
    Georgopoulos et al. (1986) for a value on a line. ``activity`` has the neurons in its
    last dimension, shape ``(*, N)``; the result has shape ``(*)``. Where the whole
    population is silent (``sum_k n_k = 0``) there is nothing to read, and the result is
    ``empty`` (default: ``scale / 2``, the middle of the range). Integer counts are
    converted to the default floating-point dtype; gradients flow to ``activity``.

    >>> population_decode(torch.tensor([[0., 2., 2.], [1., 0., 0.], [0., 0., 0.]]))
    tensor([0.7500, 0.0000, 0.5000])
    >>> x = torch.tensor([0.2, 0.5])   # 5 tuning curves of width 0.1, centres 0, 0.25, ...
    >>> population_decode(population_encode(x, 5, scale=1.0, kernel=lambda d: gaussian_rbf(d, 0.1)))
    tensor([0.2198, 0.5000])

    The estimate is pulled towards the nearest centre where the tuning curves overlap
    little (here 0.2 reads as 0.22); wider curves or more neurons reduce that bias.
    """
    _check_tensor(activity, "activity", min_dim=1)
    if activity.is_complex():
        raise TypeError(f"activity must be real (counts or rates), got {activity.dtype}")
    if not activity.is_floating_point():           # integer or boolean spike counts
        activity = activity.to(torch.get_default_dtype())
    if activity.shape[-1] < 1:
        raise ValueError("activity must have at least one neuron in its last dimension, "
                         f"got shape {tuple(activity.shape)}")
    if not torch.isfinite(activity).all():
        raise ValueError("activity must be finite (no nan or inf)")
    if (activity < 0).any():
        raise ValueError("activity must be >= 0 (spike counts or rates)")
    if isinstance(scale, bool) or not isinstance(scale, (int, float)) or not 0 < scale < float("inf"):
        raise ValueError(f"scale must be a positive finite number, got {scale!r}")
    if empty is None:
        empty = scale / 2
    elif isinstance(empty, bool) or not isinstance(empty, (int, float)):
        raise TypeError(f"empty must be a number (the estimate of a silent population), "
                        f"got {empty!r}")
    n = activity.shape[-1]
    centres = torch.linspace(0, scale, n, dtype=activity.dtype, device=activity.device)
    total = activity.sum(-1)
    estimate = (activity * centres).sum(-1) / total.clamp_min(torch.finfo(activity.dtype).tiny)
    return torch.where(total > 0, estimate, torch.full_like(estimate, float(empty)))
