"""``norse.torch.functional.lif``: the LIF neuron under Norse's names.

``lif_step`` is Norse's name for the recurrent step
(:func:`snnlearn.functional.lif_recurrent_step`); ``lif_feed_forward_integral`` runs
:func:`snnlearn.functional.lif_feed_forward_step` over time.
"""

from __future__ import annotations

from typing import Tuple

import torch

from snnlearn.functional.encode import lif_current_encoder
from snnlearn.functional.lif import (
    LIFFeedForwardState,
    LIFParameters,
    lif_feed_forward_sequence as lif_feed_forward_integral,
    lif_feed_forward_step,
    lif_initial_state,
)
from snnlearn.functional.lif_recurrent import LIFState, lif_recurrent_step as lif_step

__all__ = ["LIFParameters", "LIFState", "LIFFeedForwardState", "lif_step", "lif_step_integral",
           "lif_feed_forward_step", "lif_feed_forward_integral", "lif_current_encoder",
           "lif_initial_state"]


def lif_step_integral(
    input_tensor: torch.Tensor,
    state: LIFState,
    input_weights: torch.Tensor,
    recurrent_weights: torch.Tensor,
    p: LIFParameters = LIFParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LIFState]:
    """Norse's ``lif_step_integral``: :func:`lif_step` over the first (time) axis; returns,
    as Norse 1.1.0 does, the spikes of the *last* step and the final state."""
    z = None
    for x in input_tensor.unbind(0):
        z, state = lif_step(x, state, input_weights, recurrent_weights, p, dt)
    return z, state
