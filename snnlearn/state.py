"""Helpers for neuron states."""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["detach_state"]


def detach_state(state: Any) -> Any:
    """Cut the autograd history of a state: tensors, NamedTuples, lists and tuples of them.

    Use it when a state from one batch goes on into the next (truncated BPTT); otherwise
    the next ``backward()`` tries to reach into the freed graph of the previous batch.

    >>> from snnlearn import LIFCell
    >>> z, s = LIFCell()(torch.ones(2, requires_grad=True))
    >>> detach_state([None, s])[1].v.requires_grad
    False
    """
    if state is None:
        return None
    if isinstance(state, torch.Tensor):
        return state.detach()
    if isinstance(state, tuple) and hasattr(state, "_fields"):
        return type(state)(*(detach_state(item) for item in state))
    if isinstance(state, (list, tuple)):
        return type(state)(detach_state(item) for item in state)
    raise TypeError(f"cannot detach a state of type {type(state).__name__}")
