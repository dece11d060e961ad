"""Greedy and sampling decoding run as one TensorFlow graph: no Python per token.

    decoder = decoder_from_config(cfg.generate, Categorical(from_logits=True))
    decoded = GraphDecoding(step).decode(decoder, state, start, steps)

`lstmsuite.pipelines.decoding` runs every strategy as a Python loop over a step
function, which is general (beam search, Bernoulli and NADE units, any state) but
costs a Python round trip and a `tf.function` call per token: on the 2-core CPU
this project measures on, about 0.3 ms of overhead around a step that itself takes
0.3 ms at batch 1. For the strategies that keep no hypotheses over a vocabulary
(`Greedy` and `Sampling` of a `Categorical`), this module runs the same strategy,
with the same settings (temperature, top-k, nucleus top-p, end token, seed),
inside one `tf.while_loop`: the step, the truncation and the draw are graph ops.

`step(state, last) -> (logits, state)` must be written in TensorFlow (or Keras
ops) and keep the shapes of its state. Greedy gives the same tokens as the host
loop. Sampling draws from the same truncated distribution, by inverse CDF like
the host loop, with TensorFlow's stateless uniforms instead of NumPy's: a seed
gives the same text every time, but not the host loop's text.

keras-hub's samplers (`keras_hub.samplers`) do the same job; measured on the text
app's model they were no faster (see apps/text/README.md) and would bring a dozen
packages (the Hugging Face and Kaggle hubs among them) for one loop.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

from lstmsuite.pipelines.decoding import (
    Categorical,
    Decoded,
    Decoder,
    Greedy,
    Sampling,
)


def supports(decoder: Decoder) -> bool:
    """Whether `decoder` can run in the graph (greedy or sampling, categorical)."""
    return isinstance(decoder, (Greedy, Sampling)) and isinstance(
        decoder.distribution, Categorical
    )


def truncated_log_probs(logits, temperature: float, top_k: int, top_p: float):
    """Log-probabilities (B, V) after temperature, top-k and nucleus truncation,
    in that order (as `Categorical.sample`); cut tokens get -inf."""
    logp = tf.nn.log_softmax(tf.cast(logits, tf.float32) / max(temperature, 1e-6))
    vocab = logp.shape[-1]
    if top_k and (vocab is None or top_k < vocab):
        kth = tf.math.top_k(logp, k=top_k).values[:, -1:]
        logp = tf.where(logp >= kth, logp, -np.inf)
    if top_p < 1.0:
        # Keep a token when the tokens more likely than it sum to less than top_p.
        order = tf.argsort(logp, axis=-1, direction="DESCENDING", stable=True)
        sorted_p = tf.exp(tf.gather(logp, order, batch_dims=1))
        before = tf.cumsum(sorted_p, axis=-1, exclusive=True)
        keep_sorted = before < top_p
        rows = tf.shape(logp)[0]
        keep = tf.scatter_nd(
            tf.stack(
                [tf.repeat(tf.range(rows), tf.shape(logp)[1]), tf.reshape(order, [-1])],
                axis=1,
            ),
            tf.reshape(keep_sorted, [-1]),
            tf.shape(logp),
        )
        logp = tf.where(keep, logp, -np.inf)
    return tf.nn.log_softmax(logp)


def inverse_cdf(logp, u):
    """The token whose cumulative probability first reaches u (B,) per row."""
    cdf = tf.cumsum(tf.exp(logp), axis=-1)
    picked = tf.reduce_sum(tf.cast(cdf < u[:, None], tf.int32), axis=-1)
    return tf.minimum(picked, tf.shape(logp)[-1] - 1)


class GraphDecoding:
    """Runs `Greedy` / `Sampling` decoders over one graph step function.

    The compiled loop is kept per strategy setting, so repeated calls (and
    batches of one shape) do not trace again.
    """

    def __init__(self, step):
        self.step = step
        self._compiled: dict[Any, Any] = {}

    def decode(self, decoder: Decoder, state, start, steps: int) -> Decoded:
        if not supports(decoder):
            raise ValueError(
                "the graph loop runs greedy and sampling over a vocabulary; "
                f"{type(decoder).__name__} runs in lstmsuite.pipelines.decoding"
            )
        sampling = isinstance(decoder, Sampling)
        settings = (
            (decoder.temperature, decoder.top_k, decoder.top_p) if sampling else None
        )
        key = (settings, decoder.end_id)
        if key not in self._compiled:
            self._compiled[key] = tf.function(
                lambda *args: self._loop(settings, decoder.end_id, *args),
                reduce_retracing=True,
            )
        seed = 0 if not sampling or decoder.seed is None else decoder.seed
        seqs, scores, lengths = self._compiled[key](
            state,
            tf.constant(np.asarray(start, np.int32)),
            tf.constant(steps, tf.int32),
            tf.constant(seed, tf.int64),
        )
        return Decoded(seqs.numpy(), scores.numpy().astype(np.float64), lengths.numpy())

    def _loop(self, settings, end_id, state, last, steps, seed):
        batch = tf.shape(last)[0]
        tokens = tf.TensorArray(tf.int32, size=0, dynamic_size=True)
        done = tf.zeros([batch], tf.bool)
        total = tf.zeros([batch], tf.float32)
        lengths = tf.fill([batch], steps)

        def body(t, last, state, tokens, done, total, lengths):
            shapes = [last.shape, [s.shape for s in tf.nest.flatten(state)]]
            logits, state = self.step(state, last)
            # The loop's variables keep their shapes (the step may lose the
            # static batch size).
            for new, shape in zip(tf.nest.flatten(state), shapes[1]):
                new.set_shape(shape)
            logp = tf.nn.log_softmax(tf.cast(logits, tf.float32))
            if settings is None:
                choice = tf.argmax(logits, axis=-1, output_type=tf.int32)
            else:
                cut = truncated_log_probs(logits, *settings)
                u = tf.random.stateless_uniform(
                    [batch], seed=tf.stack([seed, tf.cast(t, tf.int64)])
                )
                choice = inverse_cdf(cut, u)
            if end_id is not None:
                choice = tf.where(done, end_id, choice)
            choice.set_shape(shapes[0])
            step_logp = tf.gather(logp, choice, batch_dims=1)
            total += tf.where(done, 0.0, step_logp)
            if end_id is not None:
                ended = tf.equal(choice, end_id) & ~done
                lengths = tf.where(ended, t + 1, lengths)
                done = done | ended
            return t + 1, choice, state, tokens.write(t, choice), done, total, lengths

        def cond(t, last, state, tokens, done, total, lengths):
            return (t < steps) & ~tf.reduce_all(done)

        _, _, _, tokens, _, total, lengths = tf.while_loop(
            cond,
            body,
            (tf.constant(0), last, state, tokens, done, total, lengths),
        )
        seqs = tf.transpose(tokens.stack())
        return seqs, total, lengths
