r"""Surrogate gradients: the spike's step forward, a smooth pseudo-derivative backward.

A spike is ``z = H(x)`` with ``H(x) = 1 if x > 0 else 0`` (``x = v - v_th``). ``H`` has no
useful derivative, so training replaces ``dH/dx`` in the backward pass by a smooth bump
``sigma'(x)`` (Neftci, Mostafa & Zenke 2019). Zenke & Vogels (2021, "The remarkable
robustness of surrogate gradient learning") found that the bump's *shape* matters little
and its *scale* (how wide it is) a lot. Every function here computes ``H(x)`` in the forward
pass, and in the backward pass ``dL/dx = dL/dz * sigma'(x)``:

================  ============================================  ==========  ===========  ======
name              ``sigma'(x)``                                 peak        half width   area
================  ============================================  ==========  ===========  ======
``super``         ``1 / (a|x| + 1)^2``                          1           ~0.41 / a    2 / a
``fast_sigmoid``  the same curve (SuperSpike is the derivative  1           ~0.41 / a    2 / a
                  of a fast sigmoid ``x / (1 + |x|)``)
``arctan``        ``(a / 2) / (1 + (pi a x / 2)^2)``            a / 2       2 / (pi a)   1
``triangle``      ``a * max(0, 1 - |x|)``                       a           1 / 2        a
``tanh``          ``1 - tanh(a x)^2``                           1           ~0.88 / a    2 / a
``circ``          ``a^3 / (a^2 + x^2)^(3/2)``                   1           ~0.77 a      2 a
``heavi_erfc``    ``2 exp(-(a x)^2) / sqrt(pi)``                2/sqrt(pi)  ~0.83 / a    2 / a
================  ============================================  ==========  ===========  ======

(``a`` is the ``alpha`` argument; "half width": where ``sigma'`` falls to half its peak;
"area": the integral over all ``x``.) ``super`` is SuperSpike as in Zenke & Ganguli 2018 and
Norse after its fix #403 (:class:`snnlearn.functional.SuperSpike`); ``fast_sigmoid``
is the name snnTorch gives the same curve. ``arctan`` is snnTorch's ``atan``, the true
derivative of the smooth step ``1/2 + arctan(pi a x / 2) / pi``. ``triangle``, ``tanh``,
``circ`` and ``heavi_erfc`` are Norse 1.1.0's, with Norse's meaning of ``alpha`` (for
``triangle`` the height, Bellec et al. 2020's dampening factor, with the width fixed; for
``circ`` a width), so that Norse code keeps its gradients. The tests check every formula,
and the Norse ones against Norse to the bit.

``SURROGATES`` maps each name to its function ``f(x, alpha)``;
:func:`snnlearn.functional.surrogate_derivative` evaluates ``sigma'`` for plotting.

>>> x = torch.tensor([0.0, 0.5], requires_grad=True)
>>> SURROGATES["triangle"](x, 1.0).sum().backward()
>>> x.grad
tensor([1.0000, 0.5000])
"""

from __future__ import annotations

import math
from typing import Callable, Dict

import torch

from .threshold import SuperSpike, heaviside, saved_tensors_or_explain, superspike

__all__ = [
    "SURROGATES",
    "FastSigmoid",
    "ArcTan",
    "Triangle",
    "HeaviTanh",
    "HeaviCirc",
    "HeaviErfc",
    "fast_sigmoid",
    "arctan",
    "triangle",
    "heavi_tanh",
    "heavi_circ",
    "heavi_erfc",
    "surrogate_derivative",
]


class _Surrogate(torch.autograd.Function):
    """Heaviside forward; backward ``chain(grad, x, alpha) = grad * sigma'(x)``, which each
    subclass writes out (in Norse's order of operations where Norse has it: same bits)."""

    @staticmethod
    def chain(grad: torch.Tensor, x: torch.Tensor, alpha: float) -> torch.Tensor:
        raise NotImplementedError  # pragma: no cover

    @staticmethod
    def forward(ctx, x: torch.Tensor, alpha: float) -> torch.Tensor:
        ctx.save_for_backward(x)
        ctx.alpha = alpha
        return heaviside(x)

    @classmethod
    def backward(cls, ctx, grad_output: torch.Tensor):
        (x,) = saved_tensors_or_explain(ctx)
        return cls.chain(grad_output, x, ctx.alpha), None


