"""What the parameter NamedTuples (``LIFParameters``, ``LIParameters``) share: Norse 1.1.0's
defaults as 0-d float32 tensors, and ``to``/``cuda``/``cpu``/``float``/``double`` that move
every tensor field (Norse's ``StateTuple`` methods), so Norse code such as
``p.v_th.item()`` or ``p.to(device)`` runs unchanged.

The C kernels read a 0-d tensor that needs no gradient as one number (see
:func:`snnlearn.backend.why_not_c`), so these defaults keep the C path.
"""

from __future__ import annotations

import torch

__all__ = ["default", "tensor_fields_to", "c_rates"]


def default(value: float) -> torch.Tensor:
    """A default parameter value as Norse 1.1.0 writes it: ``torch.as_tensor(value)``, a 0-d
    tensor of PyTorch's default dtype (float32)."""
    return torch.as_tensor(value)


def c_rates(p, dt) -> dict:
    """The time constants as the C kernels take them, ``dict(dt=1.0, tau_mem_inv=a,
    tau_syn_inv=b)`` with ``a = dt * tau_mem_inv`` and ``b = dt * tau_syn_inv`` computed by the
    same operation as the reference's ``dt * p.tau_mem_inv`` (so in float32 for Norse's
    float32 0-d tensors, in double for Python numbers): the kernels form ``dt * tau`` from
    these exactly (``1.0 * a``), so they use the very numbers the reference uses, for
    float32 and float64 inputs alike.

    >>> from snnlearn.functional import LIFParameters
    >>> c_rates(LIFParameters(), 0.001)["tau_mem_inv"] == float(0.001 * torch.tensor(100.0))
    True
    >>> c_rates(LIFParameters(tau_mem_inv=100.0), 0.001)["tau_mem_inv"] == 0.001 * 100.0
    True
    """
    numbers = _c_numbers(p, dt)
    return {name: numbers[name] for name in ("dt", "tau_mem_inv", "tau_syn_inv")}


def c_number(p, dt, name: str) -> float:
    """``float(p.<name>)`` for ``name`` in ``v_leak``, ``v_th``, ``v_reset``, from the same cache
    as :func:`c_rates` (a 0-d tensor's ``float()`` costs a PyTorch call every time)."""
    return _c_numbers(p, dt)[name]


def _c_numbers(p, dt) -> dict:
    """:func:`c_rates` and the voltages as floats, cached for the last ``(p, dt)``."""
    global _c_rates_cache
    versions = tuple(value._version for value in (*p, dt) if isinstance(value, torch.Tensor))
    cached = _c_rates_cache  # (p, dt, versions of its tensors: in-place edits, numbers)
    if cached is not None and cached[0] is p and cached[1] is dt and cached[2] == versions:
        return cached[3]  # a layer passes the same p and dt every call
    numbers = dict(dt=1.0, tau_mem_inv=float(dt * p.tau_mem_inv),
                   tau_syn_inv=float(dt * p.tau_syn_inv))
    for name in ("v_leak", "v_th", "v_reset"):
        if hasattr(p, name):
            numbers[name] = float(getattr(p, name))
    _c_rates_cache = (p, dt, versions, numbers)
    return numbers


# The last (p, dt, tensor versions) and its rates: computing them costs two tensor
# operations when the parameters are 0-d tensors, more than a small layer's whole C call.
_c_rates_cache = None


def tensor_fields_to(p, *args, **kwargs):
    """``p`` with every tensor field moved by ``tensor.to(*args, **kwargs)`` (device, dtype),
    keeping whether it requires a gradient, as Norse's ``StateTuple.to``. Other fields
    (``method``, plain numbers) are kept as they are.

    >>> from snnlearn.functional import LIFParameters
    >>> LIFParameters().to(torch.float64).v_th
    tensor(1., dtype=torch.float64)
    """
    return p._replace(**{
        name: value.to(*args, **kwargs).requires_grad_(value.requires_grad)
        for name, value in zip(p._fields, p) if isinstance(value, torch.Tensor)})


def _to(self, *args, **kwargs):
    """Every tensor field moved by ``.to(*args, **kwargs)`` (see :func:`tensor_fields_to`)."""
    return tensor_fields_to(self, *args, **kwargs)


def _cuda(self):
    """Every tensor field on CUDA."""
    return tensor_fields_to(self, "cuda")


def _cpu(self):
    """Every tensor field on the CPU."""
    return tensor_fields_to(self, "cpu")


def _float(self):
    """Every tensor field in float32."""
    return tensor_fields_to(self, torch.float32)


def _double(self):
    """Every tensor field in float64."""
    return tensor_fields_to(self, torch.float64)


#: The methods a parameters NamedTuple gets (``to = METHODS["to"]`` in its class body).
METHODS = {"to": _to, "cuda": _cuda, "cpu": _cpu, "float": _float, "double": _double}
