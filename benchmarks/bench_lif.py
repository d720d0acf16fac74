#!/usr/bin/env python3
"""LIF throughput: snnlearn's fused C kernel against its PyTorch reference and peers.

Prints one table per mode (forward; forward + backward of a sum of spikes) in millions of
neuron-steps per second (T * B * N / seconds, best of several runs), with ratios measured
in this run against the snnlearn reference and against Norse's ``LIF``. Peers that are not
importable get one "not installed" line. Install them so they cannot change torch:

    .venv/bin/pip install --no-deps norse==1.1.0 nir nirtorch snntorch && .venv/bin/pip install h5py

Then the same calls "interleaved", as a user meets them: each one timed right after other
PyTorch work (a Norse ``LIF`` call on another input; a linear layer without Norse), the
median of many such runs, in microseconds per call. Caches are cold and the allocator has
just been used by someone else, so the Python side and fresh buffers count more here.

It also measures copy bandwidth in the same rounds as the medium forward and prints the
forward as a fraction of the limit (8 bytes per neuron-step: read x, write z), and re-runs
the C path in a child process with THP_MEM_ALLOC_ENABLE=1 (PyTorch's huge-page allocator)
for comparison.

Never asserts on time: this is a measuring script, not a test.
    python benchmarks/bench_lif.py [--sizes small,medium,large] [--quick] [--no-interleaved]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from typing import Callable, Dict, Optional

import torch

import snnlearn
from snnlearn import LIF, LIFParameters
from snnlearn.functional import lif_feed_forward_step, lif_initial_state

SIZES = {  # name: (T, B, N)
    "small": (100, 16, 100),
    "medium": (100, 64, 1024),
    "large": (50, 128, 65536),
}
DT = 0.001


# ---- implementations: each maps a (T, B, N) input to spikes (T, B, N) -------------------

def snnlearn_c() -> Callable:
    layer = LIF()

    def run(xs):
        with snnlearn.use_backend("c"):
            return layer(xs)[0]
    return run


def snnlearn_reference() -> Callable:
    layer = LIF()

    def run(xs):
        with snnlearn.use_backend("reference"):
            return layer(xs)[0]
    return run


def torch_compile_reference() -> Callable:
    step = torch.compile(lif_feed_forward_step, dynamic=False)
    p = LIFParameters()

    def run(xs):
        state, spikes = lif_initial_state(xs[0], p), []
        for x in xs.unbind(0):
            z, state = step(x, state, p, DT)
            spikes.append(z)
        return torch.stack(spikes)
    return run


def norse_lif() -> Callable:
    import norse.torch as norse

    layer = norse.LIF(dt=DT)
    return lambda xs: layer(xs)[0]


def snntorch_synaptic() -> Callable:
    """snnTorch's closest neuron (Synaptic: current + membrane decay), stepped in Python."""
    import snntorch

    p = LIFParameters()
    cell = snntorch.Synaptic(alpha=1 - DT * p.tau_syn_inv, beta=1 - DT * p.tau_mem_inv)

    def run(xs):
        syn, mem = cell.init_synaptic()
        spikes = []
        for x in xs.unbind(0):
            z, syn, mem = cell(x, syn, mem)
            spikes.append(z)
        return torch.stack(spikes)
    return run


IMPLEMENTATIONS: Dict[str, Callable[[], Callable]] = {
    "snnlearn C (LIF)": snnlearn_c,
    "snnlearn reference": snnlearn_reference,
    "torch.compile(reference step)": torch_compile_reference,
    "norse 1.1.0 LIF": norse_lif,
    "snntorch Synaptic": snntorch_synaptic,
}
REFERENCE, NORSE = "snnlearn reference", "norse 1.1.0 LIF"


# ---- timing -----------------------------------------------------------------------------

def best_time(fn: Callable[[], None], min_total: float = 0.3, max_reps: int = 50) -> float:
    fn()  # warm-up (and compilation)
    best, total, reps = float("inf"), 0.0, 0
    while reps < 2 or (total < min_total and reps < max_reps):
        start = time.perf_counter()
        fn()
        elapsed = time.perf_counter() - start
        best, total, reps = min(best, elapsed), total + elapsed, reps + 1
    return best


def one_call(run: Callable, shape, backward: bool) -> Callable[[], None]:
    """One call of ``run`` on the benchmark input (seed 0): forward under ``no_grad``, or
    forward + backward of the sum of the spikes."""
    torch.manual_seed(0)
    xs = torch.rand(shape) * 0.6
    if backward:
        xs.requires_grad_()

        def once():
            xs.grad = None
            run(xs).sum().backward()
    else:
        def once():
            with torch.no_grad():
                run(xs)
    return once


