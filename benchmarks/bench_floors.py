#!/usr/bin/env python3
"""Lower bounds under the interleaved benchmarks: what a call cannot go below on this machine.

``bench_lif.py`` and ``bench_lif_recurrent.py`` time each call right after a Norse call, as a
user meets it. This script times, in the same conditions, the parts that no implementation
of the layer can skip, so that a target ratio can be checked against what is possible:

- LIF, small (T=100, B=16, N=100), forward under ``no_grad``: the output allocation, the
  state, the buffer views and the C kernel alone (no Python layer, no checks), and a layer
  call that does nothing, each right after a Norse ``LIF`` call, against the whole
  ``snnlearn.LIF`` call and Norse's call.
- Recurrent LIF, T=100, B=32, 64 inputs, 128 hidden, forward: the input projection (the same
  matrix multiply Norse does, all steps at once) and the C recurrence kernel, warm (repeated
  back to back) and right after a Norse ``LIFRecurrent`` call, against Norse's call.
- Chapter 3's training step with the neurons replaced by identities (same Linear layers,
  max over time, cross-entropy and Adam): the part of the step that does not depend on the
  neuron implementation, against the step with Norse's neurons.

Each table also times the stages of the whole call one by one (the module's parameters, the
path choice, the kernel arguments, the state set-up, the autograd wrapper with its
allocation; the recurrent layer's output allocation, weight transpose, and its projection
on PyTorch's threads and on the caller's thread), and ends with the whole call over its
floor: essentials plus an empty layer call (LIF), the projection and the recurrence both
after a Norse call (recurrent), the step with identity neurons (training). The training
step is timed twice: interleaved (each step after another variant's) and in blocks of
steps run back to back, as a training loop runs them; they differ because a step after
another variant's finds its memory laid out for that variant.

The training table ends with where the neurons' share of the step goes: each layer call,
each autograd Function's forward and backward and each C call inside them, timed within
the step, beside the same C calls warm and a plain copy of the layer's input.

Medians in microseconds. The rows of the LIF and recurrent tables are timed interleaved (one
run of each row in turn, the order rotating), so that a slow spell of the machine falls on
all of them alike: their ratios, "whole ÷ floor" among them, hold within one run (timed one
row after another, the same ratio moved by 0.4 between runs on the 2-core VM). Never asserts
on time.

    python benchmarks/bench_floors.py [--runs 101] [lif] [recurrent] [training]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable, Dict, Tuple

import torch

import snnlearn
from snnlearn import backend
from snnlearn._compiled import _lif, _lif_recurrent, lif_autograd
from snnlearn._compiled.kernel_args import kernel_args

DT = 0.001


def median_after(before: Callable[[], object], call: Callable[[], object], runs: int) -> float:
    """Median seconds of ``call``, each run right after ``before``."""
    return medians_interleaved({"call": (before, call)}, runs)["call"]


def medians_interleaved(rows: Dict[str, Tuple[Callable[[], object], Callable[[], object]]],
                        runs: int) -> Dict[str, float]:
    """Median seconds of each row's ``call``, each run right after its ``before``; the rows
    are taken in turn (one run of each, the order rotating), so that a slow spell of this
    noisy machine falls on every row alike and the ratios between rows hold within a run."""
    names = list(rows)
    for before, call in rows.values():  # one untimed run each
        before(), call()
    times: Dict[str, list] = {name: [] for name in names}
    for r in range(runs):
        for k in range(len(names)):
            name = names[(r + k) % len(names)]
            before, call = rows[name]
            before()
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def print_table(title: str, rows: Dict[str, float], reference: str, unit: float = 1e6,
                unit_name: str = "µs") -> None:
    """Rows of medians (seconds) with the reference's time over each."""
    print(f"\n## {title}\n")
    print(f"| {'what':<52} | {unit_name:>8} | {'Norse / this':>12} |")
    print(f"|{'-' * 54}|{'-' * 10}|{'-' * 14}|")
    for name, seconds in rows.items():
        print(f"| {name:<52} | {seconds * unit:>8.1f} | {rows[reference] / seconds:>11.1f}× |")


def print_whole_over_floor(whole: float, floor: float, what: str) -> None:
    print(f"\n| whole call | floor ({what}) | whole ÷ floor |\n|---|---|---|\n"
          f"| {whole * 1e6:.1f} µs | {floor * 1e6:.1f} µs | **{whole / floor:.2f}×** |")


