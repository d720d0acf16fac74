"""``norse.torch.module.lsnn``: the adaptive (LSNN) layers."""

from snnlearn.functional.lsnn import LSNNFeedForwardState, LSNNParameters, LSNNState  # noqa: F401
from snnlearn.module.lsnn import LSNN, LSNNCell, LSNNRecurrent, LSNNRecurrentCell  # noqa: F401

__all__ = ["LSNN", "LSNNCell", "LSNNRecurrent", "LSNNRecurrentCell", "LSNNParameters",
           "LSNNState", "LSNNFeedForwardState"]
