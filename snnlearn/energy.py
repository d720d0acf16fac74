r"""Counting the work a network does: synaptic operations (SNN) and multiply-accumulates (ANN),
and an activity regulariser that trains sparser networks.

**Synaptic operations (SynOps).** In an event-driven implementation a spike entering a layer
costs one accumulate per synapse it reaches (its *fan-out*); silent inputs cost nothing:

.. math::
    \text{SynOps} = \sum_{\text{layers } l}\ \sum_{t,\,b,\,j} [x^{(l)}_{t,b,j} \ne 0]\;
    \text{fanout}^{(l)}(j)

For ``nn.Linear`` the fan-out of every input is ``out_features``. For ``nn.Conv2d`` an input
pixel at ``(h, w)`` reaches ``out_channels / groups`` output channels times the number of
(output position, kernel tap) pairs that read it: ``kh * kw`` in the interior, fewer at the
borders and where the stride skips it. :func:`conv2d_fanout` computes this map exactly
(stride, padding, dilation; padding modes other than ``"zeros"`` are counted as if zero
padded). Every non-zero input entry counts as one event, so graded (non-spike) inputs,
such as analog pixels fed to the first layer, count once per non-zero value; biases are
not counted.

**Multiply-accumulates (MACs).** The same architecture run as an ANN does one dense pass:
``nn.Linear`` costs ``in_features * out_features`` per input row and ``nn.Conv2d`` costs
``(in_channels / groups) * kh * kw`` per output element, whatever the values.

**Activity regulariser.** :func:`activity_penalty` adds a cost on spikes to the loss
(Norse's ``regularization`` module names its accumulators ``spike_accumulator`` and
``voltage_accumulator``; they are here too, from ``snnlearn.functional.regularization``).

>>> import torch
>>> from snnlearn import SequentialState, LIF
>>> model = SequentialState(torch.nn.Linear(4, 3), LIF(), torch.nn.Linear(3, 2))
>>> spikes = torch.zeros(10, 1, 4); spikes[0, 0, :2] = 1   # two input spikes
>>> count = count_synops(model, spikes)
>>> count.per_layer["0"]                                    # 2 spikes x fan-out 3
6
>>> count_macs(model, spikes[:1]).total                     # one dense pass: 4*3 + 3*2
18
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

import torch

from .functional.regularization import spike_accumulator, voltage_accumulator

__all__ = [
    "OpCount",
    "SynOpCounter",
    "count_synops",
    "count_macs",
    "conv2d_fanout",
    "activity_penalty",
    "spike_accumulator",
    "voltage_accumulator",
]

COUNTED = (torch.nn.Linear, torch.nn.Conv2d)


@dataclass
class OpCount:
    """Operations counted per layer (keys are the module names of ``model.named_modules()``).

    Attributes:
        per_layer: operations (SynOps or MACs) of each ``Linear``/``Conv2d``.
        events: non-zero inputs (spikes) that entered each layer (SynOp counts only).
    """

    per_layer: Dict[str, int] = field(default_factory=dict)
    events: Dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        """The sum over layers."""
        return sum(self.per_layer.values())

    def __repr__(self) -> str:
        return f"OpCount(total={self.total}, per_layer={self.per_layer})"


def _check_model(model) -> None:
    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not any(isinstance(m, COUNTED) for m in model.modules()):
        raise ValueError("model has no nn.Linear or nn.Conv2d layer to count")


def _check_tensor(x, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")


def conv2d_fanout(conv: torch.nn.Conv2d, height: int, width: int) -> torch.Tensor:
    """How many (output position, kernel tap) pairs read each input pixel: ``(H, W)``.

    Interior pixels of a stride-1 convolution are read ``kh * kw`` times; border pixels and
    pixels a stride skips, fewer. Multiply by ``out_channels // groups`` for the fan-out.

    >>> conv = torch.nn.Conv2d(1, 1, kernel_size=3)
    >>> conv2d_fanout(conv, 4, 4).int()
    tensor([[1, 2, 2, 1],
            [2, 4, 4, 2],
            [2, 4, 4, 2],
            [1, 2, 2, 1]], dtype=torch.int32)
    >>> int(conv2d_fanout(torch.nn.Conv2d(1, 1, 3, padding=1), 5, 5)[2, 2])
    9
    """
    if not isinstance(conv, torch.nn.Conv2d):
        raise TypeError(f"conv must be a torch.nn.Conv2d, got {type(conv).__name__}")
    with torch.enable_grad():  # d(sum of a ones-kernel convolution)/d(pixel) = reads of it
        ones = torch.ones(1, 1, height, width, dtype=torch.float64, requires_grad=True)
        taps = torch.ones(1, 1, *conv.kernel_size, dtype=torch.float64)
        out = torch.nn.functional.conv2d(ones, taps, stride=conv.stride, padding=conv.padding,
                                         dilation=conv.dilation)
        (fanout,) = torch.autograd.grad(out.sum(), ones)
    return fanout[0, 0].round()


class SynOpCounter:
    """A context manager that counts SynOps of every ``Linear``/``Conv2d`` in ``model``.

    Forward hooks see each layer's input; every non-zero entry is an event that costs its
    fan-out (see the module docstring). Use it around any code that runs the model, for
    instance your own time loop with ``LIFCell``:

    >>> from snnlearn import SequentialState, LIFCell
    >>> model = SequentialState(torch.nn.Linear(3, 5), LIFCell())
    >>> with SynOpCounter(model) as counter:
    ...     state = None
    ...     for x in torch.eye(3).unsqueeze(1):      # 3 steps, one spike each
    ...         out, state = model(x, state)
    >>> counter.count.total, counter.count.events["0"]
    (15, 3)
    """

    def __init__(self, model: torch.nn.Module):
        _check_model(model)
        self.model = model
        self.count = OpCount()
        self._handles = []
        self._fanout_cache: Dict[Tuple[int, int, int], torch.Tensor] = {}

    def _hook(self, name: str):
        def record(module, inputs, output):
            x = inputs[0].detach()
            nonzero = x != 0
            if isinstance(module, torch.nn.Linear):
                events = int(nonzero.sum())
                ops = events * module.out_features
            else:
                if x.dim() not in (3, 4):
                    raise ValueError(f"Conv2d input must be (C, H, W) or (N, C, H, W), "
                                     f"got shape {tuple(x.shape)}")
                height, width = x.shape[-2:]
                per_pixel = nonzero.reshape(-1, height, width).sum(0).to(torch.float64)
                key = (id(module), height, width)
                if key not in self._fanout_cache:
                    self._fanout_cache[key] = conv2d_fanout(module, height, width)
                events = int(per_pixel.sum())
                taps = int((per_pixel * self._fanout_cache[key]).sum())
                ops = taps * (module.out_channels // module.groups)
            self.count.per_layer[name] = self.count.per_layer.get(name, 0) + ops
            self.count.events[name] = self.count.events.get(name, 0) + events
        return record

    def __enter__(self) -> "SynOpCounter":
        for name, module in self.model.named_modules():
            if isinstance(module, COUNTED):
                self.count.per_layer.setdefault(name, 0)
                self.count.events.setdefault(name, 0)
                self._handles.append(module.register_forward_hook(self._hook(name)))
        return self

    def __exit__(self, *exc) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles.clear()


def count_synops(model: torch.nn.Module, xs: torch.Tensor, step_by_step: bool = False) -> OpCount:
    """SynOps of one run of ``model`` on the time-first input ``xs`` (no gradients).

    With ``step_by_step=False`` the model is called once on the whole sequence (models of
    ``Linear``, ``LIF``, ``LI``, …); with ``True`` it is called once per time step, the
    returned states passed back in (``SequentialState`` of ``LIFCell``, ``LICell``, …).
    The count is the total over time and batch: divide by the batch size for a per-sample
    figure.

    >>> from snnlearn import SequentialState, LIFCell
    >>> model = SequentialState(torch.nn.Linear(2, 7), LIFCell())
    >>> count_synops(model, torch.ones(4, 1, 2), step_by_step=True).total   # 8 events x 7
    56
    """
    _check_tensor(xs, "xs")
    if xs.dim() < 1:
        raise ValueError("xs must be time-first, shape (T, ...); got a 0-d tensor")
    with torch.no_grad(), SynOpCounter(model) as counter:
        if step_by_step:
            state = None
            for x in xs.unbind(0):
                _, state = model(x, state)
        else:
            model(xs)
    return counter.count


def count_macs(model: torch.nn.Module, x: torch.Tensor) -> OpCount:
    """Multiply-accumulates of one dense pass of ``model`` on ``x`` (an ANN's cost).

    Every ``Linear`` costs ``in_features * out_features`` per input row; every ``Conv2d``
    ``(in_channels / groups) * kh * kw`` per output element. For a spiking model, pass one
    time step (``xs[:1]``) to count the same architecture as an ANN.

    >>> count_macs(torch.nn.Linear(64, 10), torch.zeros(5, 64)).total   # 5 rows
    3200
    >>> count_macs(torch.nn.Conv2d(2, 4, 3), torch.zeros(1, 2, 5, 5)).total  # 4*3*3 outputs x 2*9
    648
    """
    _check_model(model)
    _check_tensor(x, "x")
    count = OpCount()

    def hook(name):
        def record(module, inputs, output):
            if isinstance(module, torch.nn.Linear):
                ops = (inputs[0].numel() // module.in_features) * module.in_features \
                    * module.out_features
            else:
                kh, kw = module.kernel_size
                ops = output.numel() * (module.in_channels // module.groups) * kh * kw
            count.per_layer[name] = count.per_layer.get(name, 0) + ops
        return record

    handles = [module.register_forward_hook(hook(name))
               for name, module in model.named_modules() if isinstance(module, COUNTED)]
    try:
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return count


def activity_penalty(spikes: torch.Tensor, target_rate: Optional[float] = None,
                     time_dim: int = 0) -> torch.Tensor:
    r"""A differentiable cost on spiking activity, to add to the loss (times a strength
    :math:`\lambda`).

    ``spikes`` has time along ``time_dim``; every other entry is one neuron of one sample
    (:math:`M` of them). With ``target_rate=None`` the penalty is the mean spike count per
    neuron (an L1 penalty, since counts are non-negative):

    .. math:: L = \frac{1}{M} \sum_{m} \sum_t z_{t,m}

    With a ``target_rate`` :math:`r` (spikes per time step, in [0, 1]) it is the mean
    squared distance of each neuron's rate :math:`\bar z_m = \frac1T \sum_t z_{t,m}` from it,
    which also wakes up silent neurons:

    .. math:: L = \frac{1}{M} \sum_{m} (\bar z_m - r)^2

    >>> z = torch.tensor([[1., 0.], [1., 0.], [0., 0.], [1., 0.]])   # T=4, two neurons
    >>> activity_penalty(z)              # counts 3 and 0
    tensor(1.5000)
    >>> activity_penalty(z, target_rate=0.25)   # rates 0.75 and 0: (0.25 + 0.0625) / 2
    tensor(0.1562)
    """
    _check_tensor(spikes, "spikes")
    if spikes.dim() < 1:
        raise ValueError("spikes must have a time dimension; got a 0-d tensor")
    if not -spikes.dim() <= time_dim < spikes.dim():
        raise ValueError(f"time_dim {time_dim} is out of range for spikes of shape "
                         f"{tuple(spikes.shape)}")
    if target_rate is None:
        return spikes.sum(dim=time_dim).mean()
    if not 0.0 <= float(target_rate) <= 1.0:
        raise ValueError(f"target_rate is spikes per time step and must lie in [0, 1], "
                         f"got {target_rate}")
    return (spikes.mean(dim=time_dim) - target_rate).pow(2).mean()
