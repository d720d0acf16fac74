"""``norse.torch.module.lif``: the LIF layers."""

from snnlearn.module.lif import LIF, LIFCell  # noqa: F401
from snnlearn.module.lif_recurrent import LIFRecurrent, LIFRecurrentCell  # noqa: F401

__all__ = ["LIFCell", "LIF", "LIFRecurrentCell", "LIFRecurrent"]
