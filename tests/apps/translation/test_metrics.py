"""sacreBLEU-backed corpus BLEU and chrF with a variable number of references."""

from __future__ import annotations

import pytest

from lstmsuite.pipelines.metrics import corpus_bleu, corpus_chrf


def test_bleu_on_a_hand_checked_example():
    # hyp "the cat sat on the mat" vs ref "the cat sat on a mat" (13a tokens):
    # clipped n-gram precisions 5/6, 3/5, 2/4, 1/3; equal lengths, so no brevity
    # penalty: BLEU = 100 * (5/6 * 3/5 * 2/4 * 1/3) ** (1/4) = 53.728...
    score = corpus_bleu(["the cat sat on the mat"], [["the cat sat on a mat"]])
    assert score == pytest.approx(100 * (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25)
    assert score == pytest.approx(53.7285, abs=1e-3)


def test_every_reference_counts_and_their_number_may_vary():
    hyps = ["the cat sat on the mat", "Bonjour !"]
    one_ref = [["the cat sat on a mat"], ["Salut !"]]
    all_refs = [["the cat sat on a mat", "the cat sat on the mat"], ["Bonjour !"]]
    assert corpus_bleu(hyps, all_refs) == pytest.approx(100.0)
    assert corpus_bleu(hyps, one_ref) < 100.0
    assert corpus_chrf(hyps, all_refs) == pytest.approx(100.0)
    assert 0.0 < corpus_chrf(hyps, one_ref) < 100.0


def test_mismatched_inputs_are_errors():
    with pytest.raises(ValueError, match="2 hypotheses but 1"):
        corpus_bleu(["a", "b"], [["a"]])
    with pytest.raises(ValueError, match="at least one reference"):
        corpus_chrf(["a"], [[]])
