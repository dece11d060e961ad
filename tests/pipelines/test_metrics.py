"""The JSB NLL convention and frame-level scores against hand-computed values."""

import math

import numpy as np
import pytest

from lstmsuite.pipelines.metrics import PianoRollScores, bernoulli_nll, frame_scores


def test_nll_matches_hand_computation_and_ignores_padding():
    # One piece, 2 predicted frames of 3 units, then a padded frame.
    probs = np.array([[[0.9, 0.2, 0.5], [0.1, 0.1, 0.7], [0.5, 0.5, 0.5]]])
    targets = np.array([[[1, 0, 1], [0, 0, 1], [1, 1, 1]]], dtype=float)
    mask = np.array([[1, 1, 0]])
    frame1 = -(math.log(0.9) + math.log(0.8) + math.log(0.5))
    frame2 = -(math.log(0.9) + math.log(0.9) + math.log(0.7))
    assert bernoulli_nll(probs, targets, mask) == pytest.approx((frame1 + frame2) / 2)


def test_nll_of_88_fair_coins_is_88_log_2():
    probs = np.full((5, 88), 0.5)
    targets = (np.arange(5 * 88).reshape(5, 88) % 3 == 0).astype(float)
    assert bernoulli_nll(probs, targets) == pytest.approx(88 * math.log(2))


def test_frame_scores_and_accumulation():
    probs = np.array([[0.9, 0.8, 0.1, 0.6], [0.2, 0.7, 0.4, 0.1]])
    targets = np.array([[1, 0, 1, 1], [0, 1, 0, 0]], dtype=float)
    # predicted on: (0,0) (0,1) (0,3) (1,1); true on: (0,0) (0,2) (0,3) (1,1)
    scores = frame_scores(probs, targets)
    assert scores["precision"] == pytest.approx(3 / 4)
    assert scores["recall"] == pytest.approx(3 / 4)
    assert scores["f1"] == pytest.approx(3 / 4)

    acc = PianoRollScores()
    acc.update(probs[:1], targets[:1])
    acc.update(probs[1:], targets[1:])
    whole = bernoulli_nll(probs, targets)
    assert acc.result()["nll"] == pytest.approx(whole)
    assert acc.result()["f1"] == pytest.approx(3 / 4)
