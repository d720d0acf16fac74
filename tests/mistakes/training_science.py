"""Typical mistakes in the training_science assignment, as edits of the reference solution.

Each entry edits one solution cell of the reference (``cell``: ``edits`` [(old, new)] or a
whole new ``source``); the submission must fail the test cell ``caught_by`` with a message
that contains ``feedback`` (tests/test_exercises.py, judged by tests/grading_helpers.py's
``judge_catalog``).
"""

MISTAKES = {
    # Exercise 1: the step spikes at x = 0 (H(0) = 1).
    "spike_at_zero": dict(
        cell="arctan_spike",
        edits=[("return (x > 0).to(x.dtype)", "return (x >= 0).to(x.dtype)")],
        caught_by="arctan_forward",
        feedback="(so H(0) = 0)",
    ),
    # Exercise 1: the pi / 2 left out: a surrogate of the wrong width.
    "surrogate_without_pi": dict(
        cell="arctan_spike",
        edits=[("(1 + (math.pi / 2 * alpha * x) ** 2)", "(1 + (alpha * x) ** 2)")],
        caught_by="arctan_backward",
        feedback="should fall to half its peak",
    ),
    # Exercise 1: backward returns sigma'(x) alone, forgetting the chain rule.
    "surrogate_ignores_grad_output": dict(
        cell="arctan_spike",
        edits=[("return grad_output * (alpha / 2)", "return (alpha / 2)")],
        caught_by="arctan_chain",
        feedback="multiply by grad_output (chain rule)",
    ),
    # Exercise 1: backward borrows snnlearn's own arctan surrogate instead of computing it.
    "surrogate_from_snnlearn": dict(
        cell="arctan_spike",
        edits=[("        alpha = ctx.alpha\n        return grad_output * (alpha / 2) / (1 + (math.pi / 2 * alpha * x) ** 2), None",
                "        return snnlearn.functional.surrogates.ArcTan.chain(grad_output, x, ctx.alpha), None")],
        caught_by="arctan_hidden",
        feedback="without calling snnlearn's surrogates",
    ),
    # Exercise 2: K1 (the kernel's sum) in place of K2 (the sum of its squares).
    "std_uses_k1": dict(
        cell="fluctuation_init",
        edits=[("k2 = membrane_kernel(p, dt).pow(2).sum().item()",
                "k2 = membrane_kernel(p, dt).sum().item()")],
        caught_by="weight_std_values",
        feedback="the sum of the squared kernel (not K1)",
    ),
    # Exercise 2: the distance to threshold measured from 0, not from v_leak.
    "std_ignores_v_leak": dict(
        cell="fluctuation_init",
        edits=[("sigma_u = (p.v_th - p.v_leak) / xi", "sigma_u = p.v_th / xi")],
        caught_by="weight_std_hidden",
        feedback="sigma_U = (v_th - v_leak) / xi",
    ),
    # Exercise 2: no check of the input rate: a silent input divides by zero.
    "no_rate_check": dict(
        cell="fluctuation_init",
        edits=[("    if not 0 < q < 1:\n        raise ValueError(f\"rate * dt must be a spike "
                "probability in (0, 1), got {q!r}\")\n", "")],
        caught_by="weight_std_values",
        feedback="a rate of 0 Hz should raise a ValueError",
    ),
    # Exercise 2: the fan-in read from the wrong side of the weight matrix.
    "init_fan_in_from_out_features": dict(
        cell="fluctuation_init",
        edits=[("fluctuation_weight_std(weight.shape[1]", "fluctuation_weight_std(weight.shape[0]")],
        caught_by="init_membrane",
        feedback="in_features = weight.shape[1]",
    ),
    # Exercise 3: the LIF's order: the input jumps the current before the membrane update.
    "alif_input_first": dict(
        cell="alif_step",
        source=(
            "def alif_step(x, state, p=LSNNParameters(), dt=0.001):\n"
            "    i_jump = state.i + x\n"
            "    v_new = state.v + dt * p.tau_mem_inv * ((p.v_leak - state.v) + i_jump)\n"
            "    i_new = i_jump - dt * p.tau_syn_inv * i_jump\n"
            "    b_new = state.b + dt * p.tau_adapt_inv * (p.v_th - state.b)\n"
            "    z = threshold(v_new - b_new, p.method, p.alpha)\n"
            "    v_new = (1 - z) * v_new + z * p.v_reset\n"
            "    b_new = b_new + p.beta * z\n"
            "    return z, LSNNFeedForwardState(v_new, i_new, b_new)\n"),
        caught_by="alif_subthreshold",
        feedback="the input jumps the current last",
    ),
    # Exercise 3: the threshold decays towards 0 instead of relaxing to v_th.
    "alif_threshold_decays_to_zero": dict(
        cell="alif_step",
        edits=[("b_new = state.b + dt * p.tau_adapt_inv * (p.v_th - state.b)",
                "b_new = state.b - dt * p.tau_adapt_inv * state.b")],
        caught_by="alif_subthreshold",
        feedback="relaxes towards v_th, not towards 0",
    ),
    # Exercise 3: the spike compared with the fixed v_th: a LIF neuron with a useless b.
    "alif_fixed_threshold": dict(
        cell="alif_step",
        edits=[("z = threshold(v_new - b_new, p.method, p.alpha)",
                "z = threshold(v_new - p.v_th, p.method, p.alpha)")],
        caught_by="alif_adaptive_threshold",
        feedback="exceeds its adaptive threshold b_1, not v_th",
    ),
    # Exercise 3: spikes never raise the threshold.
    "alif_no_threshold_jump": dict(
        cell="alif_step",
        edits=[("b_new = b_new + p.beta * z", "b_new = b_new")],
        caught_by="alif_adaptive_threshold",
        feedback="each spike raises the threshold by beta",
    ),
    # Exercise 3: a bare comparison: no surrogate gradient.
    "alif_no_surrogate": dict(
        cell="alif_step",
        edits=[("z = threshold(v_new - b_new, p.method, p.alpha)",
                "z = (v_new - b_new > 0).to(v_new.dtype)")],
        caught_by="alif_gradient",
        feedback="use a surrogate spike",
    ),
    # Exercise 4: the readout integrates the whole trial, where the cue is still in view.
    "readout_reads_whole_trial": dict(
        cell="model",
        edits=[("self.readout(self.fc_out(spikes[RECALL_START:]))",
                "self.readout(self.fc_out(spikes))")],
        caught_by="model_hidden",
        feedback="classify should read only the recall window",
    ),
    # Exercise 4: plain LIF neurons (beta = 0): nothing outlasts the delay.
    "no_adaptation": dict(
        cell="model",
        edits=[("LSNNParameters(tau_adapt_inv=1 / 0.5, beta=1.8)",
                "LSNNParameters(tau_adapt_inv=1 / 0.5, beta=0.0)")],
        caught_by="model_shapes",
        feedback="the threshold must adapt",
    ),
    # Exercise 4: a threshold that relaxes within milliseconds forgets the cue like a LIF.
    "adaptation_too_fast": dict(
        cell="model",
        edits=[("LSNNParameters(tau_adapt_inv=1 / 0.5, beta=1.8)",
                "LSNNParameters(tau_adapt_inv=1 / 0.005, beta=1.8)")],
        caught_by="train_accuracy",
        feedback="tau_adapt of hundreds of ms",
    ),
    # Exercise 4: train forgets to step the optimiser.
    "no_optimizer_step": dict(
        cell="train",
        edits=[("            optimizer.step()\n", "")],
        caught_by="train_accuracy",
        feedback="it should be at least 90 %",
    ),
}
