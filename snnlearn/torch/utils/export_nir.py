"""``norse.torch.utils.export_nir``: ``to_nir``."""

from snnlearn.nir_io import to_nir  # noqa: F401

__all__ = ["to_nir"]
