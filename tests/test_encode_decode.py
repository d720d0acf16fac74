"""Encoders (latency, delta) and readouts (spike count, first spike, max membrane)."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import snnlearn
import snnlearn.torch
from snnlearn import LIFParameters
from snnlearn.functional import (
    constant_current_lif_encode,
    delta_encode,
    first_spike_time,
    max_membrane,
    spike_count,
    spike_latency_encode,
    spike_latency_lif_encode,
)
from tiers import examples

floats01 = st.floats(0.0, 1.0, allow_nan=False, width=32)


def random_spikes(seed, shape, p=0.2):
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(*shape, generator=g) < p).float()


# --- exports -------------------------------------------------------------------------------
NEW_NAMES = ["SpikeLatencyLIFEncoder", "SpikeLatencyEncoder", "DeltaEncoder", "SpikeCount",
             "FirstSpikeTime", "MaxMembrane", "spike_latency_lif_encode",
             "spike_latency_encode", "delta_encode", "spike_count", "first_spike_time",
             "max_membrane"]


@pytest.mark.parametrize("name", NEW_NAMES)
def test_exported_from_snnlearn_and_snnlearn_torch(name):
    assert name in snnlearn.__all__
    assert getattr(snnlearn.torch, name) is getattr(snnlearn, name)


def test_api_page_lists_every_new_name(repo_root):
    api = (repo_root / "book" / "api.md").read_text()
    for name in NEW_NAMES:
        assert name in api, f"{name} missing from book/api.md"


# --- latency ---------------------------------------------------------------------------------
@settings(max_examples=examples(40), deadline=None)
@given(st.lists(st.floats(0.0, 20.0, allow_nan=False, width=32), min_size=1, max_size=30),
       st.integers(1, 60))
def test_latency_lif_spikes_at_most_once_and_monotone(currents, steps):
    current = torch.tensor(currents)
    z = spike_latency_lif_encode(current, steps)
    assert z.shape == (steps, len(currents))
    assert set(z.unique().tolist()) <= {0.0, 1.0}
    assert (z.sum(0) <= 1).all()
    t = first_spike_time(z)   # steps if never
    order = current.argsort()
    # a larger current never spikes later
    assert (t[order][1:] <= t[order][:-1]).all()


def test_latency_lif_is_first_spike_of_the_constant_current_encoder():
    current = torch.linspace(0, 5, 40)
    full = constant_current_lif_encode(current, 50)
    latency = spike_latency_lif_encode(current, 50)
    assert torch.equal(first_spike_time(full), first_spike_time(latency))
    assert torch.equal(latency.sum(0), (full.sum(0) > 0).float())


def test_latency_lif_matches_the_closed_form():
    # v_k = I (1 - a^k) with a = 1 - dt * tau_mem_inv: the first spike is at the first
    # step index k (0-based) with I (1 - a^(k+1)) > v_th.
    p, dt = LIFParameters(), 0.001
    a = 1 - dt * p.tau_mem_inv
    for current in [1.05, 1.5, 2.0, 3.0, 10.0]:
        k = 0
        while current * (1 - a ** (k + 1)) <= p.v_th:
            k += 1
        z = spike_latency_lif_encode(torch.tensor([current], dtype=torch.float64), 100)
        assert first_spike_time(z).item() == k
    assert spike_latency_lif_encode(torch.tensor([1.0]), 500).sum() == 0   # I <= v_th: never


def test_spike_latency_encode_matches_norse_doc_example():
    data = torch.as_tensor([[0, 1, 1], [1, 1, 1]])
    assert torch.equal(spike_latency_encode(data), torch.tensor([[0, 1, 1], [1, 0, 0]]))


@settings(max_examples=examples(40), deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 30), st.integers(1, 8))
def test_spike_latency_encode_keeps_exactly_the_first_spike(seed, steps, n):
    z = random_spikes(seed, (steps, n), p=0.3)
    kept = spike_latency_encode(z)
    assert torch.equal(kept.sum(0), (z.sum(0) > 0).float())
    assert torch.equal(first_spike_time(kept), first_spike_time(z))


def test_spike_latency_encode_passes_gradient_to_the_kept_spike():
    z = torch.tensor([[0.0], [1.0], [1.0]], requires_grad=True)
    spike_latency_encode(z).sum().backward()
    assert z.grad.flatten().tolist() == [0.0, 1.0, 0.0]


def test_latency_modules():
    current = torch.tensor([0.5, 2.0, 4.0])
    assert torch.equal(snnlearn.SpikeLatencyLIFEncoder(30)(current),
                       spike_latency_lif_encode(current, 30))
    z = random_spikes(1, (10, 4), 0.5)
    assert torch.equal(snnlearn.SpikeLatencyEncoder()(z), spike_latency_encode(z))


# --- delta ---------------------------------------------------------------------------------
def reconstruct(events, threshold, start):
    return start + threshold * (events[..., 0] - events[..., 1]).cumsum(0)


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.floats(-1.0, 1.0, allow_nan=False, width=32), min_size=1, max_size=40),
       st.floats(0.05, 2.0, allow_nan=False), st.floats(-3.0, 3.0, allow_nan=False))
def test_delta_reconstructs_within_threshold_when_steps_are_small(steps, threshold, start):
    # a random walk whose steps are at most `threshold`
    increments = torch.tensor(steps, dtype=torch.float64) * threshold
    x = start + increments.cumsum(0)
    events = delta_encode(x, threshold)
    assert events.shape == (len(x), 2)
    assert set(events.unique().tolist()) <= {0.0, 1.0}
    assert not (events[:, 0] * events[:, 1]).any(), "ON and OFF at once"
    error = (x - reconstruct(events, threshold, x[0])).abs()
    assert (error <= threshold + 1e-9).all()


@settings(max_examples=examples(60), deadline=None)
@given(st.lists(st.floats(-5.0, 5.0, allow_nan=False), min_size=1, max_size=20),
       st.floats(0.05, 1.0, allow_nan=False))
def test_delta_catches_up_when_the_input_holds_still(values, threshold):
    x = torch.tensor(values, dtype=torch.float64)
    hold = int(10 / threshold) + 2          # long enough to send every missing event
    held = torch.cat([x, x[-1:].expand(hold)])
    events = delta_encode(held, threshold)
    error = (held - reconstruct(events, threshold, held[0])).abs()
    assert error[-1] <= threshold + 1e-9


def test_delta_sends_nothing_for_a_constant_input_and_events_for_changes():
    x = torch.full((20, 3), 0.7)
    assert delta_encode(x, 0.1).sum() == 0
    ramp = torch.linspace(0, 1, 11).unsqueeze(1)          # steps of 0.1
    events = delta_encode(ramp, 0.25)
    assert events[..., 1].sum() == 0 and events[..., 0].sum() == 3   # 0.25, 0.5, 0.75
    assert torch.equal(delta_encode(-ramp, 0.25)[..., [1, 0]], events)  # mirrored: OFF


def test_delta_strictly_more_than_threshold_and_reference():
    x = torch.tensor([0.0, 0.5, 1.0])
    assert delta_encode(x, 0.5).sum() == 1                 # 0.5 is not more than 0.5; 1.0 is
    events = delta_encode(x, 0.4, reference=torch.tensor(-1.0))
    assert events[0, 0] == 1                               # 0.0 - (-1.0) > 0.4


def test_delta_module_and_shapes():
    x = torch.rand(7, 2, 3, generator=torch.Generator().manual_seed(0))
    events = snnlearn.DeltaEncoder(0.1)(x)
    assert events.shape == (7, 2, 3, 2)
    assert torch.equal(events, delta_encode(x, 0.1))
    assert delta_encode(torch.zeros(0, 4), 0.1).shape == (0, 4, 2)


# --- readouts ------------------------------------------------------------------------------
@settings(max_examples=examples(40), deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 30), st.integers(1, 6))
def test_readouts_agree_with_a_plain_loop(seed, steps, n):
    z = random_spikes(seed, (steps, n))
    assert torch.equal(spike_count(z), z.sum(0))
    times = first_spike_time(z)
    for j in range(n):
        spikes_at = [t for t in range(steps) if z[t, j] > 0]
        assert times[j].item() == (spikes_at[0] if spikes_at else steps)
    v = torch.randn(steps, n, generator=torch.Generator().manual_seed(seed))
    assert torch.equal(max_membrane(v), torch.stack([v[:, j].max() for j in range(n)]))


def test_first_spike_time_gradient_reaches_silent_neurons_and_has_the_right_sign():
    z = torch.zeros(5, 2)
    z[2, 0] = 1.0
    z.requires_grad_(True)
    first_spike_time(z).sum().backward()
    # neuron 0: spiking earlier (raising z before step 2) lowers t; after it: no effect
    assert (z.grad[:3, 0] < 0).all() and (z.grad[3:, 0] == 0).all()
    # a silent neuron still gets a gradient at every step
    assert (z.grad[:, 1] < 0).all()


def test_readout_modules():
    z = random_spikes(3, (12, 2, 5))
    assert torch.equal(snnlearn.SpikeCount()(z), spike_count(z))
    assert torch.equal(snnlearn.FirstSpikeTime()(z), first_spike_time(z))
    assert torch.equal(snnlearn.MaxMembrane()(z), max_membrane(z))


def test_first_spike_time_of_integer_spikes():
    assert first_spike_time(torch.tensor([[0], [1]])).tolist() == [1.0]


# --- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize("call, name", [
    (lambda: spike_count([1, 0]), "spikes"),
    (lambda: spike_count(torch.tensor(1.0)), "spikes"),
    (lambda: first_spike_time(torch.tensor(1.0)), "spikes"),
    (lambda: max_membrane(torch.zeros(0, 3)), "voltages"),
    (lambda: max_membrane("v"), "voltages"),
    (lambda: spike_latency_encode(torch.tensor(1.0)), "input_spikes"),
    (lambda: spike_latency_lif_encode([1.0], 10), "input_current"),
    (lambda: spike_latency_lif_encode(torch.ones(2), -1), "seq_length"),
    (lambda: spike_latency_lif_encode(torch.ones(2), 2.5), "seq_length"),
    (lambda: snnlearn.poisson_encode(torch.ones(2), "10"), "seq_length"),
    (lambda: delta_encode(torch.ones(3), 0.0), "threshold"),
    (lambda: delta_encode(torch.ones(3), -1), "threshold"),
    (lambda: delta_encode(torch.ones(3, dtype=torch.long), 0.1), "input_sequence"),
    (lambda: delta_encode(torch.tensor(1.0), 0.1), "input_sequence"),
    (lambda: delta_encode(torch.ones(3, 2), 0.1, reference=torch.ones(3)), "reference"),
    (lambda: snnlearn.DeltaEncoder(0), "threshold"),
])
def test_bad_input_names_the_argument(call, name):
    with pytest.raises((TypeError, ValueError), match=name):
        call()


@pytest.mark.parametrize("p", [LIFParameters(),
                               LIFParameters(tau_mem_inv=130.0, v_leak=0.1, v_th=0.8, v_reset=-0.3)])
def test_lif_encoders_equal_norses_bit_for_bit(p):
    """constant_current_lif_encode shares the LIF's integrate line (functional/lif.py) and
    keeps Norse's reset form: the spikes are Norse's exactly, also with v_reset != 0."""
    norse_encode = pytest.importorskip("norse.torch.functional.encode")
    from norse.torch.functional.lif import LIFParameters as NorseLIFParameters

    currents = torch.linspace(-1.0, 12.0, 301, dtype=torch.float32)
    norse_p = NorseLIFParameters(tau_mem_inv=torch.as_tensor(p.tau_mem_inv),
                                 v_leak=torch.as_tensor(p.v_leak), v_th=torch.as_tensor(p.v_th),
                                 v_reset=torch.as_tensor(p.v_reset))
    ours = snnlearn.constant_current_lif_encode(currents, 60, p)
    theirs = norse_encode.constant_current_lif_encode(currents, 60, norse_p)
    assert ours.sum() > 100 and torch.equal(ours, theirs)
    assert torch.equal(snnlearn.spike_latency_lif_encode(currents, 60, p),
                       norse_encode.spike_latency_lif_encode(currents, 60, norse_p))


@pytest.mark.parametrize("encoder", [snnlearn.ConstantCurrentLIFEncoder,
                                     snnlearn.SpikeLatencyLIFEncoder])
def test_lif_encoders_own_their_tensor_parameters_as_the_neuron_layers_do(encoder):
    p = LIFParameters(v_th=torch.nn.Parameter(torch.tensor([0.5, 1.0])),
                      tau_mem_inv=torch.tensor([100.0, 50.0]))
    layer = encoder(10, p)
    assert [name for name, _ in layer.named_parameters()] == ["p_v_th"]
    assert [name for name, _ in layer.named_buffers()] == ["p_tau_mem_inv"]
    layer.double()
    assert layer.p.v_th.dtype == torch.float64 and layer.p.tau_mem_inv.dtype == torch.float64
    assert layer(torch.tensor([3.0, 3.0], dtype=torch.float64)).shape == (10, 2)
    assert "seq_length=10" in repr(layer)
