"""Which implementation runs a neuron layer: the C kernels or the PyTorch reference.

The one place that decides, for all three kinds of neuron: LIF (``LIFCell``, ``LIF``), the
leaky integrator (``LI``) and recurrent LIF (``LIFRecurrent``). The library reads in layers:

- ``snnlearn.functional``: the reference, pure step functions and their time loops;
- ``snnlearn._compiled``: the C kernels and the autograd Functions over them;
- this module: checks the arguments, picks one of the two, records which ran;
- ``snnlearn.module``: the ``nn.Module`` layers, which call the functions here.

``"auto"`` (the default) uses the C kernels whenever they can: CPU tensors of dtype float32
or float64 with parameters that are plain Python numbers and the SuperSpike surrogate.
Anything else (CUDA, float16, per-neuron or learnable parameter tensors) runs the
reference in ``snnlearn.functional``. Both compute the same numbers; the tests
hold them to float64 ~1e-12 and float32 ~1e-6 (the forward pass of LIF and LI bit for bit).

The switch is public, for teaching and testing:

>>> import torch, snnlearn
>>> with snnlearn.use_backend("reference"):
...     z, s = snnlearn.LIFCell()(torch.ones(3))
>>> snnlearn.last_path()
'reference'
>>> z, s = snnlearn.LIF()(torch.ones(10, 3))
>>> snnlearn.last_path() == ("c" if snnlearn.c_available() else "reference")
True

``use_backend`` and ``last_path`` hold per thread and per asyncio task (they live in
``contextvars``): a ``with use_backend(...)`` block in one thread never changes what
another thread runs, and ``last_path()`` reports the calls of the thread or task asking.
``set_backend`` changes the process-wide default, which every thread and task uses outside
a ``use_backend`` block.

The environment variable ``SNNLEARN_BACKEND`` (``auto``, ``c`` or ``reference``) sets that
default. It is checked at the first LIF call (or ``get_backend()``), not at import: with
``SNNLEARN_BACKEND=c`` and no compiled extension, ``import snnlearn`` works and the first
call raises ``CUnavailableError``, which says what is missing.

Asking for C where it cannot run raises ``CUnavailableError``, always: at
``set_backend("c")`` / ``use_backend("c")`` when the extensions are not built, and at a
call under ``"c"`` whose arguments the kernels cannot take (the message gives the reason
:func:`why_not_c` gives). It is a ``RuntimeError`` and a ``ValueError``, so code written
against either keeps working.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from typing import Iterator, Optional, Tuple

import torch

from ._compiled import IMPORT_ERROR as _IMPORT_ERROR
from ._compiled import lif_autograd as _lif_autograd
from ._compiled import lif_recurrent_autograd as _lif_recurrent_autograd
from ._compiled.kernel_args import KernelArgs, kernel_args
from .functional.leaky_integrator import (
    LIParameters,
    LIState,
    li_feed_forward_sequence,
    li_initial_state,
)
from .functional.threshold import _norse_1_1_0, norse_1_1_0_active
from .functional.lif import (
    LIFFeedForwardState,
    LIFParameters,
    lif_feed_forward_sequence,
    lif_feed_forward_step,
    lif_initial_state,
)
from .functional.lif_recurrent import LIFState, lif_recurrent_sequence as _recurrent_reference

__all__ = [
    "BACKENDS",
    "CUnavailableError",
    "c_available",
    "get_backend",
    "set_backend",
    "use_backend",
    "last_path",
    "why_not_c",
    "choose_path",
    "lif_step",
    "lif_sequence",
    "li_sequence",
    "lif_recurrent_sequence",
    "as_neuron_input",
    "resting_state",
]

BACKENDS = ("auto", "c", "reference")
C_DTYPES = (torch.float32, torch.float64)
_STRIDED = torch.strided

# The process-wide default: None until the first use reads SNNLEARN_BACKEND (read at
# import, checked at first use so that a bad value cannot break `import snnlearn`).
_default: Optional[str] = None
_env_backend = os.environ.get("SNNLEARN_BACKEND") or None
# Per thread and per asyncio task: the choice of the innermost `use_backend` block (None
# outside any), and which implementation ran the most recent LIF call.
_block_backend: contextvars.ContextVar = contextvars.ContextVar("snnlearn_backend", default=None)
_last_path: contextvars.ContextVar = contextvars.ContextVar("snnlearn_last_path", default=None)


class CUnavailableError(RuntimeError, ValueError):
    """The C kernels were asked for (backend ``"c"``) but cannot run: the extensions are not
    built, or they cannot take these arguments. The message says why."""


def c_available() -> bool:
    """True when every compiled extension (``snnlearn._compiled._lif`` and
    ``snnlearn._compiled._lif_recurrent``) could be imported."""
    return _lif_autograd is not None and _lif_recurrent_autograd is not None


def _checked(name: str, source: str) -> str:
    if name not in BACKENDS:
        raise ValueError(f"{source} must be one of {BACKENDS}, got {name!r}")
    if name == "c" and not c_available():
        raise CUnavailableError(
            f"{source} asks for the C kernels but the C extensions are not built "
            f"({_IMPORT_ERROR}); build them with `pip install -e .` (see README.md) or choose "
            "'auto' or 'reference'"
        )
    return name


def _process_default() -> str:
    global _default
    if _default is None:
        _default = "auto" if _env_backend is None else _checked(
            _env_backend, "the environment variable SNNLEARN_BACKEND")
    return _default


def get_backend() -> str:
    """The current choice in this thread or task: ``"auto"``, ``"c"`` or ``"reference"``."""
    return _block_backend.get() or _process_default()


def set_backend(name: str) -> None:
    """Choose the implementation of LIF steps from now on, for the whole process.

    ``"c"`` insists on the C kernels and raises where they cannot run; ``"reference"``
    always uses the PyTorch reference; ``"auto"`` picks C where it can. Inside a
    ``use_backend`` block the block's choice still wins until the block ends.
    """
    global _default
    _default = _checked(name, "backend")


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Use ``name`` inside a ``with`` block, in this thread or asyncio task only, then
    restore the previous choice."""
    token = _block_backend.set(_checked(name, "backend"))
    try:
        yield
    finally:
        _block_backend.reset(token)


