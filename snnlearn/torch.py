"""Norse-style import path: ``from snnlearn.torch import LIFCell`` ports ``norse.torch`` code.

It re-exports the public names of :mod:`snnlearn`.
"""

from . import *  # noqa: F401,F403
from . import __all__  # noqa: F401
