"""Norse 1.1.0's own tests, run against ``snnlearn.torch`` (slow tier).

The test modules for the API snnlearn covers are copied from the installed ``norse`` package
(they ship inside it, under ``norse/torch/**/test/``), and the only change made to them is
mechanical: ``norse.torch`` becomes ``snnlearn.torch`` (relative imports such as
``from ..lif import`` are first written out as the absolute ``norse.torch...`` path they
mean, then renamed the same way). The same copies, unrenamed, run on Norse. Both runs are
separate pytest processes, side by side.

snnlearn runs them twice: as it is, and inside ``snnlearn.norse_1_1_0_gradients()`` (a
conftest.py beside the copies; Norse 1.1.0's SuperSpike and its resting state that requires
a gradient). Every test that passes on Norse must pass on snnlearn in the second run, and in
the first run too except :data:`NEED_RESTING_GRAPH`; those not run are listed in
:data:`OUT_OF_SCOPE`, each with its reason (neuron models, surrogates and containers snnlearn
does not provide, and NIR conventions where snnlearn follows the NIR spec). The counts are
printed (``pytest -s``): in scope / pass on Norse / pass on snnlearn.
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

norse_spec = importlib.util.find_spec("norse")
if norse_spec is None:  # pragma: no cover - make install puts Norse 1.1.0 in the venv
    pytest.skip("Norse 1.1.0 is not installed (make install: requirements-peers.txt)",
                allow_module_level=True)
NORSE_TORCH = Path(norse_spec.origin).parent / "torch"

#: Norse's test modules for the API snnlearn covers (paths under norse/torch).
MODULES = [
    "functional/test/test_lif.py",
    "functional/test/test_leaky_integrator.py",
    "functional/test/test_encode.py",
    "functional/test/test_decode.py",
    "functional/test/test_threshold.py",
    "functional/test/test_superspike.py",
    "functional/test/test_heaviside.py",
    "functional/test/test_regularization.py",
    "functional/test/test_lsnn.py",
    "functional/test/test_stdp.py",
    "module/test/test_lif.py",
    "module/test/test_leaky_integrator.py",
    "module/test/test_encode.py",
    "module/test/test_sequential.py",
    "module/test/test_regularization.py",
    "module/test/test_lsnn.py",
    "module/test/test_snn.py",
    "module/test/test_training.py",
    "utils/test/test_nir_export.py",
    "utils/test/test_nir_import.py",
    "test/test_norse.py",
]

_OTHER_SURROGATES = ("imports Norse's other surrogates (heavi_erfc, logistic, circ_dist; tanh, "
                     "triangle, circ by name): snnlearn has SuperSpike and the bare step only")
_SNN_BASE = ("imports Norse's neuron base classes (norse.torch.module.snn: SNNCell, SNN, ...) "
             "and the refractory LIF (lif_refrac): not provided")

#: ``<module>::<test>`` -> why it is outside what snnlearn covers.
OUT_OF_SCOPE = {
    **{f"functional_threshold::{name}": _OTHER_SURROGATES for name in (
        "test_circ_dist_fn_backward", "test_circ_dist_fn_forward", "test_heavi_erfc_fn_backward",
        "test_heavi_erfc_fn_forward", "test_logistic_fn_backward", "test_logistic_fn_forward",
        "test_sign", "test_threshold", "test_threshold_backward", "test_threshold_throws")},
    **{f"module_snn::{name}": _SNN_BASE for name in (
        "test_snn_cell_repr", "test_snn_cell_to_device", "test_snn_recurrent_cell_repr",
        "test_snn_recurrent_cell_weights", "test_snn_recurrent_cell_weights_autapse_update",
        "test_snn_recurrent_cell_weights_no_autapses", "test_snn_recurrent_repr",
        "test_snn_recurrent_weights", "test_snn_recurrent_weights_autapse_update",
        "test_snn_recurrent_weights_no_autapses", "test_snn_repr")},
    "module_sequential::test_state_sequence_conv": "uses Lift (Norse's time-lifting wrapper)",
    "module_sequential::test_backprop_through_time_works": "uses Lift (Norse's time-lifting wrapper)",
    "module_sequential::test_sequential_compile": "uses LIFBoxCell (box-shaped LIF neurons)",
    "module_sequential::test_lif_box_compile_gpu": "uses LIFBoxCell, and a GPU",
    "module_sequential::test_recurrent_sequential_output_index":
        "uses RecurrentSequential (Norse's recurrent container): not provided",
    "module_sequential::test_recurrent_sequential_stateful":
        "uses RecurrentSequential (Norse's recurrent container): not provided",
    "module_sequential::test_recurrent_sequential_stateless":
        "uses RecurrentSequential (Norse's recurrent container): not provided",
    "module_leaky_integrator::test_li_linear_compile_gpu": "needs a GPU (skipped on Norse too)",
    "utils_nir_export::test_sequential": "exports a LIFBoxCell (box-shaped LIF neurons)",
    "utils_nir_import::test_import_if": "imports NIR's IF node as Norse's IAFCell (IAF neurons)",
    "utils_nir_import::test_import_lif": "imports NIR's LIF node as Norse's LIFBoxCell",
    "utils_nir_import::test_import_cubalif":
        "checks Norse's own CubaLIF wrapper of LIBoxCell + LIFBoxCell (snnlearn imports "
        "CubaLIF as its LIFCell)",
    "utils_nir_import::test_import_flatten":
        "Norse 1.1.0 passes NIR's Flatten dims to torch unchanged; snnlearn follows the NIR "
        "spec (NIR shapes have no batch dimension, so NIR dim 0 is torch dim 1)",
    "utils_nir_import::test_import_recurrent": "a recurrent NIR graph (fails on Norse too)",
    "utils_nir_import::test_import_conv2d": "fails on Norse 1.1.0 too (no input_type)",
    "utils_nir_import::test_import_sumpool2d": "SumPool2d; fails on Norse 1.1.0 too",
}


#: In scope, but they differentiate a layer's output with nothing trainable before it
#: (``LIF()(torch.ones(...)).sum().backward()``): that needs Norse's resting state, whose
#: ``v`` requires a gradient. snnlearn makes that state only inside
#: ``norse_1_1_0_gradients()``; by default a layer fed plain tensors returns plain tensors
#: that the course prints, plots and converts to NumPy without ``detach()``.
NEED_RESTING_GRAPH = [
    "module_leaky_integrator::test_li_backward",
    "module_leaky_integrator::test_li_cell_backward",
    "module_lif::test_backward_model",
    "module_lif::test_lif_feedforward_cell_backward",
    "module_lif::test_lif_feedforward_layer_backward",
    "module_lif::test_lif_feedforward_layer_backward_iteration",
    "module_lsnn::test_lsnn_backward",
    "module_lsnn::test_lsnn_cell_backward",
    "module_lsnn::test_lsnn_recurrent_backward",
    "module_lsnn::test_lsnn_recurrent_cell_backward",
]


def _test_file_name(module: str) -> str:
    """``functional/test/test_lif.py`` -> ``test_functional_lif.py``."""
    return "test_" + module.replace("/test/", "_").replace("/", "_").replace("test_", "")


def _absolute_imports(source: str, module: str) -> str:
    """``from ..lif import x`` in ``norse/torch/module/test/`` -> ``from norse.torch.module.lif``."""
    package = ["norse", "torch"] + module.split("/")[:-1]

    def absolute(match):
        dots, rest = len(match.group(2)), match.group(3)
        base = package[: len(package) - dots + 1]
        return match.group(1) + ".".join(base + ([rest] if rest else []))

    return re.sub(r"(^\s*from )(\.+)([\w.]*)", absolute, source, flags=re.M)


NORSE_1_1_0_CONFTEST = '''
import pytest
import snnlearn


@pytest.fixture(autouse=True)
def norse_1_1_0_gradients():
    with snnlearn.norse_1_1_0_gradients():
        yield
'''


def prepare(folder: Path, rename: bool, mode: str = "") -> None:
    """Copy the test modules into ``folder``; with ``rename``, norse.torch -> snnlearn.torch;
    with ``mode="norse_1_1_0"``, every test runs inside ``snnlearn.norse_1_1_0_gradients()``
    (a conftest.py beside the copies; the test modules are the same)."""
    folder.mkdir(parents=True)
    for module in MODULES:
        source = _absolute_imports((NORSE_TORCH / module).read_text(), module)
        if rename:
            source = re.sub(r"\bnorse\.torch\b", "snnlearn.torch", source)
        (folder / _test_file_name(module)).write_text(source)
    # test_nir_import reads this file by a path relative to the working directory
    if mode == "norse_1_1_0":
        (folder / "conftest.py").write_text(NORSE_1_1_0_CONFTEST)
    data = folder / "norse" / "torch" / "utils" / "test"
    data.mkdir(parents=True)
    shutil.copy(NORSE_TORCH / "utils" / "test" / "braille.nir", data)


def pytest_code(folder: Path) -> str:
    """``python -m pytest`` on the copies in ``folder``, run from there."""
    args = ["-q", "-p", "no:cacheprovider", "--continue-on-collection-errors",
            "--junitxml", str(folder / "results.xml"), "-W", "ignore::DeprecationWarning",
            str(folder)]
    return (f"import os, sys, pytest; os.chdir({str(folder)!r}); "
            f"sys.exit(pytest.main({args!r}))")


def outcomes(folder: Path) -> dict:
    """``{"<module>::<test>": "passed" | "failed" | "skipped"}`` from pytest's JUnit XML."""
    results = {}
    for case in ElementTree.parse(folder / "results.xml").iter("testcase"):
        module = case.get("classname").split(".")[-1].removeprefix("test_")
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped":
                outcome = "skipped"
        if case.get("name"):
            results[f"{module}::{case.get('name')}"] = outcome
    return results


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("norse_suite")
    folders = {name: root / name for name in ("norse", "snnlearn", "snnlearn_norse_1_1_0")}
    for name, folder in folders.items():
        prepare(folder, rename=name != "norse", mode=name.removeprefix("snnlearn_"))
    # three pytest processes side by side, forked from one interpreter that imported torch
    # (tests/fresh_python.py)
    from fresh_python import run_fresh

    done = run_fresh({name: (pytest_code(folder), {}) for name, folder in folders.items()},
                     cwd=root, timeout=900)
    logs = {name: result.stdout + result.stderr for name, result in done.items()}
    return {name: outcomes(folder) for name, folder in folders.items()}, logs


