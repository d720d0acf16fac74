"""The random-manifold task of Zenke & Vogels (2021): classes told apart by spike *timing*.

**Data-set card.** *What it is.* A generated classification task whose class is carried by
the timing and order of spikes, not by their number: the "randman" task of Zenke & Vogels
(2021, "The remarkable robustness of surrogate gradient learning for instilling complex
function in spiking neural networks", *Neural Computation* 33(4), 899–925), rebuilt here
from the paper's description.

*How it is made.* Each class ``k`` owns a smooth random manifold: a map from the unit cube
``[0, 1]^D`` of "manifold coordinates" into the space of firing times of the ``C`` input
channels. Coordinate ``j`` of the embedding (one per channel and spike) is a product over the
``D`` manifold dimensions of smooth random functions, sums of ``K`` sines whose amplitudes
fall off as ``1 / f^alpha``::

    g(u) = sum_{f=1..K} a_f / f^alpha * sin(2 pi (f * b_f * u + c_f)),   a, b, c ~ U(0, 1)
    m_j(x) = prod_{d=1..D} g_{j,d}(x_d)

with ``K = ceil(1000^(1 / alpha))`` (terms whose factor ``1 / f^alpha`` falls below 1/1000 are
dropped). Each coordinate is then rescaled to ``[0, 1]`` with the minimum and maximum it
takes on a fixed set of reference points of that manifold (a grid for ``D = 1``), so that the
class's definition does not depend on how many samples are drawn. A **sample** of class
``k`` is a point ``x ~ U([0, 1]^D)`` mapped through class ``k``'s manifold: channel ``c``
fires its ``s``-th spike at time ``m_{(s, c)}(x) * duration``. Larger ``alpha`` gives
smoother, simpler manifolds; larger ``D`` gives harder tasks.

*Counts carry no class information.* Every channel fires exactly ``spikes_per_channel``
spikes in every sample (two spikes of one channel may share a time step, where the dense
tensor holds 2), so the per-channel spike counts are the same constant for every sample of
every class: a classifier on counts can only guess. Only *when* each channel fires, and so
the order of the spikes across channels, tells the classes apart.

*Sizes (defaults).* 10 classes, 20 input channels, one spike per channel, a 1-dimensional
manifold (``alpha = 2``), 50 time steps of 1 ms (spike times quantised to whole steps); per
class 200 training, 50 validation and 50 test samples: 2,000 / 500 / 500 samples, balanced,
shuffled. Tensors: ``x`` float32 ``(T, n, C)`` time-first (spikes per step), labels int64
``(n,)``. Generation takes well under a second.

*What a classifier reaches* (defaults, ``seed=0``, measured when this was written; the
5-class version is checked in ``tests/test_random_manifold.py``): logistic regression on the
per-channel spike counts stays at chance (10 %: every feature is the constant 1); logistic
regression on the 20 spike *times* reaches about 60 % (a linear boundary in time space
cannot follow curved manifolds); a recurrent LIF network of 64 neurons
(``snnlearn.LIFRecurrent``) with a leaky-integrator readout (max over time), trained with
BPTT for 10 epochs (a few seconds per run on one core), reaches 95–99.5 % on the test split
over five training seeds, and a feed-forward layer of the same neurons a few points less.
The chapter *Recurrent SNNs and a temporal task* trains both from five seeds, prints the
numbers of its build and checks that the recurrent network's lie in this range.

*Seeding.* ``seed`` fixes the manifolds and the samples: the same arguments give the same
tensors, bit for bit. The three splits are independent draws from the same manifolds.

Example:

>>> data = random_manifold(seed=0)
>>> data.x_train.shape, data.x_val.shape, data.x_test.shape
(torch.Size([50, 2000, 20]), torch.Size([50, 500, 20]), torch.Size([50, 500, 20]))
>>> bool((data.x_train.sum(dim=0) == 1).all())  # one spike per channel, in every sample
True
>>> torch.bincount(data.y_test).tolist()
[50, 50, 50, 50, 50, 50, 50, 50, 50, 50]
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

__all__ = ["RandomManifold", "RandomManifoldSplit", "random_manifold", "spike_times_to_dense"]


class RandomManifoldSplit(NamedTuple):
    """Train/validation/test tensors of :func:`random_manifold`.

    ``x_*`` are spike tensors ``(T, n, channels)`` (time first, spikes per step), ``y_*`` the
    class labels ``(n,)`` (int64).
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


