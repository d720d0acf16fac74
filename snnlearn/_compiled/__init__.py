"""The compiled half of snnlearn: the C kernels and the autograd Functions over them.

- ``_lif.c`` (LIF and leaky integrator) and ``_lif_recurrent.c`` (recurrent LIF): plain C
  on raw float32/float64 buffers, no torch headers; the equations are in
  ``_lif_kernels.h`` and ``_lif_recurrent_kernels.h``, argument checks in ``_buffers.h``,
  what the two share in ``_common.h``;
- :mod:`.lif_autograd` and :mod:`.lif_recurrent_autograd`: a ``torch.autograd.Function``
  per kernel, which allocate the outputs and call the C functions.

The extensions are optional (setup.py builds them when a C compiler works): this package
imports what was built and says in one place why the rest is missing. Nothing here chooses
a path: :mod:`snnlearn.backend` does, for every layer.
"""

from __future__ import annotations

import importlib
import os
from typing import Optional

__all__ = ["lif_autograd", "lif_recurrent_autograd", "IMPORT_ERROR", "SKIPPED_NOTE"]

# setup.py leaves this note when no C compiler could build an extension at install time.
SKIPPED_NOTE = os.path.join(os.path.dirname(__file__), "_c_build_skipped.txt")


def _load(name: str):
    """``(module, None)`` or ``(None, why it could not be imported)``."""
    try:
        return importlib.import_module(f".{name}", __name__), None
    except ImportError as error:  # pragma: no cover - exercised by tests/test_no_compiler.py
        return None, f"{name}: {error}"


lif_autograd, _lif_error = _load("lif_autograd")
lif_recurrent_autograd, _recurrent_error = _load("lif_recurrent_autograd")

# Why not every extension can be used (None when all can): the install-time note if setup.py
# left one (it names the compiler's complaint), else the import errors.
IMPORT_ERROR: Optional[str] = None
if _lif_error or _recurrent_error:
    if os.path.isfile(SKIPPED_NOTE):
        with open(SKIPPED_NOTE) as _handle:
            IMPORT_ERROR = _handle.read().strip()
    else:
        IMPORT_ERROR = "; ".join(error for error in (_lif_error, _recurrent_error) if error)
