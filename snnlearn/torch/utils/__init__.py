"""``norse.torch.utils``: NIR import and export (``from_nir``, ``to_nir``)."""

from . import export_nir, import_nir  # noqa: F401
