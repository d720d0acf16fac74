"""Typical mistakes in the event_data assignment (see exercises/source/event_data/).

Each entry edits one solution cell of the reference; the grading tests check that the
submission loses points in ``caught_by`` and that its feedback shows ``feedback``.
"""

MISTAKES = {
    # ON events in channel 1: the polarity convention of the list (p = 1 is ON) taken for
    # the channel index.
    "swapped_polarity": dict(
        cell="bin_events",
        edits=[("(t // bin_us, 1 - p, y, x)", "(t // bin_us, p, y, x)")],
        caught_by="bin_events_polarity",
        feedback="an ON event (p = 1) belongs in channel 0",
    ),
    # (t - 1) // bin_us: an event on a bin's first microsecond lands in the bin before (and
    # t = 0 wraps round to the last bin).
    "binning_off_by_one": dict(
        cell="bin_events",
        edits=[("(t // bin_us, 1 - p, y, x)", "((t - 1) // bin_us, 1 - p, y, x)")],
        caught_by="bin_events_edges",
        feedback="bin k holds the times k * bin_us <= t < (k + 1) * bin_us",
    ),
    # Fancy-index assignment without accumulation: repeated events count once.
    "repeated_events_count_once": dict(
        cell="bin_events",
        edits=[("accumulate=True", "accumulate=False")],
        caught_by="bin_events_counts",
        feedback="three events on the same pixel, polarity and bin should count 3",
    ),
    # Batch-major folding: transposing to (B, T) before merging the axes; unfold_time then
    # hands LIF a sequence whose "time" axis mixes samples.
    "fold_transposed": dict(
        cell="fold_time",
        edits=[("return x.flatten(0, 1)", "return x.transpose(0, 1).reshape(-1, *x.shape[2:])")],
        caught_by="fold_time_order",
        feedback="fold_time(x)[t * B + b] should be x[t, b]",
    ),
    # Unfolding into (B, T) instead of (T, B).
    "unfold_batch_first": dict(
        cell="fold_time",
        edits=[("return x.unflatten(0, (steps, -1))", "return x.unflatten(0, (-1, steps))")],
        caught_by="fold_time_shape",
        feedback="should have the shape of x",
    ),
    # The LIF layers are built but never called: a plain CNN, whose "spikes" never exist.
    "lif_unused": dict(
        cell="build_model",
        edits=[("z1, _ = self.lif1(unfold_time(self.conv1(fold_time(x)), steps))",
                "z1 = unfold_time(self.conv1(fold_time(x)), steps)"),
               ("z2, _ = self.lif2(unfold_time(self.conv2(self.pool(fold_time(z1))), steps))",
                "z2 = unfold_time(self.conv2(self.pool(fold_time(z1))), steps)")],
        caught_by="model_spikes",
        feedback="silencing the spikes of your LIF layers does not change the scores",
    ),
    # Only the first LIF layer is skipped: the network still spikes (lif2), so only the
    # per-layer check on the trained network catches it.
    "first_lif_skipped": dict(
        cell="build_model",
        edits=[("z1, _ = self.lif1(unfold_time(self.conv1(fold_time(x)), steps))",
                "z1 = unfold_time(self.conv1(fold_time(x)), steps)")],
        caught_by="train_hidden",
        feedback="silencing the spikes of 'lif1'",
    ),
    # The state is carried from one call to the next (never reset between samples).
    "state_not_reset": dict(
        cell="build_model",
        edits=[("z1, _ = self.lif1(unfold_time(self.conv1(fold_time(x)), steps))",
                "z1, state = self.lif1(unfold_time(self.conv1(fold_time(x)), steps),\n"
                "                              getattr(self, 'state1', None))\n"
                "        self.state1 = snnlearn.detach_state(state)")],
        caught_by="model_fresh_state",
        feedback="calling the model twice on the same frames gives different scores",
    ),
}
