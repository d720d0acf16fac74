"""Declares the C extension; everything else is in pyproject.toml.

The kernels are plain C against the Python headers only (no torch headers, no ninja).
-ffp-contract=off keeps gcc from fusing multiply-adds, which would round differently from
PyTorch's separate multiply and add (tests/test_lif_c_vs_reference.py checks that forward
spikes and states equal the reference's bit for bit in float32 and float64);
-fno-trapping-math lets it vectorize the spike comparison (results unchanged).
-fopenmp: large calls split their neurons over OpenMP threads, which are PyTorch's own pool at
run time (see run_parallel in snnlearn/_compiled/_lif.c); a compiler without OpenMP builds them single-threaded.

Every extension is optional (OptionalBuildExt): on a machine without a working C compiler
``pip install .`` still installs snnlearn, whose PyTorch reference then runs every step
(same numbers, slower). The build says so in one line starting "snnlearn:" (pip shows it
with ``-v``) and records why in ``snnlearn/_compiled/_c_build_skipped.txt``, which
``snnlearn.why_not_c`` reports at run time.
"""

import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

COMPILED = "snnlearn/_compiled"  # the C sources and headers (see its __init__.py)
SKIPPED_NOTE = os.path.join(*COMPILED.split("/"), "_c_build_skipped.txt")


class OptionalBuildExt(build_ext):
    """build_ext for which every extension in ``ext_modules`` is optional."""

    def run(self):
        self._skipped = []
        for extension in self.extensions:
            extension.optional = True
        try:
            super().run()
        except Exception as error:  # noqa: BLE001 - no compiler at all: fall back, say why
            self._skipped += [(e.name, error) for e in self.extensions]
        self._record_skipped()

    def build_extension(self, extension):
        try:
            super().build_extension(extension)
        except Exception as error:  # noqa: BLE001 - CompileError, LinkError, OSError, ...
            if OPENMP[0] not in extension.extra_compile_args:
                self._skipped.append((extension.name, error))
                return
            print(f"snnlearn: {extension.name} does not build with OpenMP ({error}); "
                  "building it single-threaded", flush=True)
            extension.extra_compile_args = [
                f for f in extension.extra_compile_args if f not in OPENMP]
            extension.extra_link_args = [f for f in extension.extra_link_args if f not in OPENMP]
            self.build_extension(extension)

    def _record_skipped(self):
        base = os.getcwd() if self.inplace else self.build_lib
        note = os.path.join(base, SKIPPED_NOTE)
        if not self._skipped:
            if os.path.exists(note):
                os.remove(note)
            return
        names = ", ".join(name for name, _ in self._skipped)
        reason = "; ".join(f"{name}: {str(error).strip() or type(error).__name__}"
                           for name, error in self._skipped)
        print(f"snnlearn: no C compiler could build {names}: installing without the C "
              f"kernels; the PyTorch reference runs every LIF step (same results, slower). "
              f"Reason: {reason}", flush=True)
        os.makedirs(os.path.dirname(note), exist_ok=True)
        with open(note, "w") as handle:
            handle.write(f"not compiled at install time ({reason}); install a C compiler "
                         "(e.g. gcc) and reinstall snnlearn to use the C kernels\n")


OPENMP = ["-fopenmp"]
COMPILE_ARGS = ["-O3", "-ffp-contract=off", "-fno-trapping-math", "-std=c99", "-Wall", "-Wextra",
                "-Wno-unused-parameter", "-Wno-missing-field-initializers"] + OPENMP

setup(
    cmdclass={"build_ext": OptionalBuildExt},
    ext_modules=[
        Extension(
            "snnlearn._compiled._lif",
            sources=[f"{COMPILED}/_lif.c"],
            depends=[f"{COMPILED}/{name}" for name in ("_lif_kernels.h", "_common.h", "_buffers.h")],
            extra_compile_args=list(COMPILE_ARGS),
            extra_link_args=list(OPENMP),
        ),
        Extension(
            "snnlearn._compiled._lif_recurrent",
            sources=[f"{COMPILED}/_lif_recurrent.c"],
            depends=[f"{COMPILED}/{name}"
                     for name in ("_lif_recurrent_kernels.h", "_common.h", "_buffers.h")],
            extra_compile_args=list(COMPILE_ARGS),
            extra_link_args=list(OPENMP),
        ),
    ]
)
