"""What the parameter NamedTuples (``LIFParameters``, ``LIParameters``) share: Norse 1.1.0's
defaults as 0-d float32 tensors, and ``to``/``cuda``/``cpu``/``float``/``double`` that move
every tensor field (Norse's ``StateTuple`` methods), so Norse code such as
``p.v_th.item()`` or ``p.to(device)`` runs unchanged.

The C kernels read a 0-d tensor that needs no gradient as one number (see
:func:`snnlearn.backend.why_not_c`), so these defaults keep the C path.
"""

from __future__ import annotations

import torch

__all__ = ["default", "tensor_fields_to"]


def default(value: float) -> torch.Tensor:
    """A default parameter value as Norse 1.1.0 writes it: ``torch.as_tensor(value)``, a 0-d
    tensor of PyTorch's default dtype (float32)."""
    return torch.as_tensor(value)


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
