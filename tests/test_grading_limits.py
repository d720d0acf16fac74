"""One budget per submission (exercises/limits.py, sandbox.py, kernel_cgroup.py): the limits
are traitlets set in one place; an ordinary user's kernels do not share their process limit
(each runs in a user namespace of its own; with a cgroup delegated to the user, the whole
tree has one budget); one huge ZeroMQ message from a kernel is never held whole.

The slow tests run real sandboxed kernels; the ones that need a created user skip without
root (test_grading_unprivileged.py makes the user).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap

import nbformat
import pytest
from traitlets.config import Config

from grading_helpers import (FORK_BOMB, checksums, generated_course, reference_submission,
                             require_sandbox)
from paths import EXERCISES, ROOT, load_module
from grading_user import ASSIGNMENT, USER, course_of_the_grading_user, skip_without_root

grading = load_module(EXERCISES / "grading.py")
sandbox = grading.sandbox
limits = sys.modules["limits"]
kernel_cgroup = sys.modules["kernel_cgroup"]


def test_a_limit_comes_from_the_config_else_its_variable_else_the_default(monkeypatch):
    for variable, *_ in limits.TRAITS.values():
        monkeypatch.delenv(variable, raising=False)
    assert sandbox.limits().processes == limits.TRAITS["processes"][1]
    monkeypatch.setenv("SNNLEARN_MAX_PROCESSES", "9")
    assert sandbox.limits().processes == 9
    config = Config()
    config.GradingLimits.processes = 5
    config.GradingLimits.memory_mb = 100
    lim = sandbox.limits(config)
    assert (lim.processes, lim.memory_bytes) == (5, 100 * 2**20)


def test_bad_limits_are_clear_errors(monkeypatch):
    monkeypatch.setenv("SNNLEARN_MAX_PROCESSES", "0")
    with pytest.raises(ValueError, match="SNNLEARN_MAX_PROCESSES"):
        sandbox.limits()
    monkeypatch.delenv("SNNLEARN_MAX_PROCESSES")
    config = Config()
    config.GradingLimits.message_mb = 1  # below the largest result a test cell may send
    with pytest.raises(ValueError, match="message_mb"):
        sandbox.limits(config)


def test_the_kernels_limits_reach_its_sandbox(monkeypatch, tmp_path):
    # the command line only: no bubblewrap needs to be installed to compose it
    real_which = sandbox.shutil.which
    monkeypatch.setattr(sandbox.shutil, "which",
                        lambda name, *a, **k: "/usr/bin/bwrap" if name == "bwrap"
                        else real_which(name, *a, **k))
    config = Config()
    config.GradingLimits.processes = 17
    config.GradingLimits.shm_mb = 3
    command = sandbox.bwrap_command(["python"], tmp_path, tmp_path, tmp_path / "status",
                                    lim=sandbox.limits(config))
    assert "--nproc=17" in command or any(re.fullmatch(r"--nproc=\d+", a) for a in command)
    assert str(3 * 2**20) in command


def test_typed_results_keep_name_access_and_report_a_budget(tmp_path):
    results = sys.modules["results"]
    result = results.SubmissionResult("a1", "ada", str(tmp_path), budget=["process limit"])
    assert result["merged"] is False and result.failed_budget == "process limit"
    with pytest.raises(KeyError):
        result["nope"]
    record = results.SubmissionRecord.from_data(json.loads(result.record().to_json()))
    assert record.budget == ["process limit"]
    assert results.SubmissionRecord.from_data("junk") is None
    assert results.KernelRun.from_json("{\"where\": 3}") is None


# --- a sandboxed kernel's messages ----------------------------------------------------------

MESSAGE_RUN = textwrap.dedent("""
    import json, resource, sys, tempfile
    sys.path.insert(0, {exercises!r})
    from nbformat.v4 import new_code_cell, new_notebook
    from traitlets.config import Config
    import sandbox
    config = Config()
    config.GradingLimits.message_mb = int(sys.argv[1])
    nb = new_notebook(cells=[new_code_cell("print('before')"), new_code_cell(
        "from IPython.display import publish_display_data\\n"
        "publish_display_data({{'text/plain': 'x' * (128 * 2**20)}})\\nprint('sent')")])
    execute = sandbox.SnnlearnExecute(config=config, timeout=120, startup_timeout=120)
    raised = ""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    try:
        execute.preprocess(nb, {{"metadata": {{"path": tempfile.mkdtemp()}}}})
    except Exception as error:
        raised = f"{{type(error).__name__}}: {{error}}"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    outputs = [o.get("output_type", "") + ":" + o.get("ename", "") + ":" + o.get("text", "")[:40]
               for o in nb.cells[1].get("outputs", [])]
    print(json.dumps({{"grew_mib": peak - before, "raised": raised, "outputs": outputs}}))
