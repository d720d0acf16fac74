"""Readouts: turn a time-first sequence ``(T, *shape)`` of spikes or voltages into one value
per neuron, shape ``shape``, to use as class scores or in a loss.

Norse's ``sum_decode`` is :func:`spike_count`; Norse's ``SpikesToTimesDecoder`` gives the
first spike *index* too, but ``inf`` for a neuron that never spiked and a gradient of -1 at
the spike; :func:`first_spike_time` gives ``T`` instead (finite, so it can enter a loss) and
a gradient that also reaches silent neurons.
"""

from __future__ import annotations

import torch

__all__ = ["first_spike_time", "max_membrane", "spike_count", "sum_decode"]


def _check_sequence(value, name: str) -> None:
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if value.dim() < 1:
        raise ValueError(f"{name} must be time-first, shape (T, ...), got a 0-d tensor")


def sum_decode(cell_output: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """Norse's ``sum_decode``: the sum over ``dim`` (time by default), e.g. spike counts.

    >>> sum_decode(torch.ones(10, 3))
    tensor([10., 10., 10.])
    """
    return torch.sum(cell_output, dim)


def spike_count(spikes: torch.Tensor) -> torch.Tensor:
    """Number of spikes of each neuron: ``n = sum_t z_t`` (the rate code's readout).

    >>> spike_count(torch.tensor([[0., 1.], [1., 1.], [0., 1.]]))
    tensor([1., 3.])
    """
    _check_sequence(spikes, "spikes")
    return spikes.sum(0)


def first_spike_time(spikes: torch.Tensor) -> torch.Tensor:
    """Index of each neuron's first spike, ``T`` (the sequence length) if it never spiked.

    For spikes ``z_t`` in ``{0, 1}``::

        t_first = sum_{t=0}^{T-1} prod_{s<=t} (1 - z_s)

    Each term is 1 while the neuron has not spiked yet, so the sum counts the silent steps
    before the first spike: its index. The formula is differentiable, so with surrogate
    spikes the gradient reaches every step up to the first spike (and every step of a
    neuron that stayed silent); an earlier spike lowers ``t_first``. Multiply by ``dt`` for
    seconds.

    >>> z = torch.tensor([[0., 0., 0.], [1., 0., 0.], [1., 1., 0.]])   # (T=3, 3 neurons)
    >>> first_spike_time(z)
    tensor([1., 2., 3.])
    """
    _check_sequence(spikes, "spikes")
    if not spikes.is_floating_point():
        spikes = spikes.float()
    return torch.cumprod(1 - spikes, dim=0).sum(0)


def max_membrane(voltages: torch.Tensor) -> torch.Tensor:
    """Largest membrane voltage of each neuron over time: ``m = max_t v_t``.

    The usual readout of leaky-integrator (``LI``) output neurons; its gradient goes to the
    step where the maximum is reached.

    >>> max_membrane(torch.tensor([[0.1, -1.0], [0.7, -0.5], [0.4, -2.0]]))
    tensor([ 0.7000, -0.5000])
    """
    _check_sequence(voltages, "voltages")
    if voltages.shape[0] == 0:
        raise ValueError("voltages has no time steps (T = 0): there is no maximum")
    return voltages.max(0).values
