"""Autograd Function over the recurrent LIF kernels in ``_lif_recurrent`` (``_lif_recurrent.c``).

PyTorch does the dense work that BLAS does best: the input projection of all ``T`` steps is
one matrix multiply (``xs @ input_weights.T``, plus ``z0 @ recurrent_weights.T`` for the
first step's recurrent input) before the C call, and the gradient of ``recurrent_weights``
is one matrix multiply over all steps after it. The C kernel runs the recurrence (a spike
adds one row of ``recurrent_weights.T``: cost follows the spikes) and the whole BPTT in one
call each. Autograd carries the gradients of ``xs``, ``input_weights`` and ``z0`` through
the projection; the Function itself returns those of the projection, of ``(v0, i0)`` and
of ``recurrent_weights``.
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

import torch
from torch.autograd.function import once_differentiable

from . import _lif_recurrent
from .kernel_args import KernelArgs
from .lif_autograd import checked_args, working_state
from ..functional.lif import LIFParameters
from ..functional.lif_recurrent import lif_recurrent_initial_state
from ..functional.threshold import saved_tensors_or_explain

__all__ = ["LIFRecurrentSequenceFunction", "lif_recurrent_sequence_c"]


def _sizes(xp: torch.Tensor) -> dict:
    steps, batch, hidden = xp.shape
    return dict(steps=steps, batch=batch, hidden=hidden, threads=torch.get_num_threads())


def _forward_c(xp, w_rec, v, i, from_rest: bool, args: KernelArgs, keep_v_pre: bool,
               overwrite_xp: bool = False):
    """Run the C forward on contiguous ``xp`` ``(T, B, H)``; ``v``, ``i`` (from
    :func:`~snnlearn._compiled.lif_autograd.working_state`) become the final state.
    Returns ``(z, v_pre or None)``.

    ``overwrite_xp``: ``xp`` is a projection made for this call alone, which the kernel may
    overwrite (it reads each row before it writes that row of an output): the pre-reset
    voltages go there if kept, else the spikes. One fresh buffer of the output's size fewer
    per call (its pages faulted in anew on every call: benchmarks/bench_floors.py)."""
    v_array, i_array = v.numpy(), i.numpy()
    if from_rest:  # v = v_leak, i = 0 (a few thousand numbers: NumPy fills them)
        v_array.fill(args.v_leak)
        i_array.fill(0.0)
    if keep_v_pre:
        v_pre = xp if overwrite_xp else torch.empty_like(xp)
        z = torch.empty_like(xp)
    else:
        v_pre = None
        z = xp if overwrite_xp else torch.empty_like(xp)
    steps, batch, hidden = xp.shape
    _lif_recurrent.forward(
        xp.numpy(force=True), w_rec.detach().t().contiguous().numpy(), v_array, i_array,
        z.numpy(force=True), None if v_pre is None else v_pre.numpy(force=True),
        v_leak=args.v_leak, steps=steps, batch=batch, hidden=hidden,
        threads=torch.get_num_threads(), **args.numbers,
    )
    return z, v_pre


class LIFRecurrentSequenceFunction(torch.autograd.Function):
    """``(xp, v0, i0, recurrent_weights) -> (z, v_T, i_T)`` over a whole sequence.

    ``xp`` ``(T, B, H)`` is the projected input (``xs @ input_weights.T``, with step 0's
    recurrent input from ``z0`` already added); ``v0 = i0 = None`` is a resting state.
    Backward runs BPTT over all steps in one C call, from the pre-reset voltages and the
    spikes kept by the forward pass, and returns ``grad_xp`` (the gradient of each step's
    jumped current), the gradients of ``(v0, i0)`` and ``sum_t grad_i1[t].T @ z[t-1]`` for
    ``recurrent_weights``. ``overwrite_xp`` (default ``False``): ``xp`` was made for this
    call alone and nothing reads it again (autograd needs only ``xs`` and
    ``input_weights`` for the projection's gradient), so the pre-reset voltages are kept in
    its memory instead of a buffer of their own.
    """

    @staticmethod
    def forward(ctx, xp, v0, i0, recurrent_weights, p: LIFParameters, dt: float,
                overwrite_xp: bool = False):
        args = checked_args(p, dt)
        xp = xp.contiguous()
        v, i, from_rest = working_state(xp, v0, i0)
        z, v_pre = _forward_c(xp, recurrent_weights, v, i, from_rest, args, keep_v_pre=True,
                              overwrite_xp=overwrite_xp)
        ctx.save_for_backward(v_pre, z, recurrent_weights)
        ctx.args = args
        return z, v, i

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_z, grad_v, grad_i):
        v_pre, z, w_rec = saved_tensors_or_explain(ctx)
        grad_v0 = grad_v.clone(memory_format=torch.contiguous_format)
        grad_i0 = grad_i.clone(memory_format=torch.contiguous_format)
        grad_i1 = torch.empty_like(v_pre)
        _lif_recurrent.backward(
            grad_z.contiguous().numpy(force=True), v_pre.numpy(),
            w_rec.contiguous().numpy(force=True),
            grad_v0.numpy(), grad_i0.numpy(), grad_i1.numpy(), **_sizes(v_pre),
            alpha=ctx.args.alpha, **ctx.args.numbers,
        )
        grad_w_rec = None
        if ctx.needs_input_grad[3]:
            hidden = v_pre.shape[-1]
            grad_w_rec = grad_i1[1:].reshape(-1, hidden).t() @ z[:-1].reshape(-1, hidden)
        wants = ctx.needs_input_grad  # False for a resting state made in forward (None)
        return (grad_i1, grad_v0 if wants[1] else None, grad_i0 if wants[2] else None,
                grad_w_rec, None, None, None)


def lif_recurrent_sequence_c(
    xs: torch.Tensor, z0: Optional[torch.Tensor], v0: Optional[torch.Tensor],
    i0: Optional[torch.Tensor],
    input_weights: torch.Tensor, recurrent_weights: torch.Tensor, p: LIFParameters, dt: float,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Spikes ``(T, ..., H)`` and final ``(z, v, i)`` of a recurrent LIF layer on the C path.

    ``xs`` is ``(T, ..., input)``; the state tensors are ``(..., H)``; ``z0=None`` means no
    spikes before the first step, and ``z0 = v0 = i0 = None`` a resting state. The layer
    (``LIFRecurrent``) checks the input's size, dtype and device against its weights, and
    :func:`snnlearn.backend.lif_recurrent_sequence` sends here only arguments the kernel can
    take (else the reference runs); the C side checks every buffer again. With nothing to
    differentiate the kernel runs without an autograd node and keeps no pre-reset voltages.
    """
    steps, hidden = xs.shape[0], input_weights.shape[0]
    batch_shape = tuple(xs.shape[1:-1])
    if steps == 0:  # nothing runs: the state passes through, as in the reference
        if v0 is None:
            z0, v0, i0 = lif_recurrent_initial_state(batch_shape, hidden, p, xs.dtype, xs.device)
        z0 = xs.new_zeros((*batch_shape, hidden)) if z0 is None else z0
        return xs.new_zeros((0, *batch_shape, hidden)), z0, v0, i0
    batch = math.prod(batch_shape)
    xp = torch.nn.functional.linear(xs, input_weights).reshape(steps, batch, hidden)
    if z0 is not None:  # step 0's recurrent input, from the spikes before the sequence
        xp[0] += torch.nn.functional.linear(z0.reshape(batch, hidden), recurrent_weights)
    if v0 is not None:
        v0, i0 = v0.reshape(batch, hidden), i0.reshape(batch, hidden)
    if torch.is_grad_enabled() and any(t is not None and t.requires_grad
                                       for t in (xp, v0, i0, recurrent_weights)):
        # xp is this call's own projection: the kernel keeps its pre-reset voltages there
        # (autograd needs only xs and input_weights for the projection's gradient)
        z, v, i = LIFRecurrentSequenceFunction.apply(xp, v0, i0, recurrent_weights, p, dt, True)
    else:
        xp = xp.contiguous()
        v, i, from_rest = working_state(xp, v0, i0)
        z, _ = _forward_c(xp, recurrent_weights, v, i, from_rest, checked_args(p, dt),
                          keep_v_pre=False, overwrite_xp=True)
    z = z.reshape(steps, *batch_shape, hidden)
    return z, z[-1], v.reshape(*batch_shape, hidden), i.reshape(*batch_shape, hidden)
