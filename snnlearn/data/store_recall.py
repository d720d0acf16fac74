r"""A delayed store-recall task: a one-bit memory that must outlast the membrane.

**Data-set card.** *What it is.* A generated binary task in the spirit of the store-recall
tasks of Bellec et al. (2018, "Long short-term memory and learning-to-learn in networks of
spiking neurons", NeurIPS): a cue is shown, then nothing but noise for a delay, then a recall
signal; the answer, asked for during the recall signal, is which cue was shown. Whatever
the network knows at recall time about the cue it must have *kept* through the delay.

*How it is made.* ``3 * group_size`` input channels in three groups: *cue 0*, *cue 1* and
*recall*. A sample of label ``y`` (0 or 1, drawn with equal probability) is, over
``T = 2 * cue_steps + delay`` steps of ``dt``::

    steps [0, cue_steps)                   group "cue y" fires at cue_rate
    steps [cue_steps, cue_steps + delay)   nothing but background
    steps [T - cue_steps, T)               group "recall" fires at cue_rate

and every channel also fires at ``noise_rate`` at every step (background). A channel fires
at a step with probability ``rate * dt`` (a Bernoulli, i.e. discretised Poisson, spike
train); the two rates add. The recall window is the same for both labels: all the
information about the label lies in the first ``cue_steps`` steps.

*Sizes (defaults).* Groups of 10 channels (30 in all), cues of 10 steps at 200 Hz,
a delay of 60 steps, 80 steps of 1 ms in all, background 5 Hz; 256 training, 256
validation and 256 test samples, labels shuffled. Tensors: ``x`` float32 ``(T, n, 30)``,
time-first, 0/1 spikes; labels int64 ``(n,)``. Generation takes milliseconds.

*What a classifier reaches* (checked in ``tests/test_store_recall.py``): logistic regression
on the spike counts of the *recall* window stays at chance (50 %), on the counts of the
*cue* window it is perfect. A layer of LIF neurons (membrane time constant 10 ms, synaptic
5 ms) forgets the cue within a few tens of milliseconds; the chapter *What makes training
work* trains LIF and adaptive (ALIF) networks on it.

*Seeding.* ``seed`` fixes every spike and label: the same arguments give the same tensors,
bit for bit. The three splits are independent draws.

>>> data = store_recall(seed=0)
>>> data.x_train.shape, data.recall_start, data.n_steps
(torch.Size([80, 256, 30]), 70, 80)
>>> bool((data.x_train <= 1).all()), sorted(set(data.y_train.tolist()))
(True, [0, 1])
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

__all__ = ["StoreRecallSplit", "store_recall"]


class StoreRecallSplit(NamedTuple):
    """Train/validation/test tensors of :func:`store_recall` and where the windows lie.

    ``x_*`` are spike tensors ``(T, n, 3 * group_size)`` (time first, 0/1 spikes), ``y_*``
    the labels ``(n,)`` (int64, the cue shown). Channels ``[0, g)`` are cue 0, ``[g, 2g)``
    cue 1 and ``[2g, 3g)`` the recall signal (``g = group_size``). The cue fills steps
    ``[0, cue_steps)``, the recall signal steps ``[recall_start, n_steps)``.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    cue_steps: int
    recall_start: int
    n_steps: int


def _positive_int(value, name: str, minimum: int = 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def _probability(rate, dt: float, name: str) -> float:
    if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not math.isfinite(rate) \
            or rate < 0:
        raise ValueError(f"{name} must be a finite rate >= 0 in Hz, got {rate!r}")
    return rate * dt


def store_recall(
    n_train: int = 256,
    n_val: int = 256,
    n_test: int = 256,
    delay: int = 60,
    cue_steps: int = 10,
    group_size: int = 10,
    cue_rate: float = 200.0,
    noise_rate: float = 5.0,
    dt: float = 0.001,
    seed: int = 0,
) -> StoreRecallSplit:
    r"""Generate the delayed store-recall task (see the data-set card of this module).

    A channel fires at step ``t`` with probability

    .. math:: p_t = \big(r_{noise} + r_{cue}\,\mathbb 1[\text{its group is active at } t]\big)
              \,\Delta t ,

    (``r_noise = noise_rate``, ``r_cue = cue_rate``) where "cue ``y``" is active during the first ``cue_steps`` steps and "recall" during the
    last ``cue_steps`` steps, ``delay`` steps later.

    Args:
        n_train, n_val, n_test: samples in each split (labels 0/1 drawn with equal chance).
        delay: steps between the end of the cue and the start of the recall signal.
        cue_steps: length of the cue and of the recall signal, in steps.
        group_size: channels per group (three groups).
        cue_rate, noise_rate: firing rates in Hz while a group is active, and always.
        dt: the time step in seconds (a rate times ``dt`` must be a probability).
        seed: fixes the spikes and the labels.

    >>> small = store_recall(n_train=4, n_val=2, n_test=2, delay=5, cue_steps=2, group_size=1,
    ...                      noise_rate=0.0, cue_rate=1000.0)
    >>> small.x_train[:, 0], small.y_train[0]   # cue 0 at steps 0-1, recall at 7-8
    (tensor([[1., 0., 0.],
            [1., 0., 0.],
            [0., 0., 0.],
            [0., 0., 0.],
            [0., 0., 0.],
            [0., 0., 0.],
            [0., 0., 0.],
            [0., 0., 1.],
            [0., 0., 1.]]), tensor(0))
    """
    for name, value in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test),
                        ("cue_steps", cue_steps), ("group_size", group_size)):
        _positive_int(value, name)
    _positive_int(delay, "delay", minimum=0)
    if not isinstance(dt, (int, float)) or isinstance(dt, bool) or not (dt > 0 and math.isfinite(dt)):
        raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")
    q_noise = _probability(noise_rate, dt, "noise_rate")
    q_cue = _probability(cue_rate, dt, "cue_rate")
    if q_noise + q_cue > 1:
        raise ValueError(f"(cue_rate + noise_rate) * dt must be at most 1 (a probability per "
                         f"step), got {q_noise + q_cue!r}")
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {seed!r}")

    n_steps = 2 * cue_steps + delay
    recall_start = cue_steps + delay
    g = group_size
    generator = torch.Generator().manual_seed(seed)
    parts = []
    for n in (n_train, n_val, n_test):
        labels = torch.randint(0, 2, (n,), generator=generator)
        prob = torch.full((n_steps, n, 3 * g), q_noise, dtype=torch.float64)
        cue = torch.zeros(n, 3 * g, dtype=torch.float64)
        cue[:, :g] = (labels == 0).to(torch.float64).unsqueeze(1)
        cue[:, g:2 * g] = (labels == 1).to(torch.float64).unsqueeze(1)
        prob[:cue_steps] += q_cue * cue
        prob[recall_start:, :, 2 * g:] += q_cue
        x = torch.bernoulli(prob.clamp(0.0, 1.0), generator=generator).to(torch.float32)
        parts += [x, labels.to(torch.long)]
    return StoreRecallSplit(*parts, cue_steps=cue_steps, recall_start=recall_start,
                            n_steps=n_steps)
