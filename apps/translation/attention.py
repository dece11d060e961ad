"""Attention of a decoder over the encoder outputs: Luong (multiplicative) or Bahdanau
(additive) scores, with padded source positions masked out.

    python -m pytest tests/apps/translation/test_model.py -k attention

    context, weights = Attention("luong", units=256)(query, memory, source_mask)
    # query (B, T, Dq), memory (B, S, Dm), source_mask (B, S) bool
    # -> context (B, T, Dm), weights (B, T, S), each row summing to 1 over real tokens

Scores:
- `luong` (multiplicative, Luong et al. 2015 "general"): score(q, m) = q . W m.
- `bahdanau` (additive, Bahdanau et al. 2015): score(q, m) = v . tanh(W1 q + W2 m).

Both are computed for all T queries at once (the decoder attends after its recurrent
stack, Luong's arrangement), so in training the attention is one batched operation
over the whole target sequence instead of a step inside the recurrence.
"""

from __future__ import annotations

import keras
from keras import ops

KINDS = ("luong", "bahdanau")
# A large negative score rather than -inf: a row whose source is all padding then
# gives uniform weights instead of NaN.
MASKED_SCORE = -1e9


@keras.saving.register_keras_serializable(package="lstmsuite")
class Attention(keras.layers.Layer):
    """Args: kind (`luong` | `bahdanau`); units: width of the score space (the query
    width for `luong`, the hidden layer of the additive score for `bahdanau`)."""

    def __init__(self, kind: str = "luong", units: int = 256, **kwargs):
        super().__init__(**kwargs)
        if kind not in KINDS:
            raise ValueError(
                f"attention kind must be one of {', '.join(KINDS)}, got {kind!r}"
            )
        self.kind, self.units = kind, int(units)

    def build(self, query_shape, memory_shape, mask_shape=None):
        dq, dm = query_shape[-1], memory_shape[-1]
        if self.kind == "luong":
            # q . W m: project the memory to the query width once per call.
            self.memory_kernel = self.add_weight(
                name="memory_kernel", shape=(dm, dq), initializer="glorot_uniform"
            )
        else:
            self.query_kernel = self.add_weight(
                name="query_kernel",
                shape=(dq, self.units),
                initializer="glorot_uniform",
            )
            self.memory_kernel = self.add_weight(
                name="memory_kernel",
                shape=(dm, self.units),
                initializer="glorot_uniform",
            )
            self.bias = self.add_weight(
                name="bias", shape=(self.units,), initializer="zeros"
            )
            self.score_vector = self.add_weight(
                name="score_vector", shape=(self.units,), initializer="glorot_uniform"
            )

    def scores(self, query, memory):
        """Unnormalized scores (B, T, S)."""
        if self.kind == "luong":
            # q . (W m) == (W^T q) . m: projecting the T queries instead of the S
            # memory rows costs nothing per decoding step (T = 1) whatever S is.
            q = ops.matmul(query, ops.transpose(self.memory_kernel))  # (B, T, Dm)
            return ops.matmul(q, ops.transpose(memory, (0, 2, 1)))
        keys = ops.matmul(memory, self.memory_kernel)  # (B, S, units)
        q = ops.matmul(query, self.query_kernel)  # (B, T, units)
        hidden = ops.tanh(q[:, :, None, :] + keys[:, None, :, :] + self.bias)
        return ops.einsum("btsu,u->bts", hidden, self.score_vector)

    def call(self, query, memory, mask=None):
        scores = self.scores(query, memory)
        if mask is not None:
            keep = ops.cast(mask, scores.dtype)[:, None, :]
            scores = scores * keep + (1.0 - keep) * MASKED_SCORE
        weights = ops.softmax(scores, axis=-1)
        return ops.matmul(weights, memory), weights

    def compute_output_spec(self, query, memory, mask=None):
        b, t, s = query.shape[0], query.shape[1], memory.shape[1]
        return (
            keras.KerasTensor((b, t, memory.shape[-1]), dtype=self.compute_dtype),
            keras.KerasTensor((b, t, s), dtype=self.compute_dtype),
        )

    def get_config(self):
        return {**super().get_config(), "kind": self.kind, "units": self.units}
