"""Log-mel features against a NumPy computation of the same spectrogram,
resampling, SpecAugment."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from lstmsuite.apps.speech.audio import resample
from lstmsuite.apps.speech.features import (
    FeatureConfig,
    PerturbConfig,
    SpecAugmentConfig,
    check_features,
    check_perturb,
    check_spec_augment,
    featurizer,
    finish,
    frame_sizes,
    log_mel,
    masks_mel_bins,
    mel_matrix,
    perturb,
    spec_augment,
    vtlp_factor,
    warped_frequencies,
    with_deltas,
)
from lstmsuite.pipelines.config import ConfigError


def numpy_vtlp(hz, warp, rate, boundary=0.8):
    """Jaitly and Hinton 2013, eq. 1, with F_hi = boundary * S / 2."""
    half, f_hi = rate / 2, boundary * rate / 2
    knee = f_hi * min(warp, 1) / warp
    return np.where(
        hz <= knee,
        hz * warp,
        half - (half - f_hi * min(warp, 1)) / (half - knee) * (half - hz),
    )


def numpy_log_mel(x, rate, cfg: FeatureConfig, warp=None):
    """The spectrogram from its definition: periodic Hann frames (the end
    zero-padded), |rfft|^2, triangular filters on the HTK mel scale (each bin's
    frequency VTLP-warped with `warp`), log."""
    length, step, fft = frame_sizes(rate, cfg)
    count = -(-len(x) // step)
    x = np.pad(x, (0, (count - 1) * step + length - len(x)))
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / length)
    frames = np.stack([x[i * step : i * step + length] for i in range(count)])
    power = np.abs(np.fft.rfft(frames * window, n=fft)) ** 2

    def mel(f):
        return 1127.0 * np.log1p(np.asarray(f) / 700.0)

    fmax = cfg.fmax or rate / 2
    hz = np.linspace(0, rate / 2, fft // 2 + 1)
    if warp is not None:
        hz = numpy_vtlp(hz, warp, rate)
    edges = np.linspace(mel(cfg.fmin), mel(fmax), cfg.mel_bins + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    m = mel(hz)[:, None]
    weights = np.maximum(
        0, np.minimum((m - lower) / (center - lower), (upper - m) / (upper - center))
    )
    weights[0] = 0  # the DC bin belongs to no filter
    feats = np.log(power @ weights + 1e-6)
    if cfg.cepstra:
        # DCT-II, orthonormal, over the mel bins: the MFCCs.
        n = cfg.mel_bins
        k, j = np.arange(cfg.cepstra)[:, None], np.arange(n)[None, :]
        dct = np.cos(np.pi * k * (2 * j + 1) / (2 * n)) * np.sqrt(2 / n)
        dct[0] /= np.sqrt(2)
        feats = feats @ dct.T
    if cfg.normalize:
        feats = (feats - feats.mean(0)) / np.sqrt(feats.var(0) + 1e-5)
    return feats


@pytest.mark.parametrize("normalize,cepstra", [(False, 0), (True, 0), (True, 13)])
@pytest.mark.parametrize("rate,samples", [(8000, 3001), (16000, 4000)])
def test_log_mel_matches_numpy(rate, samples, normalize, cepstra):
    rng = np.random.default_rng(0)
    x = (rng.normal(0, 0.1, samples) + np.sin(np.arange(samples) * 0.3)).astype(
        np.float32
    )
    cfg = FeatureConfig(mel_bins=23, fmin=40.0, normalize=normalize, cepstra=cepstra)
    got = log_mel(tf.constant(x), rate, cfg).numpy()
    want = numpy_log_mel(x.astype(np.float64), rate, cfg)
    assert got.shape == (-(-samples // frame_sizes(rate, cfg)[1]), cfg.dim)
    np.testing.assert_allclose(got, want, atol=2e-3, rtol=1e-3)


@pytest.mark.parametrize("warp", [0.85, 1.0, 1.15])
@pytest.mark.parametrize("rate", [8000, 16000])
def test_vtlp_filter_bank_matches_the_paper(rate, warp):
    cfg = FeatureConfig(mel_bins=23, fmin=40.0)
    x = np.random.default_rng(1).normal(0, 0.1, 2000).astype(np.float32)
    featurize = featurizer(rate, cfg)
    got = featurize(tf.constant(x), tf.constant(warp)).numpy()
    want = numpy_log_mel(x.astype(np.float64), rate, cfg, warp=warp)
    np.testing.assert_allclose(got, want, atol=2e-3, rtol=1e-3)
    # The bank written out is tf.signal's when nothing is warped.
    np.testing.assert_allclose(
        mel_matrix(rate, cfg, tf.constant(1.0)), mel_matrix(rate, cfg), atol=1e-5
    )


def test_vtlp_scales_the_band_below_its_knee_and_keeps_the_nyquist_frequency():
    hz = tf.constant([0.0, 500.0, 1000.0, 3500.0, 4000.0])
    np.testing.assert_allclose(
        warped_frequencies(hz, 1.2, 8000)[:3], [0, 600, 1200], rtol=1e-6
    )
    for warp in (0.8, 1.0, 1.25):
        f = warped_frequencies(tf.linspace(0.0, 4000.0, 401), warp, 8000).numpy()
        assert f[-1] == pytest.approx(4000.0)
        assert np.all(np.diff(f) > 0)  # one to one: no two bins land together
    # A tone at 500 Hz through a bank warped by 1.2 peaks where 600 Hz does.
    rate, t = 8000, np.arange(4000) / 8000
    cfg = FeatureConfig(mel_bins=40)
    featurize = featurizer(rate, cfg)

    def peak(freq, warp=None):
        tone = tf.constant(np.sin(2 * np.pi * freq * t), tf.float32)
        return np.argmax(featurize(tone, warp).numpy().mean(0))

    assert peak(500, tf.constant(1.2)) == peak(600) != peak(500)


def test_vtlp_factors_come_from_the_range_and_the_seed():
    cfg = PerturbConfig(vtlp=[0.9, 1.1])
    drawn = [float(vtlp_factor(cfg, tf.constant([k, 3]))) for k in range(20)]
    assert all(0.9 <= d <= 1.1 for d in drawn) and len(set(drawn)) == 20
    assert float(vtlp_factor(cfg, tf.constant([4, 3]))) == drawn[4]
    with pytest.raises(ConfigError, match="data.perturb.vtlp: factors must be > 0"):
        check_perturb(PerturbConfig(vtlp=[0.0, 1.1]))
    with pytest.raises(ConfigError, match=r"data.perturb.vtlp: expected \[low, high\]"):
        check_perturb(PerturbConfig(vtlp=[1.1, 0.9]))


def numpy_deltas(c, window):
    """HTK's regression formula, term by term, the ends repeated."""
    frames = len(c)
    at = lambda t: c[min(max(t, 0), frames - 1)]  # noqa: E731
    norm = 2 * sum(n * n for n in range(1, window + 1))
    return np.array([
        sum(n * (at(t + n) - at(t - n)) for n in range(1, window + 1)) / norm
        for t in range(frames)
    ]).reshape(c.shape)  # fmt: skip


