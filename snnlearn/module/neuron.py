"""The base of every neuron layer (and of the LIF encoders): its parameters ``p`` and time
step ``dt``.

Tensor fields of ``p`` belong to the layer, as weights do:

- an ``nn.Parameter`` field, or a tensor that requires a gradient, is registered as a
  parameter named ``p_<field>`` (``p_tau_mem_inv``, ``p_v_th``, …): it appears in
  ``.parameters()`` (so an optimiser trains it) and in ``state_dict()``;
- any other tensor field with at least one dimension (a per-neuron constant) is registered
  as a buffer of the same name: it is saved in ``state_dict()`` but not trained;
- a 0-d tensor that needs no gradient (``torch.tensor(0.5)``, as Norse code often writes a
  plain number) becomes a non-persistent buffer: it moves with the layer but stays out of
  ``state_dict()``, so state dicts keep the keys they have with plain numbers;
- all of them move with ``.to()``, ``.double()``, ``.cuda()``.

The defaults of ``LIFParameters``/``LIParameters`` (shared 0-d float32 tensors, as in Norse
1.1.0) are kept in ``p`` as they are, like plain numbers: a layer with default parameters
registers nothing, as Norse's layers keep ``p`` as given (PyTorch combines a 0-d CPU
float32 tensor with tensors of any device and floating dtype).

``layer.p`` is rebuilt from these on every access, so it always holds the layer's current
(moved, trained) tensors. Plain numbers stay plain numbers, and so keep the C kernels.

>>> import torch
>>> from snnlearn import LIF, LIFParameters
>>> p = LIFParameters(tau_mem_inv=torch.nn.Parameter(torch.full((3,), 100.0)),
...                   v_th=torch.full((3,), 0.5))
>>> lif = LIF(p)
>>> [name for name, _ in lif.named_parameters()], [name for name, _ in lif.named_buffers()]
(['p_tau_mem_inv'], ['p_v_th'])
>>> lif.double().p.tau_mem_inv.dtype
torch.float64
"""

from __future__ import annotations

from typing import NamedTuple, Tuple

import torch

__all__ = ["NeuronModule"]

PREFIX = "p_"


class NeuronModule(torch.nn.Module):
    """A layer of neurons with parameters ``p`` (a NamedTuple) and time step ``dt`` (s).

    Tensor fields of ``p`` are registered on the layer (see the module docstring): trainable
    ones (``nn.Parameter`` or ``requires_grad=True``) as parameters ``p_<field>``, the rest
    as buffers ``p_<field>`` (0-d ones non-persistent). Assigning a new ``p`` replaces them.

    Neuron layers implement ``forward(input_tensor, state=None) -> (output, state)``; the
    encoders built on a LIF membrane (``ConstantCurrentLIFEncoder``,
    ``SpikeLatencyLIFEncoder``) use it too, for their ``p``, and take no state.
    """

    def __init__(self, p: NamedTuple, dt: float):
        super().__init__()
        self._tensor_fields: Tuple[str, ...] = ()
        self.p = p
        self.dt = dt

    @property
    def p(self) -> NamedTuple:
        """The parameters, with tensor fields read from the layer's parameters and buffers."""
        template = self._p_template
        if not self._tensor_fields:
            return template
        return template._replace(
            **{field: getattr(self, PREFIX + field) for field in self._tensor_fields})

    @p.setter
    def p(self, p: NamedTuple) -> None:
        if not (isinstance(p, tuple) and hasattr(p, "_fields")):
            raise TypeError(f"p must be a parameters NamedTuple (e.g. LIFParameters), "
                            f"got {type(p).__name__}")
        for field in self._tensor_fields:  # forget the previous p's tensors
            name = PREFIX + field
            self._parameters.pop(name, None)
            self._buffers.pop(name, None)
        fields = []
        defaults = getattr(type(p), "_field_defaults", {})
        for field, value in zip(p._fields, p):
            if not isinstance(value, torch.Tensor) or value is defaults.get(field):
                continue  # plain numbers and the class's shared 0-d defaults stay in p
            name = PREFIX + field
            if isinstance(value, torch.nn.Parameter):
                self.register_parameter(name, value)
            elif value.requires_grad:
                if not value.is_leaf:
                    raise ValueError(
                        f"p.{field} is the result of a computation that requires a gradient; "
                        "pass a leaf tensor or an nn.Parameter so the layer can own it")
                self.register_parameter(name, torch.nn.Parameter(value))
            else:
                self.register_buffer(name, value, persistent=value.dim() > 0)
            fields.append(field)
        self._tensor_fields = tuple(fields)
        # the template keeps the non-tensor fields; tensors live only on the layer
        object.__setattr__(self, "_p_template", p._replace(**{field: None for field in fields}))

    def extra_repr(self) -> str:
        return f"p={self.p}, dt={self.dt}"
