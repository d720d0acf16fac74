"""NIR export and import: snnlearn -> NIR -> Norse 1.1.0 and -> snnlearn, same outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import snnlearn
from snnlearn import LI, LIF, LICell, LIFCell, LIFParameters, SequentialState

nir = pytest.importorskip("nir", reason="NIR tests need the extra: pip install 'snnlearn[nir]'")

T, BATCH = 60, 4


def trained_model() -> SequentialState:
    """A small LIF network given a few training steps (so its weights are not the init)."""
    torch.manual_seed(0)
    model = SequentialState(torch.nn.Linear(6, 12), LIFCell(), torch.nn.Linear(12, 3), LIFCell())
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    xs = 3 * torch.rand(T, BATCH, 6)
    for _ in range(5):
        state, total = None, 0
        for x in xs:
            z, state = model(x, state)
            total = total + z.sum()
        optimizer.zero_grad()
        (-total).backward()   # more output spikes
        optimizer.step()
    return model


def run(model, xs):
    state, outputs = None, []
    for x in xs:
        out, state = model(x, state)
        outputs.append(out)
    return torch.stack(outputs)


def test_export_then_norse_import_gives_the_same_spikes():
    norse = pytest.importorskip("norse.torch", reason="Norse 1.1.0 is a test peer")
    model = trained_model()
    graph = snnlearn.to_nir(model, torch.zeros(1, 6))
    imported = norse.from_nir(graph, dt=0.001)
    xs = 3 * torch.rand(T, BATCH, 6, generator=torch.Generator().manual_seed(1))
    ours = run(model, xs).detach()
    state, theirs = None, []
    for x in xs:
        out, state = imported(x, state)
        theirs.append(out)
    theirs = torch.stack(theirs).detach()
    assert ours.sum() > 0, "the test needs output spikes"
    assert torch.equal(ours, theirs), f"{int((ours != theirs).sum())} spikes differ"


def test_parameters_are_written_at_the_population_shape():
    p = LIFParameters(v_th=torch.tensor([0.5, 1.0, 1.5]), tau_mem_inv=50.0)
    graph = snnlearn.to_nir(SequentialState(torch.nn.Linear(2, 3, bias=False), LIFCell(p)),
                            torch.zeros(1, 2), dt=0.002)
    lif = graph.nodes["1"]
    assert lif.v_threshold.tolist() == [0.5, 1.0, 1.5]
    assert lif.tau_mem.shape == (3,) and abs(float(lif.tau_mem[0]) - 0.02) < 1e-9
    assert abs(float(lif.w_in[0]) - 0.005 / 0.002) < 1e-6   # tau_syn / dt
    assert graph.nodes["0"].bias.tolist() == [0.0, 0.0, 0.0]
    assert graph.metadata["dt"] == 0.002


@pytest.mark.parametrize("sequence", [False, True])
def test_round_trip_with_conv_flatten_and_leaky_integrator(tmp_path, sequence):
    torch.manual_seed(2)
    cell_model = SequentialState(torch.nn.Conv2d(2, 3, 3, padding=1), LIFCell(),
                                 torch.nn.Flatten(), torch.nn.Linear(3 * 5 * 5, 4), LICell())
    graph = snnlearn.to_nir(cell_model, torch.zeros(1, 2, 5, 5))
    path = tmp_path / "model.nir"
    nir.write(str(path), graph)
    again = snnlearn.from_nir(str(path), sequence=sequence)
    assert [type(m) for m in again] == [torch.nn.Conv2d, LIF if sequence else LIFCell,
                                        torch.nn.Flatten, torch.nn.Linear, LI if sequence else LICell]
    xs = 2 * torch.rand(20, 3, 2, 5, 5, generator=torch.Generator().manual_seed(3))
    expected = run(cell_model, xs).detach()
    if sequence:  # time folded into the batch for Conv2d/Linear, LIF over the sequence
        folded = xs.flatten(0, 1)
        conv, lif, flatten, linear, li = again
        z, _ = lif(conv(folded).unflatten(0, (20, 3)))
        got, _ = li(linear(flatten(z.flatten(0, 1))).unflatten(0, (20, 3)))
    else:
        got = run(again, xs)
    torch.testing.assert_close(got.detach(), expected, rtol=1e-5, atol=1e-5)


def test_a_foreign_input_weight_becomes_an_input_scale():
    one = np.ones(1)
    node = nir.CubaLIF(tau_syn=0.005 * one, tau_mem=0.01 * one, r=one, v_leak=0 * one,
                       v_threshold=one, w_in=one)
    graph = nir.NIRGraph.from_list(node)
    model = snnlearn.from_nir(graph, dt=0.001)
    assert isinstance(model[0], snnlearn.nir_io.InputScale)
    assert float(model[0].scale) == pytest.approx(0.2)   # w_in * dt / tau_syn


def test_bad_input_gets_clear_errors():
    with pytest.raises(TypeError, match="cannot export a ReLU"):
        snnlearn.to_nir(SequentialState(torch.nn.Linear(2, 2), torch.nn.ReLU()), torch.zeros(1, 2))
    with pytest.raises(ValueError, match="batch dimension"):
        snnlearn.to_nir(SequentialState(torch.nn.Linear(2, 2)), torch.zeros(2))
    with pytest.raises(TypeError, match="nir.NIRGraph"):
        snnlearn.from_nir(42)
    with pytest.raises(TypeError, match="cannot import a Threshold"):
        snnlearn.from_nir(nir.NIRGraph.from_list(nir.Threshold(threshold=np.ones(1))))
