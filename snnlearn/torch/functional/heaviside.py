"""``norse.torch.functional.heaviside``: the Heaviside step (NaN gives no spike, as Norse)."""

from snnlearn.functional.threshold import heaviside  # noqa: F401

__all__ = ["heaviside"]