def measure(run: Callable, shape, backward: bool, min_total: float) -> float:
    return best_time(one_call(run, shape, backward), min_total)


def bandwidth_check(size: str = "medium", rounds: int = 21, megabytes: int = 512) -> None:
    """The C forward at ``size`` against the machine's copy bandwidth, measured in the same
    rounds (one forward, one copy in turn): this VM's memory bandwidth moves with its
    neighbours' load (28 to 71 GB/s on one day), so the two must be measured together.

    Two limits for a forward that reads x and writes z (8 bytes per neuron-step): a copy of
    ``megabytes`` MiB (the memory's bandwidth, what the issue calls the copy-bandwidth limit),
    and a copy of x into a tensor of its own size (the same bytes as the forward moves, which
    may partly stay in the last-level cache)."""
    shape = SIZES[size]
    torch.manual_seed(0)
    xs = torch.rand(shape) * 0.6
    same_size = torch.empty_like(xs)
    big_src = torch.ones(megabytes * 2**20 // 4)
    big_dst = torch.empty_like(big_src)
    run = snnlearn_c()
    times: Dict[str, list] = {"forward": [], "big copy": [], "same-size copy": []}
    calls = {"forward": lambda: run(xs), "big copy": lambda: big_dst.copy_(big_src),
             "same-size copy": lambda: same_size.copy_(xs)}
    with torch.no_grad():
        for call in calls.values():
            call()  # warm-up
        for _ in range(rounds):
            for name, call in calls.items():
                start = time.perf_counter()
                call()
                times[name].append(time.perf_counter() - start)
    median = {name: statistics.median(values) for name, values in times.items()}
    steps = shape[0] * shape[1] * shape[2]
    rate = steps / median["forward"] / 1e6
    bandwidth = 2 * big_src.numel() * 4 / median["big copy"] / 1e9
    limit = bandwidth * 1e9 / 8 / 1e6
    same = steps / median["same-size copy"] / 1e6
    print(f"\nMemory bandwidth, measured in the same {rounds} rounds as the {size} C forward "
          f"(medians): a {megabytes} MiB copy runs at {bandwidth:.1f} GB/s → fused-forward "
          f"limit {limit:,.0f} M neuron-steps/s (8 bytes each); the {size} C forward runs at "
          f"{rate:,.0f} M = {100 * rate / limit:.0f} % of it. Copying x into a tensor of its "
          f"own size runs at {same:,.0f} M neuron-steps/s: the forward reaches "
          f"{100 * rate / same:.0f} % of that.")


# ---- interleaved: each call right after other PyTorch work --------------------------------

def other_work(shape, backward: bool) -> Callable[[], None]:
    """What runs before each timed call, as in a user's network: a Norse ``LIF`` call on
    another input of the same shape (forward, or forward + backward), or, without Norse,
    a linear layer over it. It evicts caches and churns PyTorch's allocator."""
    torch.manual_seed(1)
    xs = torch.rand(shape) * 0.6
    try:
        import norse.torch as norse

        layer = norse.LIF(dt=DT)
    except ImportError:
        linear = torch.nn.Linear(shape[-1], shape[-1])
        layer = lambda x: (torch.relu(linear(x)),)  # noqa: E731
    if backward:
        xs.requires_grad_()

        def work():
            xs.grad = None
            layer(xs)[0].sum().backward()
    else:
        def work():
            with torch.no_grad():
                layer(xs)
    return work


def interleaved_median(run: Callable, shape, backward: bool, runs: int) -> float:
    """Median seconds of ``runs`` calls, each one timed right after ``other_work``."""
    once = one_call(run, shape, backward)
    work = other_work(shape, backward)
    once(), work()  # warm-up
    times = []
    for _ in range(runs):
        work()
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def interleaved_table(mode: str, sizes, names, runs: int) -> None:
    print(f"\n## {mode}, interleaved (each call right after a Norse LIF call or other PyTorch "
          f"work; median of {runs}): microseconds per call (lower is better)\n")
    print(f"| {'implementation':<30} |" + "".join(
        f" {s + ' ' + 'x'.join(map(str, SIZES[s])):>20} |" for s in sizes))
    print("|" + "-" * 32 + "|" + "".join("-" * 22 + "|" for _ in sizes))
    times: Dict[str, Dict[str, float]] = {}
    for name in names:
        try:
            run = IMPLEMENTATIONS[name]()
        except ImportError as error:
            print(f"| {name:<30} | not installed ({error.name})")
            continue
        times[name] = {}
        cells = []
        for size in sizes:
            try:
                seconds = interleaved_median(run, SIZES[size], mode != "forward", runs)
                times[name][size] = seconds
                cells.append(f"{seconds * 1e6:>20,.0f}")
            except Exception as error:  # a peer failing must not stop the table
                cells.append(f"{'failed: ' + type(error).__name__:>20}")
        print(f"| {name:<30} |" + "".join(f" {c} |" for c in cells), flush=True)
    ours = times.get("snnlearn C (LIF)", {})
    for peer in (REFERENCE, NORSE):
        if peer in times:
            ratios = [times[peer][s] / ours[s] if s in ours and s in times[peer] else None
                      for s in sizes]
            print(f"| {'C speed-up vs ' + peer:<30} |"
                  + "".join(f" {('%.1f×' % r) if r else '—':>20} |" for r in ratios))


# ---- report ------------------------------------------------------------------------------

def table(mode: str, sizes, names, min_total: float) -> Dict[str, Dict[str, Optional[float]]]:
    rates: Dict[str, Dict[str, Optional[float]]] = {}
    print(f"\n## {mode}: million neuron-steps per second (higher is better)\n")
    header = f"| {'implementation':<30} |" + "".join(f" {s + ' ' + 'x'.join(map(str, SIZES[s])):>20} |" for s in sizes)
    print(header)
    print("|" + "-" * 32 + "|" + "".join("-" * 22 + "|" for _ in sizes))
    for name in names:
        try:
            run = IMPLEMENTATIONS[name]()
        except ImportError as error:
            print(f"| {name:<30} | not installed ({error.name})")
            continue
        rates[name] = {}
        cells = []
        for size in sizes:
            shape = SIZES[size]
            try:
                seconds = measure(run, shape, mode != "forward", min_total)
                rate = shape[0] * shape[1] * shape[2] / seconds / 1e6
                rates[name][size] = rate
                cells.append(f"{rate:>20,.0f}")
            except Exception as error:  # a peer failing must not stop the table
                rates[name][size] = None
                cells.append(f"{'failed: ' + type(error).__name__:>20}")
        print(f"| {name:<30} |" + "".join(f" {c} |" for c in cells), flush=True)
    ours = rates.get("snnlearn C (LIF)", {})
    for peer in (REFERENCE, NORSE):
        if peer in rates:
            ratios = [(ours.get(s) / rates[peer][s]) if ours.get(s) and rates[peer].get(s) else None
                      for s in sizes]
            print(f"| {'C speed-up vs ' + peer:<30} |"
                  + "".join(f" {('%.1f×' % r) if r else '—':>20} |" for r in ratios))
    return rates


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="small,medium,large")
    parser.add_argument("--only", default=None, help="comma-separated implementation names")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (noisier)")
    parser.add_argument("--no-thp", action="store_true", help="skip the huge-page re-run")
    parser.add_argument("--no-interleaved", action="store_true",
                        help="skip the interleaved tables (each call after other PyTorch work)")
    args = parser.parse_args(argv)
    sizes = args.sizes.split(",")
    names = args.only.split(",") if args.only else list(IMPLEMENTATIONS)
    min_total = 0.1 if args.quick else 0.3

    print(f"# LIF benchmark: torch {torch.__version__}, {torch.get_num_threads()} torch threads, "
          f"{os.cpu_count()} CPUs, C extension {'built' if snnlearn.c_available() else 'MISSING'}, "
          f"THP_MEM_ALLOC_ENABLE={os.environ.get('THP_MEM_ALLOC_ENABLE', 'unset')}")
    forward = table("forward", sizes, names, min_total)
    table("forward + backward", sizes, names, min_total)
    if not args.no_interleaved:
        runs = 21 if args.quick else 101
        interleaved_sizes = [s for s in sizes if s != "large"]  # large: the warm table says it
        fast_names = [n for n in names if n != "torch.compile(reference step)"]
        for mode in ("forward", "forward + backward"):
            interleaved_table(mode, interleaved_sizes, fast_names, runs)

    if "medium" in sizes and forward.get("snnlearn C (LIF)", {}).get("medium"):
        bandwidth_check("medium", rounds=11 if args.quick else 21)

    if not args.no_thp and os.environ.get("THP_MEM_ALLOC_ENABLE") != "1":
        print("\n# Re-run of the C path with THP_MEM_ALLOC_ENABLE=1 (huge-page allocations):",
              flush=True)
        env = dict(os.environ, THP_MEM_ALLOC_ENABLE="1")
        subprocess.run([sys.executable, __file__, "--sizes", args.sizes, "--only",
                        "snnlearn C (LIF)", "--no-thp"] + (["--quick"] if args.quick else []),
                       env=env, check=False)


if __name__ == "__main__":
    main()
