"""CTC decoding (pipelines/decoding.py) against hand-made probability matrices, and
CER/WER (pipelines/metrics.py) against hand-computed values."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lstmsuite.pipelines.decoding import CTCLexicon, ctc_beam_search, ctc_greedy
from lstmsuite.pipelines.metrics import ErrorRates, edit_distance, error_rates

BLANK = 0


def labelling_probability(probs: np.ndarray, labels: tuple) -> float:
    """p(labels | probs) by brute force: the sum over every frame path that
    collapses (merge repeats, drop blanks) to `labels`."""
    total = 0.0
    for path in itertools.product(range(probs.shape[1]), repeat=len(probs)):
        merged = [k for i, k in enumerate(path) if i == 0 or k != path[i - 1]]
        if tuple(k for k in merged if k != BLANK) == tuple(labels):
            total += np.prod(probs[np.arange(len(probs)), path])
    return total


def best_labelling(probs: np.ndarray, candidates=None) -> tuple:
    """The most probable labelling among `candidates` (default: all short ones)."""
    if candidates is None:
        classes = range(1, probs.shape[1])
        candidates = [
            c
            for n in range(len(probs) + 1)
            for c in itertools.product(classes, repeat=n)
        ]
    return max(candidates, key=lambda c: labelling_probability(probs, c))


def as_tuples(decoded):
    return [tuple(int(v) for v in row) for row in decoded]


# ---------------------------------------------------------------------------- greedy


def test_greedy_merges_repeats_and_drops_blanks():
    # Frame argmaxes: a a - a b b - (a=1, b=2): "a a" is one a, "a - a" two.
    argmax = [1, 1, 0, 1, 2, 2, 0]
    probs = np.full((1, 7, 3), 0.1)
    probs[0, np.arange(7), argmax] = 0.8
    assert as_tuples(ctc_greedy(np.log(probs))) == [(1, 1, 2)]


def test_greedy_ignores_padded_frames_of_each_row():
    probs = np.full((2, 4, 3), 0.1)
    probs[0, np.arange(4), [1, 0, 2, 2]] = 0.8
    probs[1, np.arange(4), [2, 2, 1, 1]] = 0.8
    decoded = ctc_greedy(np.log(probs), lengths=[4, 2])
    assert as_tuples(decoded) == [(1, 2), (2,)]
    assert as_tuples(ctc_greedy(np.log(probs), lengths=[0, 1])) == [(), (2,)]


# ------------------------------------------------------------------------------ beam


def test_beam_sums_paths_where_greedy_takes_the_best_one():
    # Two frames, p(blank) = 0.6, p(a) = 0.4: the best path is "--" (0.36), but
    # "a" has three paths, aa, a-, -a: 0.16 + 0.24 + 0.24 = 0.64.
    probs = np.array([[[0.6, 0.4], [0.6, 0.4]]])
    assert labelling_probability(probs[0], (1,)) == pytest.approx(0.64)
    assert as_tuples(ctc_greedy(np.log(probs))) == [()]
    assert as_tuples(ctc_beam_search(np.log(probs), beam_width=4)) == [(1,)]


def test_beam_finds_the_most_probable_labelling_of_random_matrices():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(3, 0.7), size=(6, 4))  # 6 rows, T=4, V=3
    decoded = ctc_beam_search(np.log(probs), beam_width=32)
    assert as_tuples(decoded) == [best_labelling(p) for p in probs]


def test_beam_respects_lengths():
    probs = np.full((2, 3, 3), 1 / 3)
    probs[:, :, 1] = 0.8
    probs[:, :, [0, 2]] = 0.1
    probs[1, 2] = [0.05, 0.05, 0.9]  # beyond row 1's length: must be ignored
    decoded = ctc_beam_search(np.log(probs), lengths=[3, 2], beam_width=4)
    assert as_tuples(decoded) == [(1,), (1,)]


def test_lexicon_beam_picks_the_most_probable_word():
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.full(3, 0.7), size=(5, 4))
    words = [(1, 1), (2,), (1, 2, 1), (2, 1)]
    lexicon = CTCLexicon(words)
    decoded = ctc_beam_search(np.log(probs), beam_width=32, lexicon=lexicon)
    assert as_tuples(decoded) == [best_labelling(p, words) for p in probs]


def test_lexicon_overrides_a_more_likely_non_word():
    # Frames say "ab" clearly; the lexicon only has "a" and "bb".
    probs = np.array([[[0.1, 0.8, 0.1], [0.1, 0.1, 0.8], [0.5, 0.1, 0.4]]])
    assert as_tuples(ctc_beam_search(np.log(probs), beam_width=8)) == [(1, 2)]
    lexicon = CTCLexicon([(1,), (2, 2)])
    decoded = ctc_beam_search(np.log(probs), beam_width=8, lexicon=lexicon)
    assert as_tuples(decoded) == [best_labelling(probs[0], [(1,), (2, 2)])] == [(1,)]


def test_lexicon_with_a_separator_reads_several_words():
    # classes: blank, a, b, space(3); frames spell "a b".
    probs = np.full((1, 5, 4), 0.02)
    for t, k in enumerate([1, 0, 3, 0, 2]):
        probs[0, t, k] = 0.94
    lexicon = CTCLexicon([(1,), (2,)], separator=3)
    decoded = ctc_beam_search(np.log(probs), beam_width=8, lexicon=lexicon)
    assert as_tuples(decoded) == [(1, 3, 2)]
    single = CTCLexicon([(1,), (2,)])  # no separator: one word only
    assert len(ctc_beam_search(np.log(probs), beam_width=8, lexicon=single)[0]) == 1


def test_lexicon_and_beam_width_errors():
    with pytest.raises(ValueError, match="no words"):
        CTCLexicon([])
    with pytest.raises(ValueError, match="beam_width"):
        ctc_beam_search(np.zeros((1, 2, 3)), beam_width=0)


# --------------------------------------------------------------------------- metrics


def test_edit_distance_by_hand():
    assert edit_distance("kitten", "sitting") == 3  # k->s, e->i, +g
    assert edit_distance("", "abc") == 3
    assert edit_distance(["the", "cat"], ["the", "bat", "sat"]) == 2


def test_cer_wer_and_line_accuracy_by_hand():
    refs = ["kitten", "the cat sat", "12 34"]
    hyps = ["sitting", "the bat sat down", "12 34"]
    scores = error_rates(refs, hyps)
    # characters: 3 + ("cat"->"bat" 1, + " down" 5) + 0 over 6 + 11 + 5
    assert scores["cer"] == pytest.approx(9 / 22)
    # words: 1 (kitten->sitting) + 2 (cat->bat, +down) + 0 over 1 + 3 + 2
    assert scores["wer"] == pytest.approx(3 / 6)
    assert scores["line_accuracy"] == pytest.approx(1 / 3)


def test_error_rates_accumulate_over_batches():
    rates = ErrorRates()
    rates.update(["abc"], ["abd"])
    rates.update(["de"], [""])
    assert rates.result()["cer"] == pytest.approx(3 / 5)
    assert rates.lines == 2 and rates.chars == 5
    with pytest.raises(ValueError):
        rates.update(["a", "b"], ["a"])
