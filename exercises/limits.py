"""The budget of one submission while it is graded: the one place its limits are defined.

Each limit is a traitlet of ``GradingLimits``, set in ``nbgrader_config.py``
(``c.GradingLimits.memory_mb = 2048``); where that file leaves one unset, its environment
variable (for one run: ``make autograde SNNLEARN_MEMORY_LIMIT_MB=2048``), else the default
below. ``python exercises/limits.py`` prints the table (name, default, variable, meaning).

>>> print(defaults_table())  # doctest: +NORMALIZE_WHITESPACE
trait              default  environment variable       what it bounds
memory_mb             4096  SNNLEARN_MEMORY_LIMIT_MB   memory per process; in a cgroup, of the tree
cpu_seconds            900  SNNLEARN_CPU_LIMIT_S       CPU time of the kernel
processes              128  SNNLEARN_MAX_PROCESSES     processes and threads of the kernel's tree
file_mb                 64  SNNLEARN_FILE_LIMIT_MB     the size of one file it writes
output_kb             1024  SNNLEARN_OUTPUT_LIMIT_KB   the output one cell shows
message_mb              64  SNNLEARN_MESSAGE_LIMIT_MB  one ZeroMQ message from the kernel
queued_messages         16  SNNLEARN_QUEUED_MESSAGES   messages the grader queues per channel
shm_mb                  64  SNNLEARN_SHM_LIMIT_MB      the kernel's private /dev/shm
disk_mb                256  SNNLEARN_DISK_LIMIT_MB     the kernel's working folder
notebook_seconds       900  SNNLEARN_NOTEBOOK_TIMEOUT  wall clock of the whole notebook

The grader holds at most ``queued_messages`` x ``message_mb`` of one channel's messages at
once (a larger message drops the connection, which ZeroMQ makes again: the message is lost,
never read whole). ``message_mb`` must leave room for the largest result a test cell may
send (verdict.py, ``RESULT_BYTES`` as base64 JSON).

>>> lim = Limits.from_config()
>>> lim.memory_bytes == GradingLimits().memory_mb * 2**20
True
>>> Limits.from_config(overrides={"processes": 8}).processes
8
"""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path
from typing import Dict, Optional

from traitlets import Integer, TraitError, default, validate
from traitlets.config import Config, Configurable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import verdict  # noqa: E402  (the largest result a test cell may send)

