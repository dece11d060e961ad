"""The in-graph greedy and sampling loop against the host loop of decoding.py."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from lstmsuite.pipelines import decoding
from lstmsuite.pipelines.graph_decoding import (
    GraphDecoding,
    supports,
    truncated_log_probs,
)

VOCAB = 7
# A fixed "model": the next token's logits depend on the last token only.
TABLE = np.random.default_rng(0).normal(size=(VOCAB, VOCAB)).astype(np.float32) * 2


def graph_step(state, last):
    return tf.gather(tf.constant(TABLE), last), state + 1


def host_step(state, last):
    return TABLE[np.asarray(last)], state + 1


def categorical(name, **kw):
    return decoding.make_decoder(
        name, distribution=decoding.Categorical(from_logits=True), **kw
    )


def test_greedy_matches_the_host_loop():
    start = np.arange(4, dtype=np.int32)
    graph = GraphDecoding(graph_step).decode(
        categorical("greedy"), tf.zeros([4]), start, 12
    )
    host = categorical("greedy").decode(host_step, np.zeros(4), start, 12)
    np.testing.assert_array_equal(graph.sequences, host.sequences)
    np.testing.assert_allclose(graph.scores, host.scores, rtol=1e-5)


def test_end_token_stops_rows_and_sets_lengths():
    end = int(TABLE[0].argmax())  # greedy from 0 emits `end` first
    start = np.array([0, 1], np.int32)
    graph = GraphDecoding(graph_step).decode(
        categorical("greedy", end_id=end), tf.zeros([2]), start, 9
    )
    host = categorical("greedy", end_id=end).decode(host_step, np.zeros(2), start, 9)
    np.testing.assert_array_equal(graph.lengths, host.lengths)
    assert graph.lengths[0] == 1 and (graph.sequences[0] == end).all()


@pytest.mark.parametrize(
    "settings",
    [dict(temperature=1.0), dict(temperature=0.7, top_k=3), dict(top_p=0.8)],
    ids=["plain", "top_k", "nucleus"],
)
def test_sampling_draws_from_the_truncated_distribution(settings):
    """One step from a known distribution, 20,000 rows: the frequencies match the
    host's truncated distribution, and cut tokens never appear."""
    logits = TABLE[3]
    rows = 20_000

    def step(state, last):
        return tf.tile(tf.constant(logits)[None], [tf.shape(last)[0], 1]), state

    decoder = categorical("sample", seed=5, **settings)
    out = GraphDecoding(step).decode(
        decoder, tf.zeros([rows]), np.zeros(rows, np.int32), 1
    )
    freq = np.bincount(out.sequences[:, 0], minlength=VOCAB) / rows
    expected = np.exp(
        decoding.Categorical(from_logits=True).log_probs(
            logits[None], settings.get("temperature", 1.0)
        )
    )[0]
    if settings.get("top_k"):
        expected[np.argsort(expected)[: -settings["top_k"]]] = 0
        expected /= expected.sum()
    if settings.get("top_p"):
        expected = decoding.nucleus(expected[None], settings["top_p"])[0]
    assert (freq[expected == 0] == 0).all()
    np.testing.assert_allclose(freq, expected, atol=0.015)


def test_truncation_equals_the_host_nucleus():
    p = np.array([[0.5, 0.05, 0.3, 0.1, 0.05], [0.2, 0.2, 0.2, 0.2, 0.2]])
    got = np.exp(truncated_log_probs(tf.constant(np.log(p)), 1.0, 0, 0.7).numpy())
    np.testing.assert_allclose(got, decoding.nucleus(p, 0.7), atol=1e-6)


def test_same_seed_same_tokens_and_beam_is_refused():
    start = np.zeros(3, np.int32)
    run = GraphDecoding(graph_step)
    a = run.decode(categorical("sample", seed=1), tf.zeros([3]), start, 20)
    b = run.decode(categorical("sample", seed=1), tf.zeros([3]), start, 20)
    c = run.decode(categorical("sample", seed=2), tf.zeros([3]), start, 20)
    np.testing.assert_array_equal(a.sequences, b.sequences)
    assert (a.sequences != c.sequences).any()
    assert not supports(categorical("beam"))
    with pytest.raises(ValueError, match="greedy and sampling"):
        run.decode(categorical("beam"), tf.zeros([3]), start, 2)
