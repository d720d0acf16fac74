"""``norse.torch.module``'s layers that snnlearn covers, from :mod:`snnlearn.module`."""

from snnlearn.module import *  # noqa: F401,F403
from snnlearn.module import __all__ as _snnlearn_names

from . import encode, leaky_integrator, lif, lsnn, regularization, sequential  # noqa: F401
from .encode import PoissonEncoderStep, PopulationEncoder, SignedPoissonEncoder
from .encode import SignedPoissonEncoderStep
from .leaky_integrator import LILinearCell
from .regularization import RegularizationCell

__all__ = sorted(set(_snnlearn_names) | {"PoissonEncoderStep", "PopulationEncoder", "SignedPoissonEncoder",
                                         "SignedPoissonEncoderStep", "LILinearCell",
                                         "RegularizationCell"})