def lif_small(runs: int) -> None:
    import norse.torch as norse

    T, B, N = 100, 16, 100
    torch.manual_seed(0)
    xs, other = torch.rand(T, B, N) * 0.6, torch.rand(T, B, N) * 0.6
    norse_layer, layer = norse.LIF(dt=DT), snnlearn.LIF()
    p = layer.p
    args = kernel_args(p, DT)
    threads = torch.get_num_threads()
    kept: Dict[str, torch.Tensor] = {}

    def essentials():  # what any fused implementation must do: allocate, view, compute
        z = torch.empty_like(xs)
        state = xs.new_empty((2, B, N))
        array = state.numpy()
        _lif.forward(xs.numpy(), array[0], array[1], z.numpy(), None, steps=T,
                     v_leak=args.v_leak, from_rest=True, threads=threads, **args.numbers)
        kept["z"] = z

    z, state = torch.empty_like(xs), torch.empty(2, B, N)

    class Empty(torch.nn.Module):  # the price of being a layer: a call that does nothing
        def forward(self, x):
            return x

    empty_layer = Empty()

    def kernel_only():
        _lif.forward(xs.numpy(), state[0].numpy(), state[1].numpy(), z.numpy(), None, steps=T,
                     v_leak=args.v_leak, from_rest=True, threads=threads, **args.numbers)

    with torch.no_grad():
        after_norse = lambda: norse_layer(other)  # noqa: E731
        rows = medians_interleaved({
            "Norse LIF (after another Norse call)": (after_norse, lambda: norse_layer(xs)),
            "snnlearn.LIF (whole call)": (after_norse, lambda: layer(xs)),
            "stage: layer.p (the module's parameters)": (after_norse, lambda: layer.p),
            "stage: path choice (backend._direct)": (
                after_norse, lambda: backend._direct(xs, p, DT, 1)),
            "stage: kernel arguments (kernel_args)": (after_norse, lambda: kernel_args(p, DT)),
            "stage: state set-up (working_state)": (
                after_norse, lambda: lif_autograd.working_state(xs, None, None)),
            "stage: backend.lif_sequence (no module)": (
                after_norse, lambda: backend.lif_sequence(xs, None, p, DT)),
            "stage: lif_sequence_c (allocate + kernel)": (
                after_norse, lambda: lif_autograd.lif_sequence_c(xs, None, None, p, DT)),
            "essentials: allocate, views, C kernel": (after_norse, essentials),
            "C kernel alone (buffers made before)": (after_norse, kernel_only),
            "C kernel alone, warm (back to back)": (kernel_only, kernel_only),
            "an nn.Module whose forward returns x": (after_norse, lambda: empty_layer(xs)),
        }, runs)
    print_table(f"LIF small {T}x{B}x{N}, forward, each call right after a Norse LIF call "
                f"(median of {runs})", rows, "Norse LIF (after another Norse call)")
    floor = (rows["essentials: allocate, views, C kernel"]
             + rows["an nn.Module whose forward returns x"])
    print_whole_over_floor(rows["snnlearn.LIF (whole call)"], floor,
                           "essentials + an empty layer call")


def recurrent(runs: int) -> None:
    import norse.torch as norse

    T, B, I, H = 100, 32, 64, 128
    torch.manual_seed(0)
    xs = torch.rand(T, B, I) * 4.0
    layer = snnlearn.LIFRecurrent(I, H)
    norse_layer = norse.LIFRecurrent(I, H, dt=DT)
    p = layer.p
    args = kernel_args(p, DT)
    w_in = layer.input_weights.detach()
    w_rec = layer.recurrent_weights.detach()
    w_rec_t = w_rec.t().contiguous()
    xp = torch.nn.functional.linear(xs, w_in).reshape(T, B, H).contiguous()
    z, v, i = torch.empty_like(xp), torch.zeros(B, H), torch.zeros(B, H)
    threads = torch.get_num_threads()

    def projection():
        return torch.nn.functional.linear(xs, w_in)

    def projection_one_thread():
        torch.set_num_threads(1)
        try:
            return torch.nn.functional.linear(xs, w_in)
        finally:
            torch.set_num_threads(threads)

    def kernel():
        _lif_recurrent.forward(
            xp.numpy(), w_rec_t.numpy(), v.numpy(), i.numpy(), z.numpy(), None, steps=T,
            batch=B, hidden=H, v_leak=args.v_leak, threads=threads, **args.numbers)

    def rest():  # the kernel updates v, i in place: start every timed call from rest
        v.zero_()
        i.zero_()

    with torch.no_grad():
        after_norse = lambda: norse_layer(xs)  # noqa: E731
        rows = medians_interleaved({
            "Norse LIFRecurrent": (after_norse, after_norse),
            "snnlearn.LIFRecurrent (whole call)": (after_norse, lambda: layer(xs)),
            "stage: backend.lif_recurrent_sequence (no module)": (
                after_norse, lambda: backend.lif_recurrent_sequence(xs, w_in, w_rec, None, p, DT)),
            "stage: output allocation (z)": (after_norse, lambda: torch.empty_like(xp).fill_(0)),
            "stage: recurrent weights transposed": (after_norse, lambda: w_rec.t().contiguous()),
            "projection, after a Norse call": (after_norse, projection),
            "projection on the caller's thread, after Norse": (after_norse, projection_one_thread),
            "projection, warm": (projection, projection),
            "C recurrence kernel, after a Norse call": (
                lambda: (after_norse(), projection(), rest()), kernel),
            "C recurrence kernel, warm": (lambda: (kernel(), rest()), kernel),
        }, runs)
    print_table(f"Recurrent LIF T={T}, B={B}, {I} inputs, {H} hidden, forward (median of "
                f"{runs})", rows, "Norse LIFRecurrent")
    cold = rows["projection, after a Norse call"] + rows["C recurrence kernel, after a Norse call"]
    print_whole_over_floor(rows["snnlearn.LIFRecurrent (whole call)"], cold,
                           "projection + C recurrence, both after a Norse call")
    warm = rows["projection, warm"] + rows["C recurrence kernel, warm"]
    print(f"\nBoth warm: {warm * 1e6:.0f} µs "
          f"({rows['Norse LIFRecurrent'] / warm:.1f}× Norse with no overhead at all).")


