"""Typical mistakes in the recurrent_snns assignment, as edits of the reference solution.

Each entry edits one solution cell of the reference (``cell``: ``edits`` [(old, new)] or a
whole new ``source``); the submission must fail the test cell ``caught_by`` with a message
that contains ``feedback`` (tests/test_exercises.py, judged by tests/grading_helpers.py's
``judge_catalog``).
"""

MISTAKES = {
    "forgets_recurrent_input": dict(
        cell="recurrent_step",
        edits=[("i_jump = state.i + x @ w_in.T + state.z @ w_rec.T",
                "i_jump = state.i + x @ w_in.T")],
        caught_by="recurrent_step_recurrent",
        feedback="the recurrent spikes should jump the current",
    ),
    "reset_not_detached": dict(
        cell="recurrent_step",
        edits=[("reset = z.detach()", "reset = z")],
        caught_by="recurrent_step_gradient",
        feedback="the reset must use the detached spike",
    ),
    "no_surrogate_gradient": dict(
        cell="recurrent_step",
        edits=[("z = snnlearn.functional.threshold(v_new - p.v_th, p.method, p.alpha)",
                "z = (v_new - p.v_th > 0).float()")],
        caught_by="recurrent_step_gradient",
        feedback="use a surrogate spike",
    ),
    "reset_to_zero": dict(
        cell="recurrent_step",
        edits=[("reset * p.v_reset", "reset * 0.0")],
        caught_by="recurrent_step_reset",
        feedback="reset to v_reset = -0.5",
    ),
    "calls_snnlearn": dict(
        cell="recurrent_step",
        edits=[("    i_jump = state.i + x @ w_in.T + state.z @ w_rec.T\n",
                "    return snnlearn.functional.lif_recurrent_step(x, state, w_in, w_rec, p, dt)\n")],
        caught_by="recurrent_step_hidden",
        feedback="without calling snnlearn's own recurrent step",
    ),
    "counts_over_channels": dict(
        cell="count_features",
        edits=[("return x.sum(dim=0)", "return x.sum(dim=-1)")],
        caught_by="count_features_values",
        feedback="sum over time, dim 0",
    ),
    "no_detach_between_chunks": dict(
        cell="truncated_bptt",
        edits=[("        states = snnlearn.detach_state(states)\n        running_max = running_max.detach()\n",
                "")],
        caught_by="tbptt_runs",
        feedback="detach the states and the running maximum after each chunk",
    ),
    "state_not_carried": dict(
        cell="truncated_bptt",
        edits=[("voltages, _, states = model.run(piece, states)",
                "voltages, _, states = model.run(piece)")],
        caught_by="tbptt_gradients",
        feedback="each chunk starts from the states the previous one ended in",
    ),
    "loss_only_on_last_chunk": dict(
        cell="truncated_bptt",
        source=(
            "def truncated_bptt_step(model, x, y, chunk):\n"
            "    states, running_max = (None, None), None\n"
            "    for piece in x.split(chunk):\n"
            "        voltages, _, states = model.run(piece, states)\n"
            "        peak = voltages.max(dim=0).values\n"
            "        running_max = peak if running_max is None else torch.maximum(running_max.detach(), peak)\n"
            "        states = snnlearn.detach_state(states)\n"
            "    loss = nn.functional.cross_entropy(running_max, y)\n"
            "    loss.backward()\n"
            "    return loss.item()\n"),
        caught_by="tbptt_gradients",
        feedback="every chunk adds the loss of the running maximum",
    ),
    "spikes_bypassed": dict(
        cell="model",
        edits=[("voltages, li_state = self.readout(self.fc_out(spikes), states[1])",
                "voltages, li_state = self.readout(self.fc_out(\n"
                "            nn.functional.linear(x, self.lif.input_weights)), states[1])")],
        caught_by="train_hidden",
        feedback="its output must come from the spikes of self.lif",
    ),
    "no_training": dict(
        cell="train",
        edits=[("for epoch in range(10):", "for epoch in range(0):")],
        caught_by="train_accuracy",
        feedback="it should be at least 80 %",
    ),
}
