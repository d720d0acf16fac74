"""Event digits (snnlearn.data.event_digits): the DVS model, the converters and the splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnlearn.data import (
    EVENT_DTYPE,
    dvs_events,
    events_to_frames,
    frames_to_events,
    load_event_digits,
    make_event_digits,
    render_frames,
    saccade_path,
)


# Generating the data set is the expensive part of this module (about a second of CPU per
# call on an idle machine, and 50-140 MB of fresh memory): the tests share two generations,
# at 10 bins and at the native 30. Every test that needs a generation is marked slow (so are
# the module's two doctests that make one: tests/conftest.py); `make test-fast` checks the
# DVS model, the converters and the argument checks on small inputs.
@pytest.fixture(scope="module")
def data():
    return load_event_digits(n_bins=10)


@pytest.fixture(scope="module")
def native():
    return load_event_digits()


def square(size=8, lo=2, hi=6):
    image = np.zeros((1, size, size))
    image[0, lo:hi, lo:hi] = 1.0
    return image


# --- the data set ---------------------------------------------------------------------------

@pytest.mark.slow  # a generation
def test_shapes_labels_and_dtype(data):
    n = {"train": 1078, "val": 270, "test": 449}
    for split, count in n.items():
        x, y = getattr(data, f"x_{split}"), getattr(data, f"y_{split}")
        assert x.shape == (10, count, 2, 18, 18) and x.dtype == torch.float32
        assert y.shape == (count,) and y.dtype == torch.long
        assert set(y.tolist()) == set(range(10))
    assert data.bin_us == 30_000


@pytest.mark.slow  # three generations
def test_deterministic_and_seeded(native, data):
    """Two calls (30 and 10 bins) give the same samples in the same order; another seed
    another order."""
    for split in ("train", "val", "test"):
        x30, x10 = getattr(native, f"x_{split}"), getattr(data, f"x_{split}")
        assert torch.equal(x30.reshape(10, 3, *x30.shape[1:]).sum(1), x10)
        assert torch.equal(getattr(native, f"y_{split}"), getattr(data, f"y_{split}"))
    other = load_event_digits(n_bins=10, seed=1)
    assert not torch.equal(data.y_train, other.y_train)


@pytest.mark.slow  # two generations (the second of the digits in their own order)
def test_splits_are_disjoint_and_cover_the_digits(data):
    from sklearn.datasets import load_digits

    # identify each sample by its event stream: the same digit always gives the same events
    full = make_event_digits(load_digits().images / 16.0)
    full = full.reshape(10, 3, *full.shape[1:]).sum(1)
    keys = {x.numpy().tobytes(): k for k, x in enumerate(full.unbind(1))}
    found = {}
    for split in ("train", "val", "test"):
        x = getattr(data, f"x_{split}")
        found[split] = {keys[s.numpy().tobytes()] for s in x.unbind(1)}
        assert len(found[split]) == x.shape[1]
    assert not found["train"] & found["val"]
    assert not found["train"] & found["test"]
    assert not found["val"] & found["test"]
    assert len(found["train"] | found["val"] | found["test"]) == len(keys)


@pytest.mark.slow  # two generations
def test_bins_sum_the_native_steps(native, data):
    assert torch.equal(native.x_test.reshape(10, 3, *native.x_test.shape[1:]).sum(1),
                       data.x_test)
    assert native.bin_us * 30 == data.bin_us * 10 == 300_000


@pytest.mark.parametrize("kwargs, name", [
    (dict(n_bins=7), "n_bins"), (dict(n_bins=0), "n_bins"),
    (dict(test_fraction=1.5), "test_fraction"),
    (dict(validation_fraction=0.6, test_fraction=0.5), "validation_fraction"),
])
def test_bad_arguments_name_themselves(kwargs, name):
    with pytest.raises(ValueError, match=name):
        load_event_digits(**kwargs)


# --- the DVS model --------------------------------------------------------------------------

def test_no_motion_no_events():
    assert make_event_digits(square(), amplitude=0.0).sum() == 0
    still = np.repeat(np.random.default_rng(0).random((1, 5, 5)), 20, axis=0)
    assert dvs_events(still).sum() == 0


def test_events_only_where_brightness_changed():
    frames = render_frames(square(), saccade_path())
    counts = dvs_events(frames)                          # (30, 2, 1, H, W)
    changed = np.abs(np.diff(np.log(frames + 0.1), axis=0)) > 0
    assert counts.sum() > 0
    # a pixel whose brightness never changes in a step has no event in it ...
    assert (counts.sum(1)[~changed] == 0).all()
    # ... and pixels outside everything the image ever covers stay silent throughout
    never_lit = (frames == 0).all(axis=0)
    assert never_lit.any() and (counts.sum((0, 1))[never_lit] == 0).all()


def test_on_and_off_signs():
    # a bright square moving right: ON at its leading (right) edge, OFF at its trailing edge
    image = square()
    frames = render_frames(image, [(0.0, 0.0), (1.0, 0.0)], scale=1.0, sensor_size=(8, 8))
    counts = dvs_events(frames)[0, :, 0]                 # (2, H, W)
    on_cols = np.nonzero(counts[0].sum(0))[0]
    off_cols = np.nonzero(counts[1].sum(0))[0]
    assert on_cols.tolist() == [6] and off_cols.tolist() == [2]
    # brightness rising by several thresholds gives several ON events, falling OFF events
    steps = dvs_events(np.array([[0.0], [0.5], [0.0]]), threshold=0.2)[:, :, 0]
    n = int(np.floor(np.log(0.6 / 0.1) / 0.2))
    # back at the start the memory sits exactly n thresholds up: n - 1 are strictly crossed
    assert steps.tolist() == [[n, 0], [0, n - 1]]


def test_threshold_accumulates_small_changes():
    # many changes each below threshold add up to an event, not nothing
    ramp = np.exp(np.linspace(0.0, 0.5, 11)).reshape(11, 1) - 0.1   # log(I + 0.1) rises by 0.05
    on = dvs_events(ramp, threshold=0.2)[:, 0, 0]
    # a change of exactly one threshold (step 3) is not enough, beyond it (step 4) is
    assert on.sum() == 2 and on[:4].sum() == 0 and on[4] == 1


def test_saccades_are_a_closed_triangle():
    path = saccade_path(10, 1.0)
    assert path.shape == (31, 2)
    assert np.allclose(path[0], path[-1])
    directions = {tuple(np.sign(path[k + 1] - path[k])) for k in (0, 10, 20)}
    assert len(directions) == 3


# --- dense <-> list -----------------------------------------------------------------------

@pytest.mark.slow  # a generation
def test_dense_to_list_to_dense_round_trip(data):
    for k in range(5):
        frames = data.x_val[:, k]
        events = frames_to_events(frames, bin_us=data.bin_us)
        assert events.dtype == EVENT_DTYPE and len(events) == int(frames.sum())
        back = events_to_frames(events, n_bins=10, sensor_size=(18, 18), bin_us=data.bin_us)
        assert torch.equal(back, frames)


def test_list_to_dense_to_list_round_trip():
    rng = np.random.default_rng(1)
    events = np.zeros(200, dtype=EVENT_DTYPE)
    events["t"] = rng.integers(0, 7, 200) * 1000
    events["x"], events["y"] = rng.integers(0, 5, 200), rng.integers(0, 4, 200)
    events["p"] = rng.integers(0, 2, 200)
    frames = events_to_frames(events, n_bins=7, sensor_size=(4, 5), bin_us=1000)
    back = frames_to_events(frames, bin_us=1000)
    key = ("t", "p", "y", "x")
    assert np.array_equal(np.sort(back, order=key), np.sort(events, order=key))
    # the channel of a polarity: ON (p = 1) is channel 0
    on_only = events[events["p"] == 1]
    assert events_to_frames(on_only, 7, (4, 5), 1000)[:, 1].sum() == 0


def test_binning_edges():
    ev = np.array([(0, 0, 0, 1), (999, 0, 0, 1), (1000, 0, 0, 1)], dtype=EVENT_DTYPE)
    frames = events_to_frames(ev, n_bins=2, sensor_size=(1, 1), bin_us=1000)
    assert frames[:, 0, 0, 0].tolist() == [2.0, 1.0]
    with pytest.raises(ValueError, match="t must lie"):
        events_to_frames(ev, n_bins=1, sensor_size=(1, 1), bin_us=1000)


@pytest.mark.parametrize("call, name", [
    (lambda: events_to_frames(np.zeros(3), 2, (2, 2), 10), "structured"),
    (lambda: events_to_frames(np.array([(0, 5, 0, 1)], dtype=EVENT_DTYPE), 2, (2, 2), 10),
     "sensor_size"),
    (lambda: events_to_frames(np.array([(0, 0, 0, 2)], dtype=EVENT_DTYPE), 2, (2, 2), 10), "p"),
    (lambda: frames_to_events(torch.zeros(3, 3, 2, 2), 10), r"\(T, 2, H, W\)"),
    (lambda: frames_to_events(torch.full((1, 2, 1, 1), 0.5), 10), "counts"),
    (lambda: frames_to_events(torch.zeros(1, 2, 1, 1), 0), "bin_us"),
    (lambda: dvs_events(np.ones((1, 3))), "at least 2 frames"),
    (lambda: dvs_events(np.ones((2, 3)), threshold=0), "threshold"),
    (lambda: render_frames(np.ones((2, 2)), [(0, 0)]), "images"),
])
def test_bad_input_gets_a_clear_error(call, name):
    with pytest.raises(ValueError, match=name):
        call()
