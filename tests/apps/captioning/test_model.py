"""Attention masking and shapes, both decoders, padding out of the loss, and beam
search against a hand-built model whose best caption is known."""

import numpy as np
import pytest

from lstmsuite.apps.captioning.attention import SoftAttentionRNN
from lstmsuite.apps.captioning.config import CaptionConfig
from lstmsuite.apps.captioning.tokenizer import END, START, CaptionTokenizer
from lstmsuite.pipelines.config import load_config


def tiny_cfg(**overrides):
    items = [
        "encoder.filters=[4, 8]",
        "data.image_size=16",
        "model.units=8",
        "model.embedding_dim=6",
        "model.feature_units=5",
        "model.attention_units=4",
        *[f"{k}={v}" for k, v in overrides.items()],
    ]
    return load_config(CaptionConfig, None, items, app="captioning")


def test_attention_shapes_weights_and_memory_mask():
    rng = np.random.default_rng(0)
    layer = SoftAttentionRNN(7, cell="lstm", attention_units=5, seed=1)
    x = rng.normal(size=(2, 4, 3)).astype("float32")
    memory = rng.normal(size=(2, 6, 5)).astype("float32")
    outputs, weights, h, c = layer(x, memory)
    assert outputs.shape == (2, 4, 7 + 5) and weights.shape == (2, 4, 6)
    assert h.shape == c.shape == (2, 7)
    np.testing.assert_allclose(np.sum(weights, axis=-1), 1.0, atol=1e-5)

    mask = np.array([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]], dtype=bool)
    out1, w1, *_ = layer(x, memory, memory_mask=mask)
    assert np.all(np.asarray(w1)[~np.broadcast_to(mask[:, None], w1.shape)] < 1e-12)
    np.testing.assert_allclose(np.sum(w1, axis=-1), 1.0, atol=1e-5)
    # what lies under the mask cannot change the result
    changed = memory.copy()
    changed[~mask] = 100.0
    out2, w2, *_ = layer(x, changed, memory_mask=mask)
    np.testing.assert_allclose(out1, out2, atol=1e-5)
    np.testing.assert_allclose(w1, w2, atol=1e-6)


@pytest.mark.parametrize(
    "cell", ["gru", "slstm", "mlstm", "minlstm", "mingru", "mogrifier"]
)
def test_attention_is_causal_over_steps_and_takes_any_cell(cell):
    rng = np.random.default_rng(1)
    layer = SoftAttentionRNN(6, cell=cell, attention_units=4, gate=False, seed=2)
    x = rng.normal(size=(1, 5, 3)).astype("float32")
    memory = rng.normal(size=(1, 4, 2)).astype("float32")
    outputs, weights, *states = layer(x, memory)  # as many states as the cell
    later = x.copy()
    later[:, 3:] = 0.0  # steps 3, 4 changed: 0..2 identical
    outputs2, *_ = layer(later, memory)
    np.testing.assert_allclose(outputs[:, :3], outputs2[:, :3], atol=1e-6)
    assert not np.allclose(outputs[:, 3:], outputs2[:, 3:])
    with pytest.raises(ValueError, match="zoneout"):
        SoftAttentionRNN(4, zoneout_cell=0.1)


@pytest.mark.parametrize("decoder", ["show_attend_tell", "show_and_tell"])
def test_model_shapes_and_padding_is_out_of_the_loss(decoder):
    import keras

    from lstmsuite.apps.captioning.app import CaptioningApp
    from lstmsuite.apps.captioning.model import build_model

    cfg = tiny_cfg(**{"model.decoder": decoder, "model.pooling": "flatten"})
    model = build_model(cfg, vocab_size=11)
    rng = np.random.default_rng(2)
    images = rng.normal(size=(2, 16, 16, 3)).astype("float32")
    tokens = np.array([[START, 5, 6, 0, 0], [START, 7, 8, 9, 4]], dtype="int32")
    probs = model({"image": images, "tokens": tokens})
    assert probs.shape == (2, 5, 11)
    np.testing.assert_allclose(np.sum(probs, -1), 1.0, atol=1e-5)

    targets = np.array([[5, 6, END, 0, 0], [7, 8, 9, 4, END]])
    weights = (np.arange(5) < np.array([[3], [5]])).astype("float32")
    loss = CaptioningApp().compile_args(cfg)["loss"]
    value = float(loss(targets, probs, sample_weight=weights))
    p = np.asarray(probs)
    picked = np.take_along_axis(p, targets[..., None], -1)[..., 0]
    expected = -np.log(picked)[weights > 0].mean()  # mean over the 8 real words
    assert value == pytest.approx(expected, rel=1e-4)
    assert isinstance(model.get_layer("encoder"), keras.Model)


class TableModel:
    """A hand-built "model": next-word probabilities depend on the last word only.

    vocabulary: a (4), b (5). After <start>: a 0.6, b 0.4. After a: a 0.35, b 0.35,
    <end> 0.3. After b: <end> 0.9. Greedy says "a a ..." (0.6 * 0.35 * ...); the
    best caption is "b" (0.4 * 0.9 = 0.36 > 0.6 * 0.3 = 0.18), which beam search
    finds.
    """

    table = {
        START: {4: 0.6, 5: 0.4},
        4: {4: 0.35, 5: 0.35, END: 0.3},
        5: {END: 0.9, 4: 0.05, 5: 0.05},
        END: {END: 1.0},
    }

    def step_fn(self, state, last):
        probs = np.full((len(last), 6), 1e-12)
        for row, token in enumerate(last):
            for word, p in self.table[int(token)].items():
                probs[row, word] = p
        memory, states = state
        assert len(memory) == len(last)  # beam search reorders/repeats the state
        return probs, (memory, states)


def test_beam_search_finds_the_known_best_caption():
    from lstmsuite.apps.captioning.inference import Captioner

    captioner = Captioner.__new__(Captioner)  # the decoding half, with a table model
    captioner.tokenizer = CaptionTokenizer(
        ["<pad>", "<unk>", "<start>", "<end>", "a", "b"]
    )
    table = TableModel()
    captioner.step_fn = table.step_fn
    captioner.encode = lambda images: (
        np.zeros((len(images), 3, 2)),
        [np.zeros((len(images), 4))],
    )
    images = np.zeros((2, 8, 8, 3))

    beam = captioner.caption(
        images, "beam", beam_width=2, length_penalty=0.0, max_words=5
    )
    assert [c.words for c in beam] == [["b"], ["b"]]
    assert beam[0].score == pytest.approx(np.log(0.36))
    greedy = captioner.caption(images, "greedy", max_words=3)
    assert greedy[0].words == ["a", "a", "a"]  # cut at max_words, never ended
    sampled = captioner.caption(images, "sample", seed=3, temperature=0.5, max_words=5)
    again = captioner.caption(images, "sample", seed=3, temperature=0.5, max_words=5)
    assert [c.words for c in sampled] == [c.words for c in again]
