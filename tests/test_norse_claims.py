"""What the course says about Norse 1.1.0, checked against Norse itself.

``book/next_steps.md``, ``book/reading_list.md`` and ``book/05_recurrent.md`` state:

- the forward pass is bit-identical to Norse's, and the gradients equal Norse 1.1.0's only at
  ``alpha=1`` (Norse 1.1.0's SuperSpike ignores ``alpha``; snnlearn follows the paper);
- Norse 1.1.0's ``from_nir`` silently drops ``CubaLI`` nodes, so a model that ends in a
  leaky-integrator readout loses it there, while a model that ends in LIF neurons
  round-trips.

If a newer Norse changes either, these tests fail and the pages must be updated.
"""

from __future__ import annotations

import pytest
import torch

import snnlearn
from snnlearn import LICell, LIFCell, LIFParameters, SequentialState

norse = pytest.importorskip("norse.torch", reason="Norse 1.1.0 is a test peer")


def _lif_gradients(step, p):
    """Input gradient of the summed spikes of 20 feed-forward LIF steps."""
    x = (3 * torch.rand(20, 4, 5, generator=torch.Generator().manual_seed(0),
                        dtype=torch.float64)).requires_grad_(True)
    v = torch.zeros(4, 5, dtype=torch.float64)
    i = torch.zeros(4, 5, dtype=torch.float64)
    total = 0
    for xt in x:
        z, (v, i) = step(xt, (v, i), p)
        total = total + z.sum()
    total.backward()
    return total.detach(), x.grad


def _snnlearn_step(x, state, p):
    z, s = snnlearn.functional.lif_feed_forward_step(
        x, snnlearn.LIFFeedForwardState(*state), p)
    return z, (s.v, s.i)


def _norse_step(x, state, p):
    from norse.torch.functional.lif import LIFFeedForwardState, lif_feed_forward_step
    z, s = lif_feed_forward_step(x, LIFFeedForwardState(*state), p)
    return z, (s.v, s.i)


def _params(module, alpha):
    return module.LIFParameters(alpha=torch.as_tensor(alpha, dtype=torch.float64))


@pytest.mark.parametrize("alpha", [1.0, 100.0])
def test_forward_is_identical_and_gradients_agree_only_at_alpha_1(alpha):
    ours_total, ours_grad = _lif_gradients(_snnlearn_step, LIFParameters(alpha=alpha))
    theirs_total, theirs_grad = _lif_gradients(_norse_step, _params(norse, alpha))
    assert ours_total > 0 and torch.equal(ours_total, theirs_total)
    if alpha == 1.0:
        torch.testing.assert_close(ours_grad, theirs_grad)
    else:   # Norse 1.1.0 ignores alpha: at the default the gradients differ a lot
        assert theirs_grad.norm() > 5 * ours_grad.norm()


def _run(model, xs):
    state, outputs = None, []
    for x in xs:
        out, state = model(x, state)
        outputs.append(out)
    return torch.stack(outputs).detach()


def _round_trip_into_norse(model):
    graph = snnlearn.to_nir(model, sample_input=torch.zeros(1, 64), dt=0.001)
    imported = norse.from_nir(graph, dt=0.001)
    xs = 2 * torch.rand(50, 8, 64, generator=torch.Generator().manual_seed(1))
    return graph, imported, _run(model, xs), _run(imported, xs)


def test_norse_from_nir_drops_the_leaky_integrator_readout():
    torch.manual_seed(0)
    model = SequentialState(torch.nn.Linear(64, 32), LIFCell(), torch.nn.Linear(32, 10), LICell())
    graph, imported, ours, theirs = _round_trip_into_norse(model)
    readout = [name for name, node in graph.nodes.items() if type(node).__name__ == "CubaLI"]
    assert readout == ["3"]
    imported_nodes = dict(imported.named_children())
    assert "2" in imported_nodes and "3" not in imported_nodes, (
        f"Norse now imports the CubaLI node: {list(imported_nodes)}; update book/next_steps.md")
    assert (ours - theirs).abs().max() > 0.5


def test_a_network_ending_in_lif_neurons_round_trips_into_norse():
    torch.manual_seed(0)
    model = SequentialState(torch.nn.Linear(64, 32), LIFCell(), torch.nn.Linear(32, 10),
                            LIFCell(LIFParameters(v_th=0.3)))
    _, _, ours, theirs = _round_trip_into_norse(model)
    assert ours.sum() > 0, "the test needs output spikes"
    assert torch.equal(ours, theirs)