def last_path() -> Optional[str]:
    """Which implementation ran the most recent LIF call of this thread or asyncio task:
    ``"c"`` or ``"reference"`` (``None`` before any)."""
    return _last_path.get()


def why_not_c(x: torch.Tensor, p, dt) -> Optional[str]:
    """Why the C kernels cannot run on these arguments (``p``: ``LIFParameters`` or
    ``LIParameters``), or ``None`` if they can."""
    if _lif_autograd is None:
        return f"the C extension snnlearn._compiled._lif is not built ({_IMPORT_ERROR})"
    if x.device.type != "cpu":
        return f"input is on {x.device}, the C kernels run on the CPU"
    if x.dtype not in C_DTYPES:
        return f"input dtype is {x.dtype}, the C kernels take float32 or float64"
    return kernel_args(p, dt).reason


def _direct(x, p, dt, min_dim: int = 0) -> Optional[KernelArgs]:
    """The kernel arguments if a call from rest can go straight to the C kernels, with no
    conversion of the input and no state to check (the common case, decided in a few
    attribute reads; the parameters' verdict is kept per ``(p, dt)``, see
    :mod:`snnlearn._compiled.kernel_args`), else ``None``. Records the path when it can;
    anything else takes the general route, which decides (and explains) by the same rules."""
    backend = _block_backend.get() or _default or _process_default()
    if (type(x) is torch.Tensor and x.layout is _STRIDED and x.dtype in C_DTYPES
            and x.is_cpu and x.dim() >= min_dim and backend != "reference"
            and _lif_autograd is not None and not _norse_1_1_0.get()):
        args = kernel_args(p, dt)
        if args.reason is None:
            _last_path.set("c")
            return args
    return None


