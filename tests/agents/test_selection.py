"""How agents that score motions pick one: greedy, or a draw from softmax(logits / T)."""

import numpy as np
import pytest

from cliprt_agents.selection import MotionSelection, selection_from_options


def test_greedy_is_the_argmax_and_factors_reweight():
    logits = np.array([[0.0, 2.0, 1.0], [3.0, 0.0, 0.0]])
    greedy = MotionSelection()
    assert greedy.choose(logits, np.random.default_rng(0)).tolist() == [1, 0]
    factors = np.array([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    assert greedy.choose(logits, np.random.default_rng(0), factors).tolist() == [2, 0]


@pytest.mark.parametrize(("temperature", "p_best"), [(1.0, 0.75), (0.5, 0.9)])
def test_sampling_follows_the_softmax_at_the_temperature(temperature, p_best):
    logits = np.tile([0.0, np.log(3.0)], (4000, 1))
    chosen = MotionSelection("sample", temperature).choose(logits, np.random.default_rng(1))
    assert abs(chosen.mean() - p_best) < 0.025


def test_sampling_never_draws_a_motion_ruled_out_and_is_seeded():
    logits = np.random.default_rng(2).normal(size=(500, 6)) * 5
    factors = np.ones_like(logits)
    factors[:, 3] = 0.0
    a = MotionSelection("sample", 2.0).choose(logits, np.random.default_rng(3), factors)
    b = MotionSelection("sample", 2.0).choose(logits, np.random.default_rng(3), factors)
    assert np.array_equal(a, b) and 3 not in set(a.tolist()) and len(set(a.tolist())) == 5
    everything_out = MotionSelection("sample").choose(logits[:2], np.random.default_rng(0), np.zeros_like(logits[:2]))
    assert everything_out.tolist() == logits[:2].argmax(axis=1).tolist()  # nothing left: the model's best


def test_a_cold_draw_is_the_greedy_choice():
    logits = np.random.default_rng(4).normal(size=(50, 58)) * 30
    cold = MotionSelection("sample", 1e-6).choose(logits, np.random.default_rng(0))
    assert np.array_equal(cold, logits.argmax(axis=1))


def test_options_and_bad_values():
    assert selection_from_options({}) == MotionSelection()
    assert selection_from_options({"selection": "sample", "temperature": "0.3"}) == MotionSelection("sample", 0.3)
    with pytest.raises(ValueError, match="selection must be one of"):
        selection_from_options({"selection": "best"})
    for bad in ("0", "-1", "nan", "warm"):
        with pytest.raises(ValueError, match="temperature must be a number > 0"):
            selection_from_options({"selection": "sample", "temperature": bad})
