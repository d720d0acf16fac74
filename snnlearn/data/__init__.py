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
