"""Export to and import from NIR, the Neuromorphic Intermediate Representation.

NIR (https://neuroir.org, Pedersen et al. 2024, "Neuromorphic intermediate representation:
a unified instruction set for interoperable brain-inspired computing", Nature Communications
15:8122) describes a network as a graph of continuous-time nodes. snnlearn maps:

==========================  ===================================================
snnlearn / torch            NIR node
==========================  ===================================================
``Linear``                  ``Affine`` (a zero bias when the layer has none)
``Conv2d``                  ``Conv2d``
``Flatten``                 ``Flatten``
``LIFCell`` / ``LIF``       ``CubaLIF``
``LICell`` / ``LI``         ``CubaLI``
==========================  ===================================================

NIR's current-based neurons are ``tau_syn dI/dt = -I + w_in S`` and
``tau_mem dv/dt = (v_leak - v) + r I``. snnlearn's input ``x`` makes the current *jump* by
``x`` once per step of length ``dt``, which in continuous time is an input ``S = x / dt``
weighted by ``w_in = tau_syn / dt``; time constants are ``tau = 1 / tau_inv`` in seconds,
``r = 1``. This is the reading of Norse 1.1.0's importer (``norse.torch.from_nir``), so
a network exported here gives the same spikes when Norse imports it (for ``v_leak = 0``:
Norse's importer reuses ``v_leak`` for the synapse). Every parameter is written at the
population's shape (one value per neuron).

Requires the optional extra: ``pip install "snnlearn[nir]"`` (``nir``).
"""

from __future__ import annotations

from collections import OrderedDict

from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from .functional.leaky_integrator import LIParameters
from .functional.lif import LIFParameters
from .module.leaky_integrator import LI, LICell
from .module.lif import LIF, LIFCell
from .module.sequential import SequentialState

__all__ = ["to_nir", "from_nir", "InputScale"]


def _nir():
    try:
        import nir
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            "NIR support needs the 'nir' package: pip install \"snnlearn[nir]\" "
            f"(or pip install nir h5py); {error}") from None
    return nir


class InputScale(torch.nn.Module):
    """Multiply the input by a constant (per neuron): ``y = scale * x``.

    ``from_nir`` puts one before a neuron layer whose NIR input weight ``w_in * r`` is not
    the one snnlearn's equations imply (``tau_syn / dt``).

    >>> InputScale(torch.tensor([2.0, 0.5]))(torch.ones(2))
    tensor([2.0000, 0.5000])
    """

    def __init__(self, scale: torch.Tensor):
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(scale, dtype=torch.float32))

    def forward(self, input_tensor: torch.Tensor) -> torch.Tensor:
        return self.scale * input_tensor


