"""Typical mistakes in the sparsity_energy assignment, as edits of the reference solution.

Each entry: the solution cell edited (``cell``), the edits (or a whole new ``source``), the
test cell that must lose points (``caught_by``) and a phrase of the feedback the learner
then reads (``feedback``). Used by tests/test_exercises.py.
"""

MISTAKES = {
    # Exercise 1: fan-out taken from the wrong side of the layer.
    "synops_times_in_features": dict(
        cell="linear_synops",
        edits=[("* layer.out_features", "* layer.in_features")],
        caught_by="linear_synops_values",
        feedback="each spike costs out_features operations",
    ),
    # Exercise 1: every input position counted, silent or not (the dense cost).
    "synops_counts_silent_inputs": dict(
        cell="linear_synops",
        edits=[("int((spikes != 0).sum())", "spikes.numel()")],
        caught_by="linear_synops_values",
        feedback="got 60",
    ),
    # Exercise 2: parameters counted (weights + biases) instead of MACs.
    "macs_count_biases": dict(
        cell="dense_macs",
        edits=[("m.in_features * m.out_features", "m.in_features * m.out_features + m.out_features")],
        caught_by="dense_macs_values",
        feedback="add in_features * out_features over every Linear layer",
    ),
    # Exercise 2: only the first Linear layer.
    "macs_first_layer_only": dict(
        cell="dense_macs",
        source=("def dense_macs(model):\n"
                "    for m in model.modules():\n"
                "        if isinstance(m, torch.nn.Linear):\n"
                "            return m.in_features * m.out_features\n"),
        caught_by="dense_macs_hidden",
        feedback="dense_macs should add in_features * out_features over every Linear layer",
    ),
    # Exercise 3: a rate (divided by T) instead of a count.
    "penalty_is_a_rate": dict(
        cell="activity_penalty",
        edits=[("spikes.sum(dim=0).mean()", "spikes.mean()")],
        caught_by="activity_penalty_values",
        feedback="sum over time, then average over images and neurons",
    ),
    # Exercise 3: the penalty leaves the autograd graph.
    "penalty_detached": dict(
        cell="activity_penalty",
        edits=[("return spikes.sum(dim=0).mean()", "return torch.tensor(spikes.sum(dim=0).mean().item())")],
        caught_by="activity_penalty_grad",
        feedback="activity_penalty should keep the autograd graph",
    ),
    # Exercise 4: the input spikes of the first layer are not counted.
    "synops_skip_first_layer": dict(
        cell="model_synops",
        edits=[("        total[0] += linear_synops(inputs[0], layer)",
                "        if layer is not model[0]:\n            total[0] += linear_synops(inputs[0], layer)")],
        caught_by="model_synops_hidden",
        feedback="count the inputs of every Linear layer (first and hidden) per image",
    ),
    # Exercise 4: the hooks stay on the model.
    "synops_hooks_not_removed": dict(
        cell="model_synops",
        edits=[("        for handle in handles:\n            handle.remove()\n", "        pass\n")],
        caught_by="model_synops_hidden",
        feedback="remove the forward hooks after the run",
    ),
    # Exercise 5: trained without the activity regulariser: over the spike budget.
    "no_regulariser": dict(
        cell="train",
        edits=[("strength = 0.1", "strength = 0.0")],
        caught_by="train_spikes",
        feedback="over the spike budget",
    ),
    # Exercise 5: a regulariser so strong that the network falls silent.
    "regulariser_silences_the_network": dict(
        cell="train",
        edits=[("strength = 0.1", "strength = 5.0")],
        caught_by="train_really_spikes",
        feedback="the network does not really spike",
    ),
    # Exercise 5: an ANN with an unused spiking layer hung on it, which never fires.
    "unused_spiking_layer": dict(
        cell="build_model",
        source=("class _Readout(torch.nn.Module):\n"
                "    def __init__(self):\n"
                "        super().__init__()\n"
                "        self.net = torch.nn.Sequential(torch.nn.Linear(64, 64), torch.nn.ReLU(),\n"
                "                                       torch.nn.Linear(64, 10))\n"
                "        self.readout = LI()\n"
                "        self.spiking = LIF()      # hung on the model, never called\n"
                "\n"
                "    def forward(self, x, state=None):\n"
                "        voltages, _ = self.readout(self.net(x))\n"
                "        return voltages, state\n"
                "\n"
                "\n"
                "def build_model():\n"
                "    return SequentialState(_Readout())\n"),
        caught_by="train_really_spikes",
        feedback="the network does not really spike",
    ),
}
