"""``norse.torch.module.regularization``: ``RegularizationCell``."""

from snnlearn.module.regularization import RegularizationCell  # noqa: F401

__all__ = ["RegularizationCell"]
