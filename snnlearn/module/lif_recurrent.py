"""``nn.Module`` layers of recurrent LIF neurons: one step (``LIFRecurrentCell``) or a
sequence (``LIFRecurrent``), with Norse 1.1.0's parameter names and initialisation."""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from ..functional.lif import LIFParameters
from ..functional.lif_recurrent import (
    LIFState,
    lif_recurrent_initial_state,
    lif_recurrent_sequence,
    lif_recurrent_step,
)
from .. import backend
from .neuron import NeuronModule

try:  # built by `pip install -e .`; without it the reference runs
    from .. import _lif_recurrent_autograd
except ImportError as _error:  # pragma: no cover - exercised only on a broken install
    _lif_recurrent_autograd = None
    _IMPORT_ERROR: Optional[str] = str(_error)
else:
    _IMPORT_ERROR = None

__all__ = ["LIFRecurrentCell", "LIFRecurrent"]


class _RecurrentBase(NeuronModule):
    """Weights ``input_weights`` (hidden × input) and ``recurrent_weights`` (hidden × hidden),
    both drawn from N(0, 2 / hidden) exactly as Norse 1.1.0 draws them (same seed, same
    bits), unless given. Without ``autapses`` the diagonal of ``recurrent_weights`` (a
    neuron's synapse onto itself) is set to zero, also in given weights, and stays zero: its
    gradient is masked."""

    def __init__(self, input_size: int, hidden_size: int, p: LIFParameters = LIFParameters(),
                 dt: float = 0.001, autapses: bool = False, *,
                 input_weights: Optional[torch.Tensor] = None,
                 recurrent_weights: Optional[torch.Tensor] = None):
        super().__init__(p, dt)
        for name, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name} must be a positive int, got {value!r}")
        self.input_size, self.hidden_size, self.autapses = input_size, hidden_size, autapses
        # Norse: torch.randn(...) * torch.sqrt(2.0 / torch.as_tensor(hidden_size)), in float32
        scale = torch.sqrt(2.0 / torch.as_tensor(hidden_size))
        self.input_weights = _weight(input_weights, (hidden_size, input_size), "input_weights",
                                     scale)
        self.recurrent_weights = _weight(recurrent_weights, (hidden_size, hidden_size),
                                         "recurrent_weights", scale)
        if not autapses:
            with torch.no_grad():
                self.recurrent_weights.fill_diagonal_(0.0)
            self.recurrent_weights.register_hook(_zero_diagonal)

    def _check_input(self, x: torch.Tensor, where: str) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"input must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() < 1 or x.shape[-1] != self.input_size:
            raise ValueError(
                f"{where} must end in input_size={self.input_size}, got shape {tuple(x.shape)}")
        for name in ("input_weights", "recurrent_weights"):
            w = getattr(self, name)
            if w.dtype != x.dtype:
                raise TypeError(f"input is {x.dtype} but {name} is {w.dtype}; convert one, "
                                "e.g. layer.double() or x.float()")
            if w.device != x.device:
                raise ValueError(f"input is on {x.device} but {name} is on {w.device}")

    def extra_repr(self) -> str:
        return (f"input_size={self.input_size}, hidden_size={self.hidden_size}, "
                f"autapses={self.autapses}, {super().extra_repr()}")


def _weight(given: Optional[torch.Tensor], shape: Tuple[int, int], name: str,
            scale: torch.Tensor) -> torch.nn.Parameter:
    """A given weight (checked, kept as the same storage) or a fresh N(0, 2 / hidden) draw."""
    if given is None:
        return torch.nn.Parameter(torch.randn(*shape) * scale)
    if not isinstance(given, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(given).__name__}")
    if tuple(given.shape) != shape:
        raise ValueError(f"{name} must have shape {shape}, got {tuple(given.shape)}")
    return given if isinstance(given, torch.nn.Parameter) else torch.nn.Parameter(given)


def _zero_diagonal(grad: torch.Tensor) -> torch.Tensor:
    """Norse's autapse hook: the gradient with its diagonal set to zero."""
    return grad.clone().fill_diagonal_(0.0)


