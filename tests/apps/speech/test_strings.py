"""The digit-string composer: labels match the audio segments, determinism, new
strings every epoch, one speaker per string."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from lstmsuite.apps.speech.data import Utterances
from lstmsuite.apps.speech.strings import StringComposer, StringsConfig, check_strings
from lstmsuite.pipelines.config import ConfigError
from tests.apps.speech.fixtures import tone


def recordings():
    utts = Utterances(rate=8000)
    for speaker in ("a", "b"):
        for digit in range(10):
            clip = tone(digit, seconds=0.05 + 0.01 * digit, seed=digit)
            # Speaker b's clips are negated: a string mixing speakers would show.
            utts.add(clip if speaker == "a" else -clip, str(digit), speaker, "")
    return utts


def test_segments_hold_the_recordings_of_the_transcript_times_a_gain():
    utts = recordings()
    cfg = StringsConfig(snr_db=None, pause_ms=[10, 50])
    composer = StringComposer(utts, cfg)
    lookup = {(s, t): a for a, t, s in zip(utts.audio, utts.texts, utts.speakers)}
    for k in range(20):
        audio, text, bounds = (x.numpy() for x in composer.compose(tf.constant([7, k])))
        digits = text.decode().split(" ")
        assert cfg.min_digits <= len(digits) <= cfg.max_digits
        assert len(bounds) == len(digits)
        silent = np.ones(len(audio), bool)
        signs = set()
        for (begin, end), digit in zip(bounds, digits):
            segment = audio[begin:end]
            silent[begin:end] = False
            source = lookup[("a", digit)]
            assert len(segment) == len(source)
            gain = segment @ source / (source @ source)
            signs.add(np.sign(gain))
            assert 10 ** (-6 / 20) - 1e-4 <= abs(gain) <= 10 ** (6 / 20) + 1e-4
            np.testing.assert_allclose(segment, gain * source, atol=1e-5)
        assert len(signs) == 1  # one speaker per string
        assert np.all(audio[silent] == 0)  # pauses are silence without noise
        assert bounds[0][0] >= 80 and len(audio) - bounds[-1][1] >= 80  # >= 10 ms


def test_fixed_strings_repeat_and_training_strings_change_per_epoch():
    composer = StringComposer(recordings(), StringsConfig())
    fixed = composer.dataset(6, seed=3, fresh=False)
    first = [t for _, t in fixed.as_numpy_iterator()]
    again = [t for _, t in fixed.as_numpy_iterator()]
    assert first == again and int(fixed.cardinality()) == 6
    fresh = composer.dataset(6, seed=3, fresh=True)
    epoch1 = [(a.sum(), t) for a, t in fresh.as_numpy_iterator()]
    epoch2 = [(a.sum(), t) for a, t in fresh.as_numpy_iterator()]
    assert epoch1 != epoch2 and int(fresh.cardinality()) == 6
    rebuilt = StringComposer(recordings(), StringsConfig()).dataset(6, 3, fresh=True)
    assert [(a.sum(), t) for a, t in rebuilt.as_numpy_iterator()] == epoch1


def test_noise_has_the_signal_to_noise_ratio_asked_for():
    cfg = StringsConfig(snr_db=[20.0, 20.0], pause_ms=[0, 0], min_digits=7)
    clean_cfg = StringsConfig(snr_db=None, pause_ms=[0, 0], min_digits=7)
    seed = tf.constant([1, 1])
    noisy = StringComposer(recordings(), cfg).compose(seed)[0].numpy()
    clean = StringComposer(recordings(), clean_cfg).compose(seed)[0].numpy()
    snr = 10 * np.log10(np.mean(clean**2) / np.mean((noisy - clean) ** 2))
    assert snr == pytest.approx(20.0, abs=0.5)


def test_bad_string_settings_name_the_key():
    with pytest.raises(ConfigError, match="min_digits"):
        check_strings(StringsConfig(min_digits=3, max_digits=2))
    with pytest.raises(ConfigError, match="pause_ms"):
        check_strings(StringsConfig(pause_ms=[100, 10]))