def training_floor(runs: int) -> None:
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_training_step as bench

    class Identity(torch.nn.Module):
        def forward(self, x):
            return x, None

    split = bench.load_digits()
    labels = split.y_train[:bench.BATCH_SIZE]
    spikes = snnlearn.poisson_encode(split.x_train[:bench.BATCH_SIZE], bench.T,
                                     f_max=bench.F_MAX, generator=torch.Generator().manual_seed(0))
    steps = {name: step for name, step in bench.variants(spikes, labels).items()
             if step is not None and name != "snnlearn, LI as a Python loop"}
    torch.manual_seed(0)
    net = bench.DigitsSNN(Identity(), Identity())
    steps["identity neurons (the floor)"] = bench.training_step(
        net, torch.optim.Adam(net.parameters(), lr=bench.LR), spikes, labels)
    for step in steps.values():
        for _ in range(5):
            step()
    for title, (medians, faults) in (
            (f"median of {runs} interleaved steps (each after another variant's step)",
             bench.interleaved_medians(steps, runs)),
            (f"median of {runs} steps run in blocks of {BLOCK} back to back, as a training "
             "loop runs them (the first of each block untimed; blocks interleaved)",
             blocked_medians(steps, runs))):
        norse_ms = medians.get("norse 1.1.0")
        print(f"\n## Chapter 3's training step, {title}\n")
        print(f"| {'variant':<40} | {'ms':>8} | {'Norse / this':>12} | {'page faults/step':>16} |")
        print(f"|{'-' * 42}|{'-' * 10}|{'-' * 14}|{'-' * 18}|")
        for name, ms in medians.items():
            ratio = f"{norse_ms / ms:.1f}×" if norse_ms else "-"
            print(f"| {name:<40} | {ms:>8.2f} | {ratio:>12} | {faults[name]:>16,.0f} |")
        print_whole_over_floor(medians["snnlearn"] / 1e3,
                               medians["identity neurons (the floor)"] / 1e3, "identity neurons")
    step_breakdown(bench, spikes, labels, runs)


