"""The C kernels' arguments are worked out once per (p, dt) and never go stale.

``snnlearn._compiled.kernel_args`` keeps, per parameters object and time step, the floats the
kernels take and whether they can take them at all (the per-call work it saves is timed
by benchmarks/bench_floors.py). A cache is only correct if every way of changing what it
summarises is noticed: these tests change the parameters in each such way between two
calls and check the second call runs what a fresh computation would.
"""

from __future__ import annotations

import pytest
import torch

import snnlearn
from snnlearn import LI, LIF, LIFParameters, LIParameters

pytest.importorskip("snnlearn._compiled._lif")
from snnlearn._compiled.kernel_args import _cache, _work_out, kernel_args  # noqa: E402


def test_same_objects_give_the_same_entry_and_the_numbers_of_a_fresh_computation():
    p, dt = LIFParameters(v_th=0.5), 0.001
    first = kernel_args(p, dt)
    assert kernel_args(p, dt) is first
    assert first == _work_out(p, dt)
    assert first.numbers["v_th"] == 0.5 and first.alpha == 100.0


def test_an_in_place_edit_of_a_0d_parameter_is_seen():
    p = LIFParameters(v_th=torch.tensor(1.0))
    xs = torch.full((50, 1), 0.6)
    before = int(LIF(p)(xs)[0].sum())
    with torch.no_grad():
        p.v_th.fill_(0.3)  # the same tensor object, a new version
    assert kernel_args(p, 0.001).numbers["v_th"] == pytest.approx(0.3)
    after = int(LIF(p)(xs)[0].sum())
    with snnlearn.use_backend("reference"):
        expected = int(LIF(p)(xs)[0].sum())
    assert after == expected != before


def test_a_parameter_made_to_require_a_gradient_in_place_leaves_the_c_path():
    p = LIFParameters(v_th=torch.tensor(0.5))
    assert snnlearn.why_not_c(torch.ones(2), p, 0.001) is None
    p.v_th.requires_grad_(True)
    assert "v_th" in snnlearn.why_not_c(torch.ones(2), p, 0.001)
    LIF(p)(torch.ones(3, 2))
    assert snnlearn.last_path() == "reference"


def test_the_norse_switch_changes_the_surrogate_the_kernels_run():
    p = LIFParameters(alpha=7.0)
    assert kernel_args(p, 0.001).alpha == 7.0
    with snnlearn.norse_1_1_0_gradients():
        assert kernel_args(p, 0.001).alpha == 1.0  # Norse 1.1.0's SuperSpike ignores alpha
    assert kernel_args(p, 0.001).alpha == 7.0


def test_layers_that_alternate_keep_their_own_entries():
    lif, li = LIF(LIFParameters(v_th=0.4)), LI(LIParameters(v_leak=0.2))
    xs = torch.rand(20, 3, 4)
    for _ in range(2):
        z, _ = lif(xs)
        v, _ = li(xs)
    with snnlearn.use_backend("reference"):
        assert torch.equal(z, lif(xs)[0])
        torch.testing.assert_close(v, li(xs)[0])
    assert kernel_args(lif.p, lif.dt).numbers["v_th"] == 0.4
    assert kernel_args(li.p, li.dt).v_leak == 0.2


def test_parameters_the_kernels_cannot_take_say_why():
    assert "tau_mem_inv" in kernel_args(LIFParameters(tau_mem_inv=torch.full((3,), 50.0)),
                                        0.001).reason
    assert "fast_sigmoid" in kernel_args(LIFParameters(method="fast_sigmoid"), 0.001).reason
    assert "dt" in kernel_args(LIFParameters(), torch.tensor([0.001, 0.002])).reason
    from snnlearn._compiled.lif_autograd import LIFSequenceFunction
    with pytest.raises(ValueError, match="cannot run: parameters v_th"):
        LIFSequenceFunction.apply(torch.ones(2, 3), None, None,
                                  LIFParameters(v_th=torch.ones(3)), 0.001)


def test_the_cache_stays_small():
    for k in range(300):
        kernel_args(LIFParameters(v_th=float(k)), 0.001)
    assert len(_cache) <= 64
