"""The kernel's sandbox (exercises/sandbox.py) on its own: what a process inside sees and may
do, its limits, and how the grading report names them. Quick: plain Python processes, no
nbgrader (tests/test_exercises.py grades real submissions in it).

Without a working bubblewrap the sandbox tests skip with one line; with
SNNLEARN_REQUIRE_SANDBOX=1 (set by .ci/run) that is a failure.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from grading_helpers import require_sandbox
from paths import EXERCISES, ROOT, load_module

grading = load_module(EXERCISES / "grading.py")
sandbox = grading.sandbox


@pytest.fixture()
def jail(tmp_path, monkeypatch):
    """run(code) -> CompletedProcess of ``python -c code`` in the sandbox."""
    require_sandbox()
    course = tmp_path / "course"
    (course / "source").mkdir(parents=True)
    (course / "gradebook.db").write_text("grades")
    work = tmp_path / "scratch" / "work"
    ipc = tmp_path / "scratch" / "ipc"
    work.mkdir(parents=True)
    ipc.mkdir()
    if os.geteuid() == 0:
        for path in (work, ipc):
            os.chown(path, sandbox.NOBODY, sandbox.NOBODY)
    monkeypatch.setenv("SNNLEARN_COURSE_ROOT", str(course))
    monkeypatch.setenv("SNNLEARN_SCRATCH_ROOT", str(tmp_path / "scratch"))
    monkeypatch.setenv("GRADEBOOK_URL", "postgresql://secret@db/grades")

    def run(code: str):
        command = sandbox.bwrap_command([sys.executable, "-c", code], work, ipc,
                                        ipc / "status")
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    run.course, run.work, run.ipc = course, work, ipc
    return run


def test_a_sandboxed_process_sees_only_its_scratch_folder(jail):
    probe = f"""
import json, os, socket
seen = {{p: os.path.exists(p) for p in [{str(jail.course / 'gradebook.db')!r},
        {str(jail.course / 'source')!r}, {str(ROOT / 'README.md')!r},
        {str(ROOT / 'exercises' / 'source')!r}]}}
def can_write(path):
    try:
        open(path, 'w').close()
        return True
    except OSError:
        return False
try:
    socket.create_connection(('127.0.0.1', 22), timeout=1)
    net = 'connected'
except OSError as error:
    net = type(error).__name__
import multiprocessing
multiprocessing.Semaphore()  # joblib, DataLoader: a writable /dev/shm
print(json.dumps(dict(seen=seen, net=net, pids=sorted(int(p) for p in os.listdir('/proc')
      if p.isdigit()), uid=os.getuid(), env=sorted(os.environ),
      here=can_write('x'), outside=can_write({str(ROOT / 'pwned')!r}))))
"""
    result = jail(probe)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert not any(report["seen"].values()), report["seen"]
    assert report["here"] and not report["outside"]
    assert not (ROOT / "pwned").exists()
    assert report["net"] != "connected"
    assert max(report["pids"]) < 10  # its own process tree
    assert "GRADEBOOK_URL" not in report["env"]
    if os.geteuid() == 0:
        assert report["uid"] == sandbox.NOBODY


def test_memory_limit(jail, monkeypatch):
    monkeypatch.setenv("SNNLEARN_MEMORY_LIMIT_MB", "512")
    result = jail("x = bytearray(1024 * 2**20)")
    assert "MemoryError" in result.stderr


def test_file_size_limit(jail, monkeypatch):
    monkeypatch.setenv("SNNLEARN_FILE_LIMIT_MB", "1")
    result = jail("open('big', 'wb').write(b'0' * 2 * 2**20)")
    assert "File too large" in result.stderr


def test_process_limit(jail, monkeypatch):
    monkeypatch.setenv("SNNLEARN_MAX_PROCESSES", "8")
    code = ("import os, time\nfor _ in range(50):\n    if os.fork() == 0:\n"
            "        time.sleep(2)\n        os._exit(0)\n")
    result = jail(code)
    assert "Resource temporarily unavailable" in result.stderr or "BlockingIOError" in result.stderr


def test_cpu_limit_kills_and_is_named(jail, monkeypatch):
    monkeypatch.setenv("SNNLEARN_CPU_LIMIT_S", "1")
    jail("while True:\n    pass\n")
    status = int((jail.ipc / "status").read_text())
    assert "CPU time limit" in sandbox.describe_exit(status, sandbox.limits())


def test_limits_and_tampering_are_named_in_the_report(tmp_path):
    cells = [
        {"cell_type": "code", "metadata": {"nbgrader": {"grade_id": "hog"}}, "source": "",
         "outputs": [{"output_type": "error", "ename": "MemoryError", "evalue": "",
                      "traceback": []}]},
        {"cell_type": "code", "metadata": {"nbgrader": {"grade_id": "chatty"}}, "source": "",
         "outputs": [{"output_type": "stream", "name": "stderr",
                      "text": "[output limit hit: more than 1024 KiB; the rest was dropped]\n"}]},
        {"cell_type": "code", "metadata": {"nbgrader": {"grade_id": "t1"}}, "source": "",
         "outputs": [{"output_type": "error", "ename": "GradingIntegrityError",
                      "evalue": "TAMPERED: torch.allclose was replaced", "traceback": []}]},
    ]
    path = tmp_path / "nb.ipynb"
    path.write_text(json.dumps({"cells": cells}))
    tampered, hit = grading.integrity_and_limits(path)
    assert tampered == ["t1 (torch.allclose was replaced)"]
    assert any(h.startswith("memory limit hit") and "hog" in h for h in hit)
    assert any(h.startswith("output limit hit") and "chatty" in h for h in hit)


def test_no_sandbox_stops_autograde_with_how_to_install(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(grading.sandbox.shutil, "which", lambda name: None)
    monkeypatch.setenv("SNNLEARN_SANDBOX", "bwrap")
    (tmp_path / "submitted" / "ada" / "a1").mkdir(parents=True)
    rc = grading.main(["--course", str(tmp_path), "autograde", "a1"])
    assert rc == 3
    err = capsys.readouterr().err
    assert "apt-get install bubblewrap" in err and "SANDBOX=none" in err


def test_bad_settings_name_the_variable(monkeypatch):
    monkeypatch.setenv("SNNLEARN_MEMORY_LIMIT_MB", "lots")
    with pytest.raises(ValueError, match="SNNLEARN_MEMORY_LIMIT_MB"):
        sandbox.limits()
    monkeypatch.setenv("SNNLEARN_SANDBOX", "docker")
    with pytest.raises(ValueError, match="SNNLEARN_SANDBOX"):
        sandbox.sandbox_mode()


kernel_cgroup = load_module(EXERCISES / "kernel_cgroup.py")


@pytest.fixture()
def tree_jail(jail, monkeypatch):
    """jail, with the kernel's process tree in a cgroup of its own (root, cgroup v1 only)."""
    if not kernel_cgroup.available():
        pytest.skip("per-kernel cgroups need root and cgroup v1 memory/pids controllers")
    made = []

    def run(code: str, memory_mb: int, processes: int = 64):
        group = kernel_cgroup.KernelCgroup.make(f"test-{os.getpid()}-{len(made)}",
                                                memory_mb * 2**20, processes)
        assert group is not None
        made.append(group)
        command = group.wrap(sandbox.bwrap_command([sys.executable, "-c", code], jail.work,
                                                   jail.ipc, jail.ipc / "status"))
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        return result, group

    yield run
    for group in made:
        group.remove()
        assert not group.memory.exists() and not group.pids.exists()


