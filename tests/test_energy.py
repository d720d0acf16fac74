"""SynOps, MACs and the activity regulariser (snnlearn.energy): exact counts on hand-made spikes."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import snnlearn
from snnlearn import LI, LIF, LIFCell, SequentialState
from snnlearn.energy import (
    SynOpCounter,
    activity_penalty,
    conv2d_fanout,
    count_macs,
    count_synops,
    spike_accumulator,
)
from tiers import examples


def test_linear_synops_are_events_times_out_features():
    model = SequentialState(torch.nn.Linear(5, 3), LIF(), torch.nn.Linear(3, 4), LI())
    xs = torch.zeros(6, 2, 5)
    xs[0, 0, 1] = xs[2, 1, 4] = xs[5, 1, 0] = 1.0  # three input spikes
    count = count_synops(model, xs)
    assert count.events["0"] == 3 and count.per_layer["0"] == 9
    # the second Linear sees exactly the spikes the LIF layer emitted
    _, _ = model(xs)
    with torch.no_grad():
        hidden, _ = model[1](model[0](xs))
    assert count.events["2"] == int(hidden.sum())
    assert count.per_layer["2"] == 4 * int(hidden.sum())
    assert count.total == count.per_layer["0"] + count.per_layer["2"]


def test_step_by_step_equals_whole_sequence():
    torch.manual_seed(0)
    fc1, fc2 = torch.nn.Linear(8, 16), torch.nn.Linear(16, 3)
    with torch.no_grad():
        fc1.weight.mul_(4)
    sequence = SequentialState(fc1, LIF(), fc2)
    cells = SequentialState(fc1, LIFCell(), fc2)
    xs = (torch.rand(20, 4, 8) < 0.3).float()
    whole = count_synops(sequence, xs)
    stepped = count_synops(cells, xs, step_by_step=True)
    assert whole.per_layer == stepped.per_layer and whole.events == stepped.events
    assert whole.events["2"] > 0


def test_graded_inputs_count_once_per_nonzero_value():
    model = SequentialState(torch.nn.Linear(3, 2))
    count = count_synops(model, torch.tensor([[[0.5, 0.0, -2.0]]]))
    assert count.events["0"] == 2 and count.total == 4


def test_conv_fanout_interior_border_and_stride():
    conv = torch.nn.Conv2d(1, 1, kernel_size=3)
    fanout = conv2d_fanout(conv, 5, 5)
    assert fanout[2, 2] == 9 and fanout[0, 0] == 1 and fanout[0, 2] == 3
    assert fanout.sum() == 9 * 3 * 3  # every tap of every output position reads one pixel
    strided = conv2d_fanout(torch.nn.Conv2d(1, 1, kernel_size=2, stride=2), 4, 4)
    assert torch.equal(strided, torch.ones(4, 4, dtype=torch.float64))
    padded = conv2d_fanout(torch.nn.Conv2d(1, 1, kernel_size=3, padding=1), 4, 4)
    assert padded[0, 0] == 4 and padded[1, 1] == 9


def test_conv_synops_on_hand_made_spikes():
    conv = torch.nn.Conv2d(2, 6, kernel_size=3, groups=2)  # 3 output channels per input channel
    model = SequentialState(conv, LIFCell())
    x = torch.zeros(1, 2, 5, 5)
    x[0, 0, 2, 2] = 1.0  # centre: 9 output positions read it
    x[0, 1, 0, 0] = 1.0  # corner: 1
    count = count_synops(model, x.unsqueeze(0), step_by_step=True)
    assert count.events["0"] == 2
    assert count.per_layer["0"] == (9 + 1) * 3


@settings(max_examples=examples(25), deadline=None)
@given(height=st.integers(3, 9), width=st.integers(3, 9), kernel=st.integers(1, 3),
       stride=st.integers(1, 2), padding=st.integers(0, 1), seed=st.integers(0, 2**16))
def test_conv_synops_equal_the_work_of_an_event_driven_loop(height, width, kernel, stride,
                                                            padding, seed):
    """Each spike's SynOps = the number of (output channel, output position) pairs whose
    value changes when that one spike is added: count it by brute force."""
    conv = torch.nn.Conv2d(1, 2, kernel, stride=stride, padding=padding, bias=False)
    with torch.no_grad():
        conv.weight.fill_(1.0)
    generator = torch.Generator().manual_seed(seed)
    x = (torch.rand(1, 1, height, width, generator=generator) < 0.3).float()
    expected = 0
    for h, w in (x[0, 0] != 0).nonzero().tolist():
        single = torch.zeros_like(x)
        single[0, 0, h, w] = 1.0
        with torch.no_grad():
            expected += int(conv(single).sum())  # all-ones weights: one per synapse reached
    count = count_synops(SequentialState(conv), x.unsqueeze(0), step_by_step=True)
    assert count.total == expected


@settings(max_examples=examples(25), deadline=None)
@given(inputs=st.integers(1, 6), outputs=st.integers(1, 6), steps=st.integers(1, 5),
       batch=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_linear_synops_property(inputs, outputs, steps, batch, seed):
    generator = torch.Generator().manual_seed(seed)
    xs = (torch.rand(steps, batch, inputs, generator=generator) < 0.5).float()
    count = count_synops(SequentialState(torch.nn.Linear(inputs, outputs)), xs)
    assert count.total == int(xs.sum()) * outputs


def test_macs_of_linear_and_conv():
    model = SequentialState(torch.nn.Linear(64, 32), LIF(), torch.nn.Linear(32, 10), LI())
    assert count_macs(model, torch.zeros(1, 1, 64)).total == 64 * 32 + 32 * 10
    assert count_macs(model, torch.zeros(1, 3, 64)).total == 3 * (64 * 32 + 32 * 10)
    conv = torch.nn.Conv2d(2, 4, kernel_size=3, stride=2, padding=1, groups=2)
    # output 4 x 3 x 3, each output reads 1 input channel x 9 taps
    assert count_macs(conv, torch.zeros(1, 2, 5, 5)).per_layer[""] == 4 * 9 * 9
    ann = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 10))
    assert count_macs(ann, torch.zeros(1, 64)).total == 64 * 32 + 32 * 10


def test_counter_removes_its_hooks_and_bad_input_is_named():
    fc = torch.nn.Linear(2, 2)
    with SynOpCounter(SequentialState(fc)):
        assert len(fc._forward_hooks) == 1
    assert len(fc._forward_hooks) == 0
    with pytest.raises(TypeError, match="model"):
        count_synops("not a model", torch.zeros(1, 2))
    with pytest.raises(ValueError, match="no nn.Linear"):
        count_synops(SequentialState(LIF()), torch.zeros(1, 2))
    with pytest.raises(TypeError, match="xs"):
        count_synops(SequentialState(fc), [[1.0, 2.0]])
    with pytest.raises(TypeError, match="spikes"):
        activity_penalty([1, 0])
    with pytest.raises(ValueError, match="target_rate"):
        activity_penalty(torch.zeros(3, 2), target_rate=5.0)
    with pytest.raises(ValueError, match="time_dim"):
        activity_penalty(torch.zeros(3, 2), time_dim=2)


def test_activity_penalty_values_and_gradient():
    z = torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 0.0], [1.0, 0.0]], requires_grad=True)
    assert activity_penalty(z).item() == 1.5
    assert activity_penalty(z, target_rate=0.25).item() == pytest.approx((0.25 + 0.0625) / 2)
    assert activity_penalty(z.t(), time_dim=1).item() == 1.5
    (grad,) = torch.autograd.grad(activity_penalty(z, target_rate=0.25), z)
    assert (grad[:, 0] > 0).all() and (grad[:, 1] < 0).all()  # too active down, silent up


@pytest.mark.slow  # trains (10 optimiser steps)
def test_penalty_reduces_spikes_when_trained():
    """Gradient descent on the penalty alone (through the surrogate) silences a layer."""
    torch.manual_seed(0)
    fc = torch.nn.Linear(10, 20)
    with torch.no_grad():
        fc.weight.mul_(5)
    lif = LIF()
    xs = (torch.rand(30, 8, 10) < 0.5).float()
    optimiser = torch.optim.Adam(fc.parameters(), lr=0.05)
    before = lif(fc(xs))[0].sum().item()
    for _ in range(10):
        z, _ = lif(fc(xs))
        loss = activity_penalty(z)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    after = lif(fc(xs))[0].sum().item()
    assert before > 0 and after < 0.5 * before


def test_spike_accumulator_is_norse_compatible():
    state = None
    for z in torch.eye(3):
        state = spike_accumulator(z, None, state)
    assert state.item() == 3.0
    assert snnlearn.activity_penalty is activity_penalty
