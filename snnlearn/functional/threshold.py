"""Spike thresholds: the Heaviside step and its surrogate gradients.

A spike is ``z = H(x)`` with ``H(x) = 1 if x > 0 else 0``. Its true derivative is zero
almost everywhere, so training uses a *surrogate*: the forward pass keeps the step, the
backward pass pretends it was smooth. SuperSpike (Zenke & Ganguli 2018, section 3.3.2)::

    dH/dx ≈ 1 / (alpha * |x| + 1)^2

Norse 1.1.0's SuperSpike dropped ``alpha`` (``1 / (|x| + 1)^2`` whatever ``alpha`` is; fixed
after 1.1.0 in Norse's "Fixed superspike equation (#403)"). ``method="super"`` follows the
paper; ``method="super_norse110"`` reproduces Norse 1.1.0 bit for bit, and so does
``method="super"`` inside a ``with norse_1_1_0_gradients():`` block (for running Norse
code unchanged and comparing numbers).

Surrogates are looked up by name in :data:`SURROGATES`: a new one is a function
``f(x, alpha) -> spikes`` and one entry there.
"""

from __future__ import annotations

import contextlib
import contextvars
from typing import Callable, Dict, Iterator

import torch

__all__ = ["heaviside", "superspike", "superspike_norse110", "threshold", "SuperSpike",
           "SURROGATES", "NORSE_1_1_0", "norse_1_1_0_gradients", "resolve_method", "surrogate_of",
           "STALE_STATE_HINT"]

STALE_STATE_HINT = (
    "A state (v, i) from an earlier batch was reused after its graph was freed by "
    "backward(). Start each batch from a fresh state (state=None) or cut the history "
    "with snnlearn.detach_state(state) before the next forward pass."
)

#: The ``method`` that reproduces Norse 1.1.0's SuperSpike (which ignores ``alpha``).
NORSE_1_1_0 = "super_norse110"


def heaviside(x: torch.Tensor) -> torch.Tensor:
    """The Heaviside step ``H(x) = 1 if x > 0 else 0``, in ``x``'s dtype.

    NaN is not ``> 0`` and so does not spike, exactly as in Norse (``torch.gt(x, 0)``).

    >>> heaviside(torch.tensor([-1.0, 0.0, 0.5, float("nan")]))
    tensor([0., 0., 1., 0.])
    """
    return torch.gt(x, 0).to(x.dtype)


def saved_tensors_or_explain(ctx) -> tuple:
    """``ctx.saved_tensors``, with a learner-readable error if the graph was freed."""
    try:
        return ctx.saved_tensors
    except RuntimeError as error:
        if "second time" in str(error) or "freed" in str(error):
            raise RuntimeError(f"{STALE_STATE_HINT}\n(PyTorch said: {error})") from None
        raise


class SuperSpike(torch.autograd.Function):
    r"""Heaviside forward, SuperSpike surrogate backward.

    Forward: ``z = H(x)``. Backward: ``dL/dx = dL/dz / (alpha * |x| + 1)^2``.

    >>> x = torch.tensor([-0.5, 0.0, 0.5], requires_grad=True)
    >>> SuperSpike.apply(x, 2.0).sum().backward()
    >>> x.grad
    tensor([0.2500, 1.0000, 0.2500])
    """

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return heaviside(x)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        (x,) = saved_tensors_or_explain(ctx)
        return grad_output / (ctx.alpha * torch.abs(x) + 1.0).pow(2), None


def superspike(x: torch.Tensor, alpha: float = 100.0) -> torch.Tensor:
    """``H(x)`` with the SuperSpike surrogate gradient ``1 / (alpha |x| + 1)^2``."""
    return SuperSpike.apply(x, alpha)


def superspike_norse110(x: torch.Tensor, alpha: float = 100.0) -> torch.Tensor:
    """``H(x)`` with Norse 1.1.0's SuperSpike gradient ``1 / (|x| + 1)^2``: ``alpha`` is
    ignored, as Norse 1.1.0 ignored it. The same as :func:`superspike` with ``alpha = 1``
    (``1.0 * |x|`` is exact), which is how the C kernels run it.

    >>> x = torch.tensor([0.5], requires_grad=True)
    >>> superspike_norse110(x, 100.0).sum().backward()
    >>> x.grad
    tensor([0.4444])
    """
    return SuperSpike.apply(x, 1.0)


