"""Small data sets that need no download: shipped with scikit-learn, or generated (seeded)."""

from .digits import DigitsSplit, load_digits
from .event_digits import (
    EVENT_DTYPE,
    EventDigitsSplit,
    dvs_events,
    events_to_frames,
    frames_to_events,
    load_event_digits,
    make_event_digits,
    render_frames,
    saccade_path,
)
from .manifold_task import RandomManifold, RandomManifoldSplit, random_manifold, spike_times_to_dense

__all__ = [
    "DigitsSplit", "load_digits",
    "EVENT_DTYPE", "EventDigitsSplit", "load_event_digits", "make_event_digits",
    "saccade_path", "render_frames", "dvs_events", "events_to_frames", "frames_to_events",
    "RandomManifold", "RandomManifoldSplit", "random_manifold", "spike_times_to_dense",
]
from .tonic_io import (  # Tonic itself is imported only when a reader is called
    NMNIST_SENSOR_SIZE,
    SHD_SENSOR_SIZE,
    events_to_tensor,
    read_nmnist_file,
    read_shd_file,
    write_nmnist_file,
    write_shd_file,
)

__all__ += ["NMNIST_SENSOR_SIZE", "SHD_SENSOR_SIZE", "read_nmnist_file", "write_nmnist_file",
            "read_shd_file", "write_shd_file", "events_to_tensor"]
