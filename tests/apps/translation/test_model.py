"""The encoder-decoder: attention shapes and masking, teacher forcing, step decoding,
and the shared beam search against a hand-built scoring model."""

from __future__ import annotations

import numpy as np
import pytest

from lstmsuite.apps.translation.attention import Attention
from lstmsuite.pipelines.subwords import BOS, EOS, PAD


@pytest.mark.parametrize("kind", ["luong", "bahdanau"])
def test_attention_shapes_and_masking_of_padded_source(kind):
    rng = np.random.default_rng(0)
    query = rng.normal(size=(2, 5, 8)).astype("float32")
    memory = rng.normal(size=(2, 7, 6)).astype("float32")
    mask = np.ones((2, 7), dtype=bool)
    mask[0, 4:] = False  # sentence 0 has 4 real tokens, then padding
    layer = Attention(kind, units=8)
    context, weights = layer(query, memory, mask)
    context, weights = np.asarray(context), np.asarray(weights)
    assert context.shape == (2, 5, 6) and weights.shape == (2, 5, 7)
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    assert np.all(weights[0, :, 4:] == 0.0)
    assert np.all(weights[1] > 0.0)
    # Whatever sits in the padded positions never changes the result.
    noisy = memory.copy()
    noisy[0, 4:] = 1e3 * rng.normal(size=(3, 6))
    context2, _ = layer(query, noisy, mask)
    np.testing.assert_allclose(np.asarray(context2), context, rtol=1e-5, atol=1e-5)


def test_unknown_attention_kind_is_an_error():
    with pytest.raises(ValueError, match="luong, bahdanau"):
        Attention("dot")


def _translator(**kwargs):
    from lstmsuite.apps.translation.model import Translator

    options = dict(embedding_dim=8, units=8, attention_units=8, max_output_length=6)
    model = Translator(40, 30, **{**options, **kwargs})
    model.build()
    return model


@pytest.mark.parametrize(
    "options",
    [
        {"attention": "luong"},
        {"attention": "bahdanau", "cell": "gru", "bidirectional": False},
        {"attention": "bahdanau", "bridge": False},
        {"encoder_layers": 2, "decoder_layers": 2, "cell": "layernorm"},
        {"encoder_layers": 2, "decoder_layers": 2, "residual": True},
        # The modern cells: the whole-sequence forms (parallel, scan) in teacher
        # forcing against their one-step recurrence in decoding.
        {"cell": "slstm", "cell_options": {"num_heads": 2}},
        {"cell": "mlstm", "bidirectional": False},
        {"cell": "minlstm"},
        {"cell": "mingru", "bidirectional": False},
        {"cell": "mogrifier", "cell_options": {"rounds": 2}},
    ],
)
def test_teacher_forced_logits_and_step_decoding_agree(options):
    model = _translator(**options)
    source = np.array([[5, 6, 7, EOS], [8, EOS, PAD, PAD]], dtype=np.int32)
    target_in = np.array([[BOS, 9, 10], [BOS, 11, 12]], dtype=np.int32)
    logits = np.asarray(model((source, target_in)))
    assert logits.shape == (2, 3, 30)
    # Padding the source further changes nothing for the shorter sentence.
    longer = np.pad(source, ((0, 0), (0, 3)))
    np.testing.assert_allclose(
        np.asarray(model((longer, target_in))), logits, rtol=1e-4, atol=1e-5
    )
    # Step-by-step decoding reproduces the teacher-forced logits.
    memory, mask, states = model.encode(source)
    state = (
        [[np.asarray(s) for s in layer] for layer in states],
        np.asarray(memory),
        np.asarray(mask),
    )
    for t in range(3):
        step_logits, state = model.step(state, target_in[:, t])
        np.testing.assert_allclose(step_logits, logits[:, t], rtol=1e-4, atol=1e-5)
        assert model.last_attention.shape == (2, 4)
        assert np.all(model.last_attention[1, 2:] == 0.0)