# trait -> (environment variable, default, unit of Limits' field, field, what it bounds)
TRAITS: Dict[str, tuple] = {
    "memory_mb": ("SNNLEARN_MEMORY_LIMIT_MB", 4096, 2**20, "memory_bytes",
                  "memory per process; in a cgroup, of the tree"),
    "cpu_seconds": ("SNNLEARN_CPU_LIMIT_S", 900, 1, "cpu_seconds", "CPU time of the kernel"),
    "processes": ("SNNLEARN_MAX_PROCESSES", 128, 1, "processes",
                  "processes and threads of the kernel's tree"),
    "file_mb": ("SNNLEARN_FILE_LIMIT_MB", 64, 2**20, "file_bytes",
                "the size of one file it writes"),
    "output_kb": ("SNNLEARN_OUTPUT_LIMIT_KB", 1024, 2**10, "output_bytes",
                  "the output one cell shows"),
    "message_mb": ("SNNLEARN_MESSAGE_LIMIT_MB", 64, 2**20, "message_bytes",
                   "one ZeroMQ message from the kernel"),
    "queued_messages": ("SNNLEARN_QUEUED_MESSAGES", 16, 1, "queued_messages",
                        "messages the grader queues per channel"),
    "shm_mb": ("SNNLEARN_SHM_LIMIT_MB", 64, 2**20, "shm_bytes", "the kernel's private /dev/shm"),
    "disk_mb": ("SNNLEARN_DISK_LIMIT_MB", 256, 2**20, "disk_bytes",
                "the kernel's working folder"),
    "notebook_seconds": ("SNNLEARN_NOTEBOOK_TIMEOUT", 900, 1, "notebook_seconds",
                         "wall clock of the whole notebook"),
}
# A result message: RESULT_BYTES of arrays as base64 (4/3), the emit's 1 MiB of slack, and
# the Jupyter message's own header.
SMALLEST_MESSAGE_MB = -(-(verdict.RESULT_BYTES * 4 // 3 + 2 * 2**20) // 2**20)


def _env_int(name: str, fallback: int) -> int:
    value = os.environ.get(name, "")
    if not value:
        return fallback
    try:
        return int(float(value))
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a number") from None


def _limit_trait(trait: str) -> Integer:
    variable, fallback, _, _, what = TRAITS[trait]
    return Integer(fallback, min=1, help=f"{what} (environment: {variable}; default "
                   f"{fallback})").tag(config=True)


class GradingLimits(Configurable):
    """Limits of one submission's kernel (see the module's table)."""

    memory_mb = _limit_trait("memory_mb")
    cpu_seconds = _limit_trait("cpu_seconds")
    processes = _limit_trait("processes")
    file_mb = _limit_trait("file_mb")
    output_kb = _limit_trait("output_kb")
    message_mb = _limit_trait("message_mb")
    queued_messages = _limit_trait("queued_messages")
    shm_mb = _limit_trait("shm_mb")
    disk_mb = _limit_trait("disk_mb")
    notebook_seconds = _limit_trait("notebook_seconds")

    # Unset in nbgrader_config.py: the environment variable, else the default.
    @default("memory_mb")
    def _memory_mb(self):
        return self._from_env("memory_mb")

    @default("cpu_seconds")
    def _cpu_seconds(self):
        return self._from_env("cpu_seconds")

    @default("processes")
    def _processes(self):
        return self._from_env("processes")

    @default("file_mb")
    def _file_mb(self):
        return self._from_env("file_mb")

    @default("output_kb")
    def _output_kb(self):
        return self._from_env("output_kb")

    @default("message_mb")
    def _message_mb(self):
        return self._from_env("message_mb")

    @default("queued_messages")
    def _queued_messages(self):
        return self._from_env("queued_messages")

    @default("shm_mb")
    def _shm_mb(self):
        return self._from_env("shm_mb")

    @default("disk_mb")
    def _disk_mb(self):
        return self._from_env("disk_mb")

    @default("notebook_seconds")
    def _notebook_seconds(self):
        return self._from_env("notebook_seconds")

    @staticmethod
    def _from_env(trait: str) -> int:
        variable, fallback = TRAITS[trait][:2]
        value = _env_int(variable, fallback)
        if value < 1:
            raise ValueError(f"{variable}={value}: a limit is 1 or more")
        return value

    @validate("message_mb")
    def _message_fits_a_result(self, proposal):
        if proposal["value"] < SMALLEST_MESSAGE_MB:
            raise TraitError(f"GradingLimits.message_mb={proposal['value']}: a test cell's "
                             f"result may take {SMALLEST_MESSAGE_MB} MiB (verdict.RESULT_BYTES)")
        return proposal["value"]


@dataclasses.dataclass(frozen=True)
class Limits:
    """One kernel's limits in bytes and seconds (what the sandbox and the report read)."""

    memory_bytes: int
    cpu_seconds: int
    processes: int
    file_bytes: int
    output_bytes: int
    message_bytes: int
    queued_messages: int
    shm_bytes: int
    disk_bytes: int
    notebook_seconds: int

    @classmethod
    def from_config(cls, config: Optional[Config] = None,
                    overrides: Optional[Dict[str, int]] = None) -> "Limits":
        """The limits ``config`` (nbgrader's, or None: the environment) sets; ``overrides``
        replace fields by name (tests)."""
        try:
            traits = GradingLimits(config=config) if config is not None else GradingLimits()
        except TraitError as error:
            raise ValueError(str(error)) from None
        values = {field: getattr(traits, trait) * unit
                  for trait, (_, _, unit, field, _) in TRAITS.items()}
        values.update(overrides or {})
        return cls(**values)


def defaults_table() -> str:
    """The limits' defaults: trait, default, environment variable, what it bounds."""
    lines = [f"{'trait':<18} {'default':>7}  {'environment variable':<26} what it bounds"]
    for trait, (variable, fallback, _, _, what) in TRAITS.items():
        lines.append(f"{trait:<18} {fallback:>7}  {variable:<26} {what}")
    return "\n".join(lines)


def table(config: Optional[Config] = None) -> str:
    """The limits in force here (``config``, the environment, the defaults)."""
    traits = GradingLimits(config=config) if config is not None else GradingLimits()
    return "\n".join(f"{trait:<18} {getattr(traits, trait):>7}" for trait in TRAITS)


if __name__ == "__main__":
    print(defaults_table())
    print("\nin force here:")
    print(table())