@pytest.mark.parametrize("order,window", [(1, 2), (2, 2), (2, 1), (1, 3)])
@pytest.mark.parametrize("frames", [1, 2, 9])
def test_deltas_match_the_htk_regression(order, window, frames):
    c = np.random.default_rng(frames).normal(size=(frames, 5))
    cfg = FeatureConfig(mel_bins=5, deltas=order, delta_window=window)
    got = with_deltas(tf.constant(c, tf.float32), cfg).numpy()
    assert got.shape == (frames, cfg.dim) == (frames, 5 * (order + 1))
    want = [c, numpy_deltas(c, window)]
    if order == 2:
        want.append(numpy_deltas(want[1], window))
    np.testing.assert_allclose(got, np.concatenate(want, axis=1), atol=1e-5)


def test_deltas_of_a_ramp_are_its_slope_and_of_nothing_are_nothing():
    ramp = np.arange(12, dtype=np.float32)[:, None] * [[0.5, -2.0]]
    got = with_deltas(tf.constant(ramp), FeatureConfig(mel_bins=2, deltas=2)).numpy()
    np.testing.assert_allclose(got[2:-2, 2:4], [[0.5, -2.0]] * 8, atol=1e-6)
    np.testing.assert_allclose(got[4:-4, 4:], 0, atol=1e-6)  # constant slope
    empty = with_deltas(tf.zeros([0, 2]), FeatureConfig(mel_bins=2, deltas=2))
    assert empty.shape == (0, 6)
    none = FeatureConfig(mel_bins=2)  # deltas: 0, the features as they are
    np.testing.assert_array_equal(with_deltas(tf.constant(ramp), none), ramp)
    assert none.dim == 2


def test_a_clip_shorter_than_a_window_still_gives_a_frame():
    feats = log_mel(tf.zeros([50]), 8000, FeatureConfig(normalize=False))
    assert feats.shape == (1, 40) and np.all(np.isfinite(feats.numpy()))


def test_resampling_keeps_the_pitch_and_the_duration():
    t = np.arange(16000) / 16000
    x = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    y = resample(x, 16000, 8000)
    assert y.dtype == np.float32 and len(y) == 8000
    spectrum = np.abs(np.fft.rfft(y))
    assert np.argmax(spectrum) * 8000 / len(y) == pytest.approx(1000, abs=2)
    assert np.sqrt(np.mean(y**2)) == pytest.approx(np.sqrt(0.5), rel=0.02)
    up = resample(y, 8000, 22050)
    assert len(up) == 22050 and np.argmax(np.abs(np.fft.rfft(up))) == 1000
    assert resample(x, 16000, 16000) is not None


