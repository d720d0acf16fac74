"""Declares the C extension; everything else is in pyproject.toml.

The kernels are plain C against the Python headers only (no torch headers, no ninja).
-ffp-contract=off keeps gcc from fusing multiply-adds, so results match PyTorch's to the bit;
-fno-trapping-math lets it vectorize the spike comparison (results unchanged).
-pthread: large calls split their neurons over POSIX threads.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "snnlearn._lif",
            sources=["snnlearn/_lif.c"],
            depends=["snnlearn/_lif_kernels.h"],
            extra_compile_args=["-O3", "-ffp-contract=off", "-fno-trapping-math", "-std=c99", "-Wall", "-Wextra",
                                "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-pthread"],
            extra_link_args=["-pthread"],
        ),
        Extension(
            "snnlearn._lif_recurrent",
            sources=["snnlearn/_lif_recurrent.c"],
            depends=["snnlearn/_lif_recurrent_kernels.h"],
            extra_compile_args=["-O3", "-ffp-contract=off", "-fno-trapping-math", "-std=c99", "-Wall", "-Wextra",
                                "-Wno-unused-parameter", "-Wno-missing-field-initializers", "-pthread"],
            extra_link_args=["-pthread"],
        ),
    ]
)
