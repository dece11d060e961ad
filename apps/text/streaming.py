"""Stateful streaming: generation and scoring that carry the model's state.

    stream = stream_for(model)
    state, last = stream.read(prompt_ids)            # the prompt, read once
    decoded = decoder.decode(stream.step_fn, state, last, steps)

Generation uses the shared strategies of `lstmsuite.pipelines.decoding` (greedy,
temperature, top-k, nucleus, beam) through their `step_fn(state, last)` contract.
For a recurrent model the state is the stack's (h, c, ...) and each new token
costs one compiled cell step per layer (`RecurrentLM.step`): the prefix is never
read again, so a token costs the same at position 10 and at position 10,000.
Several samples are rows of one batch.

A Transformer has no state to carry: its `step_fn` re-reads the last `context`
tokens (no key/value cache), which is what the comparison in the README measures.

`split_nats` scores a whole split the same way: the recurrent model reads it as a
few long streams, its state carried from window to window, so every token (but
the first of each stream) is predicted from everything before it in its stream.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from keras import ops

from lstmsuite.apps.text.model import RecurrentLM
from lstmsuite.apps.text.pipeline import as_streams
from lstmsuite.pipelines.graph_decoding import GraphDecoding, supports


class RecurrentStream:
    """Generation state of a `RecurrentLM`: its layers' states, (B, ...) each,
    as one flat tuple of tensors."""

    def __init__(self, model: RecurrentLM):
        self.model = model
        self._structure = model.initial_states(1)
        # Flat arguments and a fixed signature: the call costs the least Python.
        spec = [
            tf.TensorSpec([None, *s.shape[1:]], s.dtype)
            for s in tf.nest.flatten(self._structure)
        ]
        self._step = tf.function(
            self.graph_step, input_signature=[spec, tf.TensorSpec([None], tf.int32)]
        )
        self._forward = tf.function(model.forward, reduce_retracing=True)
        self.graph = GraphDecoding(self.graph_step)

    def graph_step(self, flat_states, last):
        """TensorFlow in and out: (flat states, tokens (B,)) -> (logits, states)."""
        states = tf.nest.pack_sequence_as(self._structure, list(flat_states))
        logits, states = self.model.step(last, states)
        return logits, tuple(tf.nest.flatten(states))

    def read(self, prompt: np.ndarray):
        """prompt (B, P) ids, P >= 1 -> (state, last): the state after all but the
        last prompt token, and that token (B,), which the first step reads."""
        prompt = np.asarray(prompt, np.int32)
        states = self.model.initial_states(prompt.shape[0])
        if prompt.shape[1] > 1:
            _, states = self._forward(tf.constant(prompt[:, :-1]), states)
        return tuple(tf.nest.flatten(states)), prompt[:, -1]

    def step_fn(self, flat_states, last):
        """The host loop's step (`lstmsuite.pipelines.decoding`)."""
        logits, states = self._step(
            list(flat_states), tf.constant(np.asarray(last, np.int32))
        )
        return logits.numpy(), tuple(states)

    def decode(self, decoder, prompt, steps: int, loop: str = "graph"):
        """`steps` tokens after `prompt` (B, P): in one graph when the strategy
        allows it and `loop` is "graph", else step by step from Python."""
        state, last = self.read(prompt)
        if loop == "graph" and supports(decoder):
            return self.graph.decode(decoder, state, last, steps)
        return decoder.decode(self.step_fn, state, last, steps)


class WindowStream:
    """Generation state of a model without one (the Transformer): the last
    `context` tokens, re-read at every step."""

    def __init__(self, model):
        self.model = model
        self.context = model.context
        self._call = tf.function(model.call, reduce_retracing=True)

    def read(self, prompt: np.ndarray):
        prompt = np.asarray(prompt, np.int32)
        return prompt[:, :-1], prompt[:, -1]

    def decode(self, decoder, prompt, steps: int, loop: str = "graph"):
        state, last = self.read(prompt)
        return decoder.decode(self.step_fn, state, last, steps)

    def step_fn(self, tokens, last):
        tokens = np.concatenate([tokens, np.asarray(last, np.int32)[:, None]], axis=1)
        tokens = tokens[:, -self.context :]
        logits = self._call(tf.constant(tokens))
        return np.asarray(logits[:, -1]), tokens


def stream_for(model):
    return (
        RecurrentStream(model)
        if isinstance(model, RecurrentLM)
        else WindowStream(model)
    )


def _nll_sum(logits, targets):
    return ops.sum(
        ops.sparse_categorical_crossentropy(targets, logits, from_logits=True)
    )


def split_nats(model, ids: np.ndarray, *, streams: int = 16, window: int = 256):
    """(total nats, tokens scored) of the model on the token stream `ids`.

    Recurrent: `streams` contiguous streams read window by window, the state
    carried; a Transformer: consecutive windows of its context, each read from
    its start (as nanoGPT's evaluation does).
    """
    ids = np.asarray(ids, np.int32)
    if isinstance(model, RecurrentLM):
        streams = max(1, min(streams, (len(ids) - 1) // 2))
        rows = as_streams(ids, streams)

        @tf.function(reduce_retracing=True)
        def chunk(x, y, states):
            logits, states = model.forward(x, states)
            return _nll_sum(logits, y), states

        states = model.initial_states(streams)
        total, count = 0.0, 0
        for start in range(0, rows.shape[1] - 1, window):
            piece = rows[:, start : start + window + 1]
            nats, states = chunk(
                tf.constant(piece[:, :-1]), tf.constant(piece[:, 1:]), states
            )
            total += float(nats)
            count += piece[:, 1:].size
        return total, count

    context = model.context

    @tf.function(reduce_retracing=True)
    def windows(x, y):
        return _nll_sum(model(x), y)

    usable = (len(ids) - 1) // context * context
    x_all = ids[:usable].reshape(-1, context)
    y_all = ids[1 : usable + 1].reshape(-1, context)
    total = 0.0
    for start in range(0, len(x_all), 64):
        total += float(
            windows(
                tf.constant(x_all[start : start + 64]),
                tf.constant(y_all[start : start + 64]),
            )
        )
    return total, int(y_all.size)
