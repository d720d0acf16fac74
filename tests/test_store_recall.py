"""The delayed store-recall task (snnlearn.data.store_recall): a memory task for chapter 8."""

from __future__ import annotations

import pytest
import torch
from sklearn.linear_model import LogisticRegression

from snnlearn.data.store_recall import store_recall

SMALL = dict(n_train=40, n_val=10, n_test=12, delay=20, cue_steps=5, group_size=4)


def test_same_seed_same_tensors_other_seed_other_tensors():
    a, b = store_recall(seed=3, **SMALL), store_recall(seed=3, **SMALL)
    for x, y in zip(a, b):
        assert torch.equal(torch.as_tensor(x), torch.as_tensor(y))
    assert not torch.equal(a.x_train, store_recall(seed=4, **SMALL).x_train)


def test_shapes_windows_dtypes():
    data = store_recall(**SMALL)
    assert (data.cue_steps, data.recall_start, data.n_steps) == (5, 25, 30)
    for x, y, n in ((data.x_train, data.y_train, 40), (data.x_val, data.y_val, 10),
                    (data.x_test, data.y_test, 12)):
        assert x.shape == (30, n, 12) and x.dtype == torch.float32
        assert y.shape == (n,) and y.dtype == torch.long
        assert set(x.unique().tolist()) <= {0.0, 1.0}
        assert set(y.tolist()) <= {0, 1}


def test_groups_fire_where_the_card_says():
    """Without background: cue y's group only in the cue window, the recall group only in
    the recall window, nothing in the delay, nothing from the other cue's group."""
    data = store_recall(n_train=50, n_val=1, n_test=1, delay=7, cue_steps=3, group_size=5,
                        cue_rate=1000.0, noise_rate=0.0)
    x, y = data.x_train, data.y_train
    g = 5
    for n in range(len(y)):
        cue = x[:3, n]
        assert cue[:, g * int(y[n]):g * int(y[n]) + g].eq(1).all()   # rate 1000 Hz: every step
        assert cue[:, g * (1 - int(y[n])):g * (1 - int(y[n])) + g].eq(0).all()
        assert cue[:, 2 * g:].eq(0).all()
    assert x[3:10].eq(0).all(), "the delay holds no spikes without background"
    assert x[10:, :, 2 * g:].eq(1).all() and x[10:, :, :2 * g].eq(0).all()
    assert 0 < y.sum() < len(y)


def test_background_rate_is_the_one_asked_for():
    data = store_recall(n_train=400, n_val=1, n_test=1, delay=50, noise_rate=20.0)
    delay = data.x_train[data.cue_steps:data.recall_start]
    assert abs(delay.mean().item() - 0.02) < 0.002


def test_the_label_is_in_the_cue_window_only():
    """The data-set card's claim: counts of the recall window are at chance, of the cue
    window perfect (logistic regression, held-out split)."""
    data = store_recall(n_train=300, n_test=300, seed=1)

    def window_counts(x, start, stop):
        return x[start:stop].sum(dim=0).numpy()

    def fit(start, stop):
        model = LogisticRegression(max_iter=1000).fit(
            window_counts(data.x_train, start, stop), data.y_train.numpy())
        return model.score(window_counts(data.x_test, start, stop), data.y_test.numpy())

    assert fit(0, data.cue_steps) == 1.0
    assert abs(fit(data.recall_start, data.n_steps) - 0.5) < 0.1


@pytest.mark.parametrize("bad, match", [
    (dict(n_train=0), "n_train"), (dict(delay=-1), "delay"), (dict(cue_steps=1.5), "cue_steps"),
    (dict(group_size=True), "group_size"), (dict(cue_rate=-5.0), "cue_rate"),
    (dict(noise_rate=float("nan")), "noise_rate"), (dict(cue_rate=900.0, noise_rate=200.0), "probability"),
    (dict(dt=0.0), "dt"), (dict(seed="0"), "seed"),
])
def test_bad_arguments_raise_clear_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        store_recall(**{**SMALL, **bad})


def test_zero_delay_is_allowed():
    data = store_recall(**{**SMALL, "delay": 0})
    assert data.recall_start == data.cue_steps and data.n_steps == 10