@pytest.mark.slow  # runs Norse's and snnlearn's code in three fresh processes
def test_norse_tests_pass_on_snnlearn(runs):
    """All in-scope tests that pass on Norse pass on snnlearn inside
    ``norse_1_1_0_gradients()``; outside it, all but :data:`NEED_RESTING_GRAPH`."""
    (results, logs) = runs
    norse = results["norse"]
    assert len(norse) > 100, logs["norse"][-3000:]
    norse_passes = {name for name, outcome in norse.items() if outcome == "passed"}
    in_scope = {name for name in norse if name not in OUT_OF_SCOPE}
    expected = norse_passes & in_scope
    passing = {mode: {name for name in expected if results[mode].get(name) == "passed"}
               for mode in ("snnlearn", "snnlearn_norse_1_1_0")}
    print(f"\nNorse 1.1.0's tests ({len(MODULES)} modules, {len(norse)} tests): "
          f"{len(in_scope)} in scope, {len(expected)} of those pass on Norse, "
          f"{len(passing['snnlearn_norse_1_1_0'])} pass on snnlearn inside "
          f"norse_1_1_0_gradients(), {len(passing['snnlearn'])} outside it; "
          f"out of scope: {len(OUT_OF_SCOPE)}")
    missing = sorted(expected - passing["snnlearn_norse_1_1_0"])
    assert not missing, (f"pass on Norse 1.1.0 but not on snnlearn: {missing}\n"
                         + logs["snnlearn_norse_1_1_0"][-6000:])
    missing = sorted(expected - passing["snnlearn"] - set(NEED_RESTING_GRAPH))
    assert not missing, (f"pass on Norse 1.1.0 but not on snnlearn: {missing}\n"
                         + logs["snnlearn"][-6000:])
    assert not set(NEED_RESTING_GRAPH) & passing["snnlearn"], \
        "NEED_RESTING_GRAPH lists tests that pass without the switch: update it"


@pytest.mark.slow  # runs Norse's and snnlearn's code in three fresh processes
def test_out_of_scope_list_names_real_tests(runs):
    (results, _) = runs
    stale = sorted(set(OUT_OF_SCOPE) - set(results["norse"]))
    assert not stale, f"OUT_OF_SCOPE names tests Norse 1.1.0 does not have: {stale}"