""")


def grader_with_cap(message_mb: int) -> dict:
    code = MESSAGE_RUN.format(exercises=str(EXERCISES))
    result = subprocess.run([sys.executable, "-c", code, str(message_mb)], capture_output=True,
                            text=True, timeout=600, cwd=ROOT)
    lines = [line for line in result.stdout.splitlines() if line.startswith("{")]
    assert lines, result.stdout[-2000:] + result.stderr[-2000:]
    return json.loads(lines[-1])


@pytest.mark.slow
def test_one_huge_message_is_never_held_whole():
    """A cell publishes one 128 MiB display message. With the cap (64 MiB) the grader's peak
    memory hardly moves and the submission fails with the reason; without it (1 GiB) the
    grader receives the message whole, and only then drops it from the notebook (the per-cell
    output limit)."""
    require_sandbox()
    capped = grader_with_cap(64)
    uncapped = grader_with_cap(1024)
    print(f"\ngrader's peak memory grew {capped['grew_mib']:.0f} MiB with a 64 MiB cap, "
          f"{uncapped['grew_mib']:.0f} MiB with a 1 GiB cap (a 128 MiB message)", file=sys.stderr)
    assert capped["grew_mib"] < 64, capped
    assert "KernelOutputLost" in capped["raised"] and "message_mb" in capped["raised"], capped
    # the control: without the cap the same message reaches the grader whole (the per-cell
    # output limit then drops it from the notebook); the peak growth printed above is how
    # much it cost (it depends on the allocator's state, so it is reported, not asserted)
    assert not uncapped["raised"], uncapped
    assert any("output limit hit" in line for line in uncapped["outputs"]), uncapped


# --- an ordinary user's kernels: a fork bomb beside an honest student -----------------------

@pytest.mark.slow
def test_a_fork_bomb_beside_an_honest_student_as_an_ordinary_user(tmp_path_factory):
    """``make autograde JOBS=2`` run by a created user over a fork bomb and an honest
    student: the honest student keeps full marks, the bomb FAILS with the reason (its
    tree's process budget, in a cgroup root delegated to the user), and the course's
    source, release and submissions are unchanged."""
    skip_without_root()
    if not all((kernel_cgroup.CGROUP_ROOT / k / "cgroup.procs").exists()
               for k in kernel_cgroup.CONTROLLERS):
        pytest.skip("no cgroup v1 memory and pids hierarchies to delegate")
    honest = reference_submission(generated_course(tmp_path_factory), ASSIGNMENT)
    bomb = nbformat.from_dict(json.loads(nbformat.writes(honest)))
    bomb.cells.insert(1, nbformat.v4.new_code_cell(FORK_BOMB))
    with course_of_the_grading_user(tmp_path_factory, "forkbomb",
                                    {"honest": honest, "bomb": bomb}) as (repo, make):
        kernel_cgroup.delegate(USER)
        try:
            protected = ("source", "release", "submitted")
            before = checksums(repo / "exercises", protected)
            result = make("autograde", f"ASSIGNMENT={ASSIGNMENT}", "JOBS=2",
                          SNNLEARN_MAX_PROCESSES="64")
            after = checksums(repo / "exercises", protected)
        finally:
            kernel_cgroup.undelegate(USER)
        out = result.stdout + result.stderr
        assert result.returncode == 0, out[-3000:]
        assert re.search(r"honest\s+GRADED\s+(\d+(?:\.\d+)?)/\1\b", out), out[-3000:]
        line = next((x for x in out.splitlines() if re.match(r"bomb\s", x)), "")
        print(f"\n{line}", file=sys.stderr)
        assert "FAILED" in line and "process limit of the kernel's process tree hit (64)" in line, \
            out[-3000:]
        assert before == after
        graded = repo / "exercises" / "autograded"
        assert (graded / "honest").is_dir() and not (graded / "bomb").exists()


@pytest.mark.parametrize("name", ["limits", "results", "kernel_cgroup"])
def test_the_grading_modules_doctests(name):
    """exercises/ is not on pytest's doctest paths: their examples are run here."""
    import doctest

    outcome = doctest.testmod(sys.modules[name], optionflags=doctest.NORMALIZE_WHITESPACE)
    assert outcome.attempted > 0 and outcome.failed == 0, outcome
