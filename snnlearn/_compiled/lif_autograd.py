"""Autograd Functions over the C kernels in ``_lif`` (``_lif.c``): LIF and the leaky
integrator.

The C module sees raw float32/float64 buffers (``tensor.numpy()`` views, zero-copy;
``numpy(force=True)`` for inputs, which may carry autograd history: one torch call, no
copy of a CPU tensor), so it links nothing from torch. Outputs are allocated here, once
per call, never per step. The caller (:mod:`snnlearn.backend`) checks shapes, dtypes and
devices first; the C side checks again and raises ``ValueError``/``TypeError`` rather than
touching a bad buffer.
"""

from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch.autograd.function import once_differentiable

from . import _lif
from .kernel_args import KernelArgs, kernel_args
from ..functional.leaky_integrator import LIParameters
from ..functional.lif import LIFParameters
from ..functional.threshold import saved_tensors_or_explain

__all__ = ["LIFSequenceFunction", "lif_sequence_c", "LISequenceFunction", "li_sequence_c"]


def checked_args(p, dt) -> KernelArgs:
    """:func:`~snnlearn._compiled.kernel_args.kernel_args` of ``(p, dt)``, or a ``ValueError``
    saying why the kernels cannot take them (the backend sends such parameters to the
    reference; this guards a direct call of the Functions below)."""
    args = kernel_args(p, dt)
    if args.reason is not None:
        raise ValueError(f"the C kernels cannot run: {args.reason}")
    return args


def working_state(xs: torch.Tensor, v0: Optional[torch.Tensor], i0: Optional[torch.Tensor]):
    """The state a kernel overwrites, ``(v, i, from_rest)``: two tensors shaped like a step
    of ``xs``, left for the kernel to fill with the resting state (``v0 = i0 = None``,
    ``from_rest`` true: no separate pass over memory to initialise them) or holding copies
    of ``v0, i0`` (never written to). Called with nothing to differentiate (inside
    ``no_grad`` or a Function's forward).

    Two allocations, each handed to the kernel as its own NumPy view: cheaper right after
    other work than one ``(2, ...)`` tensor split into views on both sides (NumPy's
    indexing and ``unbind`` are cold code then; ``bench_floors.py lif``)."""
    if v0 is None:
        shape = xs.shape[1:]
        if not shape:
            return xs.new_empty(()), xs.new_empty(()), True
        # sizes as arguments: PyTorch parses them faster than a tuple
        return xs.new_empty(*shape), xs.new_empty(*shape), True
    return (v0.clone(memory_format=torch.contiguous_format),
            i0.clone(memory_format=torch.contiguous_format), False)


def state_gradient(like: torch.Tensor, grad_v, grad_i, initial_wanted: bool):
    """The gradient of the state as a backward kernel takes it: ``None`` when neither
    gradient of the final state was given and the initial state's is not wanted (the kernel
    then keeps zeros on its stack: no allocation, no pass over memory), else one
    ``(2, ...)`` tensor like ``like[0]`` holding the final state's gradients (zeros where
    one was not given), which the kernel overwrites with the initial state's."""
    if grad_v is None and grad_i is None and not initial_wanted:
        return None
    if grad_v is None or grad_i is None:
        state = like.new_zeros(2, *like.shape[1:])
    else:
        state = like.new_empty(2, *like.shape[1:])
    for k, grad in enumerate((grad_v, grad_i)):
        if grad is not None:
            state[k].copy_(grad)
    return state


def _state_arrays(state):
    """The two rows of :func:`state_gradient`'s tensor as NumPy views for the kernel, or
    ``(None, None)``."""
    if state is None:
        return None, None
    array = state.numpy()
    return array[0], array[1]


def _forward_c(xs, v, i, from_rest: bool, args: KernelArgs, keep_v_pre: bool):
    """Run the C forward kernel on contiguous ``xs``; ``v``, ``i`` (from
    :func:`working_state`) are overwritten with the final state. Returns
    ``(z, v_pre or None)``."""
    z = torch.empty_like(xs)
    v_pre = torch.empty_like(z) if keep_v_pre else None
    _lif.forward(
        xs.numpy(force=True), v.numpy(), i.numpy(), z.numpy(),  # made here: never require grad
        None if v_pre is None else v_pre.numpy(), steps=xs.shape[0], v_leak=args.v_leak,
        from_rest=from_rest, threads=torch.get_num_threads(), **args.numbers,
    )
    return z, v_pre


