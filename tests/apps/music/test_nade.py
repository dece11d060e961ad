"""The RNN-NADE output of the music app: exact likelihood, sampling, save/load.

A NADE over d keys is a distribution over 2^d frames; on tiny sizes the tests
enumerate all of them.
"""

import itertools

import keras
import numpy as np
import pytest

from lstmsuite.apps.music.nade import NADE
from lstmsuite.pipelines import decoding


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def tiny_nade(units=4, hidden=3, context=5, seed=0):
    """A built NADE layer with random (not tiny) weights, and its weights in NumPy."""
    layer = NADE(units, hidden)
    layer.build([(None, context), (None, units)])
    rng = np.random.default_rng(seed)
    weights = [rng.normal(0, 1.0, w.shape).astype("float32") for w in layer.weights]
    layer.set_weights(weights)
    return layer, {w.path.split("/")[-1]: v for w, v in zip(layer.weights, weights)}


def all_frames(units):
    return np.array(list(itertools.product([0, 1], repeat=units)), dtype="float32")


def key_by_key_log_prob(weights, context, frame):
    """log p(frame | context) from the equations, one key at a time (the reference)."""
    b_v = context @ weights["visible_bias_kernel"] + weights["visible_bias"]
    b_h = context @ weights["hidden_bias_kernel"] + weights["hidden_bias"]
    w, v = weights["input_kernel"], weights["output_kernel"]
    total = 0.0
    for d in range(len(frame)):
        hidden = sigmoid(b_h + frame[:d] @ w[:d])
        p_on = sigmoid(b_v[d] + hidden @ v[:, d])
        total += np.log(p_on if frame[d] else 1.0 - p_on)
    return total


def layer_log_probs(layer, context, frames):
    probs = np.asarray(layer([context, frames]), dtype=np.float64)
    return (frames * np.log(probs) + (1 - frames) * np.log1p(-probs)).sum(-1)


def test_probabilities_of_all_frames_sum_to_one():
    layer, _ = tiny_nade(units=5)
    frames = all_frames(5)  # all 32 frames of 5 keys
    context = np.random.default_rng(1).normal(size=(2, 5)).astype("float32")
    for c in context:
        logp = layer_log_probs(layer, np.repeat(c[None], len(frames), 0), frames)
        assert np.exp(logp).sum() == pytest.approx(1.0, abs=1e-5)


def test_one_pass_equals_the_key_by_key_product():
    layer, weights = tiny_nade(units=6, hidden=4)
    rng = np.random.default_rng(2)
    context = rng.normal(size=(7, 5)).astype("float32")
    frames = (rng.random((7, 6)) < 0.4).astype("float32")
    got = layer_log_probs(layer, context, frames)
    want = [key_by_key_log_prob(weights, c, f) for c, f in zip(context, frames)]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)


def test_numpy_distribution_matches_the_layer():
    layer, _ = tiny_nade(units=6, hidden=4)
    rng = np.random.default_rng(3)
    context = rng.normal(size=(9, 5)).astype("float32")
    frames = (rng.random((9, 6)) < 0.5).astype("float32")
    dist = layer.distribution()
    scores = layer.scores(context)
    assert scores.shape == (9, 6 + 4)
    np.testing.assert_allclose(
        dist.log_prob_of(scores, frames),
        layer_log_probs(layer, context, frames),
        rtol=1e-5,
        atol=1e-5,
    )


def test_sampling_frequencies_match_the_probabilities():
    layer, _ = tiny_nade(units=3, hidden=3, seed=4)
    dist = layer.distribution()
    context = np.random.default_rng(5).normal(size=(1, 5)).astype("float32")
    scores = np.repeat(layer.scores(context), 40_000, axis=0)
    samples = dist.sample(scores, np.random.default_rng(6))
    frames = all_frames(3)
    expected = np.exp(dist.log_prob_of(scores[:8], frames))
    codes = samples @ np.array([4, 2, 1])
    observed = np.bincount(codes.astype(int), minlength=8) / len(samples)
    assert expected.sum() == pytest.approx(1.0, abs=1e-9)
    # 40,000 draws: the standard error of each frequency is at most 0.0025.
    np.testing.assert_allclose(observed, expected, atol=0.012)


