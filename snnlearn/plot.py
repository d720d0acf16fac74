"""Plot helpers for the course: spike rasters and membrane-voltage traces (matplotlib)."""

from __future__ import annotations

from typing import Optional

import torch

__all__ = ["plot_raster", "plot_voltage_traces"]


def _as_2d(values) -> torch.Tensor:
    values = torch.as_tensor(values).detach().cpu()
    if values.dim() == 1:
        values = values.unsqueeze(1)
    if values.dim() != 2:
        raise ValueError(f"expected (T,) or (T, neurons), got shape {tuple(values.shape)}")
    return values


def plot_raster(spikes, ax=None, dt: float = 0.001, color: str = "black", title: Optional[str] = None):
    """Raster plot of spikes ``(T, neurons)``: a mark at (time, neuron) for every spike.

    Time is shown in milliseconds (``dt`` in seconds). Returns the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    spikes = _as_2d(spikes)
    ax = ax if ax is not None else plt.gca()
    steps, neurons = torch.nonzero(spikes > 0, as_tuple=True)
    # One short vertical line per spike: a neuron's row tall, and never too short to see
    # (with hundreds of neurons a row is less than a pixel high).
    half = max(0.4, spikes.shape[1] / 150)
    ax.vlines(steps.numpy() * dt * 1e3, neurons.numpy() - half, neurons.numpy() + half,
              color=color, linewidth=1.2)
    ax.set_xlim(0, spikes.shape[0] * dt * 1e3)
    ax.set_ylim(-0.5, spikes.shape[1] - 0.5)
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("neuron")
    if title:
        ax.set_title(title)
    return ax


def plot_voltage_traces(voltages, ax=None, dt: float = 0.001, v_th: Optional[float] = 1.0,
                        title: Optional[str] = None):
    """Membrane voltage over time, one line per neuron, with the threshold dashed.

    ``voltages`` is ``(T,)`` or ``(T, neurons)``. Returns the matplotlib axes.
    """
    import matplotlib.pyplot as plt

    voltages = _as_2d(voltages)
    ax = ax if ax is not None else plt.gca()
    time_ms = torch.arange(voltages.shape[0]) * dt * 1e3
    ax.plot(time_ms.numpy(), voltages.numpy(), linewidth=1.2)
    if v_th is not None:
        ax.axhline(v_th, color="tab:red", linestyle="--", linewidth=1, label="threshold $v_{th}$")
        ax.legend(loc="upper right")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("membrane voltage $v$")
    if title:
        ax.set_title(title)
    return ax
