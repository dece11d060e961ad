"""Decoding strategies against hand-built step functions whose answers are known."""

import numpy as np
import pytest

from lstmsuite.pipelines.decoding import (
    BeamSearch,
    Bernoulli,
    Categorical,
    Greedy,
    Sampling,
    make_decoder,
    nucleus,
)

END = 0


def table_step(table):
    """A "model" whose next-token distribution depends only on the last token.

    State is the step count (one per row), to check it is carried and reordered."""

    def step_fn(state, last):
        return np.stack([table[int(t)] for t in last]), state + 1

    return step_fn


# From token 1 (start): greedy takes 2 (p=0.6), after which the sequence can never
# end (2 -> 1 or 2, 1 -> 2 or 3); 3 (p=0.4) leads to 4 then END with p=1.0, so the
# best finished sequence is 3, 4, END with probability 0.4.
TABLE = {
    1: np.array([0.0, 0.0, 0.6, 0.4, 0.0]),
    2: np.array([0.0, 0.5, 0.5, 0.0, 0.0]),
    3: np.array([0.0, 0.0, 0.0, 0.0, 1.0]),
    4: np.array([1.0, 0.0, 0.0, 0.0, 0.0]),
    0: np.array([1.0, 0.0, 0.0, 0.0, 0.0]),
}


def test_greedy_follows_the_local_maximum():
    out = Greedy(Categorical(), end_id=END).decode(
        table_step(TABLE), np.zeros(1), np.array([1]), 3
    )
    assert out.sequences[0].tolist() == [2, 1, 2]
    assert out.scores[0] == pytest.approx(np.log(0.6 * 0.5 * 0.6))


def test_beam_search_finds_the_best_sequence_greedy_misses():
    beam = BeamSearch(Categorical(), end_id=END, beam_width=2, length_penalty=0.0)
    out = beam.decode(table_step(TABLE), np.zeros(2), np.array([1, 1]), 5)
    for row in range(2):
        assert out.sequences[row].tolist()[:3] == [3, 4, END]
        assert out.lengths[row] == 3
        assert out.scores[row] == pytest.approx(np.log(0.4))


def test_beam_search_reorders_state_with_the_hypotheses():
    seen = []

    def step_fn(state, last):
        seen.append(state["tokens"].copy())
        logits = np.tile(np.log([0.1, 0.6, 0.3]), (len(last), 1))
        return logits, {"tokens": np.concatenate([state["tokens"], last[:, None]], 1)}

    beam = BeamSearch(Categorical(from_logits=True), beam_width=2, length_penalty=0)
    start_state = {"tokens": np.zeros((1, 0), dtype=int)}
    out = beam.decode(step_fn, start_state, np.array([2]), 3)
    assert out.sequences[0].tolist() == [1, 1, 1]
    # The state a hypothesis sees is the history of the tokens it emitted.
    assert [2, 1] in [row.tolist() for row in seen[-1]]


def test_length_penalty_favours_longer_outputs():
    # END right away (p=0.5) or one more token then END (0.45 * 1.0).
    table = {
        1: np.array([0.5, 0.0, 0.45, 0.05]),
        2: np.array([1.0, 0.0, 0.0, 0.0]),
        3: np.array([1.0, 0.0, 0.0, 0.0]),
        0: np.array([1.0, 0.0, 0.0, 0.0]),
    }
    short = BeamSearch(Categorical(), end_id=END, beam_width=3, length_penalty=0.0)
    long = BeamSearch(Categorical(), end_id=END, beam_width=3, length_penalty=2.0)
    z, one = np.zeros(1), np.array([1])
    assert short.decode(table_step(table), z, one, 4).lengths[0] == 1
    assert long.decode(table_step(table), z, one, 4).lengths[0] == 2


def test_sampling_is_seeded_and_top_k_limits_choices():
    probs = np.tile([0.1, 0.2, 0.3, 0.4], (64, 1))

    def step_fn(state, last):
        return probs, state

    a = Sampling(Categorical(), seed=3).decode(step_fn, 0, np.zeros(64), 20)
    b = Sampling(Categorical(), seed=3).decode(step_fn, 0, np.zeros(64), 20)
    c = Sampling(Categorical(), seed=4).decode(step_fn, 0, np.zeros(64), 20)
    assert np.array_equal(a.sequences, b.sequences)
    assert not np.array_equal(a.sequences, c.sequences)
    top2 = Sampling(Categorical(), top_k=2, seed=0).decode(step_fn, 0, np.zeros(64), 20)
    assert set(np.unique(top2.sequences)) <= {2, 3}
    cold = Sampling(Categorical(), temperature=0.01, seed=0)
    assert (cold.decode(step_fn, 0, np.zeros(64), 5).sequences == 3).all()