def _population(value, shape: Tuple[int, ...]) -> np.ndarray:
    """``value`` (a number or a tensor) broadcast to one float32 value per neuron."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    return np.array(np.broadcast_to(np.asarray(value, dtype=np.float32), shape))


def _neuron_node(module: torch.nn.Module, shape: Tuple[int, ...], dt: float):
    nir = _nir()
    p = module.p
    tau_syn = _population(1.0 / torch.as_tensor(p.tau_syn_inv, dtype=torch.float64), shape)
    tau_mem = _population(1.0 / torch.as_tensor(p.tau_mem_inv, dtype=torch.float64), shape)
    common = dict(tau_syn=tau_syn, tau_mem=tau_mem, r=np.ones(shape, np.float32),
                  v_leak=_population(p.v_leak, shape), w_in=(tau_syn / dt).astype(np.float32))
    if isinstance(module, (LIFCell, LIF)):
        if getattr(p, "reset_method", "value") != "value":
            raise ValueError(f"NIR's CubaLIF resets to v_reset; this layer resets by "
                             f"{p.reset_method!r}: export it with reset_method='value'")
        return nir.CubaLIF(v_threshold=_population(p.v_th, shape),
                           v_reset=_population(p.v_reset, shape), **common)
    return nir.CubaLI(**common)


def _node(module: torch.nn.Module, in_shape, out_shape, dt: float):
    nir = _nir()
    if isinstance(module, torch.nn.Linear):
        weight = module.weight.detach().cpu().numpy()
        bias = (module.bias.detach().cpu().numpy() if module.bias is not None
                else np.zeros(weight.shape[0], np.float32))
        return nir.Affine(weight=weight, bias=bias)
    if isinstance(module, torch.nn.Conv2d):
        if isinstance(module.padding, str):
            raise ValueError(f"Conv2d with padding={module.padding!r}: give the padding as numbers")
        bias = (module.bias.detach().cpu().numpy() if module.bias is not None
                else np.zeros(module.out_channels, np.float32))
        return nir.Conv2d(input_shape=tuple(in_shape[-2:]),
                          weight=module.weight.detach().cpu().numpy(), stride=module.stride,
                          padding=module.padding, dilation=module.dilation,
                          groups=module.groups, bias=bias)
    if isinstance(module, torch.nn.Flatten):
        # NIR shapes leave out the batch dimension: torch's dim 1 is NIR's dim 0.
        start = module.start_dim - 1 if module.start_dim > 0 else module.start_dim
        end = module.end_dim - 1 if module.end_dim > 0 else module.end_dim
        return nir.Flatten(input_type={"input": np.array(in_shape)}, start_dim=start, end_dim=end)
    if isinstance(module, (LIFCell, LIF, LICell, LI)):
        return _neuron_node(module, tuple(out_shape), dt)
    raise TypeError(
        f"to_nir cannot export a {type(module).__name__}: supported are Linear, Conv2d, "
        "Flatten, LIFCell, LIF, LICell and LI")


def to_nir(model: torch.nn.Module, sample_input: torch.Tensor, model_name: str = "norse",
           dt: float = 0.001):
    """Export a :class:`~snnlearn.SequentialState` (or one layer) to a ``nir.NIRGraph``.

    ``sample_input`` is one input with a leading batch dimension, ``(batch, *features)``;
    the model runs on it once (without gradients) to learn each layer's shape. Nodes are
    named like the model's layers (``"0"``, ``"1"``, ...; a single layer that is not a
    ``Sequential`` is named ``model_name``, ``"norse"`` as in Norse's ``to_nir``) and chained
    from ``"input"`` to ``"output"``; ``dt`` is stored in the graph's metadata. Arguments
    in Norse's order: ``to_nir(module, sample_data, model_name="norse", dt=0.001)``.

    >>> import torch
    >>> from snnlearn import LIFCell, SequentialState
    >>> graph = to_nir(SequentialState(torch.nn.Linear(3, 2), LIFCell()), torch.zeros(1, 3))
    >>> sorted(graph.nodes), type(graph.nodes["1"]).__name__, graph.nodes["1"].tau_mem
    (['0', '1', 'input', 'output'], 'CubaLIF', array([0.01, 0.01], dtype=float32))
    """
    nir = _nir()
    if not isinstance(sample_input, torch.Tensor) or sample_input.dim() < 2:
        raise ValueError("sample_input must be a tensor (batch, *features) with a batch dimension")
    if not (isinstance(dt, (int, float)) and dt > 0):
        raise ValueError(f"dt must be a positive number of seconds, got {dt!r}")
    layers = list(model) if isinstance(model, torch.nn.Sequential) else [model]
    names = ([name for name, _ in model.named_children()]
             if isinstance(model, torch.nn.Sequential) else [str(model_name)])
    shapes: Dict[int, Tuple[tuple, tuple]] = {}

    def record(index):
        def hook(module, inputs, output):
            out = output[0] if isinstance(output, tuple) else output
            shapes[index] = (tuple(inputs[0].shape[1:]), tuple(out.shape[1:]))
        return hook

    handles = [layer.register_forward_hook(record(k)) for k, layer in enumerate(layers)]
    try:
        with torch.no_grad():
            model(sample_input)
    finally:
        for handle in handles:
            handle.remove()
    nodes = {"input": nir.Input(input_type={"input": np.array(sample_input.shape[1:])})}
    edges: List[Tuple[str, str]] = []
    previous = "input"
    for index, (name, layer) in enumerate(zip(names, layers)):
        in_shape, out_shape = shapes[index]
        nodes[name] = _node(layer, in_shape, out_shape, dt)
        edges.append((previous, name))
        previous = name
    nodes["output"] = nir.Output(output_type={"output": np.array(shapes[len(layers) - 1][1])})
    edges.append((previous, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata={"dt": dt})


def _chain(graph) -> List[str]:
    """The node names from input to output of a graph that is a simple chain."""
    nir = _nir()
    successors: Dict[str, List[str]] = {}
    for source, target in graph.edges:
        successors.setdefault(source, []).append(target)
    starts = [name for name, node in graph.nodes.items() if isinstance(node, nir.Input)]
    if len(starts) != 1:
        raise ValueError(f"from_nir needs exactly one Input node, found {len(starts)}")
    order, current = [], starts[0]
    while True:
        following = successors.get(current, [])
        if not following:
            break
        if len(following) > 1:
            raise ValueError(f"from_nir reads chains of layers; node {current!r} feeds "
                             f"{len(following)} nodes ({following})")
        current = following[0]
        if current in order:
            raise ValueError(f"from_nir reads chains of layers; {current!r} closes a loop")
        order.append(current)
    return [name for name in order if not isinstance(graph.nodes[name], nir.Output)]


def _value(array) -> object:
    """A plain float when every neuron shares the value (so the C kernels can run)."""
    tensor = torch.as_tensor(np.asarray(array, dtype=np.float32))
    if tensor.numel() > 0 and bool(torch.all(tensor == tensor.flatten()[0])):
        return float(tensor.flatten()[0])
    return tensor


def _neuron_modules(node, dt: float, sequence: bool) -> List[torch.nn.Module]:
    nir = _nir()
    tau_syn = np.asarray(node.tau_syn, dtype=np.float64)
    scale = np.asarray(node.w_in, np.float64) * np.asarray(node.r, np.float64) * dt / tau_syn
    common = dict(tau_syn_inv=_value(1.0 / tau_syn),
                  tau_mem_inv=_value(1.0 / np.asarray(node.tau_mem, np.float64)),
                  v_leak=_value(node.v_leak))
    if isinstance(node, nir.CubaLIF):
        v_reset = node.v_reset if node.v_reset is not None else np.zeros_like(tau_syn)
        p = LIFParameters(v_th=_value(node.v_threshold), v_reset=_value(v_reset), **common)
        layer = (LIF if sequence else LIFCell)(p, dt=dt)
    else:
        layer = (LI if sequence else LICell)(LIParameters(**common), dt=dt)
    if np.allclose(scale, 1.0, rtol=1e-6, atol=0.0):
        return [layer]
    return [InputScale(torch.as_tensor(scale, dtype=torch.float32)), layer]


def _modules_of(node, dt: float, sequence: bool) -> List[torch.nn.Module]:
    nir = _nir()
    if isinstance(node, (nir.Affine, nir.Linear)):
        weight = torch.as_tensor(np.asarray(node.weight, dtype=np.float32))
        has_bias = isinstance(node, nir.Affine) and node.bias is not None
        layer = torch.nn.Linear(weight.shape[1], weight.shape[0], bias=has_bias)
        with torch.no_grad():
            layer.weight.copy_(weight)
            if has_bias:
                layer.bias.copy_(torch.as_tensor(np.asarray(node.bias, dtype=np.float32)))
        return [layer]
    if isinstance(node, nir.Conv2d):
        weight = torch.as_tensor(np.asarray(node.weight, dtype=np.float32))
        layer = torch.nn.Conv2d(weight.shape[1] * node.groups, weight.shape[0],
                                tuple(weight.shape[-2:]), stride=tuple(node.stride),
                                padding=tuple(node.padding), dilation=tuple(node.dilation),
                                groups=node.groups, bias=node.bias is not None)
        with torch.no_grad():
            layer.weight.copy_(weight)
            if node.bias is not None:
                layer.bias.copy_(torch.as_tensor(np.asarray(node.bias, dtype=np.float32)))
        return [layer]
    if isinstance(node, nir.Flatten):
        start = node.start_dim + 1 if node.start_dim >= 0 else node.start_dim
        end = node.end_dim + 1 if node.end_dim >= 0 else node.end_dim
        return [torch.nn.Flatten(start, end)]
    if isinstance(node, (nir.CubaLIF, nir.CubaLI)):
        return _neuron_modules(node, dt, sequence)
    raise TypeError(f"from_nir cannot import a {type(node).__name__} node: supported are "
                    "Affine, Linear, Conv2d, Flatten, CubaLIF and CubaLI")


def from_nir(graph, dt: Optional[float] = None, sequence: bool = False) -> SequentialState:
    """Import a chain-shaped ``nir.NIRGraph`` as a :class:`~snnlearn.SequentialState`.

    Layers are named after the graph's nodes, as Norse names them (``model.affine``,
    ``model.flatten``, ...; a node that becomes several layers gives ``name``, ``name_1``, ...).
    ``dt`` defaults to the graph's ``metadata["dt"]``, else 0.001 s (as Norse). With
    ``sequence=False`` neurons become ``LIFCell``/``LICell`` (one step per call); with
    ``sequence=True``, ``LIF``/``LI`` over time-first input. A graph may also be a path to
    a ``.nir`` file.

    >>> import torch
    >>> from snnlearn import LIFCell, SequentialState
    >>> model = SequentialState(torch.nn.Linear(3, 2), LIFCell())
    >>> again = from_nir(to_nir(model, torch.zeros(1, 3)))
    >>> [(name, type(layer).__name__) for name, layer in again.named_children()]
    [('0', 'Linear'), ('1', 'LIFCell')]
    """
    nir = _nir()
    if isinstance(graph, str):
        graph = nir.read(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph must be a nir.NIRGraph or a path, got {type(graph).__name__}")
    if dt is None:
        dt = float(graph.metadata.get("dt", 0.001)) if graph.metadata else 0.001
    modules: "OrderedDict[str, torch.nn.Module]" = OrderedDict()
    for name in _chain(graph):
        made = _modules_of(graph.nodes[name], dt, sequence)
        for k, module in enumerate(made):
            key = str(name).replace(".", "_") + (f"_{k}" if k else "")
            while key in modules:
                key += "_"
            modules[key] = module
    return SequentialState(modules)