FastSigmoid = SuperSpike
"""The fast-sigmoid surrogate ``1 / (alpha |x| + 1)^2``: SuperSpike under snnTorch's name."""


def fast_sigmoid(x: torch.Tensor, alpha: float = 25.0) -> torch.Tensor:
    r"""``H(x)`` with the fast-sigmoid surrogate (snnTorch's ``fast_sigmoid``, default slope 25).

    .. math:: \sigma'(x) = \frac{1}{(\alpha |x| + 1)^2},

    the derivative of the fast sigmoid :math:`x / (1 + |x|)` at :math:`\alpha x` divided by
    :math:`\alpha`, and the same curve as SuperSpike's (:class:`snnlearn.functional.SuperSpike`).

    >>> x = torch.tensor([0.0, 0.04], requires_grad=True)
    >>> fast_sigmoid(x).sum().backward()
    >>> x.grad
    tensor([1.0000, 0.2500])
    """
    return superspike(x, alpha)


class ArcTan(_Surrogate):
    r"""Heaviside forward, arctan surrogate backward (snnTorch's ``atan``).

    .. math:: \sigma'(x) = \frac{\alpha / 2}{1 + (\pi \alpha x / 2)^2},

    the true derivative of the smooth step :math:`\tfrac12 + \arctan(\pi \alpha x / 2) / \pi`:
    its area is 1 for every ``alpha`` and its peak ``alpha / 2``.

    >>> x = torch.tensor([0.0, 2 / math.pi], requires_grad=True)
    >>> ArcTan.apply(x, 2.0).sum().backward()
    >>> x.grad
    tensor([1.0000, 0.2000])
    """

    @staticmethod
    def chain(grad, x, alpha):
        return grad * ((alpha / 2) / (1 + (math.pi / 2 * alpha * x).pow(2)))


def arctan(x: torch.Tensor, alpha: float = 2.0) -> torch.Tensor:
    """``H(x)`` with the arctan surrogate (:class:`snnlearn.functional.ArcTan`; snnTorch's
    default ``alpha=2``)."""
    return ArcTan.apply(x, alpha)


class Triangle(_Surrogate):
    r"""Heaviside forward, triangular surrogate backward (Norse's ``triangle``).

    .. math:: \sigma'(x) = \alpha \max(0, 1 - |x|),

    Esser et al. 2016's piecewise-linear surrogate with Bellec et al. 2020's dampening factor
    ``alpha`` (0.3 there) as its height; the width is fixed (zero beyond ``|x| = 1``).

    >>> x = torch.tensor([-1.5, 0.0, 0.25], requires_grad=True)
    >>> Triangle.apply(x, 0.3).sum().backward()
    >>> x.grad
    tensor([0.0000, 0.3000, 0.2250])
    """

    @staticmethod
    def chain(grad, x, alpha):
        return grad * alpha * torch.relu(1 - x.abs())


def triangle(x: torch.Tensor, alpha: float = 0.3) -> torch.Tensor:
    """``H(x)`` with the triangular surrogate (:class:`snnlearn.functional.Triangle`; Norse's
    default 0.3)."""
    return Triangle.apply(x, alpha)


class HeaviTanh(_Surrogate):
    r"""Heaviside forward, tanh surrogate backward (Norse's ``tanh``).

    .. math:: \sigma'(x) = 1 - \tanh^2(\alpha x),

    the shape of a sigmoid's derivative (:math:`1 - \tanh^2(u) = 4 s'(2u)` for the logistic
    :math:`s`) with peak 1 and a width that shrinks as :math:`1/\alpha`.

    >>> x = torch.tensor([0.0], requires_grad=True)
    >>> HeaviTanh.apply(x, 10.0).sum().backward()
    >>> x.grad
    tensor([1.])
    """

    @staticmethod
    def chain(grad, x, alpha):
        return grad * (1 - (x * alpha).tanh().pow(2))