def test_nucleus_keeps_the_smallest_set_reaching_top_p():
    p = np.array([[0.1, 0.2, 0.3, 0.4], [0.25, 0.25, 0.25, 0.25], [0.0, 0.0, 1.0, 0.0]])
    # Row 0, top_p=0.5: 0.4 alone is short of 0.5, 0.4 + 0.3 reaches it.
    np.testing.assert_allclose(
        nucleus(p, 0.5)[0], [0.0, 0.0, 0.3 / 0.7, 0.4 / 0.7], atol=1e-12
    )
    # Exactly reaching top_p stops there; ties go by token id.
    np.testing.assert_allclose(nucleus(p, 0.5)[1], [0.5, 0.5, 0.0, 0.0])
    np.testing.assert_allclose(nucleus(p, 0.7)[0], [0.0, 0.0, 0.3 / 0.7, 0.4 / 0.7])
    np.testing.assert_allclose(nucleus(p, 0.71)[0], [0.0, 0.2, 0.3, 0.4] / np.r_[0.9])
    # The most likely token is always kept, however small top_p.
    np.testing.assert_allclose(
        nucleus(p, 1e-9), [[0, 0, 0, 1], [1, 0, 0, 0], [0, 0, 1, 0]]
    )


def test_nucleus_sampling_draws_the_renormalized_nucleus():
    probs = np.tile([0.1, 0.2, 0.3, 0.4], (20000, 1))
    sampler = Sampling(Categorical(), top_p=0.6, seed=5)
    drawn = sampler.choose(probs)
    assert set(np.unique(drawn)) == {2, 3}
    assert abs((drawn == 3).mean() - 0.4 / 0.7) < 0.015
    # top_k first, then the nucleus of what is left; temperature before both.
    both = Sampling(Categorical(), top_k=3, top_p=0.3, seed=5).choose(probs)
    assert set(np.unique(both)) == {3}
    # At temperature 1 the nucleus of 0.35 is token 3 alone; flattened, two tokens.
    sharp = Sampling(Categorical(), top_p=0.35, seed=5).choose(probs)
    flat = Sampling(Categorical(), temperature=1e6, top_p=0.35, seed=5).choose(probs)
    assert set(np.unique(sharp)) == {3} and set(np.unique(flat)) == {2, 3}
    assert np.array_equal(
        drawn, Sampling(Categorical(), top_p=0.6, seed=5).choose(probs)
    )
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="top_p"):
            Sampling(Categorical(), top_p=bad)
    with pytest.raises(ValueError, match="top_p.*Bernoulli"):
        Sampling(Bernoulli(), top_p=0.9)


def test_bernoulli_units_greedy_and_sampling():
    p = np.array([[0.9, 0.1, 0.6, 0.4]])

    def step_fn(state, last):
        return p, state

    greedy = Greedy(Bernoulli()).decode(step_fn, 0, np.zeros((1, 4)), 2)
    assert greedy.sequences.shape == (1, 2, 4)
    assert greedy.sequences[0, 0].tolist() == [1, 0, 1, 0]
    many = np.repeat(p, 4000, axis=0)
    sampled = Sampling(Bernoulli(), seed=1).choose(many)
    assert np.allclose(sampled.mean(axis=0), p[0], atol=0.03)
    hot = Sampling(Bernoulli(), temperature=100.0, seed=1).choose(many)
    assert np.allclose(hot.mean(axis=0), 0.5, atol=0.03)
    with pytest.raises(ValueError, match="Categorical"):
        BeamSearch(Bernoulli())


def test_make_decoder_by_name():
    assert isinstance(make_decoder("beam", beam_width=3), BeamSearch)
    with pytest.raises(ValueError, match="Did you mean 'greedy'"):
        make_decoder("gredy")


def test_decoder_from_config_builds_the_named_strategy_with_its_settings():
    from lstmsuite.pipelines.decoding import (
        CTC,
        BeamSearch,
        CTCDecoder,
        DecodeConfig,
        Greedy,
        Sampling,
        decoder_from_config,
    )

    decode = DecodeConfig(beam_width=7, length_penalty=0.3, temperature=0.5, top_k=2)
    nucleus_decode = DecodeConfig(strategy="sample", top_p=0.8)
    assert decoder_from_config(nucleus_decode, Categorical()).top_p == 0.8
    beam = decoder_from_config(decode, Categorical(), end_id=2)
    assert isinstance(beam, BeamSearch)
    assert (beam.beam_width, beam.length_penalty, beam.end_id) == (7, 0.3, 2)
    sample = decoder_from_config(decode, Bernoulli(), strategy="sample", seed=9)
    assert isinstance(sample, Sampling) and isinstance(sample.distribution, Bernoulli)
    assert (sample.temperature, sample.top_k, sample.seed) == (0.5, 2, 9)
    seeded = DecodeConfig(strategy="sample", seed=4)
    assert decoder_from_config(seeded, Categorical(), seed=9).seed == 4  # its own
    assert isinstance(
        decoder_from_config(decode, Categorical(), strategy="greedy"), Greedy
    )

    ctc = decoder_from_config(decode, CTC(), strategy="greedy")
    assert isinstance(ctc, CTCDecoder)
    # frames: a, a, blank, b -> "a b" (ids 1, 2)
    scores = np.log(np.eye(3)[[1, 1, 0, 2]][None] * 0.97 + 0.01)
    assert [list(row) for row in ctc.decode(scores)] == [[1, 2]]
    beam_ctc = decoder_from_config(decode, CTC())
    assert [list(row) for row in beam_ctc.decode(scores)] == [[1, 2]]
    with pytest.raises(ValueError, match="needs a lexicon"):
        decoder_from_config(decode, CTC(), strategy="lexicon")