def _step(x: torch.Tensor, alpha: float) -> torch.Tensor:
    return heaviside(x)


#: ``method`` name -> ``f(x, alpha)``: spikes forward, the surrogate backward.
SURROGATES: Dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "super": superspike,
    NORSE_1_1_0: superspike_norse110,
    "heaviside": _step,  # the bare step: no gradient
}

#: The surrogates the C kernels implement: ``method`` -> the ``alpha`` they run with
#: (``None``: the parameters' own).
C_SURROGATES: Dict[str, object] = {"super": None, NORSE_1_1_0: 1.0}

_norse_1_1_0: contextvars.ContextVar = contextvars.ContextVar("snnlearn_norse110", default=False)


@contextlib.contextmanager
def norse_1_1_0_gradients() -> Iterator[None]:
    """Norse 1.1.0's gradients, inside this block (this thread or asyncio task), for Norse
    code run unchanged:

    - ``method="super"`` means Norse 1.1.0's SuperSpike (``NORSE_1_1_0``, which ignores
      ``alpha``), in the reference and in the C kernels: the gradients of Norse 1.1.0,
      bit for bit;
    - a layer given ``state=None`` starts from a resting state whose ``v`` requires a
      gradient, as Norse's layers do: its outputs carry an autograd graph even when
      nothing before it does (``LIF()(torch.ones(10, 2)).sum().backward()`` works). Outside
      the block a layer fed plain tensors returns plain tensors (which print, plot and
      convert to NumPy without ``detach()``); the numbers are the same.

    >>> x = torch.tensor([0.5], requires_grad=True)
    >>> with norse_1_1_0_gradients():
    ...     threshold(x, "super", 100.0).sum().backward()
    >>> x.grad
    tensor([0.4444])
    """
    token = _norse_1_1_0.set(True)
    try:
        yield
    finally:
        _norse_1_1_0.reset(token)


def norse_1_1_0_active() -> bool:
    """Whether this thread or task is inside :func:`norse_1_1_0_gradients`."""
    return _norse_1_1_0.get()


def resolve_method(method: str) -> str:
    """The surrogate ``method`` names here: ``"super"`` is :data:`NORSE_1_1_0` inside
    :func:`norse_1_1_0_gradients`."""
    if method == "super" and _norse_1_1_0.get():
        return NORSE_1_1_0
    return method


def threshold(x: torch.Tensor, method: str = "super", alpha: float = 100.0) -> torch.Tensor:
    """Spike where ``x > 0``, differentiable through the surrogate named by ``method``
    (a key of ``snnlearn.functional.threshold.SURROGATES``).

    ``"super"`` is SuperSpike, ``"super_norse110"`` Norse 1.1.0's SuperSpike, ``"heaviside"``
    the bare step (no gradient).

    >>> threshold(torch.tensor([-0.1, 0.2]))
    tensor([0., 1.])
    """
    return surrogate_of(method)(x, alpha)


def surrogate_of(method: str) -> Callable[[torch.Tensor, float], torch.Tensor]:
    """The function ``f(x, alpha)`` of the surrogate named ``method``: one of
    :data:`SURROGATES` here, or of the further shapes in
    :data:`snnlearn.functional.surrogates.SURROGATES` (``"fast_sigmoid"``, ``"arctan"``,
    ``"triangle"``, ``"tanh"``, ``"circ"``, ``"heavi_erfc"``). Unknown names raise
    ``ValueError``.

    >>> surrogate_of("arctan").__name__
    'arctan'
    """
    from .surrogates import SURROGATES as shapes  # here: surrogates imports this module

    name = resolve_method(method) if isinstance(method, str) else method
    surrogate = SURROGATES.get(name) if isinstance(name, str) else None
    if surrogate is None and isinstance(name, str):
        surrogate = shapes.get(name)
    if surrogate is None:
        names = dict.fromkeys([*SURROGATES, *shapes])
        raise ValueError(f"unknown threshold method {method!r}; use one of "
                         f"{', '.join(map(repr, names))}")
    return surrogate
