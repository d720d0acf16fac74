"""Regularisation as Norse writes it: an *accumulator* collects something from each step
(spike counts, voltages) for a loss term added later.

``regularize_step(z, s, accumulator, state)`` returns ``(z, accumulator(z, s, state))``;
the accumulators take ``(z, s, state)`` with ``state=None`` at the first step.

>>> z = torch.tensor([1.0, 0.0, 1.0])
>>> _, count = regularize_step(z, None)
>>> _, count = regularize_step(z, None, state=count)
>>> count
tensor(4.)
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

import torch

__all__ = ["Accumulator", "spike_accumulator", "voltage_accumulator", "regularize_step"]

Accumulator = Callable[[torch.Tensor, Any, Optional[Any]], Any]


def spike_accumulator(z: torch.Tensor, s: Any = None, state: Optional[torch.Tensor] = None):
    """The total spike count so far: ``state + z.sum()`` (``state`` starts at 0).

    >>> spike_accumulator(torch.ones(3), None, spike_accumulator(torch.ones(2), None))
    tensor(5.)
    """
    if state is None:
        state = 0
    return state + z.sum()


def voltage_accumulator(z: torch.Tensor, s: Any, state: Optional[torch.Tensor] = None):
    """The membrane voltages summed over steps, element-wise: ``state + s.v`` (``state``
    starts at zeros shaped like ``s.v``), as Norse's.

    >>> from snnlearn.functional import LIFFeedForwardState
    >>> s = LIFFeedForwardState(v=torch.tensor([0.5, 1.0]), i=torch.zeros(2))
    >>> voltage_accumulator(None, s, voltage_accumulator(None, s))
    tensor([1., 2.])
    """
    if state is None:
        state = torch.zeros_like(s.v)
    return state + s.v


def regularize_step(
    z: torch.Tensor,
    s: Any,
    accumulator: Accumulator = spike_accumulator,
    state: Optional[Any] = None,
) -> Tuple[torch.Tensor, Any]:
    """One step of a regulariser: the spikes ``z`` unchanged and the accumulated ``state``."""
    return z, accumulator(z, s, state)
