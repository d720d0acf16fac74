"""Norse's import paths over snnlearn: code written for ``norse.torch`` (Norse 1.1.0) runs
after replacing ``norse.torch`` with ``snnlearn.torch`` in its imports.

The package is laid out like ``norse.torch`` for what snnlearn covers (LIF and leaky
integrator neurons, feed-forward and recurrent; encoders and decoders; SuperSpike and the
Heaviside step; regularisation; ``SequentialState``; NIR import/export): ``snnlearn.torch``,
``snnlearn.torch.functional.{lif, leaky_integrator, encode, decode, threshold, superspike,
heaviside, regularization}``, ``snnlearn.torch.module.{lif, leaky_integrator, encode,
sequential, regularization}`` and ``snnlearn.torch.utils.{export_nir, import_nir}``. Every
name is re-exported from snnlearn's one implementation (``snnlearn.functional``,
``snnlearn.module``); nothing is computed here. The API page of the course lists what
is provided, what is not, and every known numeric difference.

Gradients: ``method="super"`` follows the SuperSpike paper (and Norse after its fix #403);
``with snnlearn.torch.norse_1_1_0_gradients():`` gives Norse 1.1.0's gradients bit for bit.

>>> import torch
>>> import snnlearn.torch as norse
>>> from snnlearn.torch.functional.lif import LIFParameters
>>> z, s = norse.LIF(LIFParameters())(torch.full((100, 1), 0.3))
>>> int(z.sum())
8
"""

from snnlearn import *  # noqa: F401,F403  (snnlearn's public names)
from snnlearn import __all__ as _snnlearn_names

from . import functional, module, utils
from .functional import *  # noqa: F401,F403
from .functional import __all__ as _functional_names
from .module import *  # noqa: F401,F403
from .module import __all__ as _module_names

__all__ = sorted(set(_snnlearn_names) | set(_functional_names) | set(_module_names)
                 | {"functional", "module", "utils"})
