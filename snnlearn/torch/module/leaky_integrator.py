"""``norse.torch.module.leaky_integrator``: the leaky-integrator layers."""

from snnlearn.functional.leaky_integrator import LIParameters, LIState  # noqa: F401
from snnlearn.module.leaky_integrator import LI, LICell, LILinearCell  # noqa: F401

__all__ = ["LI", "LICell", "LILinearCell", "LIParameters", "LIState"]