def _choose(x: torch.Tensor, p, dt, unavailable=None) -> str:
    """``"c"`` or ``"reference"`` for one call, recorded for :func:`last_path`.

    ``unavailable``: for a layer with more arguments than ``(x, p, dt)``, a function of no
    arguments that says why its kernel cannot run on them (or returns ``None``); it is only
    asked when C is an option. Raises ``CUnavailableError`` under ``"c"`` when C
    cannot run.
    """
    backend = _block_backend.get() or _default or _process_default()
    if backend == "reference":
        path = "reference"
    else:
        reason = why_not_c(x, p, dt) or (unavailable() if unavailable is not None else None)
        if reason is not None and backend == "c":
            raise CUnavailableError(f"backend 'c' was requested but {reason}")
        path = "reference" if reason else "c"
    _last_path.set(path)
    return path


def choose_path(x: torch.Tensor, p: LIFParameters, dt, unavailable: Optional[str] = None) -> str:
    """Pick ``"c"`` or ``"reference"`` for one call of a layer by the rules above, and
    record it for :func:`last_path`.

    ``unavailable`` says why that layer's kernel cannot run on its other arguments (e.g.
    weights of another dtype), or is ``None``. Raises ``CUnavailableError`` under
    ``"c"`` when C cannot run.
    """
    return _choose(x, p, dt, None if unavailable is None else lambda: unavailable)