class LIFRecurrentCell(_RecurrentBase):
    """Recurrent LIF neurons advanced by one time step per call: ``z, state = cell(x, state)``.

    ``x`` is ``(..., input_size)``; ``z`` and the state fields are ``(..., hidden_size)``.
    ``state=None`` starts from rest. Equations: :func:`snnlearn.functional.lif_recurrent_step`.

    Arguments as Norse's: ``input_size``, ``hidden_size``, ``p`` (:class:`LIFParameters`),
    ``dt``, ``autapses`` (default ``False``: no synapse from a neuron onto itself, its weight
    and gradient held at zero), and keyword-only ``input_weights`` / ``recurrent_weights``
    to start from given weights (default: N(0, 2 / hidden), drawn exactly as Norse draws them).

    One step always runs the PyTorch reference: the C kernel pays off over a sequence
    (:class:`LIFRecurrent`), and for a single step it was measured slower than the reference
    (its per-call overhead outweighs the few operations it fuses).

    >>> cell = LIFRecurrentCell(4, 8)
    >>> z, state = cell(torch.ones(2, 4))
    >>> z.shape, state.z.shape
    (torch.Size([2, 8]), torch.Size([2, 8]))
    """

    def forward(self, input_tensor: torch.Tensor,
                state: Optional[LIFState] = None) -> Tuple[torch.Tensor, LIFState]:
        given, input_tensor = input_tensor, backend.as_neuron_input(input_tensor)
        self._check_input(input_tensor, "input")
        if state is None:
            state = lif_recurrent_initial_state(tuple(input_tensor.shape[:-1]), self.hidden_size,
                                                self.p, input_tensor.dtype, input_tensor.device)
        z, state = lif_recurrent_step(input_tensor, state, self.input_weights,
                                      self.recurrent_weights, self.p, self.dt)
        return backend._sparse_like(z, given), state


class LIFRecurrent(_RecurrentBase):
    """Recurrent LIF neurons over a time-first input ``(T, ..., input_size)``.

    Returns the spikes of every step ``(T, ..., hidden_size)`` and the final state.

    Arguments as Norse's: ``input_size``, ``hidden_size``, ``p`` (:class:`LIFParameters`),
    ``dt``, ``autapses`` (default ``False``: no synapse from a neuron onto itself, its weight
    and gradient held at zero), and keyword-only ``input_weights`` / ``recurrent_weights``
    to start from given weights (default: N(0, 2 / hidden), drawn exactly as Norse draws them).

    On the CPU, in float32 or float64 with plain-number parameters, the whole sequence runs
    in the C extension ``snnlearn._lif_recurrent``: the input projection of all ``T`` steps
    is one matrix multiply, then each spike adds one column of ``recurrent_weights`` to the
    next step's current (cost follows the spikes); backward is one BPTT call. Otherwise, or
    under ``snnlearn.use_backend("reference")``, the reference
    :func:`snnlearn.functional.lif_recurrent_sequence` runs; both give the same numbers,
    and :func:`snnlearn.backend.last_path` says which ran.

    >>> z, state = LIFRecurrent(4, 8)(torch.ones(20, 2, 4))
    >>> z.shape
    torch.Size([20, 2, 8])
    """

    def forward(self, input_tensor: torch.Tensor,
                state: Optional[LIFState] = None) -> Tuple[torch.Tensor, LIFState]:
        given, input_tensor = input_tensor, backend.as_neuron_input(input_tensor)
        self._check_input(input_tensor, "input (T, ..., input_size)")
        path = backend.choose_path(input_tensor, self.p, self.dt,
                                   self._why_not_c(input_tensor, state))
        if path == "reference":
            z, state = lif_recurrent_sequence(input_tensor, self.input_weights,
                                              self.recurrent_weights, state, self.p, self.dt)
            return backend._sparse_like(z, given), state
        z0, v0, i0 = (None, None, None) if state is None else state  # None: from rest
        z, *final = _lif_recurrent_autograd.lif_recurrent_sequence_c(
            input_tensor, z0, v0, i0, self.input_weights, self.recurrent_weights,
            self.p, self.dt)
        return backend._sparse_like(z, given), LIFState(*final)

    def _why_not_c(self, x: torch.Tensor, state: Optional[LIFState]) -> Optional[str]:
        """Why the recurrent C kernel cannot run here (beyond backend.why_not_c), or None."""
        if _lif_recurrent_autograd is None:
            return f"the C extension snnlearn._lif_recurrent is not built ({_IMPORT_ERROR})"
        if x.dim() < 2:
            return "input has no time axis (T, ..., input_size)"
        for name in ("input_weights", "recurrent_weights"):
            w = getattr(self, name)
            if w.dtype != x.dtype or w.device != x.device:
                return f"{name} is {w.dtype} on {w.device}, the input {x.dtype} on {x.device}"
        if state is not None:
            shape = (*x.shape[1:-1], self.hidden_size)
            for name in ("z", "v", "i"):
                t = getattr(state, name, None)
                if not isinstance(t, torch.Tensor) or tuple(t.shape) != shape \
                        or t.dtype != x.dtype or t.device != x.device:
                    return f"state.{name} is not a {x.dtype} tensor of shape {shape} on {x.device}"
        return None
