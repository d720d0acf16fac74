"""``norse.torch.functional.regularization``."""

from snnlearn.functional.regularization import (  # noqa: F401
    Accumulator,
    regularize_step,
    spike_accumulator,
    voltage_accumulator,
)

__all__ = ["Accumulator", "regularize_step", "spike_accumulator", "voltage_accumulator"]
