"""The random-manifold data set (snnlearn.data.random_manifold): a task in spike timing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snnlearn
from snnlearn import LI, LIFRecurrent
from snnlearn.data import RandomManifold, random_manifold, spike_times_to_dense

SMALL = dict(n_classes=4, n_channels=6, n_steps=30, n_train=20, n_val=5, n_test=7)


def test_same_seed_same_tensors_other_seed_other_tensors():
    a, b = random_manifold(seed=3, **SMALL), random_manifold(seed=3, **SMALL)
    for x, y in zip(a, b):
        assert torch.equal(x, y)
    c = random_manifold(seed=4, **SMALL)
    assert not torch.equal(a.x_train, c.x_train)


def test_shapes_dtypes_and_balanced_labels():
    data = random_manifold(**SMALL)
    for x, y, n in ((data.x_train, data.y_train, 20), (data.x_val, data.y_val, 5),
                    (data.x_test, data.y_test, 7)):
        assert x.shape == (30, 4 * n, 6) and x.dtype == torch.float32
        assert y.shape == (4 * n,) and y.dtype == torch.long
        assert torch.bincount(y, minlength=4).tolist() == [n] * 4


@pytest.mark.parametrize("spikes", [1, 3])
def test_every_channel_fires_the_same_number_of_spikes_in_every_sample(spikes):
    data = random_manifold(spikes_per_channel=spikes, **SMALL)
    for x in (data.x_train, data.x_val, data.x_test):
        assert torch.equal(x.sum(dim=0), torch.full(x.shape[1:], float(spikes)))
        assert bool((x >= 0).all())


def test_classes_differ_in_spike_times():
    data = random_manifold(**SMALL)
    times = data.x_train.argmax(dim=0).float()            # (n, channels): the spike step
    means = torch.stack([times[data.y_train == k].mean(0) for k in range(4)])
    assert (means.max(0).values - means.min(0).values).max() > 3  # steps


def test_manifold_is_seeded_and_rescaled_to_the_unit_interval():
    grid = torch.linspace(0, 1, 1025).unsqueeze(1)         # the reference points of D = 1
    one = RandomManifold(6, 1, generator=torch.Generator().manual_seed(0))(grid)
    again = RandomManifold(6, 1, generator=torch.Generator().manual_seed(0))(grid)
    assert torch.equal(one, again)
    assert torch.allclose(one.min(dim=0).values, torch.zeros(6, dtype=one.dtype), atol=1e-12)
    assert torch.allclose(one.max(dim=0).values, torch.ones(6, dtype=one.dtype), atol=1e-12)
    plane = RandomManifold(4, 2, generator=torch.Generator().manual_seed(1))(torch.rand(500, 2))
    assert plane.shape == (500, 4) and bool(((plane >= 0) & (plane <= 1)).all())
    assert plane.std(dim=0).min() > 0.05                     # not collapsed onto a point
    with pytest.raises(ValueError, match="points"):
        RandomManifold(4, 2)(torch.rand(5, 3))


def test_spike_times_to_dense_bins_and_counts():
    times = torch.tensor([[[0.0, 0.99], [0.5, 0.5]]])      # (1 sample, 2 channels, 2 spikes)
    dense = spike_times_to_dense(times, 10)
    assert dense.shape == (10, 1, 2)
    assert dense[0, 0, 0] == 1 and dense[9, 0, 0] == 1 and dense[5, 0, 1] == 2


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_classes=1), "n_classes"), (dict(n_channels=0), "n_channels"),
    (dict(n_steps=2.5), "n_steps"), (dict(alpha=-1.0), "alpha"), (dict(seed="x"), "seed"),
    (dict(spikes_per_channel=0), "spikes_per_channel"), (dict(n_test=0), "n_test"),
])
def test_bad_arguments_are_named(kwargs, name):
    with pytest.raises(ValueError, match=name):
        random_manifold(**{**SMALL, **kwargs})


def test_spike_counts_carry_no_class_information():
    from sklearn.linear_model import LogisticRegression

    data = random_manifold(n_classes=5, seed=0)
    counts = lambda x: x.sum(dim=0).numpy()                # noqa: E731  (n, channels)
    times = lambda x: x.argmax(dim=0).float().numpy() / len(x)  # noqa: E731  spike time in [0, 1)
    on_counts = LogisticRegression(max_iter=500).fit(counts(data.x_train), data.y_train)
    accuracy = on_counts.score(counts(data.x_test), data.y_test)
    assert accuracy <= 0.2 + 0.05, f"counts should be at chance (20 %), got {accuracy:.1%}"
    on_times = LogisticRegression(max_iter=1000).fit(times(data.x_train), data.y_train)
    assert on_times.score(times(data.x_test), data.y_test) > 0.6  # the times do carry it


class _RecurrentClassifier(nn.Module):
    def __init__(self, n_in, hidden, n_out):
        super().__init__()
        self.recurrent = LIFRecurrent(n_in, hidden)
        with torch.no_grad():
            self.recurrent.input_weights.mul_(10.0)        # strong enough to make neurons fire
        self.output = nn.Linear(hidden, n_out)
        self.readout = LI()

    def forward(self, x):
        spikes, _ = self.recurrent(x)
        voltages, _ = self.readout(self.output(spikes))
        return voltages.max(dim=0).values, spikes


@pytest.fixture
def one_thread():
    """Small layers: one thread is as fast, and steadier on a shared machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.slow  # trains (10 epochs)
def test_a_small_recurrent_snn_learns_it_well_above_chance(one_thread):
    """Trains on the C kernels when they are built (the same accuracy as the PyTorch
    reference, 99.6 %, in a fifth of the time: 0.8 s instead of 4 s of CPU), else on the
    reference."""
    torch.manual_seed(0)
    data = random_manifold(n_classes=5, seed=0)
    net = _RecurrentClassifier(20, 64, 5)
    optimizer = torch.optim.Adam(net.parameters(), lr=5e-3)
    with snnlearn.use_backend("auto"):
        for epoch in range(10):
            order = torch.randperm(len(data.y_train))
            for first in range(0, len(order), 50):
                idx = order[first:first + 50]
                logits, _ = net(data.x_train[:, idx])
                loss = nn.functional.cross_entropy(logits, data.y_train[idx])
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        with torch.no_grad():
            logits, spikes = net(data.x_test)
    accuracy = (logits.argmax(dim=1) == data.y_test).float().mean().item()
    assert spikes.sum() > 0, "the recurrent layer never spiked"
    assert accuracy >= 0.8, f"test accuracy {accuracy:.1%}; chance is 20 %"
