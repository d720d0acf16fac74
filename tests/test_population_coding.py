"""Population coding: ``population_decode`` / ``PopulationDecoder`` (the population vector,
a centre of mass of the activity) against its formula, with ``population_encode``, and on
bad input. The chapter's measured claims (errors against population size, the rate code)
are asserted in the book's build (``book/04_encoding.md``)."""

from __future__ import annotations

from functools import partial

import pytest
import torch

from snnlearn.functional.encode import gaussian_rbf, population_decode, population_encode
from snnlearn.module.encode import PopulationDecoder


def centre_of_mass_by_loop(activity, scale=1.0, empty=None):
    """The formula written out one row at a time: sum_k n_k c_k / sum_k n_k."""
    rows = activity.reshape(-1, activity.shape[-1]).tolist()
    n = activity.shape[-1]
    centres = [k * scale / (n - 1) if n > 1 else 0.0 for k in range(n)]
    out = []
    for row in rows:
        total = sum(row)
        out.append(sum(a * c for a, c in zip(row, centres)) / total if total > 0
                   else (scale / 2 if empty is None else empty))
    return torch.tensor(out, dtype=torch.float64).reshape(activity.shape[:-1])


def test_matches_the_formula_on_random_counts():
    g = torch.Generator().manual_seed(0)
    counts = torch.randint(0, 4, (3, 7, 9), generator=g).double()
    counts[0, 0] = 0                                   # one silent population
    for scale, empty in ((1.0, None), (2.5, None), (1.0, -1.0)):
        torch.testing.assert_close(population_decode(counts, scale, empty),
                                   centre_of_mass_by_loop(counts, scale, empty))


def test_hand_computed_values_and_the_silent_population():
    counts = torch.tensor([[0.0, 2.0, 2.0], [1.0, 0.0, 0.0], [0.0, 0.0, 5.0], [0.0, 0.0, 0.0]])
    torch.testing.assert_close(population_decode(counts), torch.tensor([0.75, 0.0, 1.0, 0.5]))
    assert population_decode(counts, empty=0.0)[-1] == 0.0
    assert population_decode(counts, scale=4.0)[-1] == 2.0        # middle of [0, scale]


def test_estimate_stays_inside_the_range_of_the_centres():
    activity = torch.rand(1000, 6, generator=torch.Generator().manual_seed(1)) ** 4
    estimate = population_decode(activity, scale=3.0)
    assert (estimate >= 0).all() and (estimate <= 3.0).all()


def test_decodes_the_centres_of_population_encode():
    """Noiseless tuning curves peaked on an inner centre read back as that centre (the
    neighbours' votes cancel in pairs), and the scale of the encoder carries over."""
    n = 9
    centres = torch.linspace(0, 1, n, dtype=torch.float64)
    inner = centres[2:-2]
    activity = population_encode(inner, n, scale=1.0,
                                 kernel=partial(gaussian_rbf, sigma=0.5 / (n - 1)))
    torch.testing.assert_close(population_decode(activity), inner, atol=1e-3, rtol=0)
    assert torch.equal(population_decode(activity, scale=2.0), 2 * population_decode(activity))


def test_more_neurons_decode_poisson_spikes_better():
    """Same spike budget, narrower tuning with more neurons: a smaller error (the chapter
    measures how much; here only the direction, with a margin far beyond the noise)."""
    g = torch.Generator().manual_seed(2)
    x = torch.rand(2000, generator=g)
    errors = []
    for n in (4, 16):
        rates = population_encode(x, n, scale=1.0, kernel=partial(gaussian_rbf, sigma=0.5 / (n - 1)))
        p = 0.5 * rates / rates.sum(-1, keepdim=True)              # 10 spikes in 20 steps
        counts = (torch.rand(20, *p.shape, generator=g) < p).float().sum(0)
        errors.append((population_decode(counts) - x).pow(2).mean().sqrt().item())
    assert errors[1] < errors[0] / 3


def test_integer_counts_give_the_same_estimate():
    counts = torch.tensor([[3, 1, 0, 2], [0, 0, 0, 0]])
    torch.testing.assert_close(population_decode(counts), population_decode(counts.float()))
    assert population_decode(counts).dtype == torch.get_default_dtype()


def test_gradient():
    activity = (torch.rand(4, 5, dtype=torch.float64) + 0.1).requires_grad_()
    assert torch.autograd.gradcheck(population_decode, (activity,))


def test_module_matches_functional():
    activity = torch.rand(2, 3, 8)
    decoder = PopulationDecoder(scale=2.0, empty=0.25)
    torch.testing.assert_close(decoder(activity), population_decode(activity, 2.0, 0.25))
    assert "scale=2.0" in repr(decoder)


@pytest.mark.parametrize("activity, kwargs, error, words", [
    ([1.0, 2.0], {}, TypeError, "torch.Tensor"),
    (torch.tensor(1.0), {}, ValueError, "dimension"),
    (torch.zeros(3, 0), {}, ValueError, "at least one neuron"),
    (torch.tensor([1.0, -1.0]), {}, ValueError, ">= 0"),
    (torch.tensor([1.0, float("nan")]), {}, ValueError, "finite"),
    (torch.tensor([1.0, float("inf")]), {}, ValueError, "finite"),
    (torch.tensor([1j, 1j]), {}, TypeError, "real"),
    (torch.ones(3), {"scale": 0.0}, ValueError, "scale"),
    (torch.ones(3), {"scale": -1.0}, ValueError, "scale"),
    (torch.ones(3), {"scale": True}, ValueError, "scale"),
    (torch.ones(3), {"scale": float("inf")}, ValueError, "scale"),
    (torch.ones(3), {"scale": "1"}, ValueError, "scale"),
    (torch.ones(3), {"empty": "middle"}, TypeError, "empty"),
])
def test_bad_input_is_a_clear_error(activity, kwargs, error, words):
    with pytest.raises(error, match=words):
        population_decode(activity, **kwargs)
