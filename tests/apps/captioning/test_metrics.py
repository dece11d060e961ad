"""Corpus BLEU-1..4 and CIDEr-D (pipelines.metrics) on hand-checked examples."""

import math

import pytest

from lstmsuite.pipelines.metrics import cider_d, corpus_bleu_scores


def toks(text):
    return text.split()


HYP = toks("the cat sat on the mat")
REFS = [toks("the cat is on the mat"), toks("there is a cat on the mat")]


def test_bleu_one_sentence_by_hand():
    # unigrams: the x2 (clipped at 2 by ref 1), cat, on, mat match; sat does not: 5/6
    # bigrams: the cat, on the, the mat: 3/5; trigrams: on the mat: 1/4; 4-grams: 0/3
    # closest reference length 6 = hypothesis length: no brevity penalty.
    scores = corpus_bleu_scores([HYP], [REFS])
    assert scores["bleu1"] == pytest.approx(5 / 6)
    assert scores["bleu2"] == pytest.approx(math.sqrt(5 / 6 * 3 / 5))
    assert scores["bleu3"] == pytest.approx((5 / 6 * 3 / 5 * 1 / 4) ** (1 / 3))
    assert scores["bleu4"] == 0.0


def test_bleu_is_corpus_level_with_brevity_penalty():
    # Second pair: "a cat" vs "a cat sat down": 2/2 unigrams, 1/1 bigram, short.
    scores = corpus_bleu_scores(
        [HYP, toks("a cat")], [REFS, [toks("a cat sat down")]], max_order=2
    )
    penalty = math.exp(1 - (6 + 4) / (6 + 2))  # corpus lengths 8 vs 10
    assert scores["bleu1"] == pytest.approx(penalty * 7 / 8)
    assert scores["bleu2"] == pytest.approx(penalty * math.sqrt(7 / 8 * 4 / 6))


def test_bleu_perfect_and_closest_reference_length():
    refs = [toks("a red circle"), toks("there is a red circle on the left")]
    assert corpus_bleu_scores([toks("a red circle")], [refs])["bleu3"] == 1.0
    # clipping: "the the the" matches "the" at most twice
    scores = corpus_bleu_scores([toks("the the the")], [[toks("the cat the")]])
    assert scores["bleu1"] == pytest.approx(2 / 3)


def test_cider_d_perfect_two_word_captions_score_five():
    # Orders 1 and 2 are perfect cosines (1.0), orders 3 and 4 have no n-grams (0):
    # 10 * (1 + 1 + 0 + 0) / 4 = 5.
    hyps = [toks("a b"), toks("c d")]
    refs = [[toks("a b")], [toks("c d")]]
    assert cider_d(hyps, refs) == pytest.approx(5.0)


def test_cider_d_clipping_and_length_penalty_by_hand():
    # Image 1: hypothesis "a a b", reference "a b". Every n-gram has idf log(2/1)
    # (or log 2 for unseen ones) = L, which cancels in the cosines:
    #   n=1: h = {a: 2L, b: L}, r = {a: L, b: L}: (min(2L,L)L + L*L)/(sqrt5 L sqrt2 L)
    #   n=2: h = {aa: L, ab: L}, r = {ab: L}: L^2 / (sqrt2 L * L)
    #   n=3: the reference has no trigram: 0; n=4: 0
    #   length penalty exp(-(3-2)^2 / (2 * 6^2))
    sim1, sim2 = 2 / math.sqrt(10), 1 / math.sqrt(2)
    first = 10 * (sim1 + sim2) * math.exp(-1 / 72) / 4
    hyps = [toks("a a b"), toks("c d")]
    refs = [[toks("a b")], [toks("c d")]]
    assert cider_d(hyps, refs) == pytest.approx((first + 5.0) / 2)


def test_cider_d_document_frequency_down_weights_common_ngrams():
    # "a" is in every image's references (idf 0), so matching only "a" scores 0.
    refs = [[toks("a dog")], [toks("a cat")]]
    assert cider_d([toks("a bird"), toks("a fish")], refs) == pytest.approx(0.0)
    assert cider_d([toks("a dog"), toks("a cat")], refs) > 0


def test_metric_errors():
    with pytest.raises(ValueError, match="reference sets"):
        corpus_bleu_scores([HYP], [])
    with pytest.raises(ValueError, match="at least one reference"):
        corpus_bleu_scores([HYP], [[]])
    assert corpus_bleu_scores([[]], [REFS])["bleu4"] == 0.0
