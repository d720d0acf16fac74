"""``norse.torch.functional``'s names that snnlearn covers, from :mod:`snnlearn.functional`."""

from snnlearn.functional import *  # noqa: F401,F403
from snnlearn.functional import __all__ as _snnlearn_names

from . import decode, encode, heaviside, leaky_integrator, lif, regularization  # noqa: F401
from . import lsnn, stdp, superspike, threshold  # noqa: F401
from .decode import sum_decode
from .encode import lif_current_encoder, poisson_encode_step, population_encode
from .encode import signed_poisson_encode, signed_poisson_encode_step
from .encode import euclidean_distance, gaussian_rbf
from .leaky_integrator import li_step
from .lif import lif_feed_forward_integral, lif_step, lif_step_integral
from .regularization import regularize_step, spike_accumulator, voltage_accumulator
from .superspike import super_fn
from .threshold import norse_1_1_0_gradients, superspike_fn

__all__ = sorted(set(_snnlearn_names) | {
    "sum_decode", "lif_current_encoder", "poisson_encode_step", "population_encode",
    "signed_poisson_encode", "signed_poisson_encode_step", "euclidean_distance", "gaussian_rbf", "li_step",
    "lif_feed_forward_integral", "lif_step", "lif_step_integral", "regularize_step",
    "spike_accumulator", "voltage_accumulator", "super_fn", "superspike_fn",
    "norse_1_1_0_gradients"})