def step_breakdown(bench, spikes, labels, runs: int) -> None:
    """Where snnlearn's neurons spend a training step: each layer call, each autograd
    Function's forward and backward, and each C call inside them, timed in the step (the
    step's own data, cache and thread state), next to the same C calls warm (back to back)
    and a copy of the LIF layer's input (the least memory traffic of a pass over it)."""
    import types
    from collections import defaultdict

    spent = defaultdict(list)

    def timed(name, call):
        def wrapper(*args, **kwargs):
            start = time.perf_counter_ns()
            result = call(*args, **kwargs)
            spent[name].append((time.perf_counter_ns() - start) / 1e3)
            return result
        return wrapper

    functions = {"LIF": lif_autograd.LIFSequenceFunction, "LI": lif_autograd.LISequenceFunction}
    saved = {name: (f.forward, f.backward) for name, f in functions.items()}
    c_module = lif_autograd._lif
    try:
        lif_autograd._lif = types.SimpleNamespace(**{
            name: timed(f"C {name}", getattr(_lif, name)) for name in
            ("forward", "backward", "backward_recompute", "li_forward", "li_backward")})
        for name, function in functions.items():
            function.forward = staticmethod(timed(f"{name} Function.forward", saved[name][0]))
            function.backward = staticmethod(timed(f"{name} Function.backward", saved[name][1]))
        torch.manual_seed(0)
        net = bench.DigitsSNN(snnlearn.LIF(), snnlearn.LI())
        net.lif.forward = timed("LIF layer call", net.lif.forward)
        net.readout.forward = timed("LI layer call", net.readout.forward)
        step = bench.training_step(net, torch.optim.Adam(net.parameters(), lr=bench.LR),
                                   spikes, labels)
        for _ in range(runs + 10):
            step()
    finally:
        lif_autograd._lif = c_module
        for name, function in functions.items():
            function.forward, function.backward = (staticmethod(f) for f in saved[name])
    inside = [("LIF layer call", ""), ("LIF Function.forward", "· "), ("C forward", "· · "),
              ("LIF Function.backward", ""), ("C backward_recompute", "· "),
              ("C backward", "· "), ("LI layer call", ""), ("LI Function.forward", "· "),
              ("C li_forward", "· · "), ("LI Function.backward", ""), ("C li_backward", "· ")]
    rows = {indent + name: statistics.median(spent[name][10:])
            for name, indent in inside if spent[name]}

    hidden = net.fc_in(spikes).detach()
    p, threads = net.lif.p, torch.get_num_threads()
    args = kernel_args(p, DT)
    z, state, grad_x = torch.empty_like(hidden), hidden.new_empty((2,) + hidden.shape[1:]), \
        torch.empty_like(hidden)
    grad_z, grad_state = torch.rand_like(hidden), hidden.new_zeros((2,) + hidden.shape[1:])
    copy = torch.empty_like(hidden)

    def forward():
        _lif.forward(hidden.numpy(), state[0].numpy(), state[1].numpy(), z.numpy(), None,
                     steps=hidden.shape[0], v_leak=args.v_leak, from_rest=True, threads=threads,
                     **args.numbers)

    def backward():
        _lif.backward_recompute(grad_z.numpy(), hidden.numpy(), None, None,
                                grad_state[0].numpy(), grad_state[1].numpy(), grad_x.numpy(),
                                steps=hidden.shape[0], v_leak=args.v_leak, from_rest=True,
                                threads=threads, alpha=args.alpha, **args.numbers)

    warm = {"C forward, warm (back to back)": forward,
            "C backward_recompute, warm (back to back)": backward,
            f"copy of the LIF input ({hidden.numel() * 4 >> 20} MB), warm": lambda: copy.copy_(hidden)}
    for name, call in warm.items():
        rows[name] = median_after(call, call, runs) * 1e6
    print(f"\n## Where snnlearn's neurons spend the training step (median µs of {runs} steps; "
          "a row marked · is part of the row above it)\n")
    print(f"| {'what':<44} | {'µs':>8} |\n|{'-' * 46}|{'-' * 10}|")
    for name, value in rows.items():
        print(f"| {name:<44} | {value:>8.1f} |")


BLOCK = 5


def blocked_medians(steps: Dict[str, Callable[[], float]], runs: int):
    """Median ms per step and page faults per step of each variant, its steps run BLOCK at a
    time back to back (the first of each block untimed: it pays for the previous variant's
    memory layout), the blocks of the variants taken in turn until each has ``runs`` timed
    steps. An interleaved step measures a step after other work; this, a training loop."""
    import resource

    times = {name: [] for name in steps}
    faults = {name: 0 for name in steps}
    while min(len(t) for t in times.values()) < runs:
        for name, step in steps.items():
            step()
            for _ in range(BLOCK - 1):
                before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                start = time.perf_counter_ns()
                step()
                times[name].append((time.perf_counter_ns() - start) / 1e6)
                faults[name] += resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    return ({name: statistics.median(t) for name, t in times.items()},
            {name: faults[name] / len(times[name]) for name in steps})


PARTS = {"lif": lif_small, "recurrent": recurrent, "training": training_floor}
NEEDS_NORSE = {"lif", "recurrent"}  # the training table runs without it (no Norse column)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=101)
    parser.add_argument("parts", nargs="*", metavar="{" + ",".join(PARTS) + "}",
                        help="which tables (default: all)")
    args = parser.parse_args(argv)
    print(f"# Floors: torch {torch.__version__}, {torch.get_num_threads()} torch threads")
    unknown = set(args.parts) - set(PARTS)
    if unknown:
        parser.error(f"unknown tables {sorted(unknown)}: choose from {list(PARTS)}")
    try:
        import norse.torch  # noqa: F401
    except ImportError:
        norse_missing = True
    else:
        norse_missing = False
    for part in args.parts or list(PARTS):
        if norse_missing and part in NEEDS_NORSE:
            print(f"\nnorse is not installed: no {part} table (its calls are timed after a "
                  "Norse call; make install)")
            continue
        PARTS[part](args.runs)


if __name__ == "__main__":
    main()
