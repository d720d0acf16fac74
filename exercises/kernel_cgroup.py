"""One budget per kernel for its whole process tree: a cgroup (v1 memory and pids
controllers) made directly, without systemd, for each sandboxed kernel (sandbox.py uses it;
the per-process limits stay too). As root the kernels' cgroups go under ``snnlearn/``; an
ordinary user needs a parent delegated to it once by root::

    sudo .venv/bin/python exercises/kernel_cgroup.py delegate <grading user>

which makes ``snnlearn-<user>/`` in the memory and pids hierarchies, owned by that user
(the user makes and removes its kernels' cgroups in it; the limits of a kernel's cgroup
stay out of the kernel's reach, since the sandbox mounts /sys read-only).

- ``memory.limit_in_bytes`` = SNNLEARN_MEMORY_LIMIT_MB: the memory of every process of the
  kernel's tree together, forked children included, and the pages of its tmpfs mounts
  (the private ``/dev/shm`` and the working folder are charged to the cgroup that wrote
  them). Past it the kernel's out-of-memory killer kills a process of the tree, never one
  of another submission.
- ``pids.max`` = SNNLEARN_MAX_PROCESSES: the tree's processes and threads, counted for this
  kernel only (RLIMIT_NPROC counts per user).

The kernel's command is started through a shell that moves itself into both cgroups and
then ``exec``s the sandbox, so everything it starts is inside before any learner code runs.
After the kernel is gone the cgroups are removed. Where cgroup v1 is not writable (an
ordinary user without a delegated parent, cgroup v2 only, a container)
``KernelCgroup.make`` returns None and the per-process limits are what holds
(book/instructor_guide.md, threat model).

>>> KernelCgroup.wrap_command(["/a", "/b"], ["python", "-c", "1"])[:2]
['/bin/sh', '-c']
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import List, Optional

CGROUP_ROOT = Path(os.environ.get("SNNLEARN_CGROUP_ROOT", "/sys/fs/cgroup"))
PARENT = "snnlearn"
CONTROLLERS = ("memory", "pids")


def parent_name(user: Optional[str] = None) -> str:
    """The folder the kernels' cgroups go in: ``snnlearn`` for root, else the one delegated
    to the user (``snnlearn-<user>``)."""
    if user is None:
        if os.geteuid() == 0:
            return PARENT
        import pwd

        user = pwd.getpwuid(os.geteuid()).pw_name
    return f"{PARENT}-{user}"


def available() -> bool:
    """Whether per-kernel cgroups can be made here: cgroup v1 memory and pids, and root or
    a parent delegated to this user."""
    if os.environ.get("SNNLEARN_CGROUPS", "auto") == "off":
        return False
    if os.geteuid() == 0:
        return all(os.access(CGROUP_ROOT / kind / "cgroup.procs", os.W_OK)
                   for kind in CONTROLLERS)
    return all((CGROUP_ROOT / kind / parent_name()).is_dir()
               and os.access(CGROUP_ROOT / kind / parent_name(), os.W_OK)
               for kind in CONTROLLERS)


def delegate(user: str) -> List[Path]:
    """(root) Make ``snnlearn-<user>`` in the memory and pids hierarchies and give it to
    ``user``: its folder and the files that move processes into it. Returns the folders."""
    import pwd

    account = pwd.getpwnam(user)  # KeyError: no such user
    if os.geteuid() != 0:
        raise PermissionError("delegating a cgroup needs root")
    made = []
    for kind in CONTROLLERS:
        if not (CGROUP_ROOT / kind / "cgroup.procs").exists():
            raise FileNotFoundError(f"no cgroup v1 {kind} hierarchy at {CGROUP_ROOT / kind}")
        folder = CGROUP_ROOT / kind / parent_name(user)
        folder.mkdir(exist_ok=True)
        for path in (folder, folder / "cgroup.procs", folder / "tasks"):
            os.chown(path, account.pw_uid, account.pw_gid)
        made.append(folder)
    return made


def undelegate(user: str) -> None:
    """(root) Remove what ``delegate`` made (its kernels' cgroups must be gone)."""
    for kind in CONTROLLERS:
        folder = CGROUP_ROOT / kind / parent_name(user)
        if folder.is_dir():
            folder.rmdir()


class KernelCgroup:
    """The memory and pids cgroups of one kernel."""

    def __init__(self, name: str, memory_bytes: int, processes: int):
        self.memory = CGROUP_ROOT / "memory" / parent_name() / name
        self.pids = CGROUP_ROOT / "pids" / parent_name() / name
        for folder in (self.memory, self.pids):
            folder.mkdir(parents=os.geteuid() == 0, exist_ok=True)
        (self.memory / "memory.limit_in_bytes").write_text(str(memory_bytes))
        try:  # memory + swap, where the kernel accounts swap (swapaccount=1)
            (self.memory / "memory.memsw.limit_in_bytes").write_text(str(memory_bytes))
        except OSError:
            pass
        (self.pids / "pids.max").write_text(str(processes))
        self.memory_bytes, self.processes = memory_bytes, processes

    @classmethod
    def make(cls, name: str, memory_bytes: int, processes: int) -> Optional["KernelCgroup"]:
        if not available():
            return None
        try:
            return cls(name, memory_bytes, processes)
        except OSError:
            return None

    @staticmethod
    def wrap_command(procs_files: List[str], command: List[str]) -> List[str]:
        """``command`` started by a shell that first joins the cgroups (writes its pid into
        each ``cgroup.procs``) and fails rather than run outside them."""
        joins = "; ".join(f'echo $$ > "${k + 1}" || exit 125' for k in range(len(procs_files)))
        script = f'{joins}; shift {len(procs_files)}; exec "$@"'
        return ["/bin/sh", "-c", script, "sh", *procs_files, *command]

    def wrap(self, command: List[str]) -> List[str]:
        return self.wrap_command([str(self.memory / "cgroup.procs"),
                                  str(self.pids / "cgroup.procs")], command)

    def _read(self, folder: Path, name: str) -> str:
        try:
            return (folder / name).read_text()
        except OSError:
            return ""

    def limit_hit(self) -> Optional[str]:
        """The budget the tree ran into, if any (for the grading report)."""
        oom = dict(line.split() for line in self._read(self.memory, "memory.oom_control")
                   .splitlines() if len(line.split()) == 2)
        if int(oom.get("oom_kill", "0")) > 0:
            return (f"memory limit of the kernel's process tree hit "
                    f"({self.memory_bytes // 2**20} MiB, children and /dev/shm included): "
                    "a process was killed")
        events = dict(line.split() for line in self._read(self.pids, "pids.events")
                      .splitlines() if len(line.split()) == 2)
        if int(events.get("max", "0")) > 0:
            return f"process limit of the kernel's process tree hit ({self.processes})"
        return None

    def remove(self) -> None:
        """Kill what is left of the tree and remove both cgroups."""
        import signal

        for folder in (self.memory, self.pids):
            for _ in range(50):
                pids = [int(p) for p in self._read(folder, "cgroup.procs").split()]
                for pid in pids:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
                try:
                    folder.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)


def main(argv: Optional[List[str]] = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="per-kernel cgroups for grading")
    commands = parser.add_subparsers(dest="command", required=True)
    for name, text in (("delegate", "give USER a parent cgroup for its kernels (root)"),
                       ("undelegate", "remove it again (root)")):
        commands.add_parser(name, help=text).add_argument("user")
    commands.add_parser("status", help="say whether this user can make kernels' cgroups")
    args = parser.parse_args(argv)
    if args.command == "status":
        where = ", ".join(str(CGROUP_ROOT / k / parent_name()) for k in CONTROLLERS)
        print(f"per-kernel cgroups: {'yes' if available() else 'no'} ({where})")
        return 0
    try:
        if args.command == "delegate":
            for folder in delegate(args.user):
                print(f"delegated {folder} to {args.user}")
        else:
            undelegate(args.user)
            print(f"removed the cgroups delegated to {args.user}")
    except (KeyError, OSError) as error:
        parser.error(f"{args.command} {args.user}: {error}")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
