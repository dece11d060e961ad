"""Caption generation from a trained run: encode once, then decode word by word.

    lstmsuite predict captioning --run-dir runs/captioning/shapes photo.png
    lstmsuite predict captioning --run-dir runs/captioning/shapes --attention-png a.png

`Captioner` rebuilds, from the trained model's own layers (`CaptionNet.from_model`),
three small Keras models that share its weights:

* `encode`: normalized images -> (memory, initial states);
* `step`: (last word (B, 1), memory, states) -> (next-word probabilities, attention
  weights, new states), the `step_fn` that the shared strategies of
  `lstmsuite.pipelines.decoding` (greedy, sampling, beam search) drive;
* `attend`: a whole caption, teacher-forced -> its attention weights per word (for
  the attention maps of the chosen caption, whatever the strategy).
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import numpy as np

from lstmsuite.apps.captioning.model import CaptionNet
from lstmsuite.apps.captioning.tokenizer import END, START, CaptionTokenizer
from lstmsuite.pipelines.decoding import Categorical, make_decoder


@dataclass
class Caption:
    words: list[str]
    ids: list[int]  # word ids, without start/end
    score: float  # the strategy's score (beam: length-penalized log-probability)


class Captioner:
    """Encoder + decoder of a trained run, for the shared decoding strategies.

    Args:
        model: the trained model (`checkpoints/best.keras`).
        tokenizer: the run's vocabulary.
        encoder: the frozen encoder saved apart when features were cached (None:
            the model holds its encoder as the layer "encoder").
    """

    def __init__(
        self,
        model: keras.Model,
        tokenizer: CaptionTokenizer,
        encoder: keras.Model | None = None,
    ):
        self.tokenizer = tokenizer
        net = CaptionNet.from_model(model)
        self.attention = net.attention
        encoder = encoder or model.get_layer("encoder")
        image = keras.Input(shape=encoder.input_shape[1:], name="image")
        memory = net.memory(encoder(image))
        states = net.initial_state(memory)
        self.encode_model = keras.Model(image, [memory, *states], name="encode")
        self.num_states = len(states)

        last = keras.Input(shape=(1,), dtype="int32", name="last")
        memory_in = keras.Input(shape=tuple(memory.shape[1:]), name="memory")
        states_in = [
            keras.Input(shape=tuple(s.shape[1:]), name=f"state_{k}")
            for k, s in enumerate(states)
        ]
        probs, weights, new_states = net.decode(last, memory_in, states_in)
        outputs = [probs[:, 0], *new_states]
        if self.attention:
            outputs.append(weights[:, 0])
        self.step_model = keras.Model(
            [last, memory_in, *states_in], outputs, name="step"
        )
        if self.attention:
            caption = keras.Input(shape=(None,), dtype="int32", name="caption")
            _, weights, _ = net.decode(caption, memory_in, states_in)
            self.attend_model = keras.Model(
                [caption, memory_in, *states_in], weights, name="attend"
            )
        self.feature_grid = tuple(encoder.output_shape[1:3])

    def encode(self, images: np.ndarray):
        memory, *states = self.encode_model.predict_on_batch(images)
        return np.asarray(memory), [np.asarray(s) for s in states]

    def step_fn(self, state, last):
        """`lstmsuite.pipelines.decoding` step: state = (memory, states)."""
        memory, states = state
        outputs = self.step_model.predict_on_batch(
            [np.asarray(last, np.int32)[:, None], memory, *states]
        )
        probs, new_states = outputs[0], outputs[1 : 1 + self.num_states]
        return np.asarray(probs), (memory, tuple(np.asarray(s) for s in new_states))

    def caption(
        self,
        images: np.ndarray,
        strategy: str = "beam",
        *,
        decoder=None,
        max_words: int = 30,
        **options,
    ):
        """Captions of a batch of normalized images.

        The strategy is `decoder` (a `lstmsuite.pipelines.decoding` strategy), or
        else the one `strategy` names, built with `options` (beam_width,
        length_penalty, temperature, top_k, top_p, seed); `max_words` caps the
        length.
        """
        if decoder is None:
            decoder = make_decoder(
                strategy, distribution=Categorical(), end_id=END, **options
            )
        memory, states = self.encode(images)
        start = np.full(len(images), START, dtype=np.int64)
        decoded = decoder.decode(
            self.step_fn, (memory, tuple(states)), start, max_words + 1
        )
        captions = []
        for row, score in zip(decoded.sequences, decoded.scores):
            # max_words + 1 steps leave room for <end> after max_words words
            words = self.tokenizer.decode_words(row)[:max_words]
            ids = [int(t) for t in row[: len(words)]]
            captions.append(Caption(words, ids, float(score)))
        return captions

    def attention_maps(self, images: np.ndarray, captions: list[Caption]):
        """Per image, (words + 1, h, w) attention weights: one map per word of its
        caption, then the one where it emitted the end token."""
        if not self.attention:
            raise ValueError(
                "this model has no attention (model.decoder is show_and_tell); "
                "attention maps need show_attend_tell"
            )
        memory, states = self.encode(images)
        maps = []
        for k, caption in enumerate(captions):
            tokens = np.array([[START, *caption.ids]], dtype=np.int32)
            weights = self.attend_model.predict_on_batch(
                [tokens, memory[k : k + 1], *[s[k : k + 1] for s in states]]
            )
            maps.append(np.asarray(weights)[0].reshape(-1, *self.feature_grid))
        return maps
