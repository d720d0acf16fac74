"""Real neuromorphic formats through Tonic (``snnlearn.data.tonic_io``): small files written
in the N-MNIST binary and SHD HDF5 formats, read back with Tonic, and binned with Tonic's
transforms. Nothing is downloaded. The N-MNIST reader is also checked against bytes made by
hand from the format's description, and the SHD reader against Tonic's own
``tonic.datasets.SHD`` on the same file."""

from __future__ import annotations

import numpy as np
import pytest

tonic = pytest.importorskip("tonic", reason="Tonic is not installed (requirements-peers.txt)")

from snnlearn.data import EVENT_DTYPE  # noqa: E402
from snnlearn.data.tonic_io import (  # noqa: E402
    NMNIST_SENSOR_SIZE,
    SHD_SENSOR_SIZE,
    events_to_tensor,
    read_nmnist_file,
    read_shd_file,
    write_nmnist_file,
    write_shd_file,
)


def random_events(seed, n=500, duration_us=300_000):
    rng = np.random.default_rng(seed)
    events = np.empty(n, dtype=EVENT_DTYPE)
    events["t"] = np.sort(rng.integers(0, duration_us, n))
    events["x"] = rng.integers(0, 34, n)
    events["y"] = rng.integers(0, 34, n)
    events["p"] = rng.integers(0, 2, n)
    return events


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_nmnist_round_trip(tmp_path, seed):
    events = random_events(seed)
    path = tmp_path / "00007.bin"
    write_nmnist_file(path, events)
    assert path.stat().st_size == 5 * len(events)
    back = read_nmnist_file(path)
    assert back.dtype == EVENT_DTYPE
    np.testing.assert_array_equal(back, events)


def test_nmnist_reader_follows_the_format_description(tmp_path):
    """40 bits per event: x (8), y (8), polarity (1), time in µs (23), big-endian."""
    t = 0x012345
    raw = bytes([5, 7, 0x80 | (t >> 16), (t >> 8) & 0xFF, t & 0xFF,   # ON at (5, 7)
                 33, 0, 0x00, 0x00, 0x00])                               # OFF at (33, 0), t = 0
    (tmp_path / "hand.bin").write_bytes(raw)
    events = read_nmnist_file(tmp_path / "hand.bin")
    assert events.tolist() == [(t, 5, 7, 1), (0, 33, 0, 0)]


def test_nmnist_errors_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="no N-MNIST file"):
        read_nmnist_file(tmp_path / "missing.bin")
    (tmp_path / "odd.bin").write_bytes(b"1234")
    with pytest.raises(ValueError, match="multiple of 5 bytes"):
        read_nmnist_file(tmp_path / "odd.bin")
    late = np.array([(2**23, 0, 0, 1)], dtype=EVENT_DTYPE)
    with pytest.raises(ValueError, match="23-bit"):
        write_nmnist_file(tmp_path / "late.bin", late)
    with pytest.raises(ValueError, match="structured array"):
        write_nmnist_file(tmp_path / "plain.bin", np.zeros(3))


def shd_samples(seed, n_samples=4):
    rng = np.random.default_rng(seed)
    times, units = [], []
    for _ in range(n_samples):
        n = int(rng.integers(0, 300))
        times.append(np.sort(rng.random(n) * 0.9).astype(np.float32))
        units.append(rng.integers(0, 700, n).astype(np.uint16))
    return times, units, rng.integers(0, 20, n_samples)


def test_shd_round_trip_equals_tonics_own_dataset(tmp_path):
    times, units, labels = shd_samples(3)
    folder = tmp_path / "SHD"
    folder.mkdir()
    write_shd_file(folder / "shd_train.h5", times, units, labels)
    events, read_labels = read_shd_file(folder / "shd_train.h5")
    np.testing.assert_array_equal(read_labels, labels)
    for sample, t, u in zip(events, times, units):
        assert sample.dtype.names == ("t", "x", "p")
        np.testing.assert_array_equal(sample["x"], u)
        np.testing.assert_array_equal(sample["t"], (t.astype(np.float64) * 1e6).astype(int))
    # Tonic's dataset class reads the same file (the archive it would download is present
    # as an empty placeholder, so it does not try): the real-data switch, offline
    (folder / "shd_train.h5.zip").write_bytes(b"")
    dataset = tonic.datasets.SHD(save_to=str(tmp_path), train=True)
    assert len(dataset) == len(labels)
    for index, sample in enumerate(events):
        their_events, their_label = dataset[index]
        np.testing.assert_array_equal(sample, their_events)
        assert their_label == labels[index]


def test_shd_errors_are_explained(tmp_path):
    with pytest.raises(FileNotFoundError, match="no SHD file"):
        read_shd_file(tmp_path / "missing.h5")
    import h5py

    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("labels", data=np.zeros(2))
    with pytest.raises(ValueError, match="not an SHD file"):
        read_shd_file(tmp_path / "other.h5")
    with pytest.raises(ValueError, match="one entry per sample"):
        write_shd_file(tmp_path / "bad.h5", [np.zeros(2)], [np.zeros(2)], [1, 2])


def test_frames_keep_every_event_in_its_bin():
    events = random_events(4)
    frames = events_to_tensor(events, NMNIST_SENSOR_SIZE, time_window=10_000, end_time=300_000)
    assert tuple(frames.shape) == (30, 2, 34, 34)
    assert float(frames.sum()) == len(events)
    expected = np.zeros((30, 2, 34, 34))
    np.add.at(expected, (events["t"] // 10_000, events["p"], events["y"], events["x"]), 1)
    np.testing.assert_array_equal(frames.numpy(), expected)
    fixed = events_to_tensor(events, NMNIST_SENSOR_SIZE, n_time_bins=7)
    assert tuple(fixed.shape) == (7, 2, 34, 34) and float(fixed.sum()) == len(events)
    with pytest.raises(ValueError, match="exactly one"):
        events_to_tensor(events, NMNIST_SENSOR_SIZE)


def test_shd_frames_and_tonic_transforms_apply(tmp_path):
    times, units, labels = shd_samples(5, 1)
    write_shd_file(tmp_path / "s.h5", times, units, labels)
    (sample,), _ = read_shd_file(tmp_path / "s.h5")
    copy = sample.copy()
    frames = events_to_tensor(sample, SHD_SENSOR_SIZE, n_time_bins=20)
    assert tuple(frames.shape) == (20, 1, 700) and float(frames.sum()) == len(sample)
    np.testing.assert_array_equal(sample, copy)  # the caller's events are left alone
    # Tonic's transforms work on snnlearn's event arrays: Denoise drops an isolated event
    events = np.array([(0, 5, 5, 1), (10, 6, 5, 1), (20, 5, 6, 1), (50_000, 30, 30, 0)],
                      dtype=EVENT_DTYPE)
    kept = tonic.transforms.Denoise(filter_time=1000)(events)
    assert (30, 30) not in list(zip(kept["x"], kept["y"]))
