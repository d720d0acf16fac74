"""What runs while nbgrader executes a submission: the sandboxed kernel, its limits, and
nbgrader's Execute for it (loaded by nbgrader_config.py; the orchestration is in grading.py).

The kernel (``SandboxKernelManager``)
    starts inside a bubblewrap sandbox: the root file system read-only, a private /tmp, the
    instructor's home, the repository and the course root hidden behind empty tmpfs mounts
    (the Python environment and the snnlearn package are bound back read-only), no network
    (``--unshare-net``), its own process tree (``--unshare-pid``), killed with its parent
    (``--die-with-parent``), all capabilities dropped (as root: a user id of its own per
    kernel; as an ordinary user: a user namespace of its own, where Linux >= 5.14 counts
    RLIMIT_NPROC: either way one kernel's process limit is not shared, ``nproc_scope``
    measures it). Its working folder is a private, size-capped
    tmpfs with the notebook's files bound in read-only (a copy: never the folder nbgrader
    writes the graded notebook into); /dev/shm is private and capped too. It talks to
    nbclient over Jupyter's ``ipc`` transport: Unix sockets in a private folder bound into
    the sandbox; its raw stdout/stderr go to /dev/null. ``prlimit`` caps its address space,
    CPU time, number of processes and file size; where cgroups can be made (root, or a
    parent delegated to the user) its whole tree has one memory and process budget
    (kernel_cgroup.py). Each socket the grader reads it through refuses a message over the
    size cap (``cap_messages``); ``SnnlearnExecute`` caps the output a cell may send and the
    notebook's wall clock. The limits are traitlets (limits.py, set in nbgrader_config.py).

The verdict (``SnnlearnExecute.judge``, verdict.py)
    Test cells split into inputs / ``# [call]`` / ``# [check]`` parts: the kernel runs the
    inputs and calls and sends the values the checks read as plain data; the checks run
    here, in nbgrader's process (no learner code), and their verdict becomes the cell's
    output, from which nbgrader's SaveAutoGrades takes the points.

Unsplit test cells (the older tamper check, ``Integrity``)
    run whole in the kernel; a prelude records the functions tests rely on and every such
    test cell proves with an HMAC that it ran to its end. Learner code shares the process,
    so a learner who studies this file can forge that proof: split the cells to close it
    (book/instructor_guide.md, threat model).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from queue import Empty
from typing import Dict, List, Optional

from jupyter_client.manager import AsyncKernelManager
from nbformat import NotebookNode
from nbclient.util import run_sync
from nbgrader.preprocessors.execute import Execute, UnresponsiveKernelError

sys.path.insert(0, str(Path(__file__).resolve().parent))
import kernel_cgroup  # noqa: E402  (one memory/process budget per kernel's process tree)
from limits import Limits  # noqa: E402  (the budget's traitlets and their typed values)
import safe_files  # noqa: E402  (copies that never follow the learner's links)
import verdict  # noqa: E402  (the checks, run here on the kernel's plain data)

NOBODY = 65534
# As root each kernel runs as a user of its own, KERNEL_UID_BASE + the grading process's
# pid (one kernel at a time per process): RLIMIT_NPROC counts per user, so a fork bomb
# exhausts its own budget, never that of the kernels graded beside it.
KERNEL_UID_BASE = 1_500_000_000


def kernel_uid() -> int:
    return KERNEL_UID_BASE + os.getpid() if os.geteuid() == 0 else os.geteuid()


def limits(config=None) -> Limits:
    """The resource limits of one kernel: ``GradingLimits`` in nbgrader_config.py, else the
    environment variables, else the defaults (limits.py, the one place they are defined)."""
    return Limits.from_config(config)


def record_run(where: str, **fields) -> None:
    """Append one JSON line (the notebook's folder and ``fields``) to SNNLEARN_RUNS_FILE:
    how the parent learns each submission's grading time and the limits its kernel hit."""
    path = os.environ.get("SNNLEARN_RUNS_FILE")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"where": where, **fields}) + "\n")


# --- the sandbox ----------------------------------------------------------------------------

def kernel_workdir() -> Path:
    """A new, empty folder for one kernel: under SNNLEARN_SCRATCH_ROOT (hidden from every
    kernel, its own folder bound back) or the system's temporary folder."""
    root = os.environ.get("SNNLEARN_SCRATCH_ROOT") or tempfile.gettempdir()
    base = Path(root) / "kernels"
    base.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix="k-", dir=base))


class SandboxUnavailable(RuntimeError):
    pass


INSTALL_HINT = ("install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; "
                "Fedora: sudo dnf install bubblewrap), or, for a trusted class only, "
                "grade without a sandbox: make autograde SANDBOX=none")


