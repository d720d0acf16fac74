"""The API contracts the course relies on, including the snippet from its source material."""

from __future__ import annotations

import importlib

import pytest
import torch
from torch import nn

import snnlearn
from snnlearn.torch import LI, LIF, LICell, LIFCell, LIFParameters, SequentialState


@pytest.mark.slow  # trains: 32 steps of two convolutions, backward, an optimiser step
def test_course_snippet_runs_with_only_the_import_changed():
    torch.manual_seed(0)
    model = SequentialState(nn.Conv2d(3, 6, 7, 1), LIFCell(), nn.Conv2d(6, 12, 7, 1), LIFCell(),
                            nn.Flatten(1), nn.Linear(3072, 10, bias=False))
    data = torch.randn(8, 3, 28, 28)
    output, state = model(data)
    assert output.shape == (8, 10)
    assert len(state) == 6
    lif_states = [s for s in state if s is not None]
    assert len(lif_states) == 2 and all(hasattr(s, "v") and hasattr(s, "i") for s in lif_states)
    assert torch.count_nonzero(output) == 0, "one step from rest cannot reach the threshold"

    output, state = None, None
    for _ in range(32):
        output, state = model(data, state)
    assert torch.count_nonzero(output) > 0, "outputs become non-zero after 32 steps"

    before = [p.detach().clone() for p in model.parameters()]
    (1 - output.sum()).backward()
    torch.optim.RMSprop(model.parameters()).step()
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))

    z, s = LIF()(torch.ones(100, 1) * 0.3)
    assert z.shape == (100, 1) and 0 < z.sum() < 100
    cell = LIFCell()
    s = None
    trace = []
    for _ in range(100):
        z, s = cell(torch.tensor([0.3]), s)
        trace.append(float(s.v))
    assert max(trace) < 1.0 and max(trace) > 0.5 and 0.0 in trace[1:]  # rises, fires, resets


def test_fresh_state_is_v_leak_and_zero_current():
    p = LIFParameters(v_leak=0.2)
    z, s = LIFCell(p)(torch.zeros(3))
    # after one step from v = v_leak with no input, v stays at v_leak
    torch.testing.assert_close(s.v, torch.full((3,), 0.2))
    torch.testing.assert_close(s.i, torch.zeros(3))


def test_lif_and_lifcell_loop_agree():
    torch.manual_seed(1)
    xs = torch.randn(40, 4, 7)
    z_seq, s_seq = LIF()(xs)
    cell, state, spikes = LIFCell(), None, []
    for x in xs.unbind(0):
        z, state = cell(x, state)
        spikes.append(z)
    assert torch.equal(torch.stack(spikes), z_seq)
    torch.testing.assert_close(state.v, s_seq.v)


def test_sequential_state_threads_states_and_checks_their_number():
    model = SequentialState(nn.Linear(2, 3), LIFCell(), nn.Linear(3, 2), LICell())
    out, states = model(torch.ones(5, 2))
    assert [s is None for s in states] == [True, False, True, False]
    out2, states2 = model(torch.ones(5, 2), states)
    assert states2 is not states and not torch.equal(states2[3].v, states[3].v)

    with pytest.raises(ValueError, match="2 entries but the model has 4 layers"):
        model(torch.ones(5, 2), [None, None])


def test_li_sequence_matches_cell_loop():
    xs = torch.randn(20, 3)
    v_seq, s_seq = LI()(xs)
    cell, state = LICell(), None
    for t, x in enumerate(xs.unbind(0)):
        v, state = cell(x, state)
        torch.testing.assert_close(v, v_seq[t])


PUBLIC_MODULES = ["snnlearn", "snnlearn.functional", "snnlearn.module", "snnlearn.backend",
                  "snnlearn.energy", "snnlearn.state", "snnlearn.data"]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_public_names(name):
    """Every name a public module lists in ``__all__`` exists, once; ``import *`` gives them."""
    module = importlib.import_module(name)
    names = list(module.__all__)
    assert len(names) == len(set(names)), f"{name}.__all__ lists a name twice"
    missing = [n for n in names if not hasattr(module, n)]
    assert not missing, f"{name}.__all__ lists names it does not have: {missing}"
    namespace: dict = {}
    exec(f"from {name} import *", namespace)
    assert set(names) <= set(namespace)


