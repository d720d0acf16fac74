"""The verdict outside the learner's process (exercises/verdict.py), without a kernel: the
split of test cells, the plain-data round trip, the decoder's refusals, and the authoring
checks of every converted assignment."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch

from grading_helpers import ASSIGNMENTS, source_cells_md, verdict


def kernel_encoder():
    """The kernel's emit, defined from its source as the grader sends it."""
    ns = {}
    exec(verdict.KERNEL_PRELUDE, ns)
    captured = []
    import IPython.display

    saved = IPython.display.publish_display_data
    IPython.display.publish_display_data = lambda data: captured.append(data)
    try:
        ns["get_ipython"] = lambda: type("IP", (), {"user_ns": user_ns})()
        user_ns = {}
        emit = ns["_snnlearn_make_emit"](verdict.RESULT_MIME, 10**8)
    finally:
        pass
    return emit, user_ns, captured, (lambda: setattr(IPython.display, "publish_display_data",
                                                      saved))


def roundtrip(value):
    emit, user_ns, captured, restore = kernel_encoder()
    try:
        user_ns["v"] = value
        emit(1, ["v"])
    finally:
        restore()
    part, payload = verdict.parse_result({"data": json.loads(json.dumps(captured[-1]))})
    assert part == 1
    return verdict.Decoder().decode(payload["values"]["v"])


def test_plain_values_survive_the_round_trip():
    from snnlearn import LIFFeedForwardState

    state = LIFFeedForwardState(torch.tensor([1.0, 2.0]), torch.zeros(2, dtype=torch.float64))
    back = roundtrip((state, [1, 2.5, float("nan"), True, None, "s"], {"a": np.arange(3)}))
    assert isinstance(back[0], LIFFeedForwardState)
    assert torch.equal(back[0].v, state.v) and back[0].i.dtype == torch.float64
    assert back[1][:2] == [1, 2.5] and np.isnan(back[1][2]) and back[1][3:] == [True, None, "s"]
    assert np.array_equal(back[2]["a"], np.arange(3))
    assert roundtrip(torch.float16) is torch.float16
    assert roundtrip(torch.ones(2, dtype=torch.bfloat16)).dtype == torch.bfloat16


def test_objects_arrive_as_opaque_names_only():
    back = roundtrip(torch.nn.Linear(2, 2))
    assert isinstance(back, verdict.Opaque) and back.name == "Linear"

    class Fake(tuple):  # a NamedTuple look-alike the grader does not know
        _fields = ("v", "i")

    assert isinstance(roundtrip(Fake((1, 2))), verdict.Opaque)


@pytest.mark.parametrize("payload, why", [
    ({"t": "ndarray", "np": "|O", "shape": [1], "b64": ""}, "array of object"),
    ({"t": "ndarray", "np": "<f8", "shape": [3], "b64": base64.b64encode(b"x" * 8).decode()},
     "does not match"),
    ({"t": "tensor", "dtype": "__class__", "np": "<f8", "shape": [], "b64": ""}, "dtype"),
    ({"t": "pickle", "v": "gASV"}, "unknown kind"),
    ({"t": "value", "v": [1]}, "malformed"),
])
def test_the_decoder_refuses_what_is_not_plain_data(payload, why):
    with pytest.raises(verdict.BadData, match=why):
        verdict.Decoder().decode(payload)


def test_the_decoder_caps_the_bytes():
    raw = base64.b64encode(np.zeros(1000).tobytes()).decode()
    item = {"t": "ndarray", "np": "<f8", "shape": [1000], "b64": raw}
    with pytest.raises(verdict.BadData, match="MiB"):
        verdict.Decoder(limit=4000).decode(item)


def test_a_cell_splits_into_inputs_calls_and_checks():
    cells = [
        {"cell_type": "code", "source": "import torch",
         "metadata": {"nbgrader": {"locked": True, "grade_id": "setup"}}},
        {"cell_type": "code", "source": "def f(x):\n    y = x\n    return y",
         "metadata": {"nbgrader": {"solution": True, "grade_id": "f"}}},
        {"cell_type": "code", "metadata": {"nbgrader": {"grade": True, "grade_id": "t",
                                                        "points": 1, "locked": True}},
         "source": "x = 1\n# [call]\ny = f(x)\n# [check]\nassert y == x, 'no'\n"
                   "# [inputs]\nx = 2\n# [call]\nx2 = f(x)\n# [check]\nassert x2 == x"},
    ]
    (test,) = verdict.plan(cells)
    assert [s.kind for s in test.segments] == ["inputs", "call", "check", "inputs", "call",
                                               "check"]
    assert test.emits == {1: ("y",), 4: ("x2",)}  # x is the grader's own (an inputs part)
    assert "assert" not in verdict.kernel_source(test)
    assert verdict.lint(cells) == []
    cells[2]["source"] = "# [call]\ny = f(1)\n# [check]\nassert f(1) == y"
    assert "uses the learner's ['f']" in verdict.lint(cells)[0]


def test_the_grader_judges_from_data_alone():
    cells = [{"cell_type": "code", "metadata": {"nbgrader": {"grade": True, "grade_id": "t",
                                                             "points": 1, "locked": True}},
              "source": "x = 3\n# [call]\ny = f(x)\n# [check]\nassert y == 2 * x, f'got {y}'"}]
    (test,) = verdict.plan(cells)
    grader = verdict.Grader(seed=1)
    ok = grader.judge(test, {1: {"part": 1, "values": {"y": {"t": "value", "v": 6}}}}, None)
    bad = grader.judge(test, {1: {"part": 1, "values": {"y": {"t": "value", "v": 5}}}}, None)
    # A value the check does not read is never bound in the grader's namespace.
    sneaky = grader.judge(test, {1: {"part": 1, "values": {"y": {"t": "value", "v": 5},
                                                           "x": {"t": "value", "v": 2.5}}}},
                          None)
    died = grader.judge(test, {}, ("NameError", "name 'f' is not defined"))
    assert ok.passed and not bad.passed and bad.evalue == "got 5"
    assert not sneaky.passed and grader.ns["x"] == 3
    assert not died.passed and died.ename == "NameError"


_source_cells = source_cells_md


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_marked_test_cells_never_check_with_learner_code(assignment):
    assert verdict.lint(_source_cells(assignment)) == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_assignment_is_judged_outside_the_kernel(assignment):
    """Every test cell of every assignment has its checks outside the learner's kernel: no
    verdict is made in the learner's process."""
    cells = _source_cells(assignment)
    tests = [c for c in cells if verdict.is_test_cell(c)]
    assert tests and all(verdict.is_marked(c.source) for c in tests), [
        c.metadata["nbgrader"]["grade_id"] for c in tests if not verdict.is_marked(c.source)]
    assert all(any(s.kind == "check" for s in verdict.split_cell(c.source)) for c in tests)