def sandbox_mode() -> str:
    mode = os.environ.get("SNNLEARN_SANDBOX", "bwrap")
    if mode not in ("bwrap", "none"):
        raise ValueError(f"SNNLEARN_SANDBOX={mode!r}: expected 'bwrap' or 'none'")
    return mode


def _under(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def hidden_paths() -> List[Path]:
    """Folders the kernel must not see: private /tmp, the home folder, the course root and
    its repository, the scratch root, and SNNLEARN_SANDBOX_HIDE (colon-separated)."""
    paths = [Path(tempfile.gettempdir()), Path("/tmp"), Path.home()]
    for name in ("SNNLEARN_COURSE_ROOT", "SNNLEARN_SCRATCH_ROOT"):
        if os.environ.get(name):
            course = Path(os.environ[name]).resolve()
            paths.append(course)
            if name == "SNNLEARN_COURSE_ROOT" and (course.parent / ".git").exists():
                paths.append(course.parent)  # the repository: exercises/source lives there
    paths += [Path(p) for p in os.environ.get("SNNLEARN_SANDBOX_HIDE", "").split(":") if p]
    # The repository holding the Python environment or snnlearn (an editable install) holds
    # exercises/source too: hide it, the exposed paths come back read-only.
    for exposed in exposed_paths():
        for parent in exposed.parents:
            if (parent / ".git").exists() and parent != Path("/"):
                paths.append(parent)
                break
    for socket_dir in ("/run/postgresql", "/var/run/postgresql", "/run/mysqld"):
        if Path(socket_dir).is_dir():
            paths.append(Path(socket_dir))
    unique: List[Path] = []
    for path in paths:
        path = path.resolve()
        # A folder that does not exist has nothing to hide (a grading account's home may
        # not exist; bwrap could not make its mount point on the read-only root).
        if path != Path("/") and path not in unique and path.is_dir():
            unique.append(path)
    return sorted(unique, key=lambda p: len(p.parts))


def exposed_paths() -> List[Path]:
    """What the kernel needs back (read-only) from inside hidden folders: this Python
    environment and the snnlearn package (an editable install lives in the repository)."""
    import importlib.util

    paths = {Path(sys.prefix).resolve(), Path(sys.base_prefix).resolve(),
             Path(sys.executable).resolve().parent}
    spec = importlib.util.find_spec("snnlearn")
    if spec is not None and spec.submodule_search_locations:
        paths.update(Path(p).resolve() for p in spec.submodule_search_locations)
    return sorted(paths, key=lambda p: len(p.parts))


def threads_of(uid: int) -> int:
    """How many threads (what RLIMIT_NPROC counts) the user ``uid`` runs now."""
    count = 0
    for status in Path("/proc").glob("[0-9]*/status"):
        try:
            text = status.read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            count += int(fields.get("Threads", "1").strip() or 1)
    return count


def sandbox_interpreter() -> str:
    """This Python's path as the sandbox sees it: the environment's folder resolved (a
    ``.venv`` that is a link to an environment elsewhere lies in a hidden folder; what comes
    back read-only is the resolved environment, :func:`exposed_paths`), the interpreter's own
    name inside it kept (a virtual environment's python is known by its path)."""
    prefix, executable = Path(sys.prefix), Path(sys.executable)
    try:
        return str(prefix.resolve() / executable.relative_to(prefix))
    except ValueError:
        return str(executable)


NPROC_SCOPE_VARIABLE = "SNNLEARN_NPROC_SCOPE"


def nproc_scope() -> str:
    """What RLIMIT_NPROC counts for a kernel that an ordinary user starts in a user namespace
    of its own: ``"namespace"`` (Linux >= 5.14 counts a user's processes per user namespace,
    so each kernel's limit is its own) or ``"user"`` (every process of the user, all kernels
    together). Measured, not assumed: twelve processes of this user are held outside while a
    sandbox limited to 8 processes forks 3; it can only where the count is per namespace.
    Kept in SNNLEARN_NPROC_SCOPE for the workers (check_sandbox measures it once)."""
    known = os.environ.get(NPROC_SCOPE_VARIABLE)
    if known in ("namespace", "user"):
        return known
    bwrap = shutil.which("bwrap")
    if os.geteuid() == 0 or bwrap is None:
        return "user"
    held = [subprocess.Popen(["sleep", "60"]) for _ in range(12)]
    try:
        probe = ("import os\nn = 0\nfor _ in range(3):\n    try:\n        pid = os.fork()\n"
                 "    except OSError:\n        break\n    if pid == 0:\n        os._exit(0)\n"
                 "    n += 1\n    os.waitpid(pid, 0)\nprint('forked', n)\n")
        command = [bwrap, *user_namespace_args(), "--ro-bind", "/", "/", "--dev", "/dev",
                   "--proc", "/proc", "--unshare-pid", "--die-with-parent", "prlimit",
                   "--nproc=8", "--", sandbox_interpreter(), "-c", probe]
        try:
            out = subprocess.run(command, capture_output=True, text=True, timeout=60).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
    finally:
        for process in held:
            process.kill()
            process.wait()
    scope = "namespace" if "forked 3" in out else "user"
    os.environ[NPROC_SCOPE_VARIABLE] = scope
    return scope


def user_namespace_args() -> List[str]:
    """An ordinary user's kernel gets a user namespace of its own (its user id mapped to
    itself): RLIMIT_NPROC then counts that kernel's processes only (nproc_scope). bwrap
    makes one anyway when it is not setuid; asking for it keeps that so where it is."""
    if os.geteuid() == 0:
        return []  # root: each kernel runs as a user id of its own (setpriv) instead
    return ["--unshare-user", "--uid", str(os.geteuid()), "--gid", str(os.getegid())]


def bwrap_command(kernel_cmd: List[str], workdir: Path, ipc_dir: Path,
                  status_file: Path, uid: Optional[int] = None,
                  lim: Optional[Limits] = None) -> List[str]:
    """The kernel command wrapped in bubblewrap, prlimit and (as root) setpriv."""
    bwrap = shutil.which("bwrap")
    if bwrap is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed: " + INSTALL_HINT)
    lim = lim or limits()
    hidden = hidden_paths()
    # /dev/shm: a private, writable one (multiprocessing's semaphores: joblib, DataLoader).
    # Its size is capped (shared memory is memory the address-space limit does not see).
    args = [bwrap, *user_namespace_args(), "--ro-bind", "/", "/", "--dev", "/dev",
            "--perms", "1777", "--size", str(lim.shm_bytes), "--tmpfs", "/dev/shm",
            "--proc", "/proc", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--die-with-parent", "--new-session"]
    for path in hidden:
        args += ["--tmpfs", str(path)]
    made: set = set()

    def open_way(path: Path) -> None:
        # bwrap makes the folders leading to a mount point private (0700): nobody could pass.
        for parent in reversed(path.parents):
            if any(_under(parent, h) and parent != h for h in hidden) and parent not in made:
                made.add(parent)
                args.extend(["--perms", "0755", "--dir", str(parent)])

    for path in exposed_paths():
        if any(_under(path, h) for h in hidden) and path.exists():
            open_way(path)
            args += ["--ro-bind", str(path), str(path)]
    open_way(ipc_dir)
    args += ["--bind", str(ipc_dir), str(ipc_dir)]
    # The working folder: a private tmpfs of at most disk_bytes (what the kernel writes
    # vanishes with it), the notebook's files bound into it read-only.
    open_way(workdir)
    args += ["--perms", "1777", "--size", str(lim.disk_bytes), "--tmpfs", str(workdir)]
    for entry in sorted(os.listdir(workdir)):
        mode = os.lstat(workdir / entry).st_mode
        if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
            args += ["--ro-bind", str(workdir / entry), str(workdir / entry)]
    args += ["--chdir", str(workdir), "--clearenv",
             "--setenv", "PATH", f"{Path(sandbox_interpreter()).parent}:/usr/bin:/bin",
             "--setenv", "HOME", str(workdir), "--setenv", "TMPDIR", str(workdir),
             "--setenv", "LANG", "C.UTF-8", "--setenv", "MPLBACKEND", "Agg",
             "--setenv", "OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "1")]
    # RLIMIT_NPROC: as root the kernel runs as a user id of its own (who runs nothing else);
    # an ordinary user's kernel counts in its own user namespace where the kernel does so
    # (nproc_scope), else every thread of the user counts: what it already runs comes on top.
    processes = lim.processes
    if os.geteuid() != 0 and nproc_scope() == "user":
        processes += threads_of(os.geteuid())
    cpu = f"{lim.cpu_seconds}:{lim.cpu_seconds + 5}"  # SIGXCPU, then SIGKILL
    limit = ["prlimit", f"--as={lim.memory_bytes}", f"--cpu={cpu}",
             f"--nproc={processes}", f"--fsize={lim.file_bytes}", "--core=0", "--"]
    if os.geteuid() == 0:
        # root ignores RLIMIT_NPROC and could undo the mounts: run the kernel as nobody.
        uid = NOBODY if uid is None else uid
        args += ["--", "setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                 "--inh-caps=-all", "--bounding-set=-all"]
    else:
        args += ["--cap-drop", "ALL", "--"]
    # A shell inside records the kernel's exit status (a signal says which limit hit).
    script = '"$@"; echo $? > "$STATUS_FILE"'
    kernel_cmd = [sandbox_interpreter() if part == sys.executable else part
                  for part in kernel_cmd]
    return args + ["env", f"STATUS_FILE={status_file}", "/bin/sh", "-c", script, "sh",
                   *limit, *kernel_cmd]


def describe_exit(status: int, lim: Limits) -> Optional[str]:
    """The limit a kernel's exit status says it hit (128 + signal from the shell)."""
    import signal

    reasons = {
        signal.SIGXCPU: f"CPU time limit hit ({lim.cpu_seconds} s): kernel killed",
        signal.SIGXFSZ: f"file size limit hit ({lim.file_bytes // 2**20} MiB)",
        signal.SIGKILL: "kernel killed (SIGKILL: out of memory, or stopped by the grader)",
        signal.SIGSEGV: "kernel crashed (SIGSEGV)",
    }
    if status > 128:
        return reasons.get(status - 128, f"kernel killed by signal {status - 128}")
    return None


def check_sandbox() -> None:
    """Raise SandboxUnavailable (saying how to install one) if no sandbox can be made."""
    if sandbox_mode() == "none":
        return
    if shutil.which("bwrap") is None:
        raise SandboxUnavailable("bubblewrap (bwrap) is not installed: " + INSTALL_HINT)
    with tempfile.TemporaryDirectory(prefix="snnlearn-check-") as tmp:
        work = Path(tmp)
        if os.geteuid() == 0:
            os.chown(work, NOBODY, NOBODY)
        command = bwrap_command([sys.executable, "-c", "print('sandbox ok')"], work, work,
                                work / "status")
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        nproc_scope()  # measured once here, inherited by the grading workers
        if result.returncode != 0 or "sandbox ok" not in result.stdout:
            raise SandboxUnavailable(
                f"bubblewrap is installed but cannot make a sandbox here "
                f"(rc={result.returncode}: {result.stderr.strip()[:300]}); enable unprivileged "
                f"user namespaces (sysctl kernel.unprivileged_userns_clone=1) or "
                + INSTALL_HINT)


def cap_messages(context, lim: Limits) -> None:
    """Every socket ``context`` makes from now on refuses a message larger than
    ``lim.message_bytes`` (ZeroMQ reads the size first and drops the connection instead of
    the message: it is never held whole) and queues at most ``lim.queued_messages``."""
    import zmq

    context.setsockopt(zmq.MAXMSGSIZE, lim.message_bytes)
    context.setsockopt(zmq.RCVHWM, lim.queued_messages)


class SandboxKernelManager(AsyncKernelManager):
    """A kernel started in the sandbox, reached over ipc sockets in a private folder."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.limits = limits(self.config)
        cap_messages(self.context, self.limits)  # the control socket the manager opens
        self.ipc_dir = Path(tempfile.mkdtemp(prefix="snnlearn-ipc-"))
        self.uid = kernel_uid()
        if os.geteuid() == 0:
            os.chown(self.ipc_dir, self.uid, self.uid)
        self.transport = "ipc"
        self.ip = str(self.ipc_dir / "kernel")
        self.connection_file = str(self.ipc_dir / "connection.json")
        self.status_file = self.ipc_dir / "exit_status"
        self.cgroup: Optional[kernel_cgroup.KernelCgroup] = None

    def client(self, **kwargs):
        """A client whose sockets (shell, iopub, stdin, control) cap each message."""
        kc = super().client(**kwargs)
        cap_messages(kc.context, self.limits)
        return kc

    def format_kernel_cmd(self, extra_arguments=None):
        cmd = super().format_kernel_cmd(extra_arguments)
        workdir = Path(self._launch_args.get("cwd") or os.getcwd()).resolve()
        if os.geteuid() == 0:
            os.chown(workdir, self.uid, self.uid)
            os.chmod(self.connection_file, 0o644)
        self._launch_args.pop("env", None)  # the sandbox sets its own, minimal environment
        # What the kernel writes to its raw stdout/stderr never reaches the grader.
        self._launch_args["stdout"] = subprocess.DEVNULL
        self._launch_args["stderr"] = subprocess.DEVNULL
        command = bwrap_command(cmd, workdir, self.ipc_dir, self.status_file, uid=self.uid,
                                lim=self.limits)
        # Where cgroups can be made (root, or a cgroup delegated to this user: cgroup v1):
        # the kernel's whole process tree in a memory and a pids cgroup of its own, so
        # children and /dev/shm count in one budget per submission.
        if self.cgroup is None:
            self.cgroup = kernel_cgroup.KernelCgroup.make(
                self.ipc_dir.name, self.limits.memory_bytes, self.limits.processes)
        return self.cgroup.wrap(command) if self.cgroup is not None else command

    async def interrupt_kernel(self):
        # A signal would reach bwrap, not the kernel: ask the kernel to interrupt itself.
        if self.has_kernel:
            msg = self.session.msg("interrupt_request", content={})
            self._connect_control_socket()
            self.session.send(self._control_socket, msg)

    def exit_reason(self) -> Optional[str]:
        """The limit the kernel's exit status says it hit (a signal), if any."""
        try:
            status = int(self.status_file.read_text().strip())
        except (OSError, ValueError):
            return None
        return describe_exit(status, self.limits)

    async def cleanup_resources(self, restart: bool = False) -> None:
        # A budget of the whole tree (its cgroup) hit: the submission FAILS with the reason.
        budget = self.cgroup.limit_hit() if self.cgroup is not None else None
        reason = self.exit_reason()
        if budget or reason:
            record_run(SnnlearnExecute.current_notebook_folder,
                       **({"budget": budget} if budget else {}),
                       **({"limit": reason} if reason else {}))
        await super().cleanup_resources(restart=restart)
        if not restart:
            if self.cgroup is not None:
                self.cgroup.remove()
                self.cgroup = None
            shutil.rmtree(self.ipc_dir, ignore_errors=True)


# --- tamper-proof test cells ----------------------------------------------------------------

PROOF_TAG = "SNNLEARN-PROOF"
TAMPER_TAG = "SNNLEARN-TAMPER"
PROTECTED_MODULES = ["builtins", "math", "operator", "numpy", "numpy.testing", "torch",
                     "torch.nn.functional", "torch.testing", "snnlearn", "snnlearn.functional",
                     "IPython.core.interactiveshell"]
WATCHED_EVENTS = ["sys.settrace", "sys.setprofile", "sys._current_frames", "gc.get_objects",
                  "gc.get_referrers", "gc.get_referents", "ctypes.cdata", "ctypes.string_at",
                  "ctypes.dlsym/handle", "sys.addaudithook", "cpython.run_interactivehook"]

# Runs first, before any learner code. Leaves one name in the namespace: the checker.
PRELUDE = r'''
def _snnlearn_install(key, name, modules, events, tags):
    import builtins, hashlib, hmac, importlib, sys
    write, flush = sys.stdout.write, sys.stdout.flush
    ip = get_ipython()
    kernel = getattr(ip, "kernel", None)
    watched, saw, started = frozenset(events), [], set()
    containers = []
    for module in modules:
        try:
            containers.append((module, vars(importlib.import_module(module))))
        except Exception:
            pass
    import torch
    classes = [torch.Tensor, torch.nn.Module] + list(type(ip).__mro__)
    classes += list(type(kernel).__mro__) if kernel is not None else []
    classes += [type(sys.stdout)]
    containers += [(f"{c.__module__}.{c.__qualname__}", vars(c)) for c in classes
                   if c is not object]
    # ipykernel sets input/getpass and the excepthook for every request.
    skip = {"_", "__", "___", "_oh", "_dh", "_ih", "In", "Out", "input", "raw_input", "getpass"}
    snapshot = [(label, d, {k: v for k, v in d.items() if k not in skip and callable(v)})
                for label, d in containers]
    instances = [("shell", ip, dict(vars(ip)))]
    if kernel is not None:
        instances.append(("kernel", kernel, dict(vars(kernel))))
    lists = {"ast_transformers": list(ip.ast_transformers),
             "input_transformers_post": list(ip.input_transformers_post),
             "input_transformers_cleanup": list(ip.input_transformer_manager.cleanup_transforms),
             "line_transforms": list(ip.input_transformer_manager.line_transforms),
             "token_transformers": list(ip.input_transformer_manager.token_transformers),
             "pre_run_cell": list(ip.events.callbacks.get("pre_run_cell", [])),
             "pre_execute": list(ip.events.callbacks.get("pre_execute", [])),
             "meta_path": list(sys.meta_path)}
    handlers = dict(kernel.shell_handlers) if kernel is not None else {}
    sys_names = {k: getattr(sys, k) for k in ("displayhook", "stdout", "stderr",
                                              "settrace", "setprofile", "exit", "modules")}

    def current_lists():
        return {"ast_transformers": ip.ast_transformers,
                "input_transformers_post": ip.input_transformers_post,
                "input_transformers_cleanup": ip.input_transformer_manager.cleanup_transforms,
                "line_transforms": ip.input_transformer_manager.line_transforms,
                "token_transformers": ip.input_transformer_manager.token_transformers,
                "pre_run_cell": ip.events.callbacks.get("pre_run_cell", []),
                "pre_execute": ip.events.callbacks.get("pre_execute", []),
                "meta_path": sys.meta_path}

    import sysconfig
    libraries = tuple({sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib")})

    def by_a_library(value):
        # torch wraps some of its own functions when a submodule loads (torch._dynamo wraps
        # torch.manual_seed): a replacement whose code lives in an installed library is
        # not the learner's (learner code lives in the kernel's cell files).
        code = getattr(value, "__code__", None)
        return code is not None and code.co_filename.startswith(libraries)

    def problems():
        found = []
        for label, d, old in snapshot:
            for k, v in old.items():
                new = d.get(k)
                if new is not v and not by_a_library(new):
                    found.append(f"{label}.{k} was replaced")
        for label, obj, old in instances:
            for k, v in vars(obj).items():
                if callable(v) and old.get(k) is not v:
                    found.append(f"{label}.{k} was replaced")
        for k, v in current_lists().items():
            if len(v) != len(lists[k]) or any(a is not b for a, b in zip(v, lists[k])):
                found.append(f"{k} changed")
        if kernel is not None and dict(kernel.shell_handlers) != handlers:
            found.append("kernel.shell_handlers changed")
        for k, v in sys_names.items():
            if getattr(sys, k) is not v:
                found.append(f"sys.{k} was replaced")
        if sys.gettrace() is not None or sys.getprofile() is not None:
            found.append("a trace or profile function is set")
        found += [f"{event} was called" for event in saw]
        return found

    def hook(event, args):
        if event in watched:
            if len(saw) < 20:
                saw.append(event)
            if event == "sys.addaudithook":
                raise RuntimeError("no audit hooks while grading")

    sys.addaudithook(hook)

    def check(index, end):
        found = problems()
        if not end:
            started.add(index)
        elif index not in started:
            found.append("the start of the test cell was skipped")
        if found:
            write(f"\n{tags[1]} {index}: " + "; ".join(found[:5]) + "\n")
        elif end:
            token = hmac.new(key, str(index).encode(), hashlib.sha256).hexdigest()[:32]
            write(f"\n{tags[0]} {index} {token}\n")
        flush()

    builtins_ns = get_ipython().user_ns
    builtins_ns[name] = check

_snnlearn_install({key!r}, {name!r}, {modules!r}, {events!r}, {tags!r})
del _snnlearn_install
'''


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_test_cell(cell) -> bool:
    meta = _meta(cell)
    return cell.get("cell_type") == "code" and meta.get("grade") and not meta.get("solution")


class Integrity:
    """Instruments a notebook's test cells before execution and checks them after."""

    def __init__(self):
        self.key = secrets.token_bytes(32)
        self.name = "_snnlearn_check_" + secrets.token_hex(6)
        self.sources: Dict[int, str] = {}

    def token(self, index: int) -> str:
        return hmac.new(self.key, str(index).encode(), hashlib.sha256).hexdigest()[:32]

    def instrument(self, nb, extra: str = "") -> None:
        for index, cell in enumerate(nb.cells):
            if is_test_cell(cell) and not verdict.is_marked(cell.source):
                self.sources[index] = cell.source
                cell.source = (f"{self.name}({index}, False)\n{cell.source}\n"
                               f"{self.name}({index}, True)")
        prelude = PRELUDE.replace("{key!r}", repr(self.key)).replace("{name!r}", repr(self.name))
        prelude = (prelude.replace("{modules!r}", repr(PROTECTED_MODULES))
                   .replace("{events!r}", repr(WATCHED_EVENTS))
                   .replace("{tags!r}", repr((PROOF_TAG, TAMPER_TAG))))
        cell = NotebookNode(cell_type="code", source=extra + prelude, metadata={}, outputs=[],
                            execution_count=None, id="snnlearn-prelude")
        nb.cells.insert(0, cell)

    def restore(self, nb) -> List[str]:
        """Remove the prelude, restore the test cells, judge them; returns the findings."""
        prelude = nb.cells.pop(0)
        findings = []
        prelude_failed = any(o.get("output_type") == "error" for o in prelude.get("outputs", []))
        if prelude_failed:
            findings.append("the grader's set-up cell failed")
        for index, source in self.sources.items():
            cell = nb.cells[index]
            cell.source = source
            proof, tamper, kept = False, [], []
            for output in cell.get("outputs", []):
                if output.get("output_type") == "stream":
                    lines, rest = output.get("text", "").split("\n"), []
                    for line in lines:
                        if line.startswith(PROOF_TAG + " "):
                            parts = line.split()
                            proof = proof or (len(parts) == 3 and parts[1] == str(index)
                                              and hmac.compare_digest(parts[2], self.token(index)))
                            if not proof:
                                tamper.append("a forged proof line was printed")
                        elif line.startswith(TAMPER_TAG + " "):
                            tamper.append(line.split(":", 1)[-1].strip())
                        else:
                            rest.append(line)
                    output["text"] = "\n".join(rest).strip("\n")
                    if output["text"]:
                        output["text"] += "\n"
                    else:
                        continue
                kept.append(output)
            # A locked test cell compiles: a syntax error means its code was rewritten on
            # the way (an input transformer), and its traceback would show hidden tests.
            broken = [o for o in kept if o.get("output_type") == "error"
                      and o.get("ename") in ("SyntaxError", "IndentationError", "TabError")]
            if broken:
                kept = [o for o in kept if not any(o is b for b in broken)]
                tamper.append("the test cell's code was rewritten (it no longer compiles)")
            cell.outputs = kept
            errored = any(o.get("output_type") == "error" for o in kept)
            if errored and not tamper:
                continue  # an honest failure (or a timeout): nbgrader gives 0 points
            if proof and not tamper and not prelude_failed:
                continue  # ran to its end, nothing tampered with
            grade_id = _meta(cell).get("grade_id", index)
            why = "; ".join(dict.fromkeys(tamper)) or "the test cell did not run to its end"
            if prelude_failed:
                why = "the grader's set-up cell failed"
            findings.append(f"{grade_id}: {why}")
            cell.outputs.append(NotebookNode(
                output_type="error", ename="GradingIntegrityError",
                evalue=f"TAMPERED: {why}",
                traceback=[f"GradingIntegrityError: TAMPERED: {why} (no points for this test)"]))
        return findings


# --- nbgrader's Execute, with the sandbox, the integrity check and the limits -------------

class NotebookBudgetExceeded(RuntimeError):
    """A notebook ran past SNNLEARN_NOTEBOOK_TIMEOUT seconds in all: the submission FAILS."""


class KernelOutputLost(RuntimeError):
    """A cell's output stopped arriving (a message over the size cap drops the connection,
    and what was in flight with it): the submission FAILS."""


class SnnlearnExecute(Execute):
    """nbgrader's Execute in the sandbox, with tamper-proof test cells and an output cap;
    a kernel that ignores the timeout's interrupt fails the submission (nbgrader reports it
    and goes on with the next one) instead of making every later cell wait for its own
    timeout."""

    interrupt_grace = 10
    # The submission folder of the notebook being graded (nbgrader grades one at a time).
    current_notebook_folder = ""

    def __init__(self, *args, **kwargs):
        if sandbox_mode() == "bwrap":
            kwargs["kernel_manager_class"] = SandboxKernelManager
        super().__init__(*args, **kwargs)
        self._output_bytes: Dict[int, int] = {}
        self._truncated: set = set()
        self._budget_seconds = limits(self.config).notebook_seconds
        self._deadline = time.monotonic() + self._budget_seconds

    def preprocess(self, nb, resources=None, km=None):
        tests = verdict.plan(nb.cells)
        originals = {t.index: nb.cells[t.index].source for t in tests}
        seed = secrets.randbelow(2**31)
        for test in tests:  # the kernel runs only the inputs and calls; checks stay here
            nb.cells[test.index].source = verdict.kernel_source(test)
        guard = Integrity()
        guard.instrument(nb, verdict.prelude_source(seed) if tests else "")
        started = time.perf_counter()
        resources = resources if resources is not None else {}
        metadata = resources.setdefault("metadata", {})
        where = str(metadata.get("path", ""))
        # The kernel runs in a private copy of the notebook's folder (regular files only),
        # never in the folder nbgrader writes the graded notebook into: a link the kernel
        # plants there is never followed by anyone, and the copy is removed afterwards.
        workdir = kernel_workdir()
        skipped = safe_files.copy_tree(where, workdir) if where and os.path.isdir(where) else []
        metadata["path"] = str(workdir)
        SnnlearnExecute.current_notebook_folder = where
        self._output_bytes, self._truncated = {}, set()
        self._results: Dict[int, Dict[int, dict]] = {}
        lim = limits(self.config)
        self.output_limit = lim.output_bytes
        self._budget_seconds = lim.notebook_seconds
        self._deadline = time.monotonic() + self._budget_seconds
        try:
            nb, resources = super().preprocess(nb, resources, km=km)
            if time.monotonic() >= self._deadline - 1:  # its last cells were cut short
                raise NotebookBudgetExceeded(self._budget_message())
        finally:
            if nb.cells and nb.cells[0].get("id") == "snnlearn-prelude":
                findings = guard.restore(nb)
                for cell_index in sorted(self._truncated):
                    cell = nb.cells[cell_index - 1] if cell_index >= 1 else None
                    if cell is not None:
                        cell.outputs.append(NotebookNode(
                            output_type="stream", name="stderr",
                            text=f"[output limit hit: more than {self.output_limit // 1024} "
                                 "KiB; the rest was dropped]\n"))
                record_run(where, seconds=round(time.perf_counter() - started, 1),
                           skipped=skipped)
                nb.metadata["snnlearn_grading"] = {
                    "tampered": findings,
                    "output_limit_cells": [_meta(nb.cells[i - 1]).get("grade_id", i - 1)
                                           for i in sorted(self._truncated) if i >= 1]}
            for index, source in originals.items():
                nb.cells[index].source = source
            metadata["path"] = where
            shutil.rmtree(workdir, ignore_errors=True)
            self.judge(nb, tests, seed)
        return nb, resources

    def judge(self, nb, tests, seed: int) -> None:
        """The verdicts, made here (no learner code runs in this process) from the data the
        kernel sent: each marked test cell's outputs become the verdict's (verdict.py)."""
        if not tests:
            return
        grader = verdict.Grader(seed)
        by_index = {t.index: t for t in tests}
        for index, cell in enumerate(nb.cells):
            if verdict.is_setup_cell(cell):
                grader.run_setup(cell.source, _meta(cell).get("grade_id") or f"#{index}")
            elif index in by_index:
                errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
                kernel_error = ((str(errors[-1].get("ename", ""))[:200],
                                 str(errors[-1].get("evalue", ""))[:2000]) if errors else None)
                result = grader.judge(by_index[index], self._results.get(index + 1, {}),
                                      kernel_error)
                cell.outputs = [NotebookNode(output_type="stream", name="stdout",
                                             text=result.stdout)] if result.stdout else []
                if not result.passed:
                    cell.outputs.append(NotebookNode(
                        output_type="error", ename=result.ename, evalue=result.evalue,
                        traceback=[f"{result.ename}: {result.evalue}"]))

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        if msg.get("msg_type") == "display_data":
            sent = verdict.parse_result(content)
            if sent is not None:  # the data a test cell's calls sent: kept aside, not shown
                part, payload = sent
                self._results.setdefault(cell_index, {}).setdefault(part, payload)
                return None
        size = len(json.dumps(content, default=str))
        total = self._output_bytes.get(cell_index, 0) + size
        self._output_bytes[cell_index] = total
        if total > self.output_limit and msg.get("msg_type") in ("stream", "display_data",
                                                                "execute_result",
                                                                "update_display_data"):
            self._truncated.add(cell_index)
            return None
        return super().output(outs, msg, display_id, cell_index)

    def _budget_message(self) -> str:
        return (f"the notebook ran past its wall-clock budget of {self._budget_seconds} s "
                f"(SNNLEARN_NOTEBOOK_TIMEOUT); nothing was graded")

    def _get_timeout(self, cell):
        """The cell's own limit, but never past the notebook's wall-clock budget."""
        timeout = super()._get_timeout(cell)
        left = self._deadline - time.monotonic()
        return max(1, int(min(timeout or left, left)))

    async def async_execute_cell(self, cell, cell_index, execution_count=None,
                                 store_history=True):
        from nbclient.exceptions import CellTimeoutError

        if time.monotonic() >= self._deadline:
            raise NotebookBudgetExceeded(self._budget_message())
        try:
            return await super().async_execute_cell(cell, cell_index, execution_count,
                                                    store_history)
        except CellTimeoutError as error:
            if "Timeout waiting for IOPub output" not in str(error):
                raise
            lim = limits(self.config)
            grade_id = _meta(cell).get("grade_id") or f"#{cell_index - 1}"  # after the prelude
            raise KernelOutputLost(
                f"the output of cell {grade_id} stopped arriving: the kernel sent a message "
                f"over the {lim.message_bytes // 2**20} MiB cap (GradingLimits.message_mb), "
                f"or more than the grader queues ({lim.queued_messages} messages); nothing "
                f"was graded") from None

    # nbclient binds execute_cell to its own async_execute_cell: bind it to this one.
    execute_cell = run_sync(async_execute_cell)

    async def _async_handle_timeout(self, timeout, cell=None):
        reply = await super()._async_handle_timeout(timeout, cell)  # interrupts the kernel
        deadline = time.monotonic() + self.interrupt_grace
        while time.monotonic() < deadline:
            try:
                msg = await self.kc.shell_channel.get_msg(
                    timeout=max(0.1, deadline - time.monotonic()))
            except Empty:
                break
            except Exception:  # the channel is gone: let nbclient find the dead kernel
                return reply
            if msg.get("msg_type") == "execute_reply":
                return reply  # the interrupted cell has stopped: go on with the next one
        grade_id = (cell or {}).get("metadata", {}).get("nbgrader", {}).get("grade_id")
        raise UnresponsiveKernelError(
            f"kernel did not stop within {self.interrupt_grace} s of the interrupt sent after "
            f"a {timeout} s timeout (cell {grade_id or '?'})")
