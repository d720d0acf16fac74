"""``norse.torch.functional.lsnn``: the adaptive (LSNN) neuron under Norse's names."""

from snnlearn.functional.lsnn import (  # noqa: F401
    LSNNFeedForwardState,
    LSNNParameters,
    LSNNState,
    ada_lif_step,
    lsnn_feed_forward_step,
    lsnn_step,
)

__all__ = ["LSNNParameters", "LSNNState", "LSNNFeedForwardState", "lsnn_step",
           "lsnn_feed_forward_step", "ada_lif_step"]
