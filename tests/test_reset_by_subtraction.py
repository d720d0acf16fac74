"""Reset by subtraction: ``LIFParameters(reset_method="subtract")``.

After a spike the voltage drops by ``v_th - v_reset`` instead of being set to ``v_reset``,
so the part of the voltage above threshold is kept (snnTorch's ``reset_mechanism=
"subtract"``). It runs on the PyTorch reference; the dispatch says so.
"""

from __future__ import annotations

import pytest
import torch

import snnlearn
from snnlearn import LIF, LIFCell, LIFParameters, LIFRecurrent
from snnlearn.functional import lif_feed_forward_step, lif_initial_state

SUBTRACT = LIFParameters(reset_method="subtract")


def test_a_spike_keeps_the_voltage_above_threshold():
    state = lif_initial_state(torch.zeros(1))
    state = state._replace(v=torch.tensor([0.95]))
    x = torch.tensor([3.0])  # v1 = 0.95 + dt * tau_mem_inv * (-0.95 + 3) = 1.155
    z_value, s_value = lif_feed_forward_step(x, state, LIFParameters(), 0.001)
    z_sub, s_sub = lif_feed_forward_step(x, state, SUBTRACT, 0.001)
    assert z_value.item() == z_sub.item() == 1.0
    assert s_value.v.item() == 0.0
    assert s_sub.v.item() == pytest.approx(1.155 - 1.0, abs=1e-6)
    with_reset = LIFParameters(v_reset=-0.2, reset_method="subtract")
    _, s = lif_feed_forward_step(x, state, with_reset, 0.001)
    assert s.v.item() == pytest.approx(1.155 - 1.2, abs=1e-6)


def test_subtraction_never_fires_less_and_fires_more_where_a_step_overshoots():
    drive = torch.linspace(0.05, 3.0, 12).expand(200, 12)
    with torch.no_grad():
        value = LIF()(drive)[0].sum(0)
        subtract = LIF(SUBTRACT)(drive)[0].sum(0)
    assert (subtract >= value).all()
    # between one spike per ~2 steps and one per step, resetting to 0 throws the excess away
    assert (subtract[5:8] - value[5:8] >= 20).all(), (value, subtract)


def test_layers_run_it_on_the_reference_and_say_why():
    xs = torch.rand(20, 3, 4) * 40
    reason = snnlearn.why_not_c(xs, SUBTRACT, 0.001)
    assert reason is not None and "reset_method 'subtract'" in reason
    z, _ = LIF(SUBTRACT)(xs)
    assert snnlearn.last_path() == "reference"
    with pytest.raises(snnlearn.backend.CUnavailableError, match="reset_method"), \
            snnlearn.use_backend("c"):
        LIF(SUBTRACT)(xs)
    state, cell_spikes = None, []
    for x in xs:
        zt, state = LIFCell(SUBTRACT)(x, state)
        cell_spikes.append(zt)
    assert torch.equal(torch.stack(cell_spikes), z)


def test_the_recurrent_layer_and_gradients():
    torch.manual_seed(0)
    layer = LIFRecurrent(4, 6, p=SUBTRACT)
    xs = torch.rand(15, 2, 4) * 5
    z, state = layer(xs)
    assert snnlearn.last_path() == "reference"
    z.sum().backward()
    assert layer.input_weights.grad is not None and torch.isfinite(layer.input_weights.grad).all()


def test_norse_positional_arguments_keep_their_meaning():
    p = LIFParameters(200.0, 100.0, 0.0, 0.5, 0.0, "super", 50.0)
    assert (p.v_th, p.alpha, p.reset_method) == (0.5, 50.0, "value")
    assert LIFParameters._fields[-1] == "reset_method"


def test_an_unknown_reset_method_is_refused_clearly():
    with pytest.raises(ValueError, match="reset_method must be one of"):
        LIF(LIFParameters(reset_method="zero"))(torch.ones(3, 2))


def test_nir_export_refuses_a_reset_nir_cannot_express():
    pytest.importorskip("nir")
    net = snnlearn.SequentialState(torch.nn.Linear(2, 3), LIF(SUBTRACT))
    with pytest.raises(ValueError, match="reset_method='value'"):
        snnlearn.to_nir(net, torch.zeros(1, 2))
