"""``nn.Module`` layers: LIF and leaky-integrator neurons, encoders, ``SequentialState``."""

from .encode import ConstantCurrentLIFEncoder, PoissonEncoder
from .encode import DeltaEncoder, SpikeLatencyEncoder, SpikeLatencyLIFEncoder
from .decode import FirstSpikeTime, MaxMembrane, SpikeCount
from .leaky_integrator import LI, LICell
from .lif import LIF, LIFCell
from .lif_recurrent import LIFRecurrent, LIFRecurrentCell
from .sequential import SequentialState

__all__ = ["LIFCell", "LIF", "LIFRecurrentCell", "LIFRecurrent", "LICell", "LI", "SequentialState",
           "ConstantCurrentLIFEncoder", "PoissonEncoder"]
__all__ += ["DeltaEncoder", "SpikeLatencyEncoder", "SpikeLatencyLIFEncoder",
            "FirstSpikeTime", "MaxMembrane", "SpikeCount"]
from .lsnn import LSNN, LSNNCell, LSNNRecurrent, LSNNRecurrentCell

__all__ += ["LSNNCell", "LSNN", "LSNNRecurrentCell", "LSNNRecurrent"]