# Below this many steps a sequence that starts from a given state keeps its pre-reset
# voltages for backward (T x n values) rather than its input and initial state ((T + 2) x n):
# at 8 steps the latter hold 1.25 times as much memory.
RECOMPUTE_MIN_STEPS = 8


class LIFSequenceFunction(torch.autograd.Function):
    """Fused LIF over a whole sequence: ``(xs, v0, i0) -> (z, v_T, i_T)``.

    Forward runs all ``T`` steps in one C call and writes nothing but the spikes and the
    final state; backward runs BPTT over all ``T`` steps in one C call
    (``_lif.backward_recompute``), which recomputes the pre-reset voltages it needs from the
    saved input and initial state, tile by tile in cache, bit for bit those of the forward
    pass. So a training step allocates and writes no ``(T, ...)`` buffer of voltages (the
    input is kept alive instead: the same memory, one 2 MB allocation and one pass over
    memory fewer per step at chapter 3's size; benchmarks/MEASUREMENTS.md).

    Where saving the input and a given initial state would hold more memory than the
    voltages (``(T + 2) / T`` times as much: a short sequence that starts from a state, e.g.
    one step of a time loop, ``T < RECOMPUTE_MIN_STEPS``), forward keeps the pre-reset
    voltages instead and backward reads them (``_lif.backward``; the same gradients, bit for
    bit). ``v0`` and ``i0`` may both be ``None``: a resting state, made here in one
    allocation (no copy).
    """

    @staticmethod
    def forward(ctx, xs, v0, i0, p: LIFParameters, dt: float, args: Optional[KernelArgs] = None):
        args = args or checked_args(p, dt)
        xs = xs.contiguous()
        v, i, from_rest = working_state(xs, v0, i0)
        needs_grad = any(ctx.needs_input_grad[:3])
        ctx.recompute = from_rest or xs.shape[0] >= RECOMPUTE_MIN_STEPS
        z, v_pre = _forward_c(xs, v, i, from_rest, args,
                              keep_v_pre=needs_grad and not ctx.recompute)
        if needs_grad:
            # recompute: the initial state as passed (never written to), backward starts
            # from it again
            ctx.save_for_backward(*((xs, v0, i0) if ctx.recompute else (v_pre,)))
            ctx.args = args
        ctx.set_materialize_grads(False)  # unused outputs cost nothing in backward
        return z, v, i

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_z, grad_v, grad_i):
        saved = saved_tensors_or_explain(ctx)
        xs = saved[0]  # the input, or the pre-reset voltages (not ctx.recompute): same shape
        wants = ctx.needs_input_grad  # False for a resting state made in forward (None)
        grad_state = state_gradient(xs, grad_v, grad_i, wants[1] or wants[2])
        grad_v_array, grad_i_array = _state_arrays(grad_state)
        grad_z = torch.zeros_like(xs) if grad_z is None else grad_z.contiguous()
        grad_x = torch.empty_like(xs)
        threads = torch.get_num_threads()
        if ctx.recompute:
            _, v0, i0 = saved
            from_rest = v0 is None
            _lif.backward_recompute(
                grad_z.numpy(force=True), xs.numpy(force=True),
                None if from_rest else v0.contiguous().numpy(force=True),
                None if from_rest else i0.contiguous().numpy(force=True),
                grad_v_array, grad_i_array, grad_x.numpy(),
                steps=xs.shape[0], v_leak=ctx.args.v_leak, from_rest=from_rest,
                threads=threads, alpha=ctx.args.alpha, **ctx.args.numbers,
            )
        else:
            _lif.backward(
                grad_z.numpy(force=True), xs.numpy(), grad_v_array, grad_i_array,
                grad_x.numpy(), steps=xs.shape[0], threads=threads, alpha=ctx.args.alpha,
                **ctx.args.numbers,
            )
        if grad_state is None:  # the initial state needs no gradient
            return grad_x if wants[0] else None, None, None, None, None, None
        return (grad_x if wants[0] else None, grad_state[0] if wants[1] else None,
                grad_state[1] if wants[2] else None, None, None, None)


