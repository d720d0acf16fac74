"""Parameters as Norse users write them: 0-d tensors, per-neuron tensors, nn.Parameter fields."""

from __future__ import annotations

import copy

import pytest
import torch

import snnlearn
from snnlearn import LI, LIF, LICell, LIFCell, LIFParameters, LIParameters

needs_c = pytest.mark.skipif(not snnlearn.c_available(), reason="C extension not built")


@needs_c
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_zero_dim_tensors_run_on_c_with_the_same_numbers(dtype):
    torch.manual_seed(0)
    xs = torch.rand(60, 4, 5, dtype=dtype, requires_grad=True)
    numbers = LIFParameters(tau_syn_inv=250.0, tau_mem_inv=125.0, v_leak=0.125, v_th=0.5,
                            v_reset=-0.25, alpha=50.0)
    # values exact in float32, so torch.tensor(value) (float32) holds the same number
    tensors = LIFParameters(*(torch.tensor(value) if isinstance(value, float) else value
                              for value in numbers))
    z_numbers, s_numbers = LIF(numbers)(xs)
    assert snnlearn.last_path() == "c"
    grad_numbers, = torch.autograd.grad(z_numbers.sum() + s_numbers.v.sum(), xs)
    z_tensors, s_tensors = LIF(tensors)(xs)
    assert snnlearn.last_path() == "c"
    grad_tensors, = torch.autograd.grad(z_tensors.sum() + s_tensors.v.sum(), xs)
    assert z_numbers.sum() > 0
    assert torch.equal(z_numbers, z_tensors)
    assert torch.equal(s_numbers.v, s_tensors.v) and torch.equal(s_numbers.i, s_tensors.i)
    assert torch.equal(grad_numbers, grad_tensors)
    z_cell, _ = LIFCell(tensors)(xs[0])
    assert snnlearn.last_path() == "c"
    assert torch.equal(z_cell, z_numbers[0])


def test_zero_dim_tensor_that_needs_a_gradient_takes_the_reference():
    p = LIFParameters(v_th=torch.tensor(0.5, requires_grad=True))
    assert "v_th" in snnlearn.why_not_c(torch.zeros(3), p, 0.001)
    LIF(p)(torch.ones(5, 3))
    assert snnlearn.last_path() == "reference"


def test_per_neuron_tensors_are_buffers_and_parameters_are_parameters():
    p = LIFParameters(tau_mem_inv=torch.nn.Parameter(torch.full((3,), 100.0)),
                      v_th=torch.full((3,), 0.5), v_leak=torch.tensor(0.0, requires_grad=True))
    lif = LIF(p)
    assert sorted(name for name, _ in lif.named_parameters()) == ["p_tau_mem_inv", "p_v_leak"]
    assert [name for name, _ in lif.named_buffers()] == ["p_v_th"]
    assert sorted(lif.state_dict()) == ["p_tau_mem_inv", "p_v_leak", "p_v_th"]
    assert lif.p.tau_mem_inv is lif.p_tau_mem_inv
    assert lif.p.v_th is lif.p_v_th
    assert lif.p.tau_syn_inv == 200.0 and lif.p.method == "super"


def test_double_and_to_move_parameter_tensors():
    lif = LIF(LIFParameters(tau_mem_inv=torch.nn.Parameter(torch.full((3,), 100.0)),
                            v_th=torch.full((3,), 0.5)))
    lif.double()
    assert lif.p.tau_mem_inv.dtype == torch.float64 and lif.p.v_th.dtype == torch.float64
    z, state = lif(torch.rand(20, 2, 3, dtype=torch.float64))
    assert z.dtype == torch.float64
    lif.to(torch.float32)
    assert lif.p.v_th.dtype == torch.float32
    assert isinstance(lif.p.tau_mem_inv, torch.nn.Parameter)


