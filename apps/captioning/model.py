"""The captioning model: CNN feature map -> LSTM decoder -> next-word probabilities.

    lstmsuite train captioning --config configs/captioning/shapes.yaml \
        --set model.decoder=show_and_tell --set model.cell=gru

    image (B, S, S, 3) -> encoder -> (B, h, w, D) -> L = h*w locations, each projected
    to feature_units (+ a learned location embedding): the memory (B, L, P)
    memory -> pooled (mean, or flattened) -> Dense(tanh) per state: initial states
    tokens (B, T) -> Embedding -> decoder -> Dropout -> Dense(V, softmax)

The decoder is `show_and_tell` (Vinyals et al. 2015: the image embedding is the
initial state of a recurrent stack from `layers/`, `model.num_layers` deep) or
`show_attend_tell` (Xu et al. 2015: `SoftAttentionRNN`, a `layers/` cell that
attends over the memory at every step; its word classifier reads [h ; context]).

Every layer has a fixed name, so that `CaptionNet.from_model` finds the trained
layers in a loaded model and wires them again into the one-step models that
generation needs (`apps/captioning/inference.py`): the training graph and the
generation graph share one wiring (`CaptionNet`), never two copies.

With cached encoder features (`data.cache_features`), the model's input is
"features" (B, h, w, D) instead of "image", and the frozen encoder is kept apart in
the run directory (`encoder.keras`).
"""

from __future__ import annotations

import keras
from keras import ops

from lstmsuite.apps.captioning.attention import SoftAttentionRNN
from lstmsuite.apps.captioning.encoder import build_encoder
from lstmsuite.layers import recurrent_stack


@keras.saving.register_keras_serializable(package="lstmsuite")
class LocationEmbedding(keras.layers.Layer):
    """Adds a learned vector per feature-map location: (B, L, P) + (L, P).

    Attention over a conv feature map barely knows *where* a location is (only
    through border effects); captions that say "above" or "in the top left" need it.
    """

    def build(self, input_shape):
        self.embedding = self.add_weight(
            shape=tuple(input_shape[1:]),
            name="embedding",
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )

    def call(self, inputs):
        return inputs + ops.cast(self.embedding, inputs.dtype)[None]