def lif_sequence_c(
    xs: torch.Tensor, v0: Optional[torch.Tensor], i0: Optional[torch.Tensor],
    p: LIFParameters, dt: float, args: Optional[KernelArgs] = None,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Spikes ``(T, ...)`` and final ``(v, i)`` from the fused C kernel (checked inputs).

    ``v0 = i0 = None`` starts from rest (``v = v_leak``, ``i = 0``), made in one allocation
    that the kernel then updates in place. A state passed in is never written to. With
    nothing to differentiate (no input needs a gradient, or inside ``torch.no_grad()``)
    the kernel runs without an autograd node and keeps no pre-reset voltages. ``args``:
    the kernel arguments of ``(p, dt)`` if the caller has them already.
    """
    if torch.is_grad_enabled() and (xs.requires_grad or (
            v0 is not None and (v0.requires_grad or i0.requires_grad))):
        return LIFSequenceFunction.apply(xs, v0, i0, p, dt, args)
    args = args or checked_args(p, dt)
    v, i, from_rest = working_state(xs, v0, i0)
    z, _ = _forward_c(xs.contiguous(), v, i, from_rest, args, keep_v_pre=False)
    return z, v, i


# ---- leaky integrator (LI) ----------------------------------------------------------------

def _li_forward_c(xs, v, i, from_rest: bool, args: KernelArgs):
    """Run the LI forward kernel on contiguous ``xs``; ``v``, ``i`` (from
    :func:`working_state`) are overwritten with the final state. Returns the voltages of
    every step."""
    ys = torch.empty_like(xs)
    _lif.li_forward(xs.numpy(force=True), v.numpy(), i.numpy(), ys.numpy(), steps=xs.shape[0],
                    v_leak=args.v_leak, from_rest=from_rest, threads=torch.get_num_threads(),
                    **args.numbers)
    return ys


class LISequenceFunction(torch.autograd.Function):
    """Fused leaky integrator over a whole sequence: ``(xs, v0, i0) -> (ys, v_T, i_T)``.

    Forward runs all ``T`` steps in one C call; backward runs BPTT in one C call and needs
    nothing from the forward pass (the LI is linear). ``v0 = i0 = None``: a resting state.
    """

    @staticmethod
    def forward(ctx, xs, v0, i0, p: LIParameters, dt: float, args: Optional[KernelArgs] = None):
        args = args or checked_args(p, dt)
        xs = xs.contiguous()
        v, i, from_rest = working_state(xs, v0, i0)
        ys = _li_forward_c(xs, v, i, from_rest, args)
        ctx.args = args
        ctx.shape = xs.shape
        ctx.set_materialize_grads(False)  # unused outputs cost nothing in backward
        return ys, v, i

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_y, grad_v, grad_i):
        shape = ctx.shape
        if grad_y is None:
            like = next((g for g in (grad_v, grad_i) if g is not None), None)
            if like is None:  # no output was used
                return None, None, None, None, None, None
            grad_y = like.new_zeros(shape)
        else:
            grad_y = grad_y.contiguous()
        wants = ctx.needs_input_grad  # False for a resting state made in forward (None)
        grad_state = state_gradient(grad_y, grad_v, grad_i, wants[1] or wants[2])
        grad_v_array, grad_i_array = _state_arrays(grad_state)
        grad_x = torch.empty_like(grad_y)
        _lif.li_backward(grad_y.numpy(force=True), grad_v_array, grad_i_array, grad_x.numpy(),
                         steps=shape[0], threads=torch.get_num_threads(), **ctx.args.numbers)
        if grad_state is None:  # the initial state needs no gradient
            return grad_x if wants[0] else None, None, None, None, None, None
        return (grad_x if wants[0] else None, grad_state[0] if wants[1] else None,
                grad_state[1] if wants[2] else None, None, None, None)


def li_sequence_c(
    xs: torch.Tensor, v0: Optional[torch.Tensor], i0: Optional[torch.Tensor],
    p: LIParameters, dt: float, args: Optional[KernelArgs] = None,
) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Voltages ``(T, ...)`` and final ``(v, i)`` of leaky integrators from the fused C
    kernel (checked inputs). ``v0 = i0 = None`` starts from rest; a state passed in is never
    written to. Without anything to differentiate no autograd node is made. ``args`` as for
    :func:`lif_sequence_c`."""
    if torch.is_grad_enabled() and (xs.requires_grad or (
            v0 is not None and (v0.requires_grad or i0.requires_grad))):
        return LISequenceFunction.apply(xs, v0, i0, p, dt, args)
    args = args or checked_args(p, dt)
    xs = xs.contiguous()
    v, i, from_rest = working_state(xs, v0, i0)
    return _li_forward_c(xs, v, i, from_rest, args), v, i
