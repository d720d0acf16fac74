"""Typical mistakes in the local_learning assignment (chapter 9), as edits of the reference.

Each entry edits one solution cell of the reference (``cell``: ``edits`` [(old, new)] or a
whole new ``source``); the submission must fail the test cell ``caught_by`` with a message
that contains ``feedback`` (tests/test_exercises.py, judged by tests/grading_helpers.py's
``judge_catalog``).
"""

_T_PRE = "t_pre = traces.t_pre + dt * p.tau_pre_inv * (-traces.t_pre + p.a_pre * z_pre)"
_T_POST = "t_post = traces.t_post + dt * p.tau_post_inv * (-traces.t_post + p.a_post * z_post)"
_CHANGE = "change = p.eta_plus * z_post.T @ t_pre - p.eta_minus * t_post.T @ z_pre"

MISTAKES = {
    # --- Exercise 1: STDP ------------------------------------------------------------------
    # The traces only jump, never decay: the window is flat.
    "stdp_traces_never_decay": dict(
        cell="stdp_update",
        edits=[(_T_PRE, "t_pre = traces.t_pre + dt * p.tau_pre_inv * p.a_pre * z_pre"),
               (_T_POST, "t_post = traces.t_post + dt * p.tau_post_inv * p.a_post * z_post")],
        caught_by="stdp_window",
        feedback="the change should shrink as the lag grows",
    ),
    # The weights change with the traces of the previous step (before this step's jump).
    "stdp_weights_before_traces": dict(
        cell="stdp_update",
        source=(
            "def stdp_update(z_pre, z_post, w, traces, p=STDPParameters(), dt=0.001):\n"
            "    change = p.eta_plus * z_post.T @ traces.t_pre - p.eta_minus * traces.t_post.T @ z_pre\n"
            f"    {_T_PRE}\n"
            f"    {_T_POST}\n"
            "    return torch.clamp(w + change, p.w_min, p.w_max), STDPState(t_pre, t_post)\n"),
        caught_by="stdp_window",
        feedback="update the traces first",
    ),
    # Potentiation and depression swapped: post before pre strengthens.
    "stdp_window_reversed": dict(
        cell="stdp_update",
        edits=[(_CHANGE, "change = p.eta_plus * t_post.T @ z_pre - p.eta_minus * z_post.T @ t_pre")],
        caught_by="stdp_window",
        feedback="pre before post (positive lag) should strengthen the synapse",
    ),
    # hardbound ignored: the weights leave [w_min, w_max].
    "stdp_no_hard_bounds": dict(
        cell="stdp_update",
        edits=[("torch.clamp(w + change, p.w_min, p.w_max)", "w + change")],
        caught_by="stdp_bounds_batch",
        feedback="clip after the change",
    ),
    # The change averaged over the batch instead of summed.
    "stdp_mean_over_batch": dict(
        cell="stdp_update",
        edits=[(_CHANGE, "change = (p.eta_plus * z_post.T @ t_pre - p.eta_minus * t_post.T @ z_pre) / len(z_pre)")],
        caught_by="stdp_bounds_batch",
        feedback="sum the changes over the batch",
    ),
    # The postsynaptic trace copied from the presynaptic line: tau_pre_inv and a_pre.
    "stdp_post_trace_with_pre_constants": dict(
        cell="stdp_update",
        edits=[(_T_POST, "t_post = traces.t_post + dt * p.tau_pre_inv * (-traces.t_post + p.a_pre * z_post)")],
        caught_by="stdp_hidden",
        feedback="its own time constant",
    ),
    # snnlearn's STDP called instead of written.
    "stdp_calls_snnlearn": dict(
        cell="stdp_update",
        edits=[(f"    {_T_PRE}\n",
                "    return snnlearn.functional.stdp_step(z_pre, z_post, w, traces, p, dt)\n")],
        caught_by="stdp_hidden",
        feedback="without calling snnlearn's own STDP functions",
    ),
    # --- Exercise 2: eligibility traces ----------------------------------------------------
    # The current's derivative decays before the input jumps in (eps_i' = (1 - c_s) eps_i + x).
    "eps_i_jumps_after_the_decay": dict(
        cell="eligibility_step",
        edits=[("((1 - z).unsqueeze(-1) * d, (1 - c_s) * a)",
                "((1 - z).unsqueeze(-1) * d, (1 - c_s) * eps_i + x.unsqueeze(-2))")],
        caught_by="eligibility_first_step",
        feedback="eps_i' = (1 - c_s) * a",
    ),
    # e from the old eligibility vector instead of this step's derivative of v_1.
    "e_from_the_old_eps_v": dict(
        cell="eligibility_step",
        edits=[("e = psi.unsqueeze(-1) * d", "e = psi.unsqueeze(-1) * eps_v")],
        caught_by="eligibility_first_step",
        feedback="e = psi * d",
    ),
    # The spike's reset does not clear eps_v.
    "eps_v_not_reset": dict(
        cell="eligibility_step",
        edits=[("((1 - z).unsqueeze(-1) * d, ", "(d, ")],
        caught_by="eligibility_reset",
        feedback="eps_v' = (1 - z) * d",
    ),
    # The surrogate derivative taken at the voltage after the reset.
    "psi_after_the_reset": dict(
        cell="eligibility_step",
        edits=[("(p.alpha * (v_1 - p.v_th).abs() + 1.0)", "(p.alpha * (v_2 - p.v_th).abs() + 1.0)")],
        caught_by="eligibility_reset",
        feedback="the voltage BEFORE the reset",
    ),
    # The membrane's leak left out of the derivative of v_1.
    "d_without_the_leak": dict(
        cell="eligibility_step",
        edits=[("d = (1 - c_m) * eps_v + c_m * a", "d = eps_v + c_m * a")],
        caught_by="eligibility_bptt",
        feedback="should equal BPTT's gradient",
    ),
    # Time constants hard-coded for the default parameters.
    "eligibility_constants_hard_coded": dict(
        cell="eligibility_step",
        edits=[("c_m, c_s = dt * p.tau_mem_inv, dt * p.tau_syn_inv", "c_m, c_s = 0.1, 0.2")],
        caught_by="eligibility_hidden",
        feedback="use every parameter of p",
    ),
    # SuperSpike's alpha hard-coded.
    "psi_ignores_alpha": dict(
        cell="eligibility_step",
        edits=[("(p.alpha * (v_1 - p.v_th).abs() + 1.0)", "(100.0 * (v_1 - p.v_th).abs() + 1.0)")],
        caught_by="eligibility_hidden",
        feedback="psi = 1 / (p.alpha",
    ),
    # snnlearn's e-prop step called instead of written.
    "eligibility_calls_snnlearn": dict(
        cell="eligibility_step",
        source=(
            "def eligibility_step(x, state, eps, w, p=LIFParameters(), dt=0.001):\n"
            "    from snnlearn.functional.eprop import EpropTraces, lif_recurrent_eprop_step\n"
            "    hidden = w.shape[0]\n"
            "    rec = torch.zeros(x.shape[0], hidden, hidden, dtype=x.dtype)\n"
            "    z, new, traces, (e, _) = lif_recurrent_eprop_step(\n"
            "        x, state, EpropTraces(eps[0], eps[1], rec, rec), w,\n"
            "        torch.zeros(hidden, hidden, dtype=x.dtype), p, dt)\n"
            "    return z, new, (traces.v_in, traces.i_in), e\n"),
        caught_by="eligibility_hidden",
        feedback="without calling snnlearn's own e-prop functions",
    ),
    # --- Exercise 3: e-prop's gradient -----------------------------------------------------
    # The learning signal meets the raw trace, not the one filtered by the readout.
    "eprop_unfiltered_trace": dict(
        cell="eprop_gradients",
        edits=[('torch.einsum("bj,bjk->jk", signal, e_bar)', 'torch.einsum("bj,bjk->jk", signal, e)')],
        caught_by="eprop_gradients_bptt",
        feedback="filtered by the readout",
    ),
    # The error of a summed loss: T * B times too large.
    "eprop_loss_not_averaged": dict(
        cell="eprop_gradients",
        edits=[("error = (torch.softmax(y, -1) - onehot) / (steps * batch)",
                "error = torch.softmax(y, -1) - onehot")],
        caught_by="eprop_gradients_bptt",
        feedback="times too large",
    ),
    # BPTT by autograd instead of e-prop (right values, not online).
    "eprop_by_backpropagation": dict(
        cell="eprop_gradients",
        source=(
            "def eprop_gradients(xs, target, w_in, w_out, p=LIFParameters(), dt=0.001):\n"
            "    w_in = w_in.detach().clone().requires_grad_(True)\n"
            "    w_out = w_out.detach().clone().requires_grad_(True)\n"
            "    y, _ = run(w_in, w_out, xs, p, dt)\n"
            "    nn.functional.cross_entropy(y.flatten(0, 1), target.repeat(len(y))).backward()\n"
            "    return w_in.grad, w_out.grad\n"),
        caught_by="eprop_gradients_hidden",
        feedback="without backpropagation",
    ),
    # The parameters p and dt not passed on to the layer.
    "eprop_ignores_p_and_dt": dict(
        cell="eprop_gradients",
        edits=[("eligibility_step(x, state, eps, w_in, p, dt)", "eligibility_step(x, state, eps, w_in)")],
        caught_by="eprop_gradients_hidden",
        feedback="pass p and dt on",
    ),
    # --- Exercise 4: training --------------------------------------------------------------
    # One epoch: not enough to reach the goal.
    "train_one_epoch": dict(
        cell="train",
        edits=[("hidden, epochs, batch = 32, 5, 50", "hidden, epochs, batch = 32, 1, 50")],
        caught_by="train_accuracy",
        feedback="the validation accuracy is",
    ),
    # torch.rand instead of torch.randn: only positive input weights, a saturated layer.
    "train_saturated_layer": dict(
        cell="train",
        edits=[("torch.randn(hidden, 64) * 0.6", "torch.rand(hidden, 64) * 5.0")],
        caught_by="train_really_spikes",
        feedback="a saturated layer",
    ),
    # Trained by backpropagation through time, not e-prop.
    "train_by_backpropagation": dict(
        cell="train",
        edits=[("            w_in.grad, w_out.grad = eprop_gradients(encode(images[chosen]), labels[chosen],\n"
                "                                                    w_in.detach(), w_out.detach())\n",
                "            optimizer.zero_grad()\n"
                "            y, _ = run(w_in, w_out, encode(images[chosen]))\n"
                "            nn.functional.cross_entropy(y.flatten(0, 1),\n"
                "                                        labels[chosen].repeat(len(y))).backward()\n")],
        caught_by="train_hidden",
        feedback="train should learn with e-prop",
    ),
}
