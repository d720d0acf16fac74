"""Readout modules: a time-first sequence ``(T, *shape)`` in, one value per neuron out."""

from __future__ import annotations

import torch

from ..functional.decode import first_spike_time, max_membrane, spike_count

__all__ = ["FirstSpikeTime", "MaxMembrane", "SpikeCount"]


class SpikeCount(torch.nn.Module):
    r"""Number of spikes of each neuron, ``sum_t z_t`` (see :func:`~snnlearn.functional.spike_count`).

    Shape:
        - spikes: :math:`(T, *)`.
        - Output: :math:`(*)`.

    Examples:
        >>> SpikeCount()(torch.tensor([[0., 1.], [1., 1.]]))
        tensor([1., 2.])
    """

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        return spike_count(spikes)


class FirstSpikeTime(torch.nn.Module):
    r"""Index of each neuron's first spike, ``T`` if none:
    ``sum_t prod_{s<=t} (1 - z_s)`` (see :func:`~snnlearn.functional.first_spike_time`).

    Shape:
        - spikes: :math:`(T, *)`.
        - Output: :math:`(*)`.

    Examples:
        >>> FirstSpikeTime()(torch.tensor([[0., 0.], [1., 0.]]))
        tensor([1., 2.])
    """

    def forward(self, spikes: torch.Tensor) -> torch.Tensor:
        return first_spike_time(spikes)


class MaxMembrane(torch.nn.Module):
    r"""Largest voltage of each neuron over time, ``max_t v_t``
    (see :func:`~snnlearn.functional.max_membrane`).

    Shape:
        - voltages: :math:`(T, *)`, ``T >= 1``.
        - Output: :math:`(*)`.

    Examples:
        >>> MaxMembrane()(torch.tensor([[0.2, 0.0], [0.5, -1.0]]))
        tensor([0.5000, 0.0000])
    """

    def forward(self, voltages: torch.Tensor) -> torch.Tensor:
        return max_membrane(voltages)