def test_the_norse_import_path_exports_every_public_name():
    assert set(snnlearn.__all__) <= set(dir(snnlearn.torch))
    # the contract the course's notebooks rely on (DESIGN.md) is part of it
    assert {"LIFParameters", "LIFFeedForwardState", "LIFState", "LIParameters", "LIState",
            "LIFCell", "LIF", "LICell", "LI", "SequentialState", "detach_state",
            "use_backend", "set_backend", "last_path", "c_available"} <= set(snnlearn.__all__)


def test_plot_helpers_draw(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from snnlearn.plot import plot_raster, plot_voltage_traces

    z, _ = LIF()(torch.rand(100, 10) * 0.6)
    fig, (a, b) = plt.subplots(1, 2)
    plot_raster(z, ax=a)
    plot_voltage_traces(torch.rand(100, 3), ax=b)
    assert len(a.collections[0].get_segments()) == int(z.sum())  # one mark per spike
    fig.savefig(tmp_path / "plots.png")
    plt.close(fig)


def _api_page_tables():
    """The API page's "Names provided" and "Names not provided" tables: {table: names}."""
    import re

    from paths import ROOT

    text = (ROOT / "book" / "api.md").read_text()
    section = text[text.index("## Coming from Norse"):]
    tables = {}
    for title in ("### Names provided", "### Names not provided"):
        body = section[section.index(title):]
        body = body[: body.index("\n###", 1)] if "\n###" in body[1:] else body
        rows = [line for line in body.splitlines() if line.startswith("| ") and "---" not in line]
        tables[title] = {name for row in rows[1:] for name in
                         re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", row.split("|")[2])}
    return tables


def test_api_page_lists_every_norse_name_as_provided_or_not():
    """Each name Norse 1.1.0 exports from ``norse.torch`` is in one of the API page's two
    tables, each "provided" name exists in ``snnlearn.torch``, each "not provided" does not."""
    import pytest

    norse = pytest.importorskip("norse.torch")
    import snnlearn.torch as ported

    tables = _api_page_tables()
    provided, missing = tables["### Names provided"], tables["### Names not provided"]
    provided_in_norse = {name for name in norse.__all__ if hasattr(ported, name)}
    assert not provided_in_norse - provided, "provided but not on the API page"
    assert not (set(norse.__all__) - provided_in_norse) - missing, "missing from the API page"
    assert not {name for name in missing if hasattr(ported, name)}, "listed as not provided"
    submodules = ["functional.lif", "functional.leaky_integrator", "functional.encode",
                  "functional.decode", "functional.threshold", "functional.superspike",
                  "functional.heaviside", "functional.regularization", "module.lif",
                  "module.leaky_integrator", "module.encode", "module.sequential",
                  "module.regularization"]
    import importlib

    everywhere = set(dir(ported))
    for sub in submodules:
        everywhere |= set(dir(importlib.import_module(f"snnlearn.torch.{sub}")))
    assert not {name for name in provided if name not in everywhere
                and name not in ("register_forward_state_hooks", "remove_forward_state_hooks")}


def test_snnlearn_torch_reexports_the_one_implementation():
    """No second copy: the names of snnlearn.torch are snnlearn's own objects."""
    import snnlearn
    import snnlearn.torch as ported
    from snnlearn.torch.functional import lif as norse_lif
    from snnlearn.torch.module import leaky_integrator

    assert ported.LIFCell is snnlearn.LIFCell and ported.LIFParameters is snnlearn.LIFParameters
    assert norse_lif.lif_step is snnlearn.functional.lif_recurrent_step
    assert norse_lif.lif_feed_forward_integral is snnlearn.functional.lif_feed_forward_sequence
    assert leaky_integrator.LILinearCell is snnlearn.module.leaky_integrator.LILinearCell
