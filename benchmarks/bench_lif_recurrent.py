#!/usr/bin/env python3
"""Recurrent LIF speed: snnlearn's C path against its PyTorch reference and Norse 1.1.0.

``LIFRecurrent`` at T=100 steps, batch 32, 64 inputs and 128 or 512 hidden neurons, default
parameters, inputs scaled so that the layer spikes at a course-like rate (printed). Two
modes: forward (under ``torch.no_grad()``) and forward + backward (gradients of the input
and both weight matrices from ``spikes.sum() + state.v.sum()``). Times are medians of
several runs, in milliseconds per call, the implementations' calls interleaved round by
round (so that other jobs on a shared machine slow them alike), with ratios measured in this
run. Norse, when not importable, gets one "not installed" line (install: ``make install``,
requirements-peers.txt).

For 512 hidden it also prints the dense matrix work of the backward pass
(``recurrent_weights.T @ grad_i`` at every step, plus the gradient of ``recurrent_weights``)
against this machine's matmul throughput (torch.mm on the same shapes), and the same T-1
products done as separate torch.mm calls from Python (the alternative design).

Never asserts on time: this is a measuring script, not a test.
    python benchmarks/bench_lif_recurrent.py [--quick] [--hidden 128,512] [--threads N]
                                             [--cpu-time]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Callable, Dict, Optional

import torch

import snnlearn
from snnlearn import LIFParameters, LIFRecurrent

T, BATCH, INPUTS = 100, 32, 64
DT = 0.001
GAIN = 4.0  # input scale: a few to tens of percent of neurons spike per step


CLOCK = time.perf_counter  # --cpu-time: time.process_time (CPU seconds of all threads)


def median_time(fn: Callable[[], None], min_total: float, min_reps: int = 3,
                max_reps: int = 30) -> float:
    fn()  # warm-up
    times = []
    while len(times) < min_reps or (sum(times) < min_total and len(times) < max_reps):
        start = CLOCK()
        fn()
        times.append(CLOCK() - start)
    return statistics.median(times)


def layer_runner(kind: str, hidden: int):
    """A function xs -> (spikes, final v), and the layer (for its weights)."""
    torch.manual_seed(0)
    if kind == "norse":
        import norse.torch as norse  # noqa: F401 - ImportError reported by the caller

        layer = norse.LIFRecurrent(INPUTS, hidden, dt=DT)

        def run(xs):
            z, state = layer(xs)
            return z, state.v
        return run, layer
    layer = LIFRecurrent(INPUTS, hidden, LIFParameters(), DT)
    backend = "c" if kind == "c" else "reference"

    def run(xs):
        with snnlearn.use_backend(backend):
            z, state = layer(xs)
        return z, state.v
    return run, layer


NAMES = {"c": "snnlearn C", "reference": "snnlearn reference", "norse": "norse 1.1.0"}


def call_once(kind: str, hidden: int, backward: bool) -> Callable[[], None]:
    """One call of ``kind``'s layer on the benchmark input (forward, or forward+backward)."""
    run, layer = layer_runner(kind, hidden)
    torch.manual_seed(1)
    xs = torch.rand(T, BATCH, INPUTS) * GAIN
    if not backward:
        def once():
            with torch.no_grad():
                run(xs)
        return once
    xs.requires_grad_()

    def once():
        xs.grad = None
        layer.zero_grad(set_to_none=True)
        z, v = run(xs)
        (z.sum() + v.sum()).backward()
    return once


def measure_interleaved(kinds, hidden: int, backward: bool, rounds: int) -> Dict[str, float]:
    """Median seconds per call of each kind, the kinds' calls interleaved round by round,
    so that a machine shared with other jobs slows them alike and the ratios hold."""
    calls = {kind: call_once(kind, hidden, backward) for kind in kinds}
    times: Dict[str, list] = {kind: [] for kind in kinds}
    for once in calls.values():
        once()  # warm-up
    for _ in range(rounds):
        for kind, once in calls.items():
            start = CLOCK()
            once()
            times[kind].append(CLOCK() - start)
    return {kind: statistics.median(t) for kind, t in times.items()}


def spike_rate(hidden: int) -> float:
    run, _ = layer_runner("c", hidden)
    torch.manual_seed(1)
    with torch.no_grad():
        return float(run(torch.rand(T, BATCH, INPUTS) * GAIN)[0].mean())


