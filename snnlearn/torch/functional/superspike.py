"""``norse.torch.functional.superspike``: ``SuperSpike`` and ``super_fn``.

``super_fn(x, alpha)`` is SuperSpike as in the paper (and Norse after #403):
``1 / (alpha |x| + 1)^2``; Norse 1.1.0's ignored ``alpha`` (inside
``norse_1_1_0_gradients()`` this does too).
"""

from snnlearn.functional.threshold import SuperSpike, superspike  # noqa: F401


def super_fn(x, alpha: float = 100.0):
    """Norse's ``super_fn``: spikes ``H(x)`` with the SuperSpike surrogate gradient, the
    ``"super"`` entry of :data:`snnlearn.functional.threshold.SURROGATES`."""
    from snnlearn.functional.threshold import threshold

    return threshold(x, "super", alpha)


__all__ = ["SuperSpike", "super_fn"]
