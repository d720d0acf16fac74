"""``norse.torch.functional.decode``: ``sum_decode``."""

from snnlearn.functional.decode import sum_decode  # noqa: F401

__all__ = ["sum_decode"]
