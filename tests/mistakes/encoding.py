"""Typical mistakes in the `encoding` assignment (exercises/source/encoding/encoding.md).

Each entry edits one solution cell of the reference submission; the grading tests check
that the named test cell loses points and that the learner reads `feedback` in the feedback.
"""

MISTAKES = {
    "latency_reversed": dict(
        cell="latency_encode",
        edits=[("torch.round((1 - images) * (steps - 1))", "torch.round(images * (steps - 1))")],
        caught_by="latency_order",
        feedback="brighter pixels must spike earlier",
    ),
    "latency_black_pixels_spike": dict(
        cell="latency_encode",
        edits=[(" & (images > 0)", "")],
        caught_by="latency_once",
        feedback="a black pixel (value 0) must never spike",
    ),
    "latency_off_by_one": dict(
        cell="latency_encode",
        edits=[("* (steps - 1))", "* steps)")],
        caught_by="latency_order",
        feedback="the spike steps should be round((1 - x) * 10)",
    ),
    "delta_compares_previous_sample": dict(
        cell="delta_encode",
        edits=[("reference = reference + threshold * (on - off)", "reference = x")],
        caught_by="delta_ramp",
        feedback="compare with the reference level of the last event, not with the previous sample",
    ),
    "delta_reference_jumps_to_input": dict(
        cell="delta_encode",
        edits=[("reference = reference + threshold * (on - off)",
                "reference = torch.where(on + off > 0, x, reference)")],
        caught_by="delta_reconstruct",
        feedback="move the reference by exactly threshold per event",
    ),
    "delta_swapped_channels": dict(
        cell="delta_encode",
        edits=[("torch.stack([on, off], dim=-1)", "torch.stack([off, on], dim=-1)")],
        caught_by="delta_ramp",
        feedback="a rising signal must send ON events (channel 0)",
    ),
    "delta_calls_snnlearn": dict(
        cell="delta_encode",
        source=("def delta_encode(signal, threshold):\n"
                "    return snnlearn.delta_encode(signal, threshold)\n"),
        caught_by="encoders_no_snnlearn",
        feedback="without calling snnlearn's",
    ),
    "first_spike_never_is_zero": dict(
        cell="readouts",
        edits=[("    return torch.where(spiked, first, torch.full_like(first, float(spikes.shape[0])))",
                "    return first")],
        caught_by="first_spike_never",
        feedback="a neuron that never spikes must get T",
    ),
    "count_over_neurons": dict(
        cell="readouts",
        edits=[("    return spikes.sum(0)", "    return spikes.sum(-1)")],
        caught_by="readout_count",
        feedback="sum over time, dim 0",
    ),
    "spiking_layer_bypassed": dict(
        cell="class_scores",
        source=(
            "def class_scores(model, images):\n"
            "    x = latency_encode(images, STEPS)\n"
            "    hidden = torch.relu(model[0](x))          # skips the LIF layer model[1]\n"
            "    voltages, _ = model[3](model[2](hidden))\n"
            "    return voltages.max(0).values\n"),
        caught_by="train_spiking",
        feedback="the spikes must carry the signal to the output",
    ),
    "never_trains": dict(
        cell="train",
        edits=[("for epoch in range(15):", "for epoch in range(0):")],
        caught_by="train_accuracy",
        feedback="it should be at least 85 %",
    ),
}