class CaptionNet:
    """The named layers of a captioning model and how they connect."""

    def __init__(self, layers: dict[str, keras.layers.Layer], decoder_kind: str):
        self.layers, self.kind = layers, decoder_kind

    @property
    def attention(self) -> bool:
        return self.kind == "show_attend_tell"

    # ----------------------------------------------------------------- creation
    @classmethod
    def create(cls, cfg, vocab_size: int, feature_shape) -> CaptionNet:
        m, seed = cfg.model, cfg.seed
        h, w, depth = feature_shape
        layers: dict[str, keras.layers.Layer] = {
            "locations": keras.layers.Reshape((h * w, depth), name="locations"),
            "feature_proj": keras.layers.Dense(
                m.feature_units, activation="relu", name="feature_proj"
            ),
            "feature_dropout": keras.layers.Dropout(
                m.feature_dropout, seed=seed, name="feature_dropout"
            ),
            "embedding": keras.layers.Embedding(
                vocab_size, m.embedding_dim, name="embedding"
            ),
            "embedding_dropout": keras.layers.Dropout(
                m.embedding_dropout, seed=seed + 1, name="embedding_dropout"
            ),
            "output_dropout": keras.layers.Dropout(
                m.output_dropout, seed=seed + 2, name="output_dropout"
            ),
            "next_word": keras.layers.Dense(
                vocab_size, activation="softmax", dtype="float32", name="next_word"
            ),
        }
        if m.positions:
            layers["positions"] = LocationEmbedding(name="positions")
        cell_kwargs = dict(
            dropout=m.dropout,
            recurrent_dropout=m.recurrent_dropout,
            seed=seed,
            name="decoder",
            **m.cell_options,
        )
        if m.decoder == "show_attend_tell":
            if m.num_layers != 1:
                raise ValueError(
                    "model.num_layers: show_attend_tell has one attention layer; "
                    f"got {m.num_layers}"
                )
            decoder = SoftAttentionRNN(
                m.units,
                cell=m.cell,
                attention_units=m.attention_units,
                gate=m.attention_gate,
                **cell_kwargs,
            )
            state_sizes = decoder.state_size
            pool = keras.layers.GlobalAveragePooling1D(name="pool")
        else:
            decoder = recurrent_stack(
                m.units,
                num_layers=m.num_layers,
                cell=m.cell,
                residual=m.residual,
                inter_layer_dropout=m.inter_layer_dropout,
                return_sequences=True,
                return_state=True,
                **cell_kwargs,
            )
            stack = getattr(decoder, "rnn_layers", [decoder])
            state_sizes = [s for layer in stack for s in layer.cell.state_size]
            pool = (
                keras.layers.Flatten(name="pool")
                if m.pooling == "flatten"
                else keras.layers.GlobalAveragePooling1D(name="pool")
            )
        layers["decoder"], layers["pool"] = decoder, pool
        for k, size in enumerate(state_sizes):
            layers[f"init_state_{k}"] = keras.layers.Dense(
                size, activation="tanh", name=f"init_state_{k}"
            )
        return cls(layers, m.decoder)

    @classmethod
    def from_model(cls, model: keras.Model) -> CaptionNet:
        """The named layers of a trained (loaded) model."""
        layers = {layer.name: layer for layer in model.layers}
        kind = (
            "show_attend_tell"
            if isinstance(layers.get("decoder"), SoftAttentionRNN)
            else "show_and_tell"
        )
        return cls(layers, kind)

    # ------------------------------------------------------------------- wiring
    def memory(self, feature_map):
        """(B, h, w, D) -> (B, L, P)."""
        x = self.layers["feature_proj"](self.layers["locations"](feature_map))
        if "positions" in self.layers:
            x = self.layers["positions"](x)
        return self.layers["feature_dropout"](x)

    def initial_state(self, memory) -> list:
        pooled = self.layers["pool"](memory)
        count = sum(1 for name in self.layers if name.startswith("init_state_"))
        return [self.layers[f"init_state_{k}"](pooled) for k in range(count)]

    def decode(self, tokens, memory, states):
        """tokens (B, T) -> (probs (B, T, V), attention (B, T, L) or None, states)."""
        x = self.layers["embedding_dropout"](self.layers["embedding"](tokens))
        if self.attention:
            outputs, weights, *states = self.layers["decoder"](
                x, memory, initial_state=states
            )
        else:
            outputs, *states = self.layers["decoder"](x, initial_state=states)
            weights = None
        probs = self.layers["next_word"](self.layers["output_dropout"](outputs))
        return probs, weights, states


def build_model(cfg, vocab_size: int, feature_shape=None) -> keras.Model:
    """The training model: {"image" | "features", "tokens"} -> (B, T, V) probabilities.

    `feature_shape` (h, w, D) given: the input is cached encoder features.
    """
    keras.utils.set_random_seed(cfg.seed)
    size = cfg.data.image_size
    if feature_shape is None:
        image = keras.Input(shape=(size, size, 3), name="image")
        encoder = build_encoder(cfg.encoder, size, cfg.seed)
        feature_map = encoder(image)
        key, visual = "image", image
    else:
        visual = keras.Input(shape=tuple(feature_shape), name="features")
        key, feature_map = "features", visual
    tokens = keras.Input(shape=(None,), dtype="int32", name="tokens")
    net = CaptionNet.create(cfg, vocab_size, tuple(feature_map.shape[1:]))
    memory = net.memory(feature_map)
    probs, _, _ = net.decode(tokens, memory, net.initial_state(memory))
    return keras.Model(
        {key: visual, "tokens": tokens}, probs, name=f"captioning_{cfg.model.decoder}"
    )