class RandomManifold:
    r"""A smooth random manifold: ``[0, 1]^manifold_dim -> [0, 1]^embedding_dim``.

    Coordinate :math:`j` of the image of a point :math:`x` is

    .. math::
        m_j(x) = \operatorname{rescale}_j\Big(\prod_{d=1}^{D} \sum_{f=1}^{K}
        \frac{a_{jdf}}{f^{\alpha}} \sin\big(2\pi (f\, b_{jdf}\, x_d + c_{jdf})\big)\Big),
        \qquad a, b, c \sim U(0, 1),

    with :math:`K = \lceil 1000^{1/\alpha} \rceil` and :math:`\operatorname{rescale}_j` the
    affine map that sends the smallest and largest value of coordinate :math:`j` on a fixed
    set of reference points to 0 and 1 (values outside are clipped).

    Args:
        embedding_dim: number of output coordinates (here: channels × spikes per channel).
        manifold_dim: ``D``, the dimension of the manifold.
        alpha: fall-off of the amplitudes with frequency; larger is smoother.
        generator: the ``torch.Generator`` that draws ``a``, ``b``, ``c`` and the reference
            points.

    >>> m = RandomManifold(3, 1, generator=torch.Generator().manual_seed(0))
    >>> y = m(torch.rand(100, 1))
    >>> y.shape, bool(((y >= 0) & (y <= 1)).all())
    (torch.Size([100, 3]), True)
    """

    def __init__(self, embedding_dim: int, manifold_dim: int = 1, alpha: float = 2.0,
                 generator: torch.Generator | None = None):
        _check_positive_int(embedding_dim, "embedding_dim")
        _check_positive_int(manifold_dim, "manifold_dim")
        if not (isinstance(alpha, (int, float)) and not isinstance(alpha, bool)
                and math.isfinite(alpha) and alpha > 0):
            raise ValueError(f"alpha must be a positive number, got {alpha!r}")
        self.embedding_dim, self.manifold_dim = embedding_dim, manifold_dim
        self.alpha = float(alpha)
        self.n_terms = int(math.ceil(1000.0 ** (1.0 / self.alpha)))
        shape = (3, embedding_dim, manifold_dim, self.n_terms)
        self.amplitude, self.frequency, self.phase = torch.rand(
            shape, generator=generator, dtype=torch.float64)
        frequencies = torch.arange(1, self.n_terms + 1, dtype=torch.float64)
        self._spectrum = frequencies ** -self.alpha   # 1 / f^alpha
        self._frequencies = frequencies
        if manifold_dim == 1:
            reference = torch.linspace(0, 1, 1025, dtype=torch.float64).unsqueeze(1)
        else:
            reference = torch.rand((4096, manifold_dim), generator=generator, dtype=torch.float64)
        raw = self._raw(reference)
        self._low, self._high = raw.min(dim=0).values, raw.max(dim=0).values

    def _raw(self, points: torch.Tensor) -> torch.Tensor:
        """The product of sums of sines, before rescaling: ``(n, embedding_dim)``."""
        # angle[n, j, d, f] = 2 pi (f * b_jdf * x_nd + c_jdf)
        angle = 2 * math.pi * (self._frequencies * self.frequency * points[:, None, :, None]
                               + self.phase)
        per_dimension = (self.amplitude * self._spectrum * torch.sin(angle)).sum(dim=-1)
        return per_dimension.prod(dim=-1)

    def __call__(self, points: torch.Tensor) -> torch.Tensor:
        """Map points ``(n, manifold_dim)`` in ``[0, 1]^D`` to coordinates ``(n, embedding_dim)``
        in ``[0, 1]`` (float64)."""
        if not isinstance(points, torch.Tensor) or points.dim() != 2 \
                or points.shape[1] != self.manifold_dim:
            got = (tuple(points.shape) if isinstance(points, torch.Tensor)
                   else type(points).__name__)
            raise ValueError(f"points must be a tensor of shape (n, {self.manifold_dim}), "
                             f"got {got}")
        raw = self._raw(points.to(torch.float64))
        span = (self._high - self._low).clamp_min(1e-12)
        return ((raw - self._low) / span).clamp(0.0, 1.0)