def test_spec_augment_masks_bands_and_spans_from_its_seed():
    feats = tf.ones([100, 40])
    cfg = SpecAugmentConfig(freq_masks=2, freq_width=6, time_masks=2, time_width=0.1)
    a = spec_augment(feats, cfg, tf.constant([1, 2])).numpy()
    b = spec_augment(feats, cfg, tf.constant([1, 2])).numpy()
    c = spec_augment(feats, cfg, tf.constant([3, 4])).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    zero_rows = np.all(a == 0, axis=1).sum()
    zero_columns = np.all(a == 0, axis=0).sum()
    assert zero_rows <= 2 * 10 and zero_columns <= 2 * 6
    # Every zero is in a masked row or a masked column.
    masked = np.all(a == 0, axis=1)[:, None] | np.all(a == 0, axis=0)[None, :]
    np.testing.assert_array_equal(a == 0, masked)
    off = SpecAugmentConfig(freq_masks=0, time_masks=0)
    np.testing.assert_array_equal(spec_augment(feats, off, tf.constant([1, 2])), 1)


def test_with_cepstra_the_frequency_masks_cover_mel_bins_before_the_dct():
    """SpecAugment's frequency masks are bands of mel bins: with cepstra, the bins
    are masked (to their mean over the utterance) and the cepstra computed from
    the result, then normalized; time masks apply to the finished features."""
    bins = tf.constant(np.random.default_rng(0).normal(size=(50, 40)), tf.float32)
    features = FeatureConfig(mel_bins=40, cepstra=13, normalize=True)
    freq_only = SpecAugmentConfig(freq_masks=2, freq_width=8, time_masks=0)
    seed = tf.constant([5, 6])
    # The same seed masks the same columns when they are the features themselves.
    on_columns = spec_augment(bins, freq_only, seed).numpy()
    masked = np.all(on_columns == 0, axis=0)
    assert 0 < masked.sum() <= 16
    mean = bins.numpy().mean(axis=0, keepdims=True)
    expected = finish(tf.constant(np.where(masked, mean, bins)), features).numpy()
    got = spec_augment(bins, freq_only, seed, features).numpy()
    assert got.shape == (50, 13)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert not np.allclose(got, finish(bins, features).numpy(), atol=1e-3)
    # Time masks: whole frames of the finished features are zero.
    both = SpecAugmentConfig(freq_masks=2, freq_width=8, time_masks=2, time_width=0.2)
    rows = np.all(spec_augment(bins, both, seed, features).numpy() == 0, axis=1)
    assert 0 < rows.sum() <= 20
    # Which path runs: bins only for cepstra with masks in the mel domain.
    assert masks_mel_bins(features, freq_only)
    assert not masks_mel_bins(FeatureConfig(cepstra=0), freq_only)
    columns = SpecAugmentConfig(freq_masks=2, freq_domain="features")
    assert not masks_mel_bins(features, columns)
    assert not masks_mel_bins(features, SpecAugmentConfig(freq_masks=0))


@pytest.mark.parametrize(
    "change, key",
    [
        ({"freq_domain": "cepstra"}, "freq_domain"),
        ({"freq_masks": -1}, "freq_masks"),
        ({"time_width": 1.5}, "time_width"),
    ],
)
def test_spec_augment_settings_are_checked(change, key):
    with pytest.raises(ConfigError, match=f"data.spec_augment.{key}"):
        check_spec_augment(SpecAugmentConfig(**change))


def test_perturb_changes_speed_and_pitch_together_and_adds_noise():
    rate, t = 8000, np.arange(8000) / 8000
    x = tf.constant(np.sin(2 * np.pi * 500 * t), tf.float32)
    faster = perturb(x, PerturbConfig(speed=[1.25, 1.25]), tf.constant([1, 2]))
    faster = faster.numpy()
    assert len(faster) == 6400
    pitch = np.argmax(np.abs(np.fft.rfft(faster))) * rate / len(faster)
    assert pitch == pytest.approx(625, abs=2)
    noisy = perturb(x, PerturbConfig(snr_db=[10.0, 10.0]), tf.constant([1, 2]))
    noise = noisy.numpy() - x.numpy()
    assert 10 * np.log10(0.5 / np.mean(noise**2)) == pytest.approx(10, abs=0.3)
    np.testing.assert_array_equal(perturb(x, PerturbConfig(), tf.constant([1, 2])), x)
    ramp = np.arange(8000, dtype=np.float32)  # every sample tells its position
    for k in range(5):
        cfg = PerturbConfig(trim=[0.6, 0.8])
        trimmed = perturb(tf.constant(ramp), cfg, tf.constant([k, 0])).numpy()
        assert 0.6 * 8000 - 1 <= len(trimmed) <= 0.8 * 8000 + 1
        start = int(trimmed[0])
        np.testing.assert_array_equal(trimmed, ramp[start : start + len(trimmed)])


def test_feature_config_errors_name_the_key():
    with pytest.raises(ConfigError, match="fmax"):
        check_features(8000, FeatureConfig(fmax=6000))
    with pytest.raises(ConfigError, match="mel_bins"):
        check_features(8000, FeatureConfig(mel_bins=0))
    with pytest.raises(ConfigError, match=r"cepstra: expected 0 \(log-mel\) to"):
        check_features(8000, FeatureConfig(mel_bins=20, cepstra=21))
