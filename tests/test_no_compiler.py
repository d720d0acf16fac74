"""``pip install .`` on a machine without a C compiler (or without OpenMP) still works.

Every extension in setup.py is optional (``OptionalBuildExt``): when none can be compiled
the package installs without them, the build prints one line saying so, and at run time
``snnlearn.why_not_c`` says why the C kernels are not used while the PyTorch reference
computes every step.

The test builds from a copy of the sources into a fresh virtual environment that reuses
this environment's packages (torch, setuptools) through a ``.pth`` file, with no build
isolation, ``CC=/nonexistent`` and a ``PATH`` holding no compiler (~15 s). A second build,
in place, uses a compiler that rejects ``-fopenmp``: the kernels build single-threaded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import pytest

from paths import ROOT




def _copy_sources(target: Path) -> Path:
    source = target / "src"
    shutil.copytree(ROOT / "snnlearn", source / "snnlearn",
                    ignore=shutil.ignore_patterns("*.so", "__pycache__", "*.egg-info",
                                                  "_c_build_skipped.txt"))
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    return source


@pytest.fixture(scope="module")
def no_compiler_install(tmp_path_factory):
    """(pip's verbose output, the new environment's python) after installing without CC."""
    work = tmp_path_factory.mktemp("nocc")
    source = _copy_sources(work)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()"
                           "['purelib'])"], capture_output=True, text=True, check=True)
    # Reuse torch, numpy and setuptools from this environment (a path line: the editable
    # snnlearn of this environment is not put on the path, its .pth hook does not run).
    Path(site.stdout.strip(), "_course_env.pth").write_text(sysconfig.get_paths()["purelib"]
                                                           + "\n")
    empty_bin = work / "bin-without-compiler"
    empty_bin.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIP_", "CFLAGS", "LDSHARED"))}
    env.update(CC="/nonexistent", CXX="/nonexistent", PATH=str(empty_bin),
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    for tool in ("gcc", "cc", "x86_64-linux-gnu-gcc"):
        assert shutil.which(tool, path=env["PATH"]) is None
    result = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-v", "--no-index",
         "--no-deps", "--no-build-isolation", str(source)],
        cwd=work, env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"pip install . failed without a compiler:\n{output[-4000:]}"
    return output, python, work


@pytest.mark.slow  # installs or builds snnlearn in a scratch environment
def test_install_says_once_that_the_c_kernels_are_skipped(no_compiler_install):
    output, _, _ = no_compiler_install
    lines = [line for line in output.splitlines() if "snnlearn: no C compiler" in line]
    assert len(lines) == 1, f"expected one line about the missing compiler:\n{output[-3000:]}"
    assert "snnlearn._compiled._lif" in lines[0] and "PyTorch reference" in lines[0]


@pytest.mark.slow  # installs or builds snnlearn in a scratch environment
def test_installed_package_runs_the_reference_and_says_why(no_compiler_install):
    _, python, work = no_compiler_install
    script = textwrap.dedent("""
        import torch, snnlearn
        assert "site-packages" in snnlearn.__file__, snnlearn.__file__
        assert not snnlearn.c_available()
        spikes, state = snnlearn.LIF()(torch.full((100, 1), 0.3))
        assert snnlearn.last_path() == "reference", snnlearn.last_path()
        assert int(spikes.sum()) == 8
        print(snnlearn.why_not_c(torch.ones(3), snnlearn.LIFParameters(), 1e-3))
    """)
    result = subprocess.run([str(python), "-c", script], cwd=work, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    reason = result.stdout.strip()
    assert "not compiled at install time" in reason and "C compiler" in reason, reason


@pytest.fixture(scope="module")
def build_without_openmp(tmp_path_factory):
    """(build output, source folder) after building in place with a compiler that rejects
    -fopenmp (as Apple's clang does without libomp): the extensions must still build."""
    work = tmp_path_factory.mktemp("noomp")
    source = _copy_sources(work)
    wrapper = work / "cc-without-openmp"
    wrapper.write_text('#!/bin/sh\nfor a in "$@"; do [ "$a" = -fopenmp ] && '
                       '{ echo "cc: error: unsupported option -fopenmp" >&2; exit 1; }; done\n'
                       'exec gcc "$@"\n')
    wrapper.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CFLAGS", "LDSHARED"))}
    env.update(CC=str(wrapper))
    result = subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace"], cwd=source,
                            env=env, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    return output, source


@pytest.mark.slow  # installs or builds snnlearn in a scratch environment
def test_a_compiler_without_openmp_builds_single_threaded_kernels(build_without_openmp):
    output, source = build_without_openmp
    for name in ("snnlearn._compiled._lif", "snnlearn._compiled._lif_recurrent"):
        assert f"snnlearn: {name} does not build with OpenMP" in output, output[-3000:]
    assert not (source / "snnlearn" / "_compiled" / "_c_build_skipped.txt").exists()
    script = textwrap.dedent("""
        import torch, snnlearn
        from snnlearn._compiled import _lif
        assert snnlearn.__file__.startswith(%r), snnlearn.__file__
        assert _lif.MAX_THREADS == 1, _lif.MAX_THREADS  # built without OpenMP
        torch.manual_seed(0)
        xs = torch.rand(4, _lif.PARALLEL_MIN_WORK // 2 + 7, dtype=torch.float64) * 0.6
        results = {}
        for backend in ("reference", "c"):
            with snnlearn.use_backend(backend):
                results[backend] = snnlearn.LIF()(xs)
            assert snnlearn.last_path() == backend
        assert torch.equal(results["c"][0], results["reference"][0])
        torch.testing.assert_close(results["c"][1].v, results["reference"][1].v)
        layer = snnlearn.LIFRecurrent(3, 40)
        z, _ = layer(torch.rand(50, 32, 3, dtype=torch.float32) * 4)
        assert snnlearn.last_path() == "c" and z.sum() > 0
    """ % str(source))
    result = subprocess.run([sys.executable, "-c", script], cwd=source,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
