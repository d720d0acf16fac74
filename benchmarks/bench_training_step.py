#!/usr/bin/env python3
"""What a learner waits for: one training step of chapter 3's digits network.

The network of book/03_training_snns.md: input spikes (T=32, batch 64, 64 pixels) →
``Linear(64, 256)`` → ``LIF`` → ``Linear(256, 10)`` → ``LI`` readout, logits = max over
time of the readout voltages, cross-entropy, Adam (lr 1e-2). One step is forward, backward
and the optimizer step, exactly as the chapter's training loop runs them.

The same network is built three ways, with the same initial weights and the same input:

- ``snnlearn``: ``LIF`` and ``LI`` each one fused C call forward and one backward;
- ``snnlearn, LI as a Python loop``: the readout on the reference (a time loop of PyTorch
  operations, as it was before the LI kernels), to show the readout's share;
- ``norse 1.1.0``: ``norse.torch.LIF`` and ``norse.torch.LI`` (install it without letting
  pip touch torch: ``.venv/bin/pip install --no-deps norse==1.1.0 nir nirtorch``).

The variants are timed interleaved (one step of each in turn, order rotating), so they
share the machine's state; the table shows medians in milliseconds and Norse's time over
each variant's, and the minor page faults per step (fresh memory the kernel had to map:
glibc returns freed memory above a threshold to the system, so the next step's tensors
fault their pages in again). Before timing, the first losses of all variants are checked
to agree (they compute the same network).

Then the same table from a child process whose glibc malloc keeps freed memory for reuse
(``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` = 256 MiB, see mallopt(3)): what
a user gets by setting those two environment variables. Never asserts on time: a
measuring script, not a test.

    python benchmarks/bench_training_step.py [--repeats 101] [--threads N] [--quick]
                                             [--no-malloc-rerun]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, List, Optional, Tuple

import torch
from torch import nn

import snnlearn
from snnlearn.data import load_digits

T, BATCH_SIZE, HIDDEN, LR, F_MAX, INPUT_SCALE = 32, 64, 256, 1e-2, 1000.0, 3.0
KEEP_FREED_MEMORY = {"MALLOC_MMAP_THRESHOLD_": str(256 << 20),
                     "MALLOC_TRIM_THRESHOLD_": str(256 << 20)}


class DigitsSNN(nn.Module):
    """Chapter 3's network, with the spiking layers passed in (snnlearn's or Norse's)."""

    def __init__(self, lif: nn.Module, readout: nn.Module):
        super().__init__()
        self.fc_in = nn.Linear(64, HIDDEN)
        self.lif = lif
        self.fc_out = nn.Linear(HIDDEN, 10)
        self.readout = readout
        with torch.no_grad():
            self.fc_in.weight.mul_(INPUT_SCALE)

    def forward(self, spikes):
        hidden, _ = self.lif(self.fc_in(spikes))
        voltages, _ = self.readout(self.fc_out(hidden))
        return voltages.max(dim=0).values


class ReferenceLI(snnlearn.LI):
    """snnlearn's ``LI`` forced onto the reference: the Python time loop."""

    def forward(self, input_tensor, state=None):
        with snnlearn.use_backend("reference"):
            return super().forward(input_tensor, state)


