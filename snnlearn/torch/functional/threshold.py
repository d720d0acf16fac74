"""``norse.torch.functional.threshold``: ``threshold(x, method, alpha)`` with the surrogates
snnlearn has (``"super"``, ``"heaviside"``, ``"super_norse110"``; see
:data:`snnlearn.functional.threshold.SURROGATES`). Norse's other surrogates (``tanh``,
``triangle``, ``circ``, ``heavi_erfc``, ``logistic``, ``circ_dist``) are not provided."""

from snnlearn.functional.threshold import (  # noqa: F401
    NORSE_1_1_0,
    SURROGATES,
    heaviside,
    norse_1_1_0_gradients,
    threshold,
)

from .superspike import super_fn

superspike_fn = super_fn

__all__ = ["threshold", "heaviside", "super_fn", "superspike_fn", "SURROGATES", "NORSE_1_1_0",
           "norse_1_1_0_gradients"]