def as_neuron_input(x, name: str = "input") -> torch.Tensor:
    """``x`` as a dense floating-point tensor, as Norse's layers take it: a sparse tensor is
    made dense, a bool or integer tensor becomes PyTorch's default float dtype (float32), as
    Norse's float32 state turns it. Anything else (not a tensor, complex) is refused with a
    ``TypeError`` that says what to pass.

    >>> as_neuron_input(torch.tensor([True, False]))
    tensor([1., 0.])
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}; "
                        "wrap it with torch.as_tensor(...)")
    if x.layout != torch.strided:
        x = x.to_dense()
    if x.is_complex():
        raise TypeError(f"{name} is complex ({x.dtype}); pass a real tensor, e.g. x.real or x.abs()")
    if not x.is_floating_point():
        x = x.to(torch.get_default_dtype())
    return x


def resting_state(x: torch.Tensor, p, initial=lif_initial_state):
    """The resting state a layer starts from when given ``state=None`` inside
    :func:`snnlearn.norse_1_1_0_gradients`, as Norse's layers make it: under autograd its
    ``v`` is a leaf that requires a gradient, so the outputs carry an autograd graph even
    with no parameters before the layer (``out.sum().backward()`` works, as in Norse).
    Returns ``None`` (the kernels start from rest themselves, at no cost) otherwise, and
    where it makes no difference: outside autograd, or when ``x`` already requires a
    gradient."""
    if not torch.is_grad_enabled() or x.requires_grad or not norse_1_1_0_active():
        return None
    state = initial(x, p)
    if not state.v.requires_grad:
        state.v.requires_grad_(True)
    return state


def _sparse_like(z: torch.Tensor, x) -> torch.Tensor:
    """Spikes in ``x``'s layout: sparse for a sparse input, as Norse's sparse activations."""
    return z.to_sparse() if isinstance(x, torch.Tensor) and x.is_sparse else z


def _check_state(state, x: torch.Tensor, shape: torch.Size, where: str,
                 kind=LIFFeedForwardState):
    if not (isinstance(state, tuple) and hasattr(state, "v") and hasattr(state, "i")):
        raise TypeError(
            f"state must be a {kind.__name__}(v, i) or None, got {type(state).__name__}"
        )
    fields = []
    for field in ("v", "i"):
        tensor = getattr(state, field)
        name = f"state.{field}"
        if not isinstance(tensor, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(tensor).__name__}")
        if tensor.dim() == 0 or not tensor.is_floating_point():
            # Norse's states broadcast and promote: a 0-d or integer tensor (e.g.
            # torch.tensor(0)) is taken as a value of the input's dtype for every neuron
            tensor = tensor.to(x.dtype).expand(shape) if tensor.dim() == 0 else tensor.to(x.dtype)
        if tensor.shape != shape:
            raise ValueError(
                f"{name} has shape {tuple(tensor.shape)} but {where} {tuple(shape)}; "
                "pass state=None to start from rest"
            )
        if tensor.dtype != x.dtype:
            raise TypeError(f"{name} is {tensor.dtype} but the input is {x.dtype}")
        if tensor.device != x.device:
            raise ValueError(f"{name} is on {tensor.device} but the input is on {x.device}")
        fields.append(tensor)
    return kind(*fields)


def lif_step(
    x: torch.Tensor,
    state: Optional[LIFFeedForwardState] = None,
    p: LIFParameters = LIFParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LIFFeedForwardState]:
    """One LIF step on the chosen backend; ``state=None`` starts from rest.

    Same equations as :func:`snnlearn.functional.lif_feed_forward_step`.
    """
    args = _direct(x, p, dt) if state is None else None
    if args is not None:
        z, v, i = _lif_autograd.lif_sequence_c(x.unsqueeze(0), None, None, p, dt, args)
        return z.squeeze(0), LIFFeedForwardState(v, i)
    given, x = x, as_neuron_input(x)
    if state is not None:
        state = _check_state(state, x, x.shape, "the input has shape")
    else:
        state = resting_state(x, p)
    if _choose(x, p, dt) == "reference":
        z, state = lif_feed_forward_step(
            x, lif_initial_state(x, p) if state is None else state, p, dt)
        return _sparse_like(z, given), state
    v0, i0 = (None, None) if state is None else state  # None: C starts from rest itself
    z, v, i = _lif_autograd.lif_sequence_c(x.unsqueeze(0), v0, i0, p, dt)
    return _sparse_like(z.squeeze(0), given), LIFFeedForwardState(v, i)


def lif_sequence(
    xs: torch.Tensor,
    state: Optional[LIFFeedForwardState] = None,
    p: LIFParameters = LIFParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LIFFeedForwardState]:
    """All time steps of a time-first input ``(T, ...)`` on the chosen backend.

    Returns spikes shaped like ``xs`` and the final state. On the C backend this is one
    fused call forward and one backward, whatever ``T``.
    """
    args = _direct(xs, p, dt, min_dim=1) if state is None else None
    if args is not None:
        z, v, i = _lif_autograd.lif_sequence_c(xs, None, None, p, dt, args)
        return z, LIFFeedForwardState(v, i)
    given, xs = xs, as_neuron_input(xs)
    if xs.dim() < 1:
        raise ValueError("input must be time-first, shape (T, ...); got a 0-d tensor")
    if state is not None:
        state = _check_state(state, xs, xs.shape[1:], "each time step of the input has shape")
    elif norse_1_1_0_active():
        state = resting_state(xs.new_empty(xs.shape[1:]), p)
    if _choose(xs, p, dt) == "reference":
        if state is None:
            state = lif_initial_state(xs.new_empty(xs.shape[1:]), p)
        z, state = lif_feed_forward_sequence(xs, state, p, dt)
        return _sparse_like(z, given), state
    v0, i0 = (None, None) if state is None else state  # None: C starts from rest itself
    z, v, i = _lif_autograd.lif_sequence_c(xs, v0, i0, p, dt)
    return _sparse_like(z, given), LIFFeedForwardState(v, i)


def li_sequence(
    xs: torch.Tensor,
    state: Optional[LIState] = None,
    p: LIParameters = LIParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LIState]:
    """Leaky integrators over a time-first input ``(T, ...)`` on the chosen backend.

    Returns the voltages of every step (shaped like ``xs``) and the final state; the same
    equations as :func:`snnlearn.functional.li_feed_forward_step`. On the C backend this is
    one fused call forward and one backward, whatever ``T``.

    >>> import torch, snnlearn
    >>> v, s = snnlearn.LI()(torch.ones(5, 2))
    >>> snnlearn.last_path() == ("c" if snnlearn.c_available() else "reference")
    True
    """
    args = _direct(xs, p, dt, min_dim=1) if state is None else None
    if args is not None:
        ys, v, i = _lif_autograd.li_sequence_c(xs, None, None, p, dt, args)
        return ys, LIState(v, i)
    xs = as_neuron_input(xs)
    if xs.dim() < 1:
        raise ValueError("input must be time-first, shape (T, ...); got a 0-d tensor")
    if state is not None:
        state = _check_state(state, xs, xs.shape[1:], "each time step of the input has shape",
                             LIState)
    elif norse_1_1_0_active():
        state = resting_state(xs.new_empty(xs.shape[1:]), p, li_initial_state)
    if _choose(xs, p, dt) == "reference":
        if state is None:
            state = li_initial_state(xs.new_zeros(xs.shape[1:]), p)
        return li_feed_forward_sequence(xs, state, p, dt)
    v0, i0 = (None, None) if state is None else state  # None: C starts from rest itself
    ys, v, i = _lif_autograd.li_sequence_c(xs, v0, i0, p, dt)
    return ys, LIState(v, i)


# ---- recurrent LIF ------------------------------------------------------------------------

def _recurrent_why_not_c(x: torch.Tensor, state: Optional[LIFState],
                         input_weights: torch.Tensor, recurrent_weights: torch.Tensor
                         ) -> Optional[str]:
    """Why the recurrent kernel cannot run on these arguments (beyond :func:`why_not_c`)."""
    if _lif_recurrent_autograd is None:
        return f"the C extension snnlearn._compiled._lif_recurrent is not built ({_IMPORT_ERROR})"
    if x.dim() < 2:
        return "input has no time axis (T, ..., input_size)"
    for name, w in (("input_weights", input_weights), ("recurrent_weights", recurrent_weights)):
        if w.dtype != x.dtype or w.device != x.device:
            return f"{name} is {w.dtype} on {w.device}, the input {x.dtype} on {x.device}"
    if state is not None:
        shape = (*x.shape[1:-1], input_weights.shape[0])
        for name in ("z", "v", "i"):
            t = getattr(state, name, None)
            if not isinstance(t, torch.Tensor) or tuple(t.shape) != shape \
                    or t.dtype != x.dtype or t.device != x.device:
                return f"state.{name} is not a {x.dtype} tensor of shape {shape} on {x.device}"
    return None


def lif_recurrent_sequence(
    xs: torch.Tensor,
    input_weights: torch.Tensor,
    recurrent_weights: torch.Tensor,
    state: Optional[LIFState] = None,
    p: LIFParameters = LIFParameters(),
    dt: float = 0.001,
) -> Tuple[torch.Tensor, LIFState]:
    """Recurrent LIF over a time-first input ``(T, ..., input)`` on the chosen backend
    (arguments as :func:`snnlearn.functional.lif_recurrent_sequence`, checked by the layer).

    On the C path the input projection of all ``T`` steps is one matrix multiply and the
    recurrence and its BPTT one C call each. Weights or a state the kernel cannot take
    (another dtype or device, a mismatched state) run the reference, which reports them.
    """
    path = _choose(xs, p, dt, lambda: _recurrent_why_not_c(xs, state, input_weights,
                                                           recurrent_weights))
    if path == "reference":
        return _recurrent_reference(xs, input_weights, recurrent_weights, state, p, dt)
    z0, v0, i0 = (None, None, None) if state is None else state  # None: from rest
    z, *final = _lif_recurrent_autograd.lif_recurrent_sequence_c(
        xs, z0, v0, i0, input_weights, recurrent_weights, p, dt)
    return z, LIFState(*final)