def spike_times_to_dense(times: torch.Tensor, n_steps: int,
                         dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Spike times in ``[0, 1]`` (fractions of the duration), shape ``(n, channels, spikes)``,
    to a time-first tensor ``(n_steps, n, channels)`` holding the number of spikes per step.

    A spike at time ``t`` falls into step ``min(floor(t * n_steps), n_steps - 1)``.

    >>> spike_times_to_dense(torch.tensor([[[0.0], [0.5], [1.0]]]), 4)[:, 0]
    tensor([[1., 0., 0.],
            [0., 0., 0.],
            [0., 1., 0.],
            [0., 0., 1.]])
    """
    _check_positive_int(n_steps, "n_steps")
    if not isinstance(times, torch.Tensor) or times.dim() != 3:
        got = tuple(times.shape) if isinstance(times, torch.Tensor) else type(times).__name__
        raise ValueError(f"times must be a tensor of shape (n, channels, spikes), got {got}")
    n, channels, _ = times.shape
    steps = (times * n_steps).floor().long().clamp(0, n_steps - 1)   # (n, C, S)
    dense = torch.zeros(n, channels, n_steps, dtype=dtype)
    dense.scatter_add_(2, steps, torch.ones(steps.shape, dtype=dtype))
    return dense.permute(2, 0, 1).contiguous()


def random_manifold(
    n_classes: int = 10,
    n_channels: int = 20,
    n_steps: int = 50,
    manifold_dim: int = 1,
    spikes_per_channel: int = 1,
    alpha: float = 2.0,
    n_train: int = 200,
    n_val: int = 50,
    n_test: int = 50,
    seed: int = 0,
) -> RandomManifoldSplit:
    """Generate the random-manifold task (see the data-set card of this module).

    Args:
        n_classes: number of classes (one manifold each).
        n_channels: number of input channels.
        n_steps: time steps ``T`` of each sample; spike times are quantised to them.
        manifold_dim: dimension ``D`` of each class's manifold (1 is easiest).
        spikes_per_channel: spikes every channel fires in every sample.
        alpha: smoothness of the manifolds (larger: smoother, easier).
        n_train, n_val, n_test: samples **per class** in each split.
        seed: fixes the manifolds and the samples.

    Returns:
        A :class:`RandomManifoldSplit`: spike tensors ``(n_steps, n, n_channels)`` (float32)
        and labels ``(n,)`` (int64), each split shuffled.

    >>> small = random_manifold(n_classes=3, n_channels=4, n_steps=10, n_train=2, n_val=1, n_test=1)
    >>> small.x_train.shape, sorted(small.y_val.tolist())
    (torch.Size([10, 6, 4]), [0, 1, 2])
    """
    for name, value in (("n_classes", n_classes), ("n_channels", n_channels),
                        ("n_steps", n_steps), ("manifold_dim", manifold_dim),
                        ("spikes_per_channel", spikes_per_channel), ("n_train", n_train),
                        ("n_val", n_val), ("n_test", n_test)):
        _check_positive_int(value, name)
    if n_classes < 2:
        raise ValueError(f"n_classes must be at least 2, got {n_classes}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {seed!r}")

    generator = torch.Generator().manual_seed(seed)
    manifolds = [RandomManifold(n_channels * spikes_per_channel, manifold_dim, alpha, generator)
                 for _ in range(n_classes)]
    sizes = (n_train, n_val, n_test)
    parts = []
    for n_per_class in sizes:
        times, labels = [], []
        for label, manifold in enumerate(manifolds):
            points = torch.rand((n_per_class, manifold_dim), generator=generator,
                                dtype=torch.float64)
            coords = manifold(points)                     # (n, S * C): spike s of channel c
            times.append(coords.reshape(n_per_class, spikes_per_channel, n_channels)
                         .transpose(1, 2))                # (n, C, S)
            labels.append(torch.full((n_per_class,), label, dtype=torch.long))
        times, labels = torch.cat(times), torch.cat(labels)
        order = torch.randperm(len(labels), generator=generator)
        parts += [spike_times_to_dense(times[order], n_steps), labels[order]]
    return RandomManifoldSplit(*parts)


def _check_positive_int(value, name: str) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}")