def test_memory_of_the_whole_process_tree_is_one_budget(tree_jail, monkeypatch):
    """Three forked children of 200 MiB each stay under the per-process limit (512 MiB of
    address space) but not under the tree's 384 MiB: the tree's out-of-memory killer stops
    one of them, and the report names the tree's limit."""
    monkeypatch.setenv("SNNLEARN_MEMORY_LIMIT_MB", "512")
    code = ("import os, time\nkids = []\nfor _ in range(3):\n    pid = os.fork()\n"
            "    if pid == 0:\n        block = bytearray(200 * 2**20)\n        time.sleep(3)\n"
            "        os._exit(0)\n    kids.append(pid)\n"
            "print('statuses', [os.waitpid(k, 0)[1] for k in kids], flush=True)\n")
    result, group = tree_jail(code, memory_mb=384)
    assert group.limit_hit() and "memory limit of the kernel's process tree" in group.limit_hit()
    assert "statuses" not in result.stdout or "9" in result.stdout, result.stdout


def test_shared_memory_counts_in_the_tree_budget(tree_jail, monkeypatch):
    """/dev/shm (here allowed 1 GiB by its own cap) is charged to the tree's 256 MiB."""
    monkeypatch.setenv("SNNLEARN_SHM_LIMIT_MB", "1024")
    code = ("n = 0\ntry:\n    for k in range(16):\n"
            "        open(f'/dev/shm/hog{k}', 'wb').write(b'x' * 2**25)\n        n += 1\n"
            "except OSError:\n    pass\nprint('MiB', n * 32, flush=True)\n")
    result, group = tree_jail(code, memory_mb=256)
    written = int(result.stdout.split("MiB", 1)[1]) if "MiB" in result.stdout else 0
    assert written < 256 and group.limit_hit(), (written, result.returncode)


def test_a_kernel_outside_its_cgroup_never_starts(tmp_path):
    """The shell that joins the cgroups exits (125) instead of running the command when it
    cannot join one."""
    command = kernel_cgroup.KernelCgroup.wrap_command([str(tmp_path / "no" / "procs")],
                                                      ["/bin/echo", "ran"])
    result = subprocess.run(command, capture_output=True, text=True)
    assert result.returncode == 125 and "ran" not in result.stdout


def test_a_kernel_cannot_touch_the_cgroups(jail):
    """/sys is read-only inside: a kernel can neither leave its cgroup nor raise its limits
    (a cgroup delegated to an ordinary grading user is that user's to write, outside)."""
    code = ("import os\nfor path in ('/sys/fs/cgroup/pids/cgroup.procs', "
            "'/sys/fs/cgroup/memory/cgroup.procs'):\n    try:\n"
            "        open(path, 'w').write(str(os.getpid()))\n        print('wrote', path)\n"
            "    except OSError as error:\n        print('refused', error.errno)\n")
    result = jail(code)
    assert result.returncode == 0 and "wrote" not in result.stdout, result.stdout + result.stderr
