"""Log-mel spectrograms and SpecAugment, as TensorFlow ops for tf.data.

    feats = log_mel(waveform, rate=8000, cfg=FeatureConfig())   # (frames, mel_bins)

`log_mel`: frames of `frame_ms` every `hop_ms` (the last frame zero-padded, so a
clip of n samples gives ceil(n / hop) frames), a periodic Hann window, the power
spectrum |STFT|^2 over `fft_length` = the next power of two, `mel_bins` triangular
filters between `fmin` and `fmax` on the HTK mel scale (`tf.signal.
linear_to_mel_weight_matrix`), then log(mel + 1e-6); with `cepstra`, the first
coefficients of its DCT instead (MFCCs, `tf.signal.mfccs_from_log_mel_spectrograms`).
With `normalize` (off by default, see the field), each feature is standardized over
the utterance's frames (per-utterance mean and variance normalization).

`perturb` (training only, on the waveform): trimming (a random share `trim` of
the clip is kept, the rest cut from its start and end: endpointing that clips a
word's edges, as a voice-activity detector does), speed perturbation (Ko et al. 2015:
the clip resampled by a random factor in `speed`, which changes its tempo and
pitch together, as a faster or slower speaker with another voice would) and
white noise at a random signal-to-noise ratio (`snr_db`). `vtlp` (vocal tract
length perturbation, Jaitly and Hinton 2013) warps the filter bank's frequency axis by
a random factor per utterance: the formants of a longer or shorter vocal tract, at
the clip's own tempo and length (`vtlp_factor`, `warped_frequencies`).

`spec_augment` (Park et al. 2019, without time warping): `freq_masks` bands of at
most `freq_width` mel bins and `time_masks` spans of at most `time_width` of the
frames are set to 0 (the mean, after normalization); the widths and places are
drawn per utterance from a seeded stream, new every epoch. Training only. With
`cepstra`, a band of mel bins is masked before the DCT (each masked bin set to its
mean over the utterance, so that the cepstra are those of a spectrogram missing that
band), unless `freq_domain: features`, which masks bands of the feature columns
themselves (cepstral coefficients).
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

LOG_FLOOR = 1e-6


@dataclass(kw_only=True)
class FeatureConfig:
    frame_ms: float = 25.0  # analysis window
    hop_ms: float = 10.0  # one frame every hop
    mel_bins: int = 40
    fmin: float = 20.0
    fmax: float | None = None  # None: half the sample rate
    # Per-utterance mean and variance normalization of each mel bin. Off by default:
    # on FSDD it cost accuracy (20 epochs of configs/speech/digits.yaml: 96.0% test
    # with it, 99.0% without), since it erases how loud and how long each band is
    # against the others, which tells short and clipped words apart.
    normalize: bool = False
    # Keep the first `cepstra` coefficients of the DCT of the log-mel frame (MFCCs,
    # Davis and Mermelstein 1980) instead of the log-mel bins; 0: log-mel. The low
    # coefficients are the spectral envelope (the vocal tract: what was said); the
    # high ones the pitch harmonics (who said it).
    cepstra: int = 0
    # Append the features' time derivatives: 1, deltas; 2, deltas and
    # delta-deltas (the classic 13 + 13 + 13 MFCCs of HTK and Kaldi's add-deltas).
    # Computed last, after SpecAugment, from the features each model sees.
    deltas: int = 0
    # Frames on each side in the deltas' regression (HTK's DELTAWINDOW).
    delta_window: int = 2

    @property
    def static_dim(self) -> int:
        """Width of the features before the deltas: cepstra or mel bins."""
        return self.cepstra or self.mel_bins

    @property
    def dim(self) -> int:
        """Width of a feature frame, the deltas included."""
        return self.static_dim * (1 + self.deltas)


@dataclass(kw_only=True)
class SpecAugmentConfig:
    freq_masks: int = 2  # 0 turns frequency masking off
    freq_width: int = 6  # at most this many mel bins per mask
    time_masks: int = 2  # 0 turns time masking off
    time_width: float = 0.1  # at most this fraction of the frames per mask
    # Where the frequency masks go when features are cepstra: "mel", bands of mel
    # bins before the DCT (SpecAugment's masks); "features", bands of the cepstral
    # coefficients, which blanks whole layers of the spectral envelope's detail
    # (a stronger regularizer, measured in apps/speech/README.md). Without
    # cepstra the two are the same.
    freq_domain: str = "mel"


@dataclass(kw_only=True)
class PerturbConfig:
    trim: list[float] | None = None  # [low, high] share of the clip kept; null: off
    speed: list[float] | None = None  # [low, high] factors, e.g. [0.9, 1.1]; null: off
    snr_db: list[float] | None = None  # [low, high] dB of added white noise; null: off
    # [low, high] factors of the frequency warp (VTLP), e.g. [0.9, 1.1]; null: off.
    vtlp: list[float] | None = None

    @property
    def active(self) -> bool:
        return any(
            v is not None for v in (self.trim, self.speed, self.snr_db, self.vtlp)
        )


def frame_sizes(rate: int, cfg: FeatureConfig) -> tuple[int, int, int]:
    """(frame_length, frame_step, fft_length) in samples."""
    length = max(1, round(rate * cfg.frame_ms / 1000))
    step = max(1, round(rate * cfg.hop_ms / 1000))
    return length, step, 1 << (length - 1).bit_length()


def check_features(rate: int, cfg: FeatureConfig, key: str = "data.features") -> None:
    """Config values that would fail inside tf.signal, named by key."""
    from lstmsuite.pipelines.config import ConfigError

    nyquist = rate / 2
    fmax = cfg.fmax if cfg.fmax is not None else nyquist
    if rate < 1000:
        raise ConfigError(f"data.sample_rate: expected at least 1000 Hz, got {rate}")
    if cfg.frame_ms <= 0 or cfg.hop_ms <= 0:
        raise ConfigError(f"{key}: frame_ms and hop_ms must be > 0")
    if cfg.mel_bins < 1:
        raise ConfigError(f"{key}.mel_bins: expected at least 1, got {cfg.mel_bins}")
    if not 0 <= cfg.cepstra <= cfg.mel_bins:
        raise ConfigError(
            f"{key}.cepstra: expected 0 (log-mel) to mel_bins ({cfg.mel_bins}), "
            f"got {cfg.cepstra}"
        )
    if cfg.deltas not in (0, 1, 2):
        raise ConfigError(
            f"{key}.deltas: expected 0 (none), 1 (deltas) or 2 (and delta-deltas), "
            f"got {cfg.deltas}"
        )
    if cfg.delta_window < 1:
        raise ConfigError(
            f"{key}.delta_window: expected at least 1 frame, got {cfg.delta_window}"
        )
    if not 0 <= cfg.fmin < fmax <= nyquist:
        raise ConfigError(
            f"{key}: expected 0 <= fmin < fmax <= {nyquist:g} (half of "
            f"data.sample_rate), got fmin={cfg.fmin}, fmax={fmax}"
        )


def check_range(key: str, pair) -> None:
    """A `[low, high]` setting (None: off) is two numbers, low <= high."""
    from lstmsuite.pipelines.config import ConfigError

    if pair is not None and (len(pair) != 2 or pair[0] > pair[1]):
        raise ConfigError(f"{key}: expected [low, high], got {pair}")


def check_perturb(cfg: PerturbConfig, key: str = "data.perturb") -> None:
    from lstmsuite.pipelines.config import ConfigError

    for name in ("trim", "speed", "snr_db", "vtlp"):
        check_range(f"{key}.{name}", getattr(cfg, name))
    for name in ("speed", "vtlp"):
        if getattr(cfg, name) is not None and getattr(cfg, name)[0] <= 0:
            raise ConfigError(f"{key}.{name}: factors must be > 0")
    if cfg.trim is not None and not 0 < cfg.trim[0] <= cfg.trim[1] <= 1:
        raise ConfigError(f"{key}.trim: expected shares in (0, 1], got {cfg.trim}")


def white_noise(shape, signal_rms, snr_db, snr_seed, noise_seed):
    """Gaussian noise whose power is a ratio drawn from `snr_db` ([low, high] dB)
    below a signal of RMS `signal_rms` (both seeds: (2,) stateless seeds)."""
    snr = tf.random.stateless_uniform([], snr_seed, *snr_db)
    noise = tf.random.stateless_normal(shape, noise_seed)
    return noise * signal_rms / 10.0 ** (snr / 20.0)


def mel_matrix(rate: int, cfg: FeatureConfig, warp=None) -> tf.Tensor:
    """(fft_length // 2 + 1, mel_bins) filter bank; with `warp` (a scalar
    tensor), the bank of `warped_frequencies`: `tf.signal.
    linear_to_mel_weight_matrix` written out, so that the bins' frequencies can move.
    """
    _, _, fft = frame_sizes(rate, cfg)
    fmax = cfg.fmax if cfg.fmax is not None else rate / 2
    if warp is None:
        return tf.signal.linear_to_mel_weight_matrix(
            num_mel_bins=cfg.mel_bins,
            num_spectrogram_bins=fft // 2 + 1,
            sample_rate=rate,
            lower_edge_hertz=cfg.fmin,
            upper_edge_hertz=fmax,
        )

    def mel(hz):  # the HTK mel scale, as tf.signal's
        return 1127.0 * tf.math.log1p(hz / 700.0)

    hz = tf.linspace(0.0, rate / 2, fft // 2 + 1)[1:]  # the DC bin joins no filter
    m = mel(warped_frequencies(hz, warp, rate))[:, None]
    edges = tf.linspace(mel(float(cfg.fmin)), mel(float(fmax)), cfg.mel_bins + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (m - lower) / (center - lower)
    falling = (upper - m) / (upper - center)
    weights = tf.maximum(0.0, tf.minimum(rising, falling))
    return tf.pad(weights, [[1, 0], [0, 0]])


def warped_frequencies(hz, warp, rate: int, boundary: float = 0.8):
    """The frequencies `hz` moved by the VTLP factor `warp` (Jaitly and Hinton
    2013, eq. 1): `warp * f` up to `boundary * nyquist * min(warp, 1) / warp`,
    then the straight line to the Nyquist frequency, which stays where it is, so
    that no frequency leaves the spectrum. Their boundary, 4.8 of 8 kHz, is 0.6 of
    the band; ours is 0.8, since at 8 kHz the third formant (up to about 3 kHz)
    lies above 0.6 of the 4 kHz band and would be squeezed."""
    nyquist = rate / 2
    warp = tf.cast(warp, tf.float32)
    knee_in = boundary * nyquist * tf.minimum(warp, 1.0) / warp
    knee_out = boundary * nyquist * tf.minimum(warp, 1.0)
    slope = (nyquist - knee_out) / (nyquist - knee_in)
    return tf.where(hz <= knee_in, warp * hz, nyquist - slope * (nyquist - hz))


def vtlp_factor(cfg: PerturbConfig, seed: tf.Tensor):
    """The utterance's VTLP warp, drawn from `cfg.vtlp` with a (2,) seed; the
    stream is folded from `perturb`'s seed, so the other perturbations draw what
    they drew without VTLP."""
    low, high = cfg.vtlp
    return tf.random.stateless_uniform(
        [], tf.random.experimental.stateless_fold_in(seed, 5), low, high
    )


def log_mel(waveform: tf.Tensor, rate: int, cfg: FeatureConfig, mel=None):
    """(samples,) float32 -> (frames, cfg.static_dim) features: log-mel, or its
    cepstra, normalized if `cfg.normalize` (`with_deltas` appends the deltas)."""
    return finish(log_mel_bins(waveform, rate, cfg, mel), cfg)


def log_mel_bins(waveform: tf.Tensor, rate: int, cfg: FeatureConfig, mel=None):
    """(samples,) float32 -> (frames, mel_bins): the log-mel spectrogram alone."""
    length, step, fft = frame_sizes(rate, cfg)
    mel = mel_matrix(rate, cfg) if mel is None else mel
    stft = tf.signal.stft(
        waveform,
        frame_length=length,
        frame_step=step,
        fft_length=fft,
        window_fn=tf.signal.hann_window,
        pad_end=True,
    )
    power = tf.math.square(tf.abs(stft))
    return tf.math.log(tf.matmul(power, mel) + LOG_FLOOR)


def finish(feats: tf.Tensor, cfg: FeatureConfig) -> tf.Tensor:
    """Log-mel bins -> the features: their cepstra (with `cfg.cepstra`), then the
    per-utterance normalization (with `cfg.normalize`)."""
    if cfg.cepstra:
        feats = tf.signal.mfccs_from_log_mel_spectrograms(feats)[:, : cfg.cepstra]
    if cfg.normalize:
        mean, variance = tf.nn.moments(feats, axes=[0], keepdims=True)
        feats = (feats - mean) * tf.math.rsqrt(variance + 1e-5)
    return feats


def with_deltas(feats: tf.Tensor, cfg: FeatureConfig) -> tf.Tensor:
    """(frames, static_dim) -> (frames, dim): the features, then `cfg.deltas`
    orders of their time derivative, each the regression of HTK (Young et al.,
    the HTK Book, section 5.9) over `delta_window` frames N on each side,
        d(t) = sum_{n=1..N} n (c(t+n) - c(t-n)) / (2 sum_{n=1..N} n^2),
    with the first and last frames repeated beyond the ends. Per utterance,
    before padding, so that a padded batch gives every clip the same values."""
    n = cfg.delta_window
    norm = 2.0 * sum(k * k for k in range(1, n + 1))

    def delta(c):
        frames = tf.shape(c)[0]
        ends = [tf.repeat(c[:1], n, axis=0), c, tf.repeat(c[-1:], n, axis=0)]
        padded = tf.concat(ends, axis=0)

        def shifted(k):  # c(t + k) for every t
            return padded[n + k : n + k + frames]

        return (
            tf.add_n([k * (shifted(k) - shifted(-k)) for k in range(1, n + 1)]) / norm
        )

    columns = [feats]
    for _ in range(cfg.deltas):
        columns.append(delta(columns[-1]))
    return tf.concat(columns, axis=1) if len(columns) > 1 else feats


def featurizer(rate: int, cfg: FeatureConfig, bins_only: bool = False):
    """(waveform, warp=None) -> features (`bins_only`: the log-mel bins, which
    `finish` turns into the features). The filter bank is built once, not per
    element, unless a VTLP `warp` moves it."""
    fixed = mel_matrix(rate, cfg)
    features = log_mel_bins if bins_only else log_mel

    def featurize(waveform, warp=None):
        mel = fixed if warp is None else mel_matrix(rate, cfg, warp)
        return features(waveform, rate, cfg, mel)

    return featurize


def masks_mel_bins(features: FeatureConfig, augment: SpecAugmentConfig) -> bool:
    """Whether `spec_augment` must see the log-mel bins rather than the features:
    cepstra whose frequency masks go on the mel bins, before the DCT."""
    return bool(features.cepstra and augment.freq_masks) and (
        augment.freq_domain == "mel"
    )


def spec_augment(
    feats: tf.Tensor, cfg: SpecAugmentConfig, seed: tf.Tensor, features=None
):
    """Masks of one (frames, bins) utterance; `seed` a (2,) int stateless seed.

    With `features` (a `FeatureConfig`), `feats` are log-mel bins: the frequency
    masks set whole bins to their mean over the utterance, `finish` makes the
    features of the result, and the time masks are applied to those."""
    seeds = tf.random.experimental.stateless_split(seed, 4)
    columns = _spans(
        cfg.freq_masks, cfg.freq_width, tf.shape(feats)[1], seeds[2], seeds[3]
    )
    if features is not None:
        mean = tf.reduce_mean(feats, axis=0, keepdims=True)
        feats = finish(tf.where(columns[None, :], mean, feats), features)
        columns = tf.zeros([tf.shape(feats)[1]], tf.bool)
    frames = tf.shape(feats)[0]
    time_width = tf.cast(cfg.time_width * tf.cast(frames, tf.float32), tf.int32)
    rows = _spans(cfg.time_masks, time_width, frames, seeds[0], seeds[1])
    masked = rows[:, None] | columns[None, :]
    return tf.where(masked, tf.zeros_like(feats), feats)


def check_spec_augment(cfg: SpecAugmentConfig, key: str = "data.spec_augment"):
    from lstmsuite.pipelines.config import ConfigError

    if cfg.freq_domain not in ("mel", "features"):
        raise ConfigError(
            f"{key}.freq_domain: expected 'mel' or 'features', got {cfg.freq_domain!r}"
        )
    for name in ("freq_masks", "freq_width", "time_masks"):
        if getattr(cfg, name) < 0:
            raise ConfigError(f"{key}.{name}: expected >= 0, got {getattr(cfg, name)}")
    if not 0 <= cfg.time_width <= 1:
        raise ConfigError(f"{key}.time_width: expected in [0, 1], got {cfg.time_width}")


def _spans(count: int, width_max, size, seed_width, seed_start):
    """(size,) bool: `count` random spans of 0..width_max steps each."""
    if count <= 0:
        return tf.zeros([size], tf.bool)
    width_max = tf.maximum(width_max, 0)
    widths = tf.random.stateless_uniform(
        [count], seed_width, 0, width_max + 1, dtype=tf.int32
    )
    room = tf.cast(tf.maximum(size - widths, 0) + 1, tf.float32)
    starts = tf.cast(tf.random.stateless_uniform([count], seed_start) * room, tf.int32)
    index = tf.range(size)[None, :]
    hit = (index >= starts[:, None]) & (index < (starts + widths)[:, None])
    return tf.reduce_any(hit, axis=0)


def perturb(waveform: tf.Tensor, cfg: PerturbConfig, seed: tf.Tensor):
    """A randomly faster or slower, noisier copy of one clip (`seed`: (2,) ints).

    The speed change is linear interpolation at `speed` times the sampling
    positions: a clip of n samples becomes round(n / speed) samples."""
    seeds = tf.random.experimental.stateless_split(seed, 5)
    if cfg.trim is not None:
        n = tf.cast(tf.shape(waveform)[0], tf.float32)
        kept = tf.random.stateless_uniform([], seeds[3], *cfg.trim)
        cut = tf.cast(n * (1.0 - kept), tf.int32)
        start = tf.cast(
            tf.random.stateless_uniform([], seeds[4]) * tf.cast(cut + 1, tf.float32),
            tf.int32,
        )
        length = tf.maximum(tf.shape(waveform)[0] - cut, 1)
        waveform = waveform[start : start + length]
    if cfg.speed is not None:
        factor = tf.random.stateless_uniform([], seeds[0], *cfg.speed)
        n = tf.shape(waveform)[0]
        m = tf.maximum(tf.cast(tf.round(tf.cast(n, tf.float32) / factor), tf.int32), 1)
        where = tf.range(m, dtype=tf.float32) * factor
        left = tf.minimum(tf.cast(where, tf.int32), n - 1)
        right = tf.minimum(left + 1, n - 1)
        frac = where - tf.cast(left, tf.float32)
        waveform = (1 - frac) * tf.gather(waveform, left) + frac * tf.gather(
            waveform, right
        )
    if cfg.snr_db is not None:
        rms = tf.sqrt(tf.reduce_mean(tf.square(waveform)) + 1e-12)
        waveform += white_noise(tf.shape(waveform), rms, cfg.snr_db, seeds[1], seeds[2])
    return waveform