def training_step(net: nn.Module, optimizer, spikes, labels) -> Callable[[], float]:
    def step() -> float:
        loss = nn.functional.cross_entropy(net(spikes), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return float(loss.detach())
    return step


def variants(spikes, labels) -> Dict[str, Optional[Callable[[], float]]]:
    """name -> one training step (None: not installed). All start from the same weights."""
    torch.manual_seed(0)
    reference = DigitsSNN(snnlearn.LIF(), snnlearn.LI())
    layers = {
        "snnlearn": lambda: (snnlearn.LIF(), snnlearn.LI()),
        "snnlearn, LI as a Python loop": lambda: (snnlearn.LIF(), ReferenceLI()),
    }
    try:
        import norse.torch as norse
        layers["norse 1.1.0"] = lambda: (norse.LIF(), norse.LI())
    except ImportError:
        layers["norse 1.1.0"] = None
    steps = {}
    for name, make in layers.items():
        if make is None:
            steps[name] = None
            continue
        net = DigitsSNN(*make())
        net.load_state_dict(reference.state_dict(), strict=False)
        optimizer = torch.optim.Adam(net.parameters(), lr=LR)
        steps[name] = training_step(net, optimizer, spikes, labels)
    return steps


def check_same_network(steps: Dict[str, Optional[Callable[[], float]]]) -> None:
    """The first step's loss of every variant agrees: they are the same network."""
    losses = {name: step() for name, step in steps.items() if step is not None}
    first = next(iter(losses.values()))
    for name, loss in losses.items():
        if abs(loss - first) > 1e-4 * max(1.0, abs(first)):
            sys.exit(f"{name} computes a different loss ({loss} vs {first}): not the same network")


def interleaved_medians(steps: Dict[str, Callable[[], float]], repeats: int
                        ) -> Tuple[Dict[str, float], Dict[str, float]]:
    """Median milliseconds per step and minor page faults per step, for each variant."""
    names = list(steps)
    times: Dict[str, List[float]] = {name: [] for name in names}
    faults: Dict[str, int] = {name: 0 for name in names}
    for r in range(repeats):
        for k in range(len(names)):
            name = names[(r + k) % len(names)]  # rotate the order: no variant always first
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            start = time.perf_counter_ns()
            steps[name]()
            times[name].append((time.perf_counter_ns() - start) / 1e6)
            faults[name] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    return ({name: statistics.median(values) for name, values in times.items()},
            {name: faults[name] / repeats for name in names})


def print_table(steps, medians, faults) -> None:
    norse_ms = medians.get("norse 1.1.0")
    print(f"| {'variant':<30} | {'ms/step':>8} | {'norse / this':>12} | {'page faults/step':>16} |")
    print(f"|{'-' * 32}|{'-' * 10}|{'-' * 14}|{'-' * 18}|")
    for name, step in steps.items():
        if step is None:
            print(f"| {name:<30} | not installed (pip install --no-deps norse==1.1.0)")
            continue
        ratio = f"{norse_ms / medians[name]:.1f}x" if norse_ms else "-"
        print(f"| {name:<30} | {medians[name]:>8.2f} | {ratio:>12} | {faults[name]:>16,.0f} |")
    if "snnlearn" in medians and "snnlearn, LI as a Python loop" in medians:
        loop = medians["snnlearn, LI as a Python loop"]
        extra = loop - medians["snnlearn"]
        print(f"\nLI readout as a Python loop instead of fused: {extra:+.2f} ms per step "
              f"({extra / loop:+.0%} of {loop:.2f} ms; noise when negative).")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=101, help="timed steps per variant")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--quick", action="store_true", help="11 repeats (noisier)")
    parser.add_argument("--no-malloc-rerun", action="store_true",
                        help="skip the re-run with glibc malloc keeping freed memory")
    parser.add_argument("--title", default="", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    repeats = 11 if args.quick else args.repeats

    split = load_digits()
    labels = split.y_train[:BATCH_SIZE]
    spikes = snnlearn.poisson_encode(split.x_train[:BATCH_SIZE], T, f_max=F_MAX,
                                     generator=torch.Generator().manual_seed(0))
    steps = variants(spikes, labels)
    check_same_network(steps)
    available = {name: step for name, step in steps.items() if step is not None}
    for _ in range(args.warmup):
        for step in available.values():
            step()
    medians, faults = interleaved_medians(available, repeats)

    print(f"\n## One training step of chapter 3's digits network{args.title}\n\n"
          f"T={T}, batch {BATCH_SIZE}, 64-{HIDDEN}-10, Adam; median of {repeats} interleaved "
          f"steps; {torch.get_num_threads()} torch thread(s); C extension "
          f"{'built' if snnlearn.c_available() else 'NOT built'}\n")
    print_table(steps, medians, faults)

    if not args.no_malloc_rerun:
        child = [sys.executable, os.path.abspath(__file__), "--no-malloc-rerun",
                 "--repeats", str(repeats), "--warmup", str(args.warmup),
                 "--title", ", glibc malloc keeping freed memory (MALLOC_MMAP_THRESHOLD_ = "
                            "MALLOC_TRIM_THRESHOLD_ = 256 MiB)"]
        if args.threads:
            child += ["--threads", str(args.threads)]
        sys.stdout.flush()
        subprocess.run(child, env=dict(os.environ, **KEEP_FREED_MEMORY), check=False)


if __name__ == "__main__":
    main()
