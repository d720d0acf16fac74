"""Encoder modules: real values in, spike trains ``(T, *input.shape)`` out."""

from __future__ import annotations

from typing import Optional

import torch

from ..functional.encode import (
    constant_current_lif_encode,
    delta_encode,
    poisson_encode,
    poisson_encode_step,
    population_decode,
    population_encode,
    signed_poisson_encode,
    signed_poisson_encode_step,
    gaussian_rbf,
    euclidean_distance,
    spike_latency_encode,
    spike_latency_lif_encode,
)
from ..functional.lif import LIFParameters
from .neuron import NeuronModule

__all__ = [
    "ConstantCurrentLIFEncoder",
    "DeltaEncoder",
    "PoissonEncoder",
    "PoissonEncoderStep",
    "PopulationDecoder",
    "PopulationEncoder",
    "SignedPoissonEncoder",
    "SignedPoissonEncoderStep",
    "SpikeLatencyEncoder",
    "SpikeLatencyLIFEncoder",
]


class ConstantCurrentLIFEncoder(NeuronModule):
    r"""Encode values as the spikes of LIF membranes driven by them as constant currents
    (rate coding: a larger value spikes more often); see
    :func:`~snnlearn.functional.constant_current_lif_encode`.

    Args:
        seq_length (int): number of time steps ``T`` to encode into.
        p (LIFParameters): membrane parameters; tensor fields are registered on the encoder
            as on the neuron layers (``snnlearn.module.neuron.NeuronModule``).
        dt (float): time step in seconds. Default: ``0.001``.

    Shape:
        - input_currents: :math:`(*)`.
        - Output: spikes :math:`(T, *)`.

    Examples:
        >>> ConstantCurrentLIFEncoder(20)(torch.tensor([0.0, 2.0])).shape
        torch.Size([20, 2])
    """

    def __init__(self, seq_length: int, p: LIFParameters = LIFParameters(), dt: float = 0.001):
        super().__init__(p, dt)
        self.seq_length = seq_length

    def forward(self, input_currents: torch.Tensor) -> torch.Tensor:
        return constant_current_lif_encode(input_currents, self.seq_length, self.p, self.dt)

    def extra_repr(self) -> str:
        return f"seq_length={self.seq_length}, {super().extra_repr()}"


class PoissonEncoder(torch.nn.Module):
    r"""Encode values in ``[0, 1]`` as Poisson spike trains of mean rate ``f_max * x`` Hz
    (see :func:`~snnlearn.functional.poisson_encode`).

    Args:
        seq_length (int): number of time steps ``T``.
        f_max (float): rate in Hz of an input of 1. Default: ``100``.
        dt (float): time step in seconds. Default: ``0.001``.
        generator (torch.Generator): random numbers to draw from (seeded runs), or
            ``None``.

    Shape:
        - input_values: :math:`(*)`, values in ``[0, 1]``.
        - Output: spikes :math:`(T, *)`.

    Examples:
        >>> PoissonEncoder(50)(torch.rand(4)).shape
        torch.Size([50, 4])
    """

    def __init__(self, seq_length: int, f_max: float = 100.0, dt: float = 0.001,
                 generator: Optional[torch.Generator] = None):
        super().__init__()
        self.seq_length, self.f_max, self.dt, self.generator = seq_length, f_max, dt, generator

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        return poisson_encode(input_values, self.seq_length, self.f_max, self.dt, self.generator)


class SpikeLatencyLIFEncoder(NeuronModule):
    r"""Latency code: constant currents into LIF membranes, only the first spike kept
    (see :func:`~snnlearn.functional.spike_latency_lif_encode`; Norse's module of that name).

    Args:
        seq_length (int): number of time steps ``T``.
        p (LIFParameters): membrane parameters, registered as for
            :class:`ConstantCurrentLIFEncoder`.
        dt (float): time step in seconds. Default: ``0.001``.

    Shape:
        - input_current: :math:`(*)`.
        - Output: spikes :math:`(T, *)`, at most one per neuron.

    Examples:
        >>> SpikeLatencyLIFEncoder(20)(torch.tensor([1.5, 3.0])).argmax(0)
        tensor([10,  3])
    """

    def __init__(self, seq_length: int, p: LIFParameters = LIFParameters(), dt: float = 0.001):
        super().__init__(p, dt)
        self.seq_length = seq_length

    def forward(self, input_current: torch.Tensor) -> torch.Tensor:
        return spike_latency_lif_encode(input_current, self.seq_length, self.p, self.dt)

    def extra_repr(self) -> str:
        return f"seq_length={self.seq_length}, {super().extra_repr()}"


class SpikeLatencyEncoder(torch.nn.Module):
    r"""Keep only each neuron's first spike of a time-first spike train,
    ``z_t * [sum_{s<=t} z_s == 1]`` (see :func:`~snnlearn.functional.spike_latency_encode`).

    Shape:
        - input_spikes: :math:`(T, *)`.
        - Output: :math:`(T, *)`.

    Examples:
        >>> SpikeLatencyEncoder()(torch.tensor([[0., 1.], [1., 1.]]))
        tensor([[0., 1.],
                [1., 0.]])
    """

    def forward(self, input_spikes: torch.Tensor) -> torch.Tensor:
        return spike_latency_encode(input_spikes)


