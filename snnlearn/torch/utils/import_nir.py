"""``norse.torch.utils.import_nir``: ``from_nir`` (and Norse's ``_to_tensor`` helper, which
its tests use)."""

from numbers import Number

import torch

from snnlearn.nir_io import from_nir  # noqa: F401

__all__ = ["from_nir"]


def _to_tensor(value):
    """A NIR array or number as a float32 tensor (tensors pass through), as Norse's helper."""
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, Number):
        return torch.as_tensor(value, dtype=torch.float32)
    return torch.from_numpy(value).float()
