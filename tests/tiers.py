"""The two test tiers' budgets for randomised tests, in one place.

``make test`` runs every test with its full budget; ``make test-fast`` runs the tests not
marked slow with a smaller one. The tier is the Hypothesis profile the Makefile chooses
(``--hypothesis-profile=full`` or ``fast``; tests/conftest.py registers both); a plain
``pytest`` run, without the option, runs Hypothesis's default profile, which counts as
``full``:

* ``full``: Hypothesis's defaults, and each property test's own ``max_examples``;
* ``fast``: each property test runs at most ``FAST_EXAMPLES`` examples, drawn the same
  way every run (``derandomize``: the fast tier always checks, and costs, the same), and
  the other randomised tests (the C fuzzer) call ``budget`` for their smaller counts.

A property test writes ``@settings(max_examples=examples(60), ...)``: 60 in ``make test``,
``FAST_EXAMPLES`` in ``make test-fast``. The profile is loaded before the test modules are
imported (Hypothesis's pytest plugin, at configuration), so the count is settled when the
decorator runs.

>>> from hypothesis import settings
>>> previous = settings.get_current_profile_name()
>>> settings.load_profile(FAST)
>>> examples(60), examples(3), budget(3000, 500), settings.default.derandomize
(5, 3, 500, True)
>>> settings.load_profile(FULL)
>>> examples(60), budget(3000, 500), settings.default.derandomize
(60, 3000, False)
>>> settings.load_profile(previous)
"""

from __future__ import annotations

from hypothesis import settings

FAST = "fast"
FULL = "full"
FAST_EXAMPLES = 5


def register_profiles() -> None:
    """Register the ``full`` and ``fast`` Hypothesis profiles (tests/conftest.py)."""
    settings.register_profile(FULL, settings.get_profile("default"))
    settings.register_profile(FAST, settings.get_profile("default"),
                              max_examples=FAST_EXAMPLES, derandomize=True)


def fast() -> bool:
    """Whether this run is the fast tier (``make test-fast``)."""
    return settings.get_current_profile_name() == FAST


def examples(full: int) -> int:
    """``max_examples`` for a property test: ``full`` in the full tier, at most
    ``FAST_EXAMPLES`` in the fast one."""
    return min(full, FAST_EXAMPLES) if fast() else full


def budget(full: int, quick: int) -> int:
    """A count for a randomised test that is not a Hypothesis test (calls, seeds): ``full``
    in the full tier, ``quick`` in the fast one."""
    return quick if fast() else full
