"""``nn.Module`` layers of recurrent LIF neurons: one step (``LIFRecurrentCell``) or a
sequence (``LIFRecurrent``), with Norse 1.1.0's parameter names and initialisation."""

from __future__ import annotations

from typing import Optional, Tuple

import torch

from ..functional.lif import LIFParameters
from ..functional.lif_recurrent import LIFState, lif_recurrent_initial_state, lif_recurrent_step
from .. import backend
from .neuron import NeuronModule

__all__ = ["LIFRecurrentCell", "LIFRecurrent"]


# The arguments and attributes both recurrent layers take (as Norse's), written once and
# put into each layer's docstring (as torch.nn's convolution layers share their notes).
_RECURRENT_ARGS = r"""input_size (int): size of the input's last axis.
        hidden_size (int): number of neurons.
        p (LIFParameters): neuron parameters, as for :class:`~snnlearn.LIFCell`.
        dt (float): time step in seconds. Default: ``0.001``.
        autapses (bool): allow a synapse from a neuron onto itself. Default: ``False``:
            the diagonal of ``recurrent_weights`` is set to zero (also in given weights)
            and its gradient is masked, so it stays zero.
        input_weights (torch.Tensor): keyword-only: ``(hidden_size, input_size)`` to start from.
        recurrent_weights (torch.Tensor): keyword-only: ``(hidden_size, hidden_size)`` to
            start from.

    Attributes:
        input_weights: ``(hidden_size, input_size)``; unless given, drawn from
            N(0, 2 / hidden_size) exactly as Norse 1.1.0 draws it (same seed, same bits).
        recurrent_weights: ``(hidden_size, hidden_size)``, drawn likewise.
        p: the parameters, tensor fields read from the layer.
        dt: the time step."""


class _RecurrentBase(NeuronModule):
    """What the two recurrent layers share: the weights and the input checks."""

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
    __doc__ = r"""Recurrent LIF neurons advanced by one time step per call:
    ``z, state = cell(x, state)``.

    One step of :func:`snnlearn.functional.lif_recurrent_step` (Norse 1.1.0's
    ``lif_step``): the input through ``input_weights`` and the previous step's spikes
    through ``recurrent_weights`` jump the current; then the LIF equations, with a reset
    that carries no gradient.

    One step always runs the PyTorch reference: the C kernel pays off over a sequence
    (:class:`LIFRecurrent`), and for a single step it was measured slower than the reference
    (its per-call overhead outweighs the few operations it fuses).

    Args:
        {args}

    Shape:
        - input_tensor: :math:`(*, \text{{input\_size}})`.
        - state: ``LIFState(z, v, i)``, each field :math:`(*, \text{{hidden\_size}})`, or
          ``None`` (rest, no spikes).
        - Output: spikes :math:`(*, \text{{hidden\_size}})` and the new state.

    Examples:
        >>> cell = LIFRecurrentCell(4, 8)
        >>> z, state = cell(torch.ones(2, 4))
        >>> z.shape, state.z.shape
        (torch.Size([2, 8]), torch.Size([2, 8]))
    """.format(args=_RECURRENT_ARGS)

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
    __doc__ = r"""Recurrent LIF neurons over a time-first input: the spikes of every step
    and the final state, as :class:`LIFRecurrentCell` run over the time axis.

    On the CPU, in float32 or float64 with plain-number parameters, the whole sequence runs
    in the C extension: the input projection of all ``T`` steps is one matrix multiply,
    then each spike adds one column of ``recurrent_weights`` to the next step's current
    (cost follows the spikes); backward is one BPTT call. Otherwise, or under
    ``snnlearn.use_backend("reference")``, the reference
    :func:`snnlearn.functional.lif_recurrent_sequence` runs; both give the same numbers,
    and :func:`snnlearn.backend.last_path` says which ran.

    Args:
        {args}

    Shape:
        - input_tensor: :math:`(T, *, \text{{input\_size}})`, time first.
        - state: ``LIFState(z, v, i)``, each field :math:`(*, \text{{hidden\_size}})`, or
          ``None`` (rest, no spikes).
        - Output: spikes :math:`(T, *, \text{{hidden\_size}})` and the final state.

    Examples:
        >>> z, state = LIFRecurrent(4, 8)(torch.ones(20, 2, 4))
        >>> z.shape
        torch.Size([20, 2, 8])
    """.format(args=_RECURRENT_ARGS)

    def forward(self, input_tensor: torch.Tensor,
                state: Optional[LIFState] = None) -> Tuple[torch.Tensor, LIFState]:
        given, input_tensor = input_tensor, backend.as_neuron_input(input_tensor)
        self._check_input(input_tensor, "input (T, ..., input_size)")
        z, state = backend.lif_recurrent_sequence(
            input_tensor, self.input_weights, self.recurrent_weights, state, self.p, self.dt)
        return backend._sparse_like(z, given), state
