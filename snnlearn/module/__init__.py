"""``nn.Module`` layers: LIF and leaky-integrator neurons, encoders, ``SequentialState``."""

from .encode import ConstantCurrentLIFEncoder, PoissonEncoder
from .leaky_integrator import LI, LICell
from .lif import LIF, LIFCell
from .sequential import SequentialState

__all__ = ["LIFCell", "LIF", "LICell", "LI", "SequentialState",
           "ConstantCurrentLIFEncoder", "PoissonEncoder"]
