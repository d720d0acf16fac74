"""What the C kernels take of a layer's parameters, worked out once per ``(p, dt)``.

A layer passes the same parameters object ``p`` and time step ``dt`` on every call. Turning
them into the floats the kernels take (``float(dt * p.tau_mem_inv)`` is two PyTorch calls
for Norse's 0-d tensor defaults) and checking that the kernels can take them at all costs
more than a small layer's whole C call, so it is done here once per ``(p, dt)`` and kept
while ``p``'s tensors are unchanged: same objects, same in-place version counters, the
same ``requires_grad``. Several layers (a LIF and its LI readout) keep an entry each.

The time constants are passed as ``dt = 1`` and ``tau_mem_inv = dt * tau_mem_inv`` (and
likewise ``tau_syn_inv``), computed by the very operation the reference uses (in float32
for Norse's float32 0-d tensors, in double for Python numbers), so the kernels form
``dt * tau`` from these exactly (``1.0 * a``) and use the reference's numbers.

>>> import torch
>>> from snnlearn.functional import LIFParameters
>>> args = kernel_args(LIFParameters(), 0.001)
>>> args.reason is None, args.numbers["tau_mem_inv"] == float(0.001 * torch.tensor(100.0))
(True, True)
>>> kernel_args(LIFParameters(v_th=torch.ones(3)), 0.001).reason
'parameters v_th are not plain numbers or 0-d tensors without a gradient (per-neuron or learnable)'
"""

from __future__ import annotations

from typing import Dict, NamedTuple, Optional

import torch

from ..functional.threshold import C_SURROGATES, _norse_1_1_0, resolve_method

__all__ = ["KernelArgs", "kernel_args", "is_number"]

# The voltages a parameters NamedTuple may have, passed to the kernels as floats.
_VOLTAGES = ("v_th", "v_reset")


class KernelArgs(NamedTuple):
    """The C kernels' view of one ``(p, dt)``.

    Attributes:
        reason: why the kernels cannot take these parameters, or ``None`` if they can.
        numbers: keyword arguments of every kernel call: ``dt`` (1.0), ``tau_mem_inv`` and
            ``tau_syn_inv`` (each times ``dt``), and ``v_th``, ``v_reset`` for LIF.
        v_leak: the resting potential.
        alpha: the surrogate's sharpness the backward kernels run with (LIF; 0 for LI).
    """

    reason: Optional[str]
    numbers: Dict[str, float]
    v_leak: float
    alpha: float


def is_number(value) -> bool:
    """A plain number, or a CPU 0-d real tensor that needs no gradient (as Norse code often
    writes ``torch.tensor(0.5)``): the C kernels read either as one float."""
    cls = type(value)
    if cls is float or cls is int:
        return True
    if isinstance(value, torch.Tensor):
        return (value.dim() == 0 and not value.requires_grad and value.device.type == "cpu"
                and not value.is_complex() and value.dtype is not torch.bool)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _work_out(p, dt) -> KernelArgs:
    """:class:`KernelArgs` of ``(p, dt)``, from scratch."""
    tensors = [name for name, value in zip(p._fields, p)
               if not isinstance(value, str) and not is_number(value)]
    if not is_number(dt):
        tensors.append("dt")
    if tensors:
        return KernelArgs(f"parameters {', '.join(tensors)} are not plain numbers or 0-d "
                          "tensors without a gradient (per-neuron or learnable)", {}, 0.0, 0.0)
    reset_method = getattr(p, "reset_method", "value")
    if reset_method != "value":
        return KernelArgs(f"reset_method {reset_method!r}: the C kernels reset to v_reset "
                          "(reset_method='value')", {}, 0.0, 0.0)
    method = resolve_method(getattr(p, "method", "super"))
    if method not in C_SURROGATES:
        return KernelArgs(f"surrogate method {method!r}: the C kernels implement "
                          f"{', '.join(map(repr, C_SURROGATES))}", {}, 0.0, 0.0)
    numbers = dict(dt=1.0, tau_mem_inv=float(dt * p.tau_mem_inv),
                   tau_syn_inv=float(dt * p.tau_syn_inv))
    for name in _VOLTAGES:
        if hasattr(p, name):
            numbers[name] = float(getattr(p, name))
    alpha = 0.0
    if hasattr(p, "alpha"):
        fixed = C_SURROGATES[method]
        alpha = float(p.alpha) if fixed is None else fixed
    return KernelArgs(None, numbers, float(p.v_leak), alpha)


def _fingerprint(tensors) -> tuple:
    """What can change in place in these tensors: ``(tensor, version, requires_grad)`` each."""
    return tuple((t, t._version, t.requires_grad) for t in tensors)


# (id(p), id(dt), Norse 1.1.0 switch on) -> (p, dt, fingerprint of the tensors of p and dt,
# KernelArgs). The entry keeps p and dt alive, so their ids cannot be reused while it exists.
_cache: Dict[tuple, tuple] = {}
_CACHE_SIZE = 64


def kernel_args(p, dt) -> KernelArgs:
    """:class:`KernelArgs` of ``(p, dt)``, worked out on the first call with these objects
    and again only when one of their tensors changed in place (or its ``requires_grad``).

    Called on every layer call: the check of a kept entry is one loop that allocates
    nothing (right after other work, every object touched costs; ``bench_floors.py lif``)."""
    key = (id(p), id(dt), _norse_1_1_0.get())
    entry = _cache.get(key)
    if entry is not None and entry[0] is p and entry[1] is dt:
        for tensor, version, requires_grad in entry[2]:
            if tensor._version != version or tensor.requires_grad is not requires_grad:
                break
        else:
            return entry[3]
    tensors = tuple(value for value in (*p, dt) if isinstance(value, torch.Tensor))
    args = _work_out(p, dt)
    if len(_cache) >= _CACHE_SIZE:
        _cache.clear()
    _cache[key] = (p, dt, _fingerprint(tensors), args)
    return args
