"""Spike thresholds: the Heaviside step and its SuperSpike surrogate gradient.

A spike is ``z = H(x)`` with ``H(x) = 1 if x > 0 else 0``. Its true derivative is zero
almost everywhere, so training uses a *surrogate*: the forward pass keeps the step, the
backward pass pretends it was smooth (SuperSpike, Zenke & Ganguli 2018)::

    dH/dx ≈ 1 / (alpha * |x| + 1)^2
"""

from __future__ import annotations

import torch

__all__ = ["heaviside", "superspike", "threshold", "SuperSpike", "STALE_STATE_HINT"]

STALE_STATE_HINT = (
    "A state (v, i) from an earlier batch was reused after its graph was freed by "
    "backward(). Start each batch from a fresh state (state=None) or cut the history "
    "with snnlearn.detach_state(state) before the next forward pass."
)


def heaviside(x: torch.Tensor) -> torch.Tensor:
    """The Heaviside step ``H(x) = 1 if x > 0 else 0``, in ``x``'s dtype.

    NaN counts as "not <= 0" and so spikes, exactly as in Norse.

    >>> heaviside(torch.tensor([-1.0, 0.0, 0.5]))
    tensor([0., 0., 1.])
    """
    return torch.where(x <= 0, torch.zeros_like(x), torch.ones_like(x))


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


def threshold(x: torch.Tensor, method: str = "super", alpha: float = 100.0) -> torch.Tensor:
    """Spike where ``x > 0``, differentiable through the surrogate named by ``method``.

    ``method="super"`` is SuperSpike; ``"heaviside"`` is the bare step (no gradient).

    >>> threshold(torch.tensor([-0.1, 0.2]))
    tensor([0., 1.])
    """
    if method == "super":
        return superspike(x, alpha)
    if method == "heaviside":
        return heaviside(x)
    raise ValueError(f"unknown threshold method {method!r}; use 'super' or 'heaviside'")
