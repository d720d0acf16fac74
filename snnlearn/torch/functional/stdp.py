"""``norse.torch.functional.stdp``: pair-based STDP with traces under Norse's names."""

from snnlearn.functional.stdp import (  # noqa: F401
    STDPParameters,
    STDPState,
    stdp_step_conv2d,
    stdp_step_linear,
)

__all__ = ["STDPParameters", "STDPState", "stdp_step_linear", "stdp_step_conv2d"]
