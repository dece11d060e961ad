"""The translation model: an LSTM encoder-decoder with attention, tokenizers inside.

    lstmsuite train translation --config configs/translation/anki_fra.yaml

    source ids (B, S) -> Embedding -> [Bidirectional] recurrent stack (layers/)
                      -> memory (B, S, 2U), final states -> Dense bridge (optional)
    target ids (B, T) -> Embedding -> recurrent stack (initial state: bridge or zeros)
                      -> attention over the memory (padded source masked)
                      -> tanh(W [context; h]) -> Dense(V) logits (B, T, V)

Training is teacher forced: `call((source, target_in))` sees the whole reference
prefix, so only the recurrence is sequential and attention runs over all target
positions at once. Inference runs `encode` once, then `step` one token at a time.

`Translator` owns its two `Tokenizer` layers, so a saved `.keras` file is a complete
translator: after `keras.models.load_model(path, safe_mode=True)`,
`model.translate(["Some sentence."])` returns translations (greedy by default, or any
`lstmsuite.pipelines.decoding` strategy), and `export_saved_model(model, dir)` writes a
SavedModel whose `translate` signature maps a string tensor to a string tensor with
the whole loop (tokenize, encode, greedy decode, detokenize) in the graph.
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from lstmsuite.apps.translation.attention import Attention
from lstmsuite.layers import get_layer_class
from lstmsuite.pipelines.subwords import BOS, EOS, PAD, Tokenizer


@keras.saving.register_keras_serializable(package="lstmsuite")
class Translator(keras.Model):
    """Args: vocabulary sizes, `embedding_dim`, `units` (per direction in the
    encoder), `encoder_layers` / `decoder_layers`, `cell` (a key of
    `lstmsuite.layers.CELLS`), `bidirectional`, `attention` (`luong` |
    `bahdanau`), `bridge` (start the decoder from a tanh projection of the
    encoder's final states, else from zeros), dropout rates, `residual` and
    `inter_layer_dropout` (between the layers of the encoder and of the decoder,
    with `lstmsuite.layers.DeepLSTM`'s rule: a layer whose input and output widths
    are equal adds its input to its output), `cell_options` (extra cell
    arguments), `max_output_length` (inference cap)."""

    def __init__(
        self,
        source_vocab: int,
        target_vocab: int,
        embedding_dim: int = 256,
        units: int = 256,
        encoder_layers: int = 1,
        decoder_layers: int = 1,
        cell: str = "lstm",
        bidirectional: bool = True,
        attention: str = "luong",
        attention_units: int = 256,
        bridge: bool = True,
        embedding_dropout: float = 0.0,
        output_dropout: float = 0.0,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        residual: bool = False,
        inter_layer_dropout: float = 0.0,
        cell_options: dict[str, Any] | None = None,
        max_output_length: int = 64,
        seed: int = 0,
        source_model: bytes | None = None,
        target_model: bytes | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.hparams = dict(
            source_vocab=source_vocab,
            target_vocab=target_vocab,
            embedding_dim=embedding_dim,
            units=units,
            encoder_layers=encoder_layers,
            decoder_layers=decoder_layers,
            cell=cell,
            bidirectional=bidirectional,
            attention=attention,
            attention_units=attention_units,
            bridge=bridge,
            embedding_dropout=embedding_dropout,
            output_dropout=output_dropout,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            residual=residual,
            inter_layer_dropout=inter_layer_dropout,
            cell_options=dict(cell_options or {}),
            max_output_length=max_output_length,
            seed=seed,
        )
        self.bidirectional = bidirectional
        self.bridge = bridge
        self.residual = residual
        self.between_layers = keras.layers.Dropout(inter_layer_dropout, seed=seed + 2)
        self.max_output_length = max_output_length
        self.source_tokenizer = Tokenizer(source_vocab, source_model, name="source_tok")
        self.target_tokenizer = Tokenizer(target_vocab, target_model, name="target_tok")

        layer_class = get_layer_class(cell)
        rnn_kwargs = dict(
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            seed=seed,
            **(cell_options or {}),
        )

        def rnn(name, return_state):
            return layer_class(
                units,
                return_sequences=True,
                return_state=return_state,
                name=name,
                **rnn_kwargs,
            )

        self.source_embedding = keras.layers.Embedding(
            source_vocab, embedding_dim, name="source_embedding"
        )
        self.target_embedding = keras.layers.Embedding(
            target_vocab, embedding_dim, name="target_embedding"
        )
        self.embedding_dropout = keras.layers.Dropout(embedding_dropout, seed=seed)
        self.encoder = []
        for i in range(encoder_layers):
            last = i == encoder_layers - 1
            layer = rnn(f"encoder_{i}", return_state=last)
            if bidirectional:
                layer = keras.layers.Bidirectional(layer, name=f"bi_encoder_{i}")
            self.encoder.append(layer)
        self.decoder = [
            rnn(f"decoder_{i}", return_state=True) for i in range(decoder_layers)
        ]
        # One tanh bridge per decoder layer and state (h, c for LSTMs): the decoder
        # starts from a summary of the source instead of zeros (when `bridge`).
        state_sizes = self.decoder[0].cell.state_size
        self.state_sizes = (
            state_sizes if isinstance(state_sizes, list) else [state_sizes]
        )
        self.bridges = [
            [
                keras.layers.Dense(size, activation="tanh", name=f"bridge_{i}_{j}")
                for j, size in enumerate(self.state_sizes)
            ]
            for i in range(decoder_layers if bridge else 0)
        ]
        self.attention = Attention(attention, attention_units, name="attention")
        self.combine = keras.layers.Dense(
            units, activation="tanh", use_bias=False, name="combine"
        )
        self.output_dropout = keras.layers.Dropout(output_dropout, seed=seed + 1)
        self.logits = keras.layers.Dense(target_vocab, dtype="float32", name="logits")
        self._step_fn = None
        self._encode_fn = None

    def build(self, input_shape=None):
        # Runs the network once on a dummy pair so that every sub-layer creates its
        # weights (a loaded model needs them before its weights are read).
        dummy = ops.ones((1, 3), dtype="int32")
        self.call((dummy, dummy))
        self.built = True

    # -------------------------------------------------------------------- the network
    def encode(self, source, training=False):
        """source ids (B, S) -> memory (B, S, D), mask (B, S), decoder states."""
        mask = ops.not_equal(source, PAD)
        x = self.embedding_dropout(self.source_embedding(source), training=training)
        for layer in self.encoder[:-1]:
            x = self.stacked(x, layer(x, mask=mask, training=training), training)
        out = self.encoder[-1](x, mask=mask, training=training)
        memory, final = self.stacked(x, out[0], training, last=True), list(out[1:])
        if not self.bridge:
            # Zero initial states: the decoder learns the source only through
            # attention, which keeps attention from degenerating into a second
            # copy of the sentence summary (see apps/translation/README.md).
            batch = ops.shape(source)[0]
            zeros = [
                ops.zeros((batch, n), dtype=memory.dtype) for n in self.state_sizes
            ]
            return memory, mask, [list(zeros) for _ in self.decoder]
        if self.bidirectional:  # [forward states..., backward states...]
            half = len(final) // 2
            final = [
                ops.concatenate([f, b], axis=-1)
                for f, b in zip(final[:half], final[half:])
            ]
        states = [
            [bridge(s) for bridge, s in zip(bridges, final)] for bridges in self.bridges
        ]
        return memory, mask, states

    def decode(self, target_in, states, memory, mask, training=False):
        """target ids (B, T) -> logits (B, T, V), new states, attention (B, T, S)."""
        y = self.embedding_dropout(self.target_embedding(target_in), training=training)
        new_states = []
        for k, (layer, state) in enumerate(zip(self.decoder, states)):
            out = layer(y, initial_state=list(state), training=training)
            last = k == len(self.decoder) - 1
            y = self.stacked(y, out[0], training, last=last)
            new_states.append(list(out[1:]))
        context, weights = self.attention(y, memory, mask)
        h = self.combine(ops.concatenate([context, y], axis=-1))
        h = self.output_dropout(h, training=training)
        return self.logits(h), new_states, weights

    def stacked(self, x, y, training, last=False):
        """Layer output `y` of input `x` as the next layer's input: plus `x` when
        residual and the widths match, then inter-layer dropout unless `last`."""
        if self.residual and x.shape[-1] == y.shape[-1]:
            y = x + y
        return y if last else self.between_layers(y, training=training)

    def call(self, inputs, training=False):
        source, target_in = inputs
        memory, mask, states = self.encode(source, training=training)
        logits, _, _ = self.decode(target_in, states, memory, mask, training=training)
        return logits

    def attention_weights(self, source, target_in):
        """Teacher-forced attention (B, T, S) of `target_in` over `source`."""
        memory, mask, states = self.encode(source)
        return self.decode(target_in, states, memory, mask)[2]

    # ------------------------------------------------------------- step-wise decoding
    def source_ids(self, strings):
        """Raw strings -> (B, S) ids, each sentence followed by EOS (so that an
        empty sentence still has one real position to attend to)."""
        ragged = self.source_tokenizer.tokenize(strings)
        eos = tf.fill([ragged.nrows(), 1], EOS)
        return tf.concat([ragged, tf.RaggedTensor.from_tensor(eos)], axis=1).to_tensor(
            default_value=PAD
        )

    def encode_strings(self, strings):
        """NumPy in, NumPy out: (source ids, memory, mask, states) for `step`."""
        if self._encode_fn is None:
            self._encode_fn = tf.function(
                lambda s: (lambda ids: (ids, *self.encode(ids)))(self.source_ids(s)),
                reduce_retracing=True,
            )
        out = self._encode_fn(tf.constant(list(strings), tf.string))
        return keras.tree.map_structure(lambda t: np.asarray(t), out)

    def step(self, state, last):
        """One decoder step in the `lstmsuite.pipelines.decoding` convention.

        state: (decoder states, memory, mask) with a leading batch axis; last: (B,)
        previous token ids. Returns logits (B, V) and the next state; the attention
        weights of the step are kept in `self.last_attention` (B, S).
        """
        if self._step_fn is None:

            def fn(tokens, states, memory, mask):
                logits, states, weights = self.decode(
                    tokens[:, None], states, memory, mask
                )
                return logits[:, 0], states, weights[:, 0]

            self._step_fn = tf.function(fn, reduce_retracing=True)
        states, memory, mask = state
        logits, states, weights = self._step_fn(
            tf.constant(np.asarray(last, np.int32)), states, memory, mask
        )
        self.last_attention = np.asarray(weights)
        states = keras.tree.map_structure(lambda t: np.asarray(t), states)
        return np.asarray(logits), (states, memory, mask)

    def translate(
        self, strings, decoder=None, max_length: int | None = None
    ) -> list[str]:
        """Raw strings -> raw translations with a decoding strategy
        (default greedy); batches as given, so pass a few hundred at a time."""
        from lstmsuite.pipelines.decoding import Categorical, Greedy

        strings = list(strings)
        if not strings:
            return []
        decoder = decoder or Greedy(Categorical(from_logits=True), end_id=EOS)
        ids = self.decode_ids(strings, decoder, max_length)
        return [
            s.decode("utf-8") for s in self.target_tokenizer.detokenize(ids).numpy()
        ]

    def decode_ids(self, strings, decoder, max_length: int | None = None):
        """Token ids (B, T) chosen by `decoder` for raw source strings."""
        source, memory, mask, states = self.encode_strings(strings)
        steps = max_length or self.output_length(source.shape[1])
        start = np.full(len(strings), BOS, dtype=np.int32)
        return decoder.decode(self.step, (states, memory, mask), start, steps).sequences

    def output_length(self, source_length: int) -> int:
        """Decoding steps for a batch whose longest source has this many tokens."""
        return int(min(self.max_output_length, 2 * source_length + 10))

    # --------------------------------------------------------------- in-graph greedy
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def translate_graph(self, strings):
        """(B,) strings -> (B,) strings, greedy, entirely in the graph (for
        SavedModel serving, where there is no Python decoding loop)."""
        source = self.source_ids(strings)
        memory, mask, states = self.encode(source)
        batch = tf.shape(source)[0]
        steps = tf.minimum(self.max_output_length, 2 * tf.shape(source)[1] + 10)
        tokens = tf.fill([batch], BOS)
        done = tf.zeros([batch], tf.bool)
        outputs = tf.TensorArray(tf.int32, size=steps)
        for t in tf.range(steps):
            logits, states, _ = self.decode(tokens[:, None], states, memory, mask)
            tokens = tf.cast(tf.argmax(logits[:, 0], axis=-1), tf.int32)
            tokens = tf.where(done, EOS, tokens)
            outputs = outputs.write(t, tokens)
            done = done | tf.equal(tokens, EOS)
            if tf.reduce_all(done):
                break
        ids = tf.transpose(outputs.stack())
        return self.target_tokenizer.detokenize(ids)

    # ------------------------------------------------------------------------ config
    def get_config(self):
        return {**super().get_config(), **self.hparams}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_translator(
    model_cfg, source: Tokenizer, target: Tokenizer, seed: int = 0
) -> Translator:
    """A built `Translator` for a `TranslationModelConfig` and two trained
    tokenizers."""
    model = Translator(
        source_vocab=source.vocab_size,
        target_vocab=target.vocab_size,
        embedding_dim=model_cfg.embedding_dim,
        units=model_cfg.units,
        encoder_layers=model_cfg.num_layers,
        decoder_layers=model_cfg.decoder_layers or model_cfg.num_layers,
        cell=model_cfg.cell,
        bidirectional=model_cfg.bidirectional,
        attention=model_cfg.attention,
        attention_units=model_cfg.attention_units,
        bridge=model_cfg.bridge,
        embedding_dropout=model_cfg.embedding_dropout,
        output_dropout=model_cfg.output_dropout,
        dropout=model_cfg.dropout,
        recurrent_dropout=model_cfg.recurrent_dropout,
        residual=model_cfg.residual,
        inter_layer_dropout=model_cfg.inter_layer_dropout,
        cell_options=model_cfg.cell_options,
        max_output_length=model_cfg.max_output_length,
        seed=seed,
        source_model=source.model_bytes,
        target_model=target.model_bytes,
        name="translator",
    )
    model.build()
    return model


def export_saved_model(model: Translator, path) -> str:
    """Writes a SavedModel with a `translate` (and default `serve`) signature:
    string tensor (B,) -> string tensor (B,). Load it with
    `import tensorflow_text; tf.saved_model.load(path).translate(tf.constant([...]))`
    (the import registers the SentencePiece ops)."""
    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = [tf.TensorSpec([None], tf.string, name="strings")]
    archive.add_endpoint("translate", model.translate_graph, input_signature=spec)
    archive.add_endpoint("serve", model.translate_graph, input_signature=spec)
    archive.write_out(str(path), verbose=False)
    return str(path)


@keras.saving.register_keras_serializable(package="lstmsuite")
class SmoothedCrossEntropy(keras.losses.Loss):
    """Token cross-entropy from logits with label smoothing (Szegedy et al. 2016):
    (1 - eps) * NLL(target) + eps * mean over the vocabulary of -log p. With the
    per-token sample weights (0 on padding) and "mean_with_sample_weight", a batch's
    loss is the mean over its real target tokens."""

    def __init__(
        self,
        label_smoothing: float = 0.0,
        name="token_xent",
        reduction="mean_with_sample_weight",
        **kwargs,
    ):
        super().__init__(name=name, reduction=reduction, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        logp = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        y_true = ops.cast(y_true, "int32")
        nll = -ops.take_along_axis(logp, y_true[..., None], axis=-1)[..., 0]
        if not self.label_smoothing:
            return nll
        smooth = -ops.mean(logp, axis=-1)
        return (1.0 - self.label_smoothing) * nll + self.label_smoothing * smooth

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}