def test_state_dict_round_trip_and_deepcopy():
    source = LIF(LIFParameters(v_th=torch.nn.Parameter(torch.tensor([0.3, 0.7]))))
    target = LIF(LIFParameters(v_th=torch.nn.Parameter(torch.ones(2))))
    target.load_state_dict(source.state_dict())
    assert torch.equal(target.p.v_th, torch.tensor([0.3, 0.7]))
    clone = copy.deepcopy(source)
    assert torch.equal(clone.p.v_th, source.p.v_th) and clone.p.v_th is not source.p.v_th


def test_assigning_p_replaces_registered_tensors():
    lif = LIF(LIFParameters(v_th=torch.nn.Parameter(torch.ones(2))))
    lif.p = LIFParameters(tau_mem_inv=torch.full((2,), 50.0))
    assert list(lif.named_parameters()) == []
    assert [name for name, _ in lif.named_buffers()] == ["p_tau_mem_inv"]
    assert lif.p.v_th == 1.0
    with pytest.raises(TypeError, match="p must be"):
        lif.p = {"v_th": 1.0}


def test_zero_dim_constants_move_with_the_layer_but_stay_out_of_the_state_dict():
    lif = LIF(LIFParameters(v_th=torch.tensor(0.5), tau_mem_inv=torch.full((2,), 50.0)))
    assert sorted(lif.state_dict()) == ["p_tau_mem_inv"]
    lif.double()
    assert lif.p.v_th.dtype == torch.float64 and lif.p.v_th.dim() == 0
    assert float(lif.p.v_th) == 0.5


def test_plain_numbers_register_nothing():
    for layer in (LIF(), LIFCell(), LI(), LICell()):
        assert list(layer.parameters()) == [] and list(layer.buffers()) == []
        assert layer.state_dict() == {}


@pytest.mark.slow  # trains (20 steps of 100 time steps)
def test_training_lowers_the_threshold_to_fire_more():
    """Asking for more spikes than the layer makes must lower a learnable threshold."""
    torch.manual_seed(0)
    lif = LIF(LIFParameters(v_th=torch.nn.Parameter(torch.full((4,), 1.0))))
    xs = torch.full((100, 8, 4), 0.25)
    optimiser = torch.optim.SGD(lif.parameters(), lr=1e-3)
    start = lif.p.v_th.detach().clone()
    counts = []
    for _ in range(20):
        z, _ = lif(xs)
        counts.append(float(z.detach().sum(0).mean()))
        loss = ((z.sum(0) - 12.0) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert lif.p_v_th.grad is not None
    assert (lif.p.v_th < start).all(), lif.p.v_th
    assert counts[-1] > counts[0]


def test_training_slows_a_leaky_integrator_to_remember_longer():
    """A readout that must still hold a pulse at the end learns a longer time constant
    (a smaller ``tau_mem_inv``)."""
    li = LI(LIParameters(tau_mem_inv=torch.nn.Parameter(torch.tensor(200.0))))
    xs = torch.zeros(50, 1)
    xs[0] = 1.0
    optimiser = torch.optim.Adam(li.parameters(), lr=5.0)
    start = float(li.p.tau_mem_inv.detach())
    for _ in range(30):
        v, _ = li(xs)
        loss = (v[-1] - 0.5).pow(2).sum()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert float(li.p.tau_mem_inv.detach()) < start - 20
    assert isinstance(li.p.tau_mem_inv, torch.nn.Parameter)


@pytest.mark.slow  # trains (15 steps of 100 time steps)
def test_training_a_lif_time_constant_moves_it():
    """More spikes from a weak constant drive need a faster membrane (larger tau_mem_inv)."""
    lif = LIF(LIFParameters(tau_mem_inv=torch.nn.Parameter(torch.full((3,), 50.0))))
    xs = torch.full((100, 4, 3), 0.4)
    optimiser = torch.optim.Adam(lif.parameters(), lr=5.0)
    start = lif.p.tau_mem_inv.detach().clone()
    for _ in range(15):
        z, _ = lif(xs)
        loss = ((z.sum(0) - 20.0) ** 2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    assert (lif.p.tau_mem_inv > start).all(), lif.p.tau_mem_inv