class DeltaEncoder(torch.nn.Module):
    r"""ON/OFF events when a time-first input has changed by more than ``threshold`` since
    the last event (see :func:`~snnlearn.functional.delta_encode`).

    Args:
        threshold (float): the change, > 0, that makes an event.

    Shape:
        - input_sequence: :math:`(T, *)`.
        - Output: :math:`(T, *, 2)`: ``[..., 0]`` ON, ``[..., 1]`` OFF events.

    Examples:
        >>> DeltaEncoder(0.4)(torch.tensor([0.0, 1.0, 1.0, 0.0]))
        tensor([[0., 0.],
                [1., 0.],
                [1., 0.],
                [0., 1.]])
    """

    def __init__(self, threshold: float):
        super().__init__()
        if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not threshold > 0:
            raise ValueError(f"threshold must be a positive number, got {threshold!r}")
        self.threshold = threshold

    def forward(self, input_sequence: torch.Tensor) -> torch.Tensor:
        return delta_encode(input_sequence, self.threshold)


class PoissonEncoderStep(torch.nn.Module):
    """One time step of :class:`PoissonEncoder` per call (Norse's ``PoissonEncoderStep``;
    its default ``f_max`` is 1000 Hz).

    >>> PoissonEncoderStep()(torch.rand(4)).shape
    torch.Size([4])
    """

    def __init__(self, f_max: float = 1000.0, dt: float = 0.001,
                 generator: Optional[torch.Generator] = None):
        super().__init__()
        self.f_max, self.dt, self.generator = f_max, dt, generator

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        return poisson_encode_step(input_values, self.f_max, self.dt, self.generator)


class SignedPoissonEncoder(torch.nn.Module):
    """Signed Poisson spike trains (:func:`~snnlearn.functional.encode.signed_poisson_encode`).

    >>> SignedPoissonEncoder(10)(torch.tensor([-1.0, 1.0])).shape
    torch.Size([10, 2])
    """

    def __init__(self, seq_length: int, f_max: float = 100.0, dt: float = 0.001,
                 generator: Optional[torch.Generator] = None):
        super().__init__()
        self.seq_length, self.f_max, self.dt, self.generator = seq_length, f_max, dt, generator

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        return signed_poisson_encode(input_values, self.seq_length, self.f_max, self.dt,
                                     self.generator)


class SignedPoissonEncoderStep(torch.nn.Module):
    """One step of :class:`SignedPoissonEncoder` per call (default ``f_max`` 1000 Hz)."""

    def __init__(self, f_max: float = 1000.0, dt: float = 0.001,
                 generator: Optional[torch.Generator] = None):
        super().__init__()
        self.f_max, self.dt, self.generator = f_max, dt, generator

    def forward(self, input_values: torch.Tensor) -> torch.Tensor:
        return signed_poisson_encode_step(input_values, self.f_max, self.dt, self.generator)


class PopulationEncoder(torch.nn.Module):
    """Population code layer (:func:`~snnlearn.functional.encode.population_encode`).

    >>> PopulationEncoder(3)(torch.tensor([0.0, 1.0])).shape
    torch.Size([2, 3])
    """

    def __init__(self, out_features: int, scale=None, kernel=gaussian_rbf,
                 distance_function=euclidean_distance):
        super().__init__()
        self.out_features, self.scale = out_features, scale
        self.kernel, self.distance_function = kernel, distance_function

    def forward(self, input_tensor: torch.Tensor) -> torch.Tensor:
        return population_encode(input_tensor, self.out_features, self.scale, self.kernel,
                                 self.distance_function)


class PopulationDecoder(torch.nn.Module):
    r"""Read values back out of population activity: the centre of mass
    :math:`\hat x = \sum_k n_k c_k / \sum_k n_k` with centres ``c_k = linspace(0, scale, N)``
    (see :func:`~snnlearn.functional.encode.population_decode`; Norse has no such module).

    Args:
        scale (float): the largest preferred value, as in ``PopulationEncoder``.
            Default: ``1``.
        empty (float): the estimate where the population is silent. Default: ``scale / 2``.

    Shape:
        - activity: :math:`(*, N)`, spike counts or rates, ``>= 0``.
        - Output: :math:`(*)`.

    Examples:
        >>> PopulationDecoder()(torch.tensor([[0.0, 3.0, 1.0], [0.0, 0.0, 0.0]]))
        tensor([0.6250, 0.5000])
    """

    def __init__(self, scale: float = 1.0, empty=None):
        super().__init__()
        self.scale, self.empty = scale, empty

    def forward(self, activity: torch.Tensor) -> torch.Tensor:
        return population_decode(activity, self.scale, self.empty)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, empty={self.empty}"