def dense_report(hidden: int, ours_fb: float, min_total: float) -> None:
    """The backward's dense matrix work against the machine's matmul throughput."""
    g = torch.randn(BATCH, hidden)
    w = torch.randn(hidden, hidden)
    one_mm = median_time(lambda: torch.mm(g, w), min_total, min_reps=20, max_reps=2000)
    mm_flops = 2 * BATCH * hidden * hidden
    throughput = mm_flops / one_mm  # flop/s of torch.mm at the backward's shape
    gi = torch.randn((T - 1) * BATCH, hidden)
    big_mm = median_time(lambda: torch.mm(gi.t(), gi), min_total)
    big_throughput = 2 * (T - 1) * BATCH * hidden * hidden / big_mm
    carry_flops = (T - 1) * mm_flops          # recurrent_weights.T @ grad_i, every step but one
    weight_flops = 2 * (T - 1) * BATCH * hidden * hidden  # grad of recurrent_weights (one mm)
    dense_flops = carry_flops + weight_flops
    at_peak = carry_flops / throughput + weight_flops / big_throughput
    loop = median_time(lambda: [torch.mm(g, w) for _ in range(T - 1)], min_total)
    kernel = c_backward_time(hidden, min_total)
    print(f"\nDense backward work at {hidden} hidden: {dense_flops / 1e9:.2f} GFLOP "
          f"({carry_flops / 1e9:.2f} in the per-step recurrent_weights.T @ grad_i, "
          f"{weight_flops / 1e9:.2f} in the weight gradient).")
    print(f"Machine matmul throughput: torch.mm ({BATCH}x{hidden})@({hidden}x{hidden}) "
          f"{throughput / 1e9:.1f} GFLOP/s; one ({hidden}x{(T - 1) * BATCH})@(...) "
          f"{big_throughput / 1e9:.1f} GFLOP/s.")
    print(f"At that throughput the dense work takes {at_peak * 1e3:.2f} ms = "
          f"{100 * at_peak / ours_fb:.0f} % of our forward+backward ({ours_fb * 1e3:.2f} ms); "
          f"our whole forward+backward runs at {dense_flops / ours_fb / 1e9:.1f} GFLOP/s of "
          f"dense work = {100 * dense_flops / ours_fb / throughput:.0f} % of the mm throughput.")
    print(f"Design check: the {T - 1} per-step products alone, as torch.mm calls from Python, "
          f"take {loop * 1e3:.2f} ms; the whole C BPTT kernel (them included) takes "
          f"{kernel * 1e3:.2f} ms.")


def c_backward_time(hidden: int, min_total: float) -> float:
    """Seconds of one C BPTT call (snnlearn._lif_recurrent.backward) at the benchmark size."""
    from snnlearn._compiled import _lif_recurrent

    g = torch.Generator().manual_seed(2)
    shape = (T, BATCH, hidden)
    grad_z, v_pre = torch.randn(shape, generator=g), torch.rand(shape, generator=g) * 2
    w_rec = torch.randn(hidden, hidden, generator=g) * (2 / hidden) ** 0.5
    grad_v, grad_i = torch.zeros(BATCH, hidden), torch.zeros(BATCH, hidden)
    grad_i1 = torch.empty(shape)
    p = LIFParameters()

    def once():
        _lif_recurrent.backward(
            grad_z.numpy(), v_pre.numpy(), w_rec.numpy(), grad_v.numpy(), grad_i.numpy(),
            grad_i1.numpy(), steps=T, batch=BATCH, hidden=hidden, dt=DT,
            tau_syn_inv=p.tau_syn_inv, tau_mem_inv=p.tau_mem_inv, v_th=p.v_th,
            v_reset=p.v_reset, alpha=p.alpha, threads=torch.get_num_threads())
    return median_time(once, min_total)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", default="128,512")
    parser.add_argument("--quick", action="store_true", help="fewer repeats (noisier)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--cpu-time", action="store_true",
                        help="measure process CPU time instead of wall time (on a machine "
                             "shared with other jobs, where wall time mostly measures the "
                             "others)")
    args = parser.parse_args(argv)
    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time
    if args.threads:
        torch.set_num_threads(args.threads)
    sizes = [int(h) for h in args.hidden.split(",")]
    min_total = 0.2 if args.quick else 1.0
    try:
        from snnlearn._compiled import _lif_recurrent  # noqa: F401
        built = True
    except ImportError:
        built = False
    print(f"# Recurrent LIF benchmark: T={T}, batch={BATCH}, {INPUTS} inputs; torch "
          f"{torch.__version__}, {torch.get_num_threads()} torch threads, {os.cpu_count()} CPUs, "
          f"recurrent C extension {'built' if built else 'MISSING'}; "
          f"{'CPU' if args.cpu_time else 'wall'} time")
    kinds = []
    for kind in ("c", "reference", "norse"):
        try:
            layer_runner(kind, 4)
            kinds.append(kind)
        except ImportError as error:
            print(f"({NAMES[kind]}: not installed ({error.name}))")
    rounds = 5 if args.quick else 15
    results: Dict[str, Dict[tuple, Optional[float]]] = {kind: {} for kind in kinds}
    for backward in (False, True):
        mode = "forward + backward" if backward else "forward (no_grad)"
        for hidden in sizes:
            for kind, seconds in measure_interleaved(kinds, hidden, backward, rounds).items():
                results[kind][(hidden, backward)] = seconds
        print(f"\n## {mode}: milliseconds per call, median of {rounds} interleaved rounds "
              "(lower is better)\n")
        print(f"| {'implementation':<23} |" + "".join(f" {f'{h} hidden':>12} |" for h in sizes))
        print("|" + "-" * 25 + "|" + "".join("-" * 14 + "|" for _ in sizes))
        for kind in ("c", "reference", "norse"):
            if kind not in kinds:
                print(f"| {NAMES[kind]:<23} | not installed")
                continue
            print(f"| {NAMES[kind]:<23} |" + "".join(
                f" {results[kind][(h, backward)] * 1e3:>12.2f} |" for h in sizes))
        for peer in ("reference", "norse"):
            if peer in kinds and "c" in kinds:
                ratios = [results[peer][(h, backward)] / results["c"][(h, backward)] for h in sizes]
                print(f"| {'C speed-up vs ' + peer:<23} |"
                      + "".join(f" {f'{r:.1f}x':>12} |" for r in ratios), flush=True)
    print("\nSpike rate (fraction of neurons spiking per step): "
          + ", ".join(f"{h} hidden {spike_rate(h):.3f}" for h in sizes))
    if 512 in sizes and "c" in kinds:
        dense_report(512, results["c"][(512, True)], min_total)


if __name__ == "__main__":
    main()
