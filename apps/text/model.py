"""The language models: a recurrent one (any cell of `lstmsuite.layers`) and, for
comparison, a causal Transformer decoder.

    ids (B, T) -> Embedding -> recurrent layer x num_layers -> Dense -> logits (B, T, V)

`RecurrentLM` has three ways to run, all giving the same logits:

* `call(ids)`: a whole window, each layer's sequence layer owning the loop (what
  `fit` trains). Built with `stateful=True` (training on stateful streams), each
  layer keeps its last state for the next batch, as char-rnn does.
* `forward(ids, states)`: a window from given states, returning the new ones
  (evaluation carries the state through a whole split this way).
* `step(tokens, states)`: one token per row, through each layer's *cell*: no
  sequence loop, so generation costs one cell step per layer per token, and never
  re-reads the prefix (`lstmsuite.apps.text.streaming`).

`TransformerLM` is the baseline of the comparison the app README reports: pre-layer-
norm blocks of `keras.layers.MultiHeadAttention` with a causal mask and learned
positions over a fixed context; it has no state to carry, so it generates by
re-reading its last `context` tokens.
"""

from __future__ import annotations

import keras
from keras import ops

from lstmsuite.layers import get_layer_class


@keras.saving.register_keras_serializable(package="lstmsuite")
class RecurrentLM(keras.Model):
    """A recurrent language model over token ids.

    Args:
        vocab_size: number of token ids.
        embedding_dim: width of the token embedding.
        cell: a key of `lstmsuite.layers.CELLS` (lstm, gru, slstm, mingru...).
        units: width of every recurrent layer.
        num_layers: recurrent layers, stacked.
        dropout, recurrent_dropout: inside each cell (recurrent dropout as the
            cell implements it, e.g. variational for the LSTM).
        inter_layer_dropout: on the outputs of every layer but the last.
        output_dropout: before the softmax layer.
        residual: add a layer's input to its output when the widths match.
        cell_options: more arguments of the cell's layer (zoneout, heads...).
        stateful: keep each row's last state for the next batch (training on
            stateful streams); needs `batch_size`.
        batch_size: the fixed batch of a stateful model.
        seed: for the initializers and dropout.
    """

    def __init__(
        self,
        vocab_size: int,
        embedding_dim: int = 64,
        cell: str = "lstm",
        units: int = 256,
        num_layers: int = 2,
        dropout: float = 0.0,
        recurrent_dropout: float = 0.0,
        inter_layer_dropout: float = 0.0,
        output_dropout: float = 0.0,
        residual: bool = False,
        cell_options: dict | None = None,
        stateful: bool = False,
        batch_size: int | None = None,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if stateful and not batch_size:
            raise ValueError("RecurrentLM: a stateful model needs batch_size")
        self.hparams = dict(
            vocab_size=vocab_size,
            embedding_dim=embedding_dim,
            cell=cell,
            units=units,
            num_layers=num_layers,
            dropout=dropout,
            recurrent_dropout=recurrent_dropout,
            inter_layer_dropout=inter_layer_dropout,
            output_dropout=output_dropout,
            residual=residual,
            cell_options=dict(cell_options or {}),
            stateful=stateful,
            batch_size=batch_size,
            seed=seed,
        )
        self.residual = residual
        self.embedding = keras.layers.Embedding(
            vocab_size, embedding_dim, name="embedding"
        )
        layer_class = get_layer_class(cell)
        self.recurrent = [
            layer_class(
                units,
                return_sequences=True,
                return_state=True,
                stateful=stateful,
                dropout=dropout,
                recurrent_dropout=recurrent_dropout,
                seed=seed + 10 * k,
                name=f"rnn{k}",
                **(cell_options or {}),
            )
            for k in range(num_layers)
        ]
        self.between = keras.layers.Dropout(inter_layer_dropout, seed=seed + 1)
        self.output_dropout = keras.layers.Dropout(output_dropout, seed=seed + 2)
        # float32 logits under mixed precision: the softmax wants the range.
        self.logits = keras.layers.Dense(vocab_size, dtype="float32", name="logits")

    def build(self, input_shape=None):
        # One pass on a dummy batch creates every weight (a loaded model needs them
        # before its weights are read); a stateful model forgets that pass.
        batch = self.hparams["batch_size"] or 1
        self.call(ops.zeros((batch, 2), dtype="int32"))
        self.reset_states()
        self.built = True

    # ------------------------------------------------------------------ the network
    def _stack(self, x, y, k, training):
        """Layer k's output `y` of input `x` as the next layer's input."""
        if self.residual and x.shape[-1] == y.shape[-1]:
            y = x + y
        if k < len(self.recurrent) - 1:
            y = self.between(y, training=training)
        return y

    def _head(self, y, training):
        return self.logits(self.output_dropout(y, training=training))

    def call(self, ids, training=False):
        x = self.embedding(ids)
        for k, layer in enumerate(self.recurrent):
            x = self._stack(x, layer(x, training=training)[0], k, training)
        return self._head(x, training)

    def forward(self, ids, states):
        """ids (B, T), states (per layer, a list) -> logits (B, T, V), new states."""
        x = self.embedding(ids)
        new_states = []
        for k, (layer, state) in enumerate(zip(self.recurrent, states)):
            out = layer(x, initial_state=list(state))
            x = self._stack(x, out[0], k, False)
            new_states.append(list(out[1:]))
        return self._head(x, False), new_states

    def step(self, tokens, states):
        """tokens (B,), states -> logits (B, V), new states: one cell step per
        layer."""
        x = self.embedding(tokens)
        new_states = []
        for k, (layer, state) in enumerate(zip(self.recurrent, states)):
            y, state = layer.cell(x, list(state))
            x = self._stack(x, y, k, False)
            new_states.append(list(state))
        return self._head(x, False), new_states

    def initial_states(self, batch_size: int):
        return [layer.cell.get_initial_state(batch_size) for layer in self.recurrent]

    def reset_states(self):
        """Forgets the carried state of a stateful model (no-op otherwise)."""
        for layer in self.recurrent:
            if layer.stateful:
                layer.reset_state()

    def get_config(self):
        return {**super().get_config(), **self.hparams}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


@keras.saving.register_keras_serializable(package="lstmsuite")
class TransformerLM(keras.Model):
    """A causal Transformer decoder (GPT-style, pre-layer-norm) over token ids.

    Args:
        vocab_size: number of token ids.
        context: the longest window it reads (learned positions up to it).
        units: model width.
        num_layers: decoder blocks.
        num_heads: attention heads per block (units must divide by it).
        ff_dim: width of each block's feed-forward layer (0: 4 * units).
        dropout: on attention weights, after attention and feed-forward, and on
            the embeddings.
        seed: for the initializers and dropout.
    """

    def __init__(
        self,
        vocab_size: int,
        context: int = 128,
        units: int = 128,
        num_layers: int = 4,
        num_heads: int = 4,
        ff_dim: int = 0,
        dropout: float = 0.0,
        seed: int = 0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if units % num_heads:
            raise ValueError(
                f"TransformerLM: units ({units}) must be a multiple of num_heads "
                f"({num_heads})"
            )
        self.hparams = dict(
            vocab_size=vocab_size,
            context=context,
            units=units,
            num_layers=num_layers,
            num_heads=num_heads,
            ff_dim=ff_dim,
            dropout=dropout,
            seed=seed,
        )
        self.context = context
        ff_dim = ff_dim or 4 * units
        self.embedding = keras.layers.Embedding(vocab_size, units, name="embedding")
        self.positions = keras.layers.Embedding(context, units, name="positions")
        self.embedding_dropout = keras.layers.Dropout(dropout, seed=seed)
        self.blocks = []
        for k in range(num_layers):
            self.blocks.append(
                dict(
                    norm1=keras.layers.LayerNormalization(name=f"block{k}_norm1"),
                    attention=keras.layers.MultiHeadAttention(
                        num_heads,
                        units // num_heads,
                        dropout=dropout,
                        seed=seed + 10 * k,
                        name=f"block{k}_attention",
                    ),
                    norm2=keras.layers.LayerNormalization(name=f"block{k}_norm2"),
                    ff1=keras.layers.Dense(
                        ff_dim, activation="gelu", name=f"block{k}_ff1"
                    ),
                    ff2=keras.layers.Dense(units, name=f"block{k}_ff2"),
                    drop=keras.layers.Dropout(dropout, seed=seed + 10 * k + 1),
                )
            )
        self.final_norm = keras.layers.LayerNormalization(name="final_norm")
        self.logits = keras.layers.Dense(vocab_size, dtype="float32", name="logits")

    def build(self, input_shape=None):
        self.call(ops.zeros((1, 2), dtype="int32"))
        self.built = True

    def call(self, ids, training=False):
        length = ops.shape(ids)[1]
        x = self.embedding(ids) + self.positions(ops.arange(length)[None, :])
        x = self.embedding_dropout(x, training=training)
        for b in self.blocks:
            h = b["norm1"](x)
            h = b["attention"](h, h, use_causal_mask=True, training=training)
            x = x + b["drop"](h, training=training)
            h = b["ff2"](b["ff1"](b["norm2"](x)))
            x = x + b["drop"](h, training=training)
        return self.logits(self.final_norm(x))

    def get_config(self):
        return {**super().get_config(), **self.hparams}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def build_model(
    model_cfg,
    vocab_size: int,
    *,
    seed: int = 0,
    batch_size=None,
    stateful: bool = False,
    context: int = 128,
) -> keras.Model:
    """The model `model.kind` names, built (its weights exist)."""
    if model_cfg.kind == "transformer":
        model = TransformerLM(
            vocab_size,
            context=context,
            units=model_cfg.units,
            num_layers=model_cfg.num_layers,
            num_heads=model_cfg.num_heads,
            ff_dim=model_cfg.ff_dim,
            dropout=model_cfg.dropout,
            seed=seed,
            name="transformer_lm",
        )
    else:
        model = RecurrentLM(
            vocab_size,
            embedding_dim=model_cfg.embedding_dim,
            cell=model_cfg.cell,
            units=model_cfg.units,
            num_layers=model_cfg.num_layers,
            dropout=model_cfg.dropout,
            recurrent_dropout=model_cfg.recurrent_dropout,
            inter_layer_dropout=model_cfg.inter_layer_dropout,
            output_dropout=model_cfg.output_dropout,
            residual=model_cfg.residual,
            cell_options=model_cfg.cell_options,
            stateful=stateful,
            batch_size=batch_size if stateful else None,
            seed=seed,
            name="recurrent_lm",
        )
    model.build()
    return model


def inference_copy(model: keras.Model) -> keras.Model:
    """The same network without carried state (any batch size), with the same
    weights: what evaluation and generation run."""
    if not isinstance(model, RecurrentLM) or not model.hparams["stateful"]:
        return model
    config = {**model.get_config(), "stateful": False, "batch_size": None}
    copy = RecurrentLM.from_config(config)
    copy.build()
    copy.set_weights(model.get_weights())
    return copy


class ResetStates(keras.callbacks.Callback):
    """Training on stateful streams: every epoch (and every validation pass)
    starts from a zero state, since its streams start at new places."""

    def _reset(self, *_):
        self.model.reset_states()

    on_epoch_begin = on_test_begin = on_test_end = _reset
