"""Typical mistakes in the spiking_neurons assignment, as edits of the reference solution.

Each entry edits one solution cell of the reference (``cell``: ``edits`` [(old, new)] or a
whole new ``source``); the submission must fail the test cell ``caught_by`` with a message
that contains ``feedback`` (tests/test_exercises.py, judged by tests/grading_helpers.py's
``judge_catalog``).
"""

MISTAKES = {
    'no_reset': dict(
        cell="lif_step",
        edits=[('    v_new = (1 - z) * v_new + z * p.v_reset\n', '')],
        caught_by='lif_step_reset',
        feedback='no reset: your v after reset should be v_reset where z == 1',
    ),
    'decay_before_input': dict(
        cell="lif_step",
        edits=[('i_jump = state.i + x', 'i_jump = state.i - dt * p.tau_syn_inv * state.i + x'), ('i_new = i_jump - dt * p.tau_syn_inv * i_jump', 'i_new = i_jump')],
        caught_by='lif_step_current',
        feedback='the current must decay after the input jumps in',
    ),
    'no_leak': dict(
        cell="lif_step",
        edits=[('((p.v_leak - state.v) + i_jump)', 'i_jump')],
        caught_by='lif_step_leak',
        feedback='with no input v should leak towards v_leak',
    ),
    'ignores_dt': dict(
        cell="lif_step",
        edits=[('dt * p.tau_mem_inv', 'p.tau_mem_inv'), ('dt * p.tau_syn_inv', 'p.tau_syn_inv')],
        caught_by='lif_step_dt',
        feedback='both updates are multiplied by dt',
    ),
    'reset_to_zero': dict(
        cell="lif_step",
        edits=[('z * p.v_reset', 'z * 0.0')],
        caught_by='lif_step_reset',
        feedback='here p.v_reset = -0.5, not 0',
    ),
    'swaps_v_and_i': dict(
        cell="lif_step",
        edits=[('LIFFeedForwardState(v_new, i_new)', 'LIFFeedForwardState(i_new, v_new)')],
        caught_by='lif_step_current',
        feedback='v and i are swapped',
    ),
    'calls_snnlearn': dict(
        cell="lif_step",
        edits=[('    i_jump = state.i + x\n', '    return snnlearn.functional.lif_feed_forward_step(x, state, p, dt)\n')],
        caught_by='lif_step_no_snnlearn',
        feedback="without calling snnlearn's own LIF step",
    ),
}