def heavi_tanh(x: torch.Tensor, alpha: float = 10.0) -> torch.Tensor:
    """``H(x)`` with the tanh surrogate (:class:`snnlearn.functional.surrogates.HeaviTanh`)."""
    return HeaviTanh.apply(x, alpha)


class HeaviCirc(_Surrogate):
    r"""Heaviside forward, "circ" surrogate backward (Norse's ``circ``).

    .. math:: \sigma'(x) = \frac{\alpha^3}{(\alpha^2 + x^2)^{3/2}},

    (written as Norse writes it, :math:`2\alpha\,[1 / (2\sqrt{\alpha^2+x^2}) - x^2 /
    (2(\alpha^2+x^2)^{3/2})]`, so that the numbers match Norse's to the bit): peak 1, and
    here ``alpha`` is a *width*.

    >>> x = torch.tensor([0.0, 1.0], requires_grad=True)
    >>> HeaviCirc.apply(x, 1.0).sum().backward()
    >>> x.grad
    tensor([1.0000, 0.3536])
    """

    @staticmethod
    def chain(grad, x, alpha):
        s = alpha**2 + x.pow(2)
        return grad * (-(x.pow(2) / (2 * s.pow(1.5))) + 1 / (2 * s.sqrt())) * 2 * alpha


def heavi_circ(x: torch.Tensor, alpha: float = 0.1) -> torch.Tensor:
    """``H(x)`` with the circ surrogate (:class:`snnlearn.functional.surrogates.HeaviCirc`)."""
    return HeaviCirc.apply(x, alpha)


class HeaviErfc(_Surrogate):
    r"""Heaviside forward, Gaussian ("erfc") surrogate backward (Norse's ``heavi_erfc``).

    .. math:: \sigma'(x) = \frac{2}{\sqrt{\pi}}\, e^{-(\alpha x)^2},

    as Norse 1.1.0 computes it: the derivative of :math:`\mathrm{erf}(\alpha x)` divided by
    ``alpha``, so its peak is :math:`2/\sqrt{\pi} \approx 1.13` whatever ``alpha``. (Norse
    divides by a float32 :math:`\sqrt{\pi}`, 3e-8 too small; this uses the double.)

    >>> x = torch.tensor([0.0], requires_grad=True)
    >>> HeaviErfc.apply(x, 5.0).sum().backward()
    >>> x.grad
    tensor([1.1284])
    """

    @staticmethod
    def chain(grad, x, alpha):
        return (2 * torch.exp(-(alpha * x).pow(2))) / math.sqrt(math.pi) * grad


def heavi_erfc(x: torch.Tensor, alpha: float = 5.0) -> torch.Tensor:
    """``H(x)`` with the Gaussian surrogate (:class:`snnlearn.functional.surrogates.HeaviErfc`)."""
    return HeaviErfc.apply(x, alpha)


SURROGATES: Dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "super": superspike,
    "fast_sigmoid": fast_sigmoid,
    "arctan": arctan,
    "triangle": triangle,
    "tanh": heavi_tanh,
    "circ": heavi_circ,
    "heavi_erfc": heavi_erfc,
}
"""Every surrogate by the name ``method`` selects it with, ``f(x, alpha) -> H(x)``."""


def surrogate_derivative(method: str, x: torch.Tensor, alpha: float) -> torch.Tensor:
    """The surrogate ``sigma'(x)`` of ``SURROGATES[method]`` at every point of ``x``, taken
    from the function's own backward pass (for plots and checks).

    >>> surrogate_derivative("super", torch.tensor([0.0, 0.1]), 10.0)
    tensor([1.0000, 0.2500])
    """
    if method not in SURROGATES:
        raise ValueError(f"unknown surrogate {method!r}; choose one of {sorted(SURROGATES)}")
    x = x.detach().clone().requires_grad_()
    (grad,) = torch.autograd.grad(SURROGATES[method](x, alpha).sum(), x)
    return grad
