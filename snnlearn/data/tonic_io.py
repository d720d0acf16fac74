"""Real neuromorphic data formats through Tonic (the optional extra ``snnlearn[tonic]``).

Two recorded data sets in their own file formats:

* **N-MNIST** (Orchard et al. 2015): MNIST digits seen by an ATIS event camera making three
  saccades, one binary file per sample, 34 x 34 pixels, 2 polarities. Each event is 40 bits:
  ``x`` (8 bits), ``y`` (8 bits), polarity (1 bit, 1 = ON) and the time in microseconds
  (23 bits), big-endian. :func:`snnlearn.data.read_nmnist_file` reads one with Tonic's
  ``tonic.io.read_mnist_file`` into snnlearn's ``EVENT_DTYPE`` (``t`` in µs, ``x``, ``y``,
  ``p``), the array the generated event digits use (:mod:`snnlearn.data.event_digits`).
* **SHD**, the Spiking Heidelberg Digits (Cramer et al. 2020): spoken digits through a model
  of the cochlea, 700 input channels, one HDF5 file per split with ``spikes/times``
  (seconds), ``spikes/units`` (channel) and ``labels``. :func:`snnlearn.data.read_shd_file`
  reads one into Tonic's ``(t, x, p)`` events (``t`` in µs, ``p = 1``, as
  ``tonic.datasets.SHD`` gives them).

:func:`snnlearn.data.events_to_tensor` bins either into a time-first ``torch`` tensor with Tonic's
``ToFrame`` transform (and Tonic's other transforms, e.g. ``tonic.transforms.Denoise``,
apply to these arrays unchanged). The writers (:func:`snnlearn.data.write_nmnist_file`,
:func:`snnlearn.data.write_shd_file`) exist so that tests and examples can make small files in
the real formats: nothing here downloads anything. With the real data on disk, the switch from the
generated digits is one line, e.g. ``tonic.datasets.NMNIST(save_to=...)`` or
``tonic.datasets.SHD(save_to=...)``, whose samples are these same arrays.

Tonic is imported when a reader is called, not at ``import snnlearn``; without it the call
raises an ``ImportError`` that says how to install it.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np

from .event_digits import EVENT_DTYPE

__all__ = ["NMNIST_SENSOR_SIZE", "SHD_SENSOR_SIZE", "read_nmnist_file", "write_nmnist_file",
           "read_shd_file", "write_shd_file", "events_to_tensor"]

NMNIST_SENSOR_SIZE = (34, 34, 2)  # Tonic's (x, y, polarity)
SHD_SENSOR_SIZE = (700, 1, 1)
_MAX_NMNIST_TIME = 2**23  # the 23-bit time field of the N-MNIST format

PathLike = Union[str, Path]


def _tonic():
    try:
        import tonic
    except ImportError as error:  # pragma: no cover - exercised without the extra
        raise ImportError(
            "reading real event data needs Tonic: pip install 'snnlearn[tonic]' "
            f"(or pip install tonic) ({error})") from None
    return tonic


def write_nmnist_file(path: PathLike, events: np.ndarray) -> None:
    """Write ``events`` (``EVENT_DTYPE`` or any structured array with ``t, x, y, p``) as an
    N-MNIST binary file: 5 bytes per event, ``x``, ``y``, then polarity (bit 23) and time
    in µs (bits 0-22) big-endian.

    >>> import tempfile, os
    >>> events = np.array([(0, 3, 4, 1), (1500, 33, 0, 0)], dtype=EVENT_DTYPE)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_nmnist_file(os.path.join(folder, "00001.bin"), events)
    ...     os.path.getsize(os.path.join(folder, "00001.bin"))
    10
    """
    events = np.asarray(events)
    if events.dtype.names is None or not {"t", "x", "y", "p"} <= set(events.dtype.names):
        raise ValueError(f"events must be a structured array with fields t, x, y, p, got "
                         f"dtype {events.dtype}")
    t, x, y, p = (events[name].astype(np.int64) for name in "txyp")
    if len(t) and (t.min() < 0 or t.max() >= _MAX_NMNIST_TIME):
        raise ValueError(f"N-MNIST times are 23-bit microseconds: t must lie in [0, 2**23), got "
                         f"[{t.min()}, {t.max()}]")
    if len(t) and (x.min() < 0 or x.max() > 255 or y.min() < 0 or y.max() > 239):
        raise ValueError("N-MNIST stores x in 0..255 and y in 0..239 (y = 240 marks a time "
                         "overflow)")
    if len(p) and not np.isin(p, (0, 1)).all():
        raise ValueError("polarity p must be 1 (ON) or 0 (OFF)")
    word = (p << 23) | t
    raw = np.stack([x, y, (word >> 16) & 0xFF, (word >> 8) & 0xFF, word & 0xFF], axis=1)
    Path(path).write_bytes(raw.astype(np.uint8).tobytes())


def read_nmnist_file(path: PathLike) -> np.ndarray:
    """Read one N-MNIST binary file with Tonic into an ``EVENT_DTYPE`` array, in time order.

    >>> import tempfile, os
    >>> events = np.array([(0, 3, 4, 1), (1500, 33, 0, 0)], dtype=EVENT_DTYPE)
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     write_nmnist_file(os.path.join(folder, "00001.bin"), events)
    ...     back = read_nmnist_file(os.path.join(folder, "00001.bin"))
    >>> back.tolist()
    [(0, 3, 4, 1), (1500, 33, 0, 0)]
    """
    tonic = _tonic()
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no N-MNIST file at {path}")
    if path.stat().st_size % 5:
        raise ValueError(f"{path} is not an N-MNIST file: its size {path.stat().st_size} is not "
                         "a multiple of 5 bytes (one event)")
    raw = tonic.io.read_mnist_file(str(path), dtype=tonic.datasets.NMNIST.dtype)
    events = np.empty(len(raw), dtype=EVENT_DTYPE)
    for name in "txyp":
        events[name] = raw[name]
    return events


def write_shd_file(path: PathLike, times: Sequence[np.ndarray], units: Sequence[np.ndarray],
                   labels: Sequence[int], keys: Optional[Sequence[str]] = None) -> None:
    """Write an HDF5 file in SHD's layout: ``spikes/times`` (variable-length float32,
    seconds), ``spikes/units`` (variable-length uint16 channels), ``labels`` (uint16), and
    ``extra/keys`` (the class names) and ``extra/speaker`` as Tonic's ``SHD`` reads them.
    Needs ``h5py``.
    """
    import h5py

    if not len(times) == len(units) == len(labels):
        raise ValueError(f"times, units and labels must have one entry per sample, got "
                         f"{len(times)}, {len(units)}, {len(labels)}")
    for t, u in zip(times, units):
        if np.shape(t) != np.shape(u):
            raise ValueError("each sample's times and units must have the same length")
    with h5py.File(path, "w") as f:
        spikes = f.create_group("spikes")
        times_set = spikes.create_dataset("times", (len(times),),
                                          dtype=h5py.vlen_dtype(np.float32))
        units_set = spikes.create_dataset("units", (len(units),),
                                          dtype=h5py.vlen_dtype(np.uint16))
        for index, (t, u) in enumerate(zip(times, units)):
            times_set[index] = np.asarray(t, dtype=np.float32)
            units_set[index] = np.asarray(u, dtype=np.uint16)
        f.create_dataset("labels", data=np.asarray(labels, dtype=np.uint16))
        extra = f.create_group("extra")
        names = (keys if keys is not None
                 else [str(k) for k in range(int(max(labels, default=0)) + 1)])
        extra.create_dataset("keys", data=np.array(names, dtype=h5py.string_dtype()))
        extra.create_dataset("speaker", data=np.zeros(len(labels), dtype=np.uint16))


def read_shd_file(path: PathLike) -> Tuple[List[np.ndarray], np.ndarray]:
    """Read an SHD HDF5 file: a list of Tonic ``(t, x, p)`` event arrays (``t`` in µs,
    ``x`` the channel 0..699, ``p = 1``), exactly as ``tonic.datasets.SHD`` gives its
    samples (times truncated to whole µs, as Tonic does), and the labels.

    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     name = os.path.join(folder, "shd_test.h5")
    ...     write_shd_file(name, [np.array([0.001, 0.002])], [np.array([5, 699])], [3])
    ...     events, labels = read_shd_file(name)
    >>> events[0]["t"].tolist(), events[0]["x"].tolist(), labels.tolist()
    ([1000, 2000], [5, 699], [3])
    """
    tonic = _tonic()
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no SHD file at {path}")
    dtype = tonic.datasets.SHD.dtype
    samples = []
    with h5py.File(path, "r") as f:
        for name in ("spikes/times", "spikes/units", "labels"):
            if name not in f:
                raise ValueError(f"{path} is not an SHD file: it has no {name!r}")
        for times, units in zip(f["spikes/times"], f["spikes/units"]):
            # as tonic.datasets.SHD.__getitem__ does: seconds -> µs via float64
            samples.append(tonic.io.make_structured_array(
                times.astype(np.float64) * 1e6, units, 1, dtype=dtype))
        labels = f["labels"][()].astype(np.int64)
    return samples, labels


def events_to_tensor(events: np.ndarray, sensor_size: Tuple[int, int, int], *,
                     n_time_bins: Optional[int] = None, time_window: Optional[float] = None,
                     include_incomplete: bool = True, start_time: float = 0.0,
                     end_time: Optional[float] = None):
    """Bin events into a time-first float32 tensor with Tonic's ``ToFrame``: ``(T, p, y, x)``
    for a camera (``sensor_size`` ``(x, y, p)``, e.g. ``NMNIST_SENSOR_SIZE``), ``(T, p,
    channels)`` for SHD (``SHD_SENSOR_SIZE``). Give ``n_time_bins`` (a fixed number of
    equal steps of whole µs) or ``time_window`` (µs per step). The first step starts at
    ``start_time`` (0 µs, so that the steps of different samples line up; Tonic's default is
    the first event) and the last ends at ``end_time`` (default: just after the last event,
    so that every event is counted); with ``time_window`` the last, partly filled window is
    kept (``include_incomplete=True``; Tonic's default drops it).

    >>> events = np.array([(0, 3, 4, 1), (1500, 3, 4, 1), (2500, 0, 0, 0)], dtype=EVENT_DTYPE)
    >>> frames = events_to_tensor(events, NMNIST_SENSOR_SIZE, time_window=1000)
    >>> tuple(frames.shape), float(frames[1, 1, 4, 3]), float(frames.sum())
    ((3, 2, 34, 34), 1.0, 3.0)
    """
    import torch

    tonic = _tonic()
    if (n_time_bins is None) == (time_window is None):
        raise ValueError("give exactly one of n_time_bins and time_window")
    events = np.array(events, copy=True)  # Tonic's ToFrame may rewrite p in place
    start = float(start_time)
    if end_time is None:
        # Tonic's windows are half-open, [start, end): end one µs after the last event, so
        # that the last event is counted
        end_time = float(events["t"].max()) + 1 if len(events) else start + 1
    if n_time_bins is not None:
        # Tonic's own n_time_bins slicing ignores start_time and drops the last event: use
        # n windows of whole µs from start that cover every event instead
        if not isinstance(n_time_bins, int) or n_time_bins < 1:
            raise ValueError(f"n_time_bins must be a positive int, got {n_time_bins!r}")
        time_window = float(max(1, -(-int(end_time - start) // n_time_bins)))
        end_time = start + n_time_bins * time_window
    frames = tonic.transforms.ToFrame(sensor_size=sensor_size, time_window=time_window,
                                      include_incomplete=include_incomplete,
                                      start_time=start,
                                      end_time=end_time)(events)
    return torch.as_tensor(np.asarray(frames), dtype=torch.float32)
