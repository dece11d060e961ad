"""Attention heat maps: which source subwords each output subword looked at.

    lstmsuite evaluate translation --run-dir runs/translation/anki_fra  # attention.png

For each sentence the model's greedy translation is fed back teacher-forced, and the
attention weights (output tokens x source tokens) are drawn, one panel a sentence.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def attention_matrices(model, sentences):
    """[(source pieces, output pieces, weights (T, S))] for each sentence."""
    import tensorflow as tf

    from lstmsuite.pipelines.decoding import Categorical, Greedy
    from lstmsuite.pipelines.subwords import BOS, EOS

    decoder = Greedy(Categorical(from_logits=True), end_id=EOS)
    out = []
    for sentence in sentences:
        source = model.source_ids(tf.constant([sentence]))
        ids = model.decode_ids([sentence], decoder)[0]
        ids = ids[: int(np.argmax(ids == EOS)) + 1] if (ids == EOS).any() else ids
        target_in = np.concatenate([[BOS], ids[:-1]])[None].astype(np.int32)
        weights = np.asarray(model.attention_weights(source, target_in))[0]
        src_pieces = model.source_tokenizer.id_to_piece(source[0]).numpy()
        tgt_pieces = model.target_tokenizer.id_to_piece(ids).numpy()
        out.append(
            (
                [p.decode("utf-8", "replace") for p in src_pieces],
                [p.decode("utf-8", "replace") for p in tgt_pieces],
                weights,
            )
        )
    return out


def plot_attention(model, sentences, path) -> Path:
    from lstmsuite.pipelines import plots

    panels = attention_matrices(model, sentences)
    fig = plots.figure(5 * len(panels), 5)
    for i, (src, tgt, weights) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        ax.imshow(weights, cmap="viridis", vmin=0, vmax=1, aspect="auto")
        ax.set_xticks(range(len(src)), src, rotation=90, fontsize=8)
        ax.set_yticks(range(len(tgt)), tgt, fontsize=8)
        ax.set_xlabel("source")
        ax.set_ylabel("output")
    return plots.save(fig, path)
