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

from traitlets import Integer, TraitError, Undefined, validate
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


class LimitInt(Integer):
    """One limit: an integer of at least 1 whose default, where ``nbgrader_config.py``
    leaves it unset, is its environment variable when the ``GradingLimits`` is made, else
    the fixed default of ``TRAITS``."""

    def __init__(self, trait: str):
        self.variable, self.fallback, _, _, what = TRAITS[trait]
        super().__init__(min=1, help=f"{what} (environment: {self.variable}; default "
                         f"{self.fallback})")
        self.default_value = Undefined  # so that traitlets asks make_dynamic_default
        self.tag(config=True)

    def make_dynamic_default(self) -> int:
        value = _env_int(self.variable, self.fallback)
        if value < 1:
            raise ValueError(f"{self.variable}={value}: a limit is 1 or more")
        return value

    def default_value_repr(self) -> str:
        return repr(self.fallback)


class GradingLimits(Configurable):
    """Limits of one submission's kernel (see the module's table)."""

    memory_mb = LimitInt("memory_mb")
    cpu_seconds = LimitInt("cpu_seconds")
    processes = LimitInt("processes")
    file_mb = LimitInt("file_mb")
    output_kb = LimitInt("output_kb")
    message_mb = LimitInt("message_mb")
    queued_messages = LimitInt("queued_messages")
    shm_mb = LimitInt("shm_mb")
    disk_mb = LimitInt("disk_mb")
    notebook_seconds = LimitInt("notebook_seconds")

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
