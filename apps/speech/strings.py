"""Connected digit strings composed from single recordings, inside tf.data.

    composer = StringComposer(splits["train"], StringsConfig())
    ds = composer.dataset(count=4000, seed=1234, fresh=True)   # (audio, "4 0 7")

A string is 1 to 7 (`min_digits`..`max_digits`) recordings of one speaker (drawn
uniformly: first the speaker, then the recordings), each scaled by a random gain
(`gain_db`), with a random pause of `pause_ms` before each and after the last,
plus white background noise at a random signal-to-noise ratio (`snr_db`, against
the recordings' RMS; null: no noise). Its transcript is the recordings' texts
joined by spaces ("4 0 7"): every digit is a spoken word, so the WER counts
digit errors, as in the connected-digit literature.

All of it is TensorFlow ops on the split's waveforms held once as a flat buffer,
driven by stateless random numbers from a (2,) seed per string: `fresh=True`
(training) draws the seeds from `Dataset.random`, new strings every epoch and
the same sequence of epochs for a config seed; `fresh=False` (validation, test)
uses the seeds (seed, 0), (seed, 1), ..., the same strings on every run.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

from lstmsuite.apps.speech.features import check_range, white_noise


@dataclass(kw_only=True)
class StringsConfig:
    """task ctc: how utterances become training and evaluation examples."""

    # true: compose digit strings from single recordings (FSDD); false: use each
    # utterance as it is, its transcript as the target (a folder of sentences).
    compose: bool = True
    min_digits: int = 1
    max_digits: int = 7
    train_strings: int = 4000  # per epoch, new every epoch
    eval_strings: int = 500  # fixed strings for validation, and as many for test
    pause_ms: list[float] = field(default_factory=lambda: [0.0, 250.0])
    gain_db: list[float] = field(default_factory=lambda: [-6.0, 6.0])
    snr_db: list[float] | None = field(default_factory=lambda: [15.0, 40.0])


def check_strings(cfg: StringsConfig, key: str = "data.strings") -> None:
    from lstmsuite.pipelines.config import ConfigError

    if not 1 <= cfg.min_digits <= cfg.max_digits:
        raise ConfigError(
            f"{key}: expected 1 <= min_digits <= max_digits, got "
            f"{cfg.min_digits}, {cfg.max_digits}"
        )
    if cfg.train_strings < 1 or cfg.eval_strings < 1:
        raise ConfigError(f"{key}: train_strings and eval_strings must be >= 1")
    for name in ("pause_ms", "gain_db", "snr_db"):
        check_range(f"{key}.{name}", getattr(cfg, name))
    if cfg.pause_ms[0] < 0:
        raise ConfigError(f"{key}.pause_ms: pauses cannot be negative")


class StringComposer:
    """Composes strings from the recordings of one split (see the module doc)."""

    def __init__(self, utterances, cfg: StringsConfig):
        if len(utterances) == 0:
            raise ValueError("no recordings to compose strings from")
        self.cfg, self.rate = cfg, utterances.rate
        lengths = np.array([len(a) for a in utterances.audio], dtype=np.int32)
        self.flat = tf.constant(np.concatenate(utterances.audio).astype(np.float32))
        self.starts = tf.constant(np.cumsum(lengths) - lengths, dtype=tf.int32)
        self.lengths = tf.constant(lengths)
        self.texts = tf.constant(utterances.texts)
        # Recordings grouped by speaker: `order[offset[s] : offset[s] + count[s]]`.
        names, speaker = np.unique(np.asarray(utterances.speakers), return_inverse=True)
        order = np.argsort(speaker, kind="stable").astype(np.int32)
        counts = np.bincount(speaker, minlength=len(names)).astype(np.int32)
        self.order = tf.constant(order)
        self.counts = tf.constant(counts)
        self.offsets = tf.constant(np.cumsum(counts) - counts, dtype=tf.int32)
        self.speakers = len(names)

    def compose(self, seed):
        """One string from a (2,) int seed: (audio (samples,), text, bounds (n, 2)),
        `bounds[i]` the sample range of the i-th recording."""
        cfg = self.cfg
        seeds = tf.random.experimental.stateless_split(tf.cast(seed, tf.int64), 7)

        def uniform(shape, i, low, high, dtype=tf.float32):
            return tf.random.stateless_uniform(shape, seeds[i], low, high, dtype)

        n = uniform([], 0, cfg.min_digits, cfg.max_digits + 1, tf.int32)
        speaker = uniform([], 1, 0, self.speakers, tf.int32)
        count = tf.gather(self.counts, speaker)
        picks = tf.cast(uniform([n], 2, 0.0, 1.0) * tf.cast(count, tf.float32), "int32")
        ids = tf.gather(self.order, tf.gather(self.offsets, speaker) + picks)
        starts, lengths = tf.gather(self.starts, ids), tf.gather(self.lengths, ids)
        gains = 10.0 ** (uniform([n], 3, *cfg.gain_db) / 20.0)
        low, high = (round(ms * self.rate / 1000) for ms in cfg.pause_ms)
        pauses = uniform([n + 1], 4, low, high + 1, tf.int32)

        # Where each recording lands: after its pause and everything before it.
        begins = tf.cumsum(pauses[:n]) + tf.cumsum(lengths, exclusive=True)
        total = tf.reduce_sum(pauses) + tf.reduce_sum(lengths)
        source = tf.ragged.range(starts, starts + lengths)
        target = tf.ragged.range(begins, begins + lengths)
        values = tf.gather(self.flat, source.flat_values)
        values *= tf.repeat(gains, lengths)
        audio = tf.scatter_nd(target.flat_values[:, None], values, [total])
        if cfg.snr_db is not None:
            # Against the speech alone, not the pauses.
            rms = tf.sqrt(tf.reduce_mean(tf.square(values)) + 1e-12)
            audio += white_noise([total], rms, cfg.snr_db, seeds[5], seeds[6])
        text = tf.strings.reduce_join(tf.gather(self.texts, ids), separator=" ")
        return audio, text, tf.stack([begins, begins + lengths], axis=1)

    def dataset(self, count: int, seed: int, fresh: bool) -> tf.data.Dataset:
        """`count` strings as (audio, text); `fresh`: new strings every epoch."""
        if fresh:
            seeds = tf.data.Dataset.random(seed=seed, rerandomize_each_iteration=True)
            seeds = seeds.batch(2, drop_remainder=True).take(count)
        else:
            seeds = tf.data.Dataset.range(count).map(
                lambda i: tf.stack([tf.constant(seed, tf.int64), i])
            )
        return seeds.map(
            lambda s: self.compose(s)[:2], num_parallel_calls=tf.data.AUTOTUNE
        )
