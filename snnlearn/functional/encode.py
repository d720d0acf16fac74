"""Encoders: turn real values into spike trains of shape ``(T, *input.shape)``."""

from __future__ import annotations

from typing import Optional

import torch

from .lif import LIFParameters
from .threshold import threshold

__all__ = ["constant_current_lif_encode", "poisson_encode"]


def constant_current_lif_encode(
    input_current: torch.Tensor,
    seq_length: int,
    p: LIFParameters = LIFParameters(),
    dt: float = 0.001,
) -> torch.Tensor:
    """Feed a constant current into LIF membranes (no synapse) and record the spikes.

    Each step: ``v = v + dt * tau_mem_inv * ((v_leak - v) + input_current)``, ``z = H(v - v_th)``,
    ``v = v - z * (v - v_reset)``. Larger currents spike more often (rate coding).

    >>> constant_current_lif_encode(torch.tensor([0.0, 2.0]), 20).sum(0)
    tensor([0., 2.])
    """
    if seq_length < 0:
        raise ValueError(f"seq_length must be >= 0, got {seq_length}")
    v = torch.zeros_like(input_current)
    spikes = []
    for _ in range(seq_length):
        v = v + dt * p.tau_mem_inv * ((p.v_leak - v) + input_current)
        z = threshold(v - p.v_th, p.method, p.alpha)
        v = v - z * (v - p.v_reset)
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
    if seq_length < 0:
        raise ValueError(f"seq_length must be >= 0, got {seq_length}")
    noise = torch.rand(
        seq_length, *input_values.shape, device=input_values.device, generator=generator
    )
    return (noise < f_max * dt * input_values).to(
        input_values.dtype if input_values.is_floating_point() else torch.float32
    )
