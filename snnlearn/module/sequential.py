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

    def __init__(self, *modules: torch.nn.Module):
        super().__init__(*modules)
        self.forward_state_hooks: List[Any] = []

    def register_forward_state_hooks(self, forward_hook) -> None:
        """Register ``forward_hook(module, inputs, output)`` on every stateful layer (Norse's
        method): ``inputs`` is ``(input, state)``. Raises ``ValueError`` if hooks are in place
        already; :meth:`remove_forward_state_hooks` removes them.

        >>> from snnlearn import LIF
        >>> model, seen = SequentialState(torch.nn.Linear(2, 3), LIF()), []
        >>> model.register_forward_state_hooks(lambda m, inputs, out: seen.append(inputs[1]))
        >>> _ = model(torch.ones(4, 1, 2))
        >>> seen
        [None]
        """
        if self.forward_state_hooks:
            raise ValueError("Forward state hooks already in place")
        for module in self:
            if _forward_takes_state(type(module)):
                self.forward_state_hooks.append(module.register_forward_hook(forward_hook))

    def remove_forward_state_hooks(self) -> None:
        """Remove the hooks of :meth:`register_forward_state_hooks`."""
        for handle in self.forward_state_hooks:
            handle.remove()
        self.forward_state_hooks.clear()

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
