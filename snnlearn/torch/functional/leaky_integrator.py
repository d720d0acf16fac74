"""``norse.torch.functional.leaky_integrator``: the leaky integrator under Norse's names."""

from snnlearn.functional.leaky_integrator import (  # noqa: F401
    LIParameters,
    LIState,
    li_feed_forward_step,
    li_initial_state,
    li_step,
)

__all__ = ["LIParameters", "LIState", "li_feed_forward_step", "li_step", "li_initial_state"]
