"""snnlearn: spiking neural networks in PyTorch, for the snnlearn course.

Norse-compatible layers (``LIFCell``, ``LIF``, ``LICell``, ``LI``, ``SequentialState``) whose
LIF neurons run in a fused C kernel on the CPU and in the PyTorch reference
(:mod:`snnlearn.functional`) everywhere else. Code written for ``norse.torch`` runs after
changing its import to ``snnlearn.torch`` (or ``snnlearn``).

>>> import torch
>>> from snnlearn import LIF
>>> spikes, state = LIF()(torch.full((100, 1), 0.3))
>>> int(spikes.sum()), tuple(state.v.shape)
(8, (1,))
"""

from . import energy, functional
from .backend import c_available, get_backend, last_path, set_backend, use_backend, why_not_c
from .functional import (
    LIFFeedForwardState,
    LIFParameters,
    LIFState,
    LIParameters,
    LIState,
    constant_current_lif_encode,
    heaviside,
    lif_feed_forward_step,
    lif_recurrent_step,
    li_feed_forward_step,
    poisson_encode,
)
from .module import (
    LI,
    LIF,
    ConstantCurrentLIFEncoder,
    LICell,
    LIFCell,
    LIFRecurrent,
    LIFRecurrentCell,
    PoissonEncoder,
    SequentialState,
)
from .energy import (
    OpCount,
    SynOpCounter,
    activity_penalty,
    count_macs,
    count_synops,
    spike_accumulator,
    voltage_accumulator,
)
from .nir_io import from_nir, to_nir  # needs the optional extra snnlearn[nir] when called
from .state import detach_state
from .functional.threshold import norse_1_1_0_gradients
from .functional import delta_encode, spike_latency_encode, spike_latency_lif_encode
from .functional import first_spike_time, max_membrane, spike_count
from .module import DeltaEncoder, SpikeLatencyEncoder, SpikeLatencyLIFEncoder
from .module import FirstSpikeTime, MaxMembrane, SpikeCount

__version__ = "0.1.0"

__all__ = [
    "LIFParameters", "LIFFeedForwardState", "LIFState", "LIParameters", "LIState",
    "LIFCell", "LIF", "LIFRecurrentCell", "LIFRecurrent", "LICell", "LI", "SequentialState",
    "ConstantCurrentLIFEncoder", "PoissonEncoder",
    "lif_feed_forward_step", "lif_recurrent_step", "li_feed_forward_step", "heaviside",
    "constant_current_lif_encode", "poisson_encode", "detach_state",
    "c_available", "get_backend", "set_backend", "use_backend", "last_path", "why_not_c",
    "count_synops", "count_macs", "SynOpCounter", "OpCount", "activity_penalty",
    "spike_accumulator", "voltage_accumulator",
    "functional", "energy", "to_nir", "from_nir", "norse_1_1_0_gradients",
]
__all__ += [
    "DeltaEncoder", "SpikeLatencyEncoder", "SpikeLatencyLIFEncoder",
    "FirstSpikeTime", "MaxMembrane", "SpikeCount",
    "delta_encode", "spike_latency_encode", "spike_latency_lif_encode",
    "first_spike_time", "max_membrane", "spike_count",
]
from .functional import LSNNFeedForwardState, LSNNParameters, LSNNState
from .functional import lsnn_feed_forward_step, lsnn_step
from .module import LSNN, LSNNCell, LSNNRecurrent, LSNNRecurrentCell

__all__ += [
    "LSNNParameters", "LSNNState", "LSNNFeedForwardState", "lsnn_step", "lsnn_feed_forward_step",
    "LSNNCell", "LSNN", "LSNNRecurrentCell", "LSNNRecurrent",
]
from .functional import STDPParameters, STDPState, stdp_step, stdp_step_conv2d, stdp_step_linear

__all__ += ["STDPParameters", "STDPState", "stdp_step", "stdp_step_linear", "stdp_step_conv2d"]
from . import init
from .init import fluctuation_driven_init_, fluctuation_driven_parameters

__all__ += ["init", "fluctuation_driven_init_", "fluctuation_driven_parameters"]
