"""Pure functions: NamedTuple parameters and states, and the reference step equations.

Everything here is plain PyTorch and runs on any device and dtype; the C kernels are
tested against it.
"""

from .encode import constant_current_lif_encode, poisson_encode
from .encode import delta_encode, spike_latency_encode, spike_latency_lif_encode
from .decode import first_spike_time, max_membrane, spike_count
from .leaky_integrator import LIParameters, LIState, li_feed_forward_step, li_initial_state
from .lif import (
    LIFFeedForwardState,
    LIFParameters,
    lif_feed_forward_sequence,
    lif_feed_forward_step,
    lif_initial_state,
)
from .lif_recurrent import (
    LIFState,
    lif_recurrent_initial_state,
    lif_recurrent_sequence,
    lif_recurrent_step,
)
from .threshold import SuperSpike, heaviside, superspike, threshold

__all__ = [
    "LIFParameters",
    "LIFFeedForwardState",
    "LIFState",
    "LIParameters",
    "LIState",
    "lif_initial_state",
    "lif_feed_forward_step",
    "lif_feed_forward_sequence",
    "lif_recurrent_initial_state",
    "lif_recurrent_step",
    "lif_recurrent_sequence",
    "li_initial_state",
    "li_feed_forward_step",
    "heaviside",
    "superspike",
    "threshold",
    "SuperSpike",
    "constant_current_lif_encode",
    "poisson_encode",
]
__all__ += ["delta_encode", "spike_latency_encode", "spike_latency_lif_encode",
            "first_spike_time", "max_membrane", "spike_count"]
from .lsnn import (
    LSNNFeedForwardState,
    LSNNParameters,
    LSNNState,
    lsnn_feed_forward_initial_state,
    lsnn_feed_forward_sequence,
    lsnn_feed_forward_step,
    lsnn_initial_state,
    lsnn_sequence,
    lsnn_step,
)

__all__ += ["LSNNParameters", "LSNNState", "LSNNFeedForwardState", "lsnn_initial_state",
            "lsnn_feed_forward_initial_state", "lsnn_step", "lsnn_feed_forward_step",
            "lsnn_sequence", "lsnn_feed_forward_sequence"]
from .surrogates import SURROGATES, ArcTan, FastSigmoid, Triangle, surrogate_derivative
from .surrogates import arctan, fast_sigmoid, triangle

__all__ += ["SURROGATES", "surrogate_derivative", "FastSigmoid", "ArcTan", "Triangle",
            "fast_sigmoid", "arctan", "triangle"]
from .stdp import STDPParameters, STDPState, stdp_initial_state, stdp_step
from .stdp import stdp_step_conv2d, stdp_step_linear

__all__ += ["STDPParameters", "STDPState", "stdp_initial_state", "stdp_step", "stdp_step_linear",
            "stdp_step_conv2d"]
from .eprop import EpropTraces, eprop_initial_traces, lif_recurrent_eprop_sequence
from .eprop import filter_eligibility, lif_recurrent_eprop_step
from .eprop import LSNNEpropTraces, lsnn_eprop_initial_traces, lsnn_eprop_sequence, lsnn_eprop_step

__all__ += ["EpropTraces", "eprop_initial_traces", "lif_recurrent_eprop_step",
            "lif_recurrent_eprop_sequence", "filter_eligibility", "LSNNEpropTraces",
            "lsnn_eprop_initial_traces", "lsnn_eprop_step", "lsnn_eprop_sequence"]
from .lsnn import ada_lif_step

__all__ += ["ada_lif_step"]
