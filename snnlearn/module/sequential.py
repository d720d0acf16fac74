"""``SequentialState``: ``nn.Sequential`` that threads each stateful layer's state."""

from __future__ import annotations

import functools
import inspect
from typing import Any, List, Optional

import torch

__all__ = ["SequentialState"]


@functools.lru_cache(maxsize=None)
def _forward_takes_state(module_type: type) -> bool:
    """A layer is stateful if its ``forward`` takes a ``state`` argument (or it is an RNN)."""
    if issubclass(module_type, torch.nn.RNNBase):
        return True
    try:
        parameters = inspect.signature(module_type.forward).parameters
    except (TypeError, ValueError):
        return False
    return "state" in parameters


class SequentialState(torch.nn.Sequential):
    """Like ``nn.Sequential``, but stateful layers (``LIFCell``, ``LICell``, …) get and
    return their state.

    ``output, states = model(x, states)``: ``states`` is a list with one entry per layer,
    ``None`` for stateless layers (``Conv2d``, ``Linear``, …). Pass ``states=None`` to start
    every layer from rest, and the returned list back in at the next time step.

    Args:
        *modules (torch.nn.Module): the layers, in order (as for ``nn.Sequential``).

    Shape:
        - input_tensor: whatever the first layer takes.
        - state: a list of ``len(model)`` entries (each layer's state or ``None``), or
          ``None``.
        - Output: the last layer's output, and the list of new states.

    Examples:
        >>> from snnlearn import LIFCell
        >>> model = SequentialState(torch.nn.Linear(2, 3), LIFCell())
        >>> out, states = model(torch.ones(1, 2))
        >>> [s is None for s in states]
        [True, False]
    """

    def forward(self, input_tensor: torch.Tensor, state: Optional[List[Any]] = None):
        if state is None:
            states: List[Any] = [None] * len(self)
        else:
            states = list(state)
            if len(states) != len(self):
                raise ValueError(
                    f"state has {len(states)} entries but the model has {len(self)} layers"
                )
        for index, module in enumerate(self):
            if _forward_takes_state(type(module)):
                input_tensor, states[index] = module(input_tensor, states[index])
            else:
                input_tensor = module(input_tensor)
        return input_tensor, states