def test_greedy_picks_each_key_by_its_conditional():
    layer, weights = tiny_nade(units=6, hidden=4, seed=7)
    dist = layer.distribution()
    context = np.random.default_rng(8).normal(size=(5, 5)).astype("float32")
    chosen = dist.greedy(layer.scores(context))
    for c, frame in zip(context, chosen):
        b_v = c @ weights["visible_bias_kernel"] + weights["visible_bias"]
        b_h = c @ weights["hidden_bias_kernel"] + weights["hidden_bias"]
        for d in range(6):
            hidden = sigmoid(b_h + frame[:d] @ weights["input_kernel"][:d])
            p_on = sigmoid(b_v[d] + hidden @ weights["output_kernel"][:, d])
            assert frame[d] == (p_on >= 0.5)


def test_temperature_top_k_and_the_strategies_that_do_not_apply():
    layer, _ = tiny_nade(units=6, hidden=4, seed=9)
    dist = layer.distribution()
    scores = np.repeat(layer.scores(np.ones((1, 5), "float32")), 200, axis=0)
    rng = np.random.default_rng(0)
    cold = dist.sample(scores, rng, temperature=1e-4)
    np.testing.assert_array_equal(cold, np.repeat(dist.greedy(scores[:1]), 200, 0))
    capped = dist.sample(scores, rng, temperature=5.0, top_k=2)
    assert capped.sum(-1).max() <= 2 and capped.sum(-1).max() == 2
    with pytest.raises(ValueError, match="top_p"):
        dist.sample(scores, rng, top_p=0.9)
    with pytest.raises(ValueError, match="NADE"):
        decoding.Sampling(dist, top_p=0.9)
    with pytest.raises(ValueError, match="beam search needs a Categorical"):
        decoding.BeamSearch(dist)
    with pytest.raises(NotImplementedError, match="log_prob_of"):
        dist.log_probs(scores)
    with pytest.raises(ValueError, match=r"\(B, 6 \+ 4\)"):
        dist.greedy(np.zeros((2, 6)))


def test_sampling_decoder_is_reproducible_and_scores_its_choices():
    layer, _ = tiny_nade(units=6, hidden=4, seed=10)
    dist = layer.distribution()
    scores = layer.scores(np.ones((3, 5), "float32"))

    def step_fn(state, last):
        return scores, state

    decoder = decoding.Sampling(dist, seed=3)
    first = decoder.decode(step_fn, 0, np.zeros((3, 6)), steps=4)
    second = decoder.decode(step_fn, 0, np.zeros((3, 6)), steps=4)
    np.testing.assert_array_equal(first.sequences, second.sequences)
    assert first.sequences.shape == (3, 4, 6)
    total = sum(dist.log_prob_of(scores, first.sequences[:, t]) for t in range(4))
    np.testing.assert_allclose(first.scores, total)


def test_constructor_and_shape_errors_name_the_argument():
    with pytest.raises(ValueError, match="hidden_units"):
        NADE(88, 0)
    with pytest.raises(ValueError, match="num_visible"):
        NADE(-1)
    with pytest.raises(ValueError, match="frames of 88 units"):
        NADE(88, 4)([np.zeros((1, 2, 3)), np.zeros((1, 2, 5))])
    with pytest.raises(ValueError, match="output_kernel"):
        decoding.NADE(np.zeros((4, 3)), np.zeros((4, 3)))


def test_saves_and_loads_in_a_model_with_safe_mode(tmp_path):
    context = keras.Input((None, 5))
    frames = keras.Input((None, 4))
    probs = NADE(4, 3, name="nade")([context, frames])
    model = keras.Model([context, frames], probs)
    rng = np.random.default_rng(11)
    x = [rng.normal(size=(2, 3, 5)), (rng.random((2, 3, 4)) < 0.5).astype("float32")]
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(loaded.predict_on_batch(x), model.predict_on_batch(x))
    assert loaded.get_layer("nade").get_config()["hidden_units"] == 3