def test_residual_and_inter_layer_dropout_act_between_layers():
    source = np.array([[5, 6, 7, EOS]], dtype=np.int32)
    target_in = np.array([[BOS, 9, 10]], dtype=np.int32)
    stack = dict(encoder_layers=2, decoder_layers=2)
    plain = _translator(**stack)
    residual = _translator(**stack, residual=True, inter_layer_dropout=0.5)
    residual.set_weights(plain.get_weights())  # the same weights: no new ones
    before = np.asarray(plain((source, target_in)))
    after = np.asarray(residual((source, target_in)))
    assert not np.allclose(before, after)  # the skip connections change the sum
    # Inference ignores the dropout; training draws it between the layers.
    np.testing.assert_allclose(residual((source, target_in)), after, rtol=1e-6)
    trained = np.asarray(residual((source, target_in), training=True))
    assert not np.allclose(trained, after)
    assert not np.allclose(
        np.asarray(plain((source, target_in), training=True)), trained
    )


def test_without_a_bridge_the_decoder_starts_from_zeros_and_has_no_bridge_weights():
    model = _translator(attention="bahdanau", bridge=False)
    _, _, states = model.encode(np.array([[5, 6, EOS]], dtype=np.int32))
    assert all(not np.any(np.asarray(s)) for layer in states for s in layer)
    assert not any("bridge" in w.path for w in model.weights)


def test_beam_search_finds_the_best_sequence_of_a_hand_built_model():
    """Tokens: 0 pad, 1 unk, 2 BOS, 3 EOS, 4 "a", 5 "b". After BOS, "a" is likelier
    (0.6) than "b" (0.4), but "a" continues badly (every next token 1/4) while "b"
    continues with "b" then EOS almost surely. Best sequence: b b EOS
    (0.4 * 0.9 * 0.9 = 0.324) against greedy's a ... (at most 0.6 * 0.25 * ...)."""
    from lstmsuite.apps.translation.app import DecodeConfig, make_decoder

    vocab = 6

    def probs(row):
        p = np.full(vocab, 1e-9)
        p[row] = 1.0
        return p

    table = {
        (): {4: 0.6, 5: 0.4},
        (4,): {3: 0.25, 4: 0.25, 5: 0.25, 1: 0.25},
        (5,): {5: 0.9, 3: 0.1},
        (5, 5): {3: 0.9, 4: 0.1},
    }

    def step_fn(state, last):
        history = state
        rows = []
        new_history = []
        for h, token in zip(history, last):
            h = tuple(h) if token == BOS else (*h, int(token))
            h = tuple(t for t in h if t > 0)
            new_history.append(h)
            dist = table.get(h, {3: 1.0}) if not h or h[-1] != 3 else {3: 1.0}
            p = np.full(vocab, 1e-9)
            for token_id, value in dist.items():
                p[token_id] = value
            rows.append(np.log(p))
        width = max(len(h) for h in new_history) or 1
        padded = np.array([[*h, *([0] * (width - len(h)))] for h in new_history])
        return np.stack(rows), padded

    start = np.array([BOS, BOS])  # a batch of two identical inputs
    state = np.zeros((2, 1), dtype=np.int64)
    decode = DecodeConfig(beam_width=3, length_penalty=0.0)
    beam = make_decoder(decode, "beam").decode(step_fn, state, start, 5)
    for row, length in zip(beam.sequences, beam.lengths):
        assert list(row[:length]) == [5, 5, 3]
    np.testing.assert_allclose(beam.scores, np.log(0.4 * 0.9 * 0.9), rtol=1e-6)
    greedy = make_decoder(decode, "greedy").decode(step_fn, state, start, 5)
    assert greedy.sequences[0, 0] == 4  # greedy commits to "a"


def test_smoothed_cross_entropy_matches_a_hand_computation():
    from lstmsuite.apps.translation.model import SmoothedCrossEntropy

    logits = np.log(np.array([[[0.5, 0.25, 0.25], [0.1, 0.1, 0.8]]], dtype="float32"))
    target = np.array([[0, 2]])
    weights = np.array([[1.0, 0.0]], dtype="float32")  # second token is padding
    plain = float(SmoothedCrossEntropy(0.0)(target, logits, weights))
    assert plain == pytest.approx(-np.log(0.5), rel=1e-5)
    smooth = float(SmoothedCrossEntropy(0.1)(target, logits, weights))
    expected = 0.9 * -np.log(0.5) + 0.1 * -np.mean(np.log([0.5, 0.25, 0.25]))
    assert smooth == pytest.approx(expected, rel=1e-5)
