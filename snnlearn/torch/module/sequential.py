"""``norse.torch.module.sequential``: ``SequentialState``."""

from snnlearn.module.sequential import SequentialState  # noqa: F401

__all__ = ["SequentialState"]
