"""On-disk cache of a frozen encoder's feature maps (`data.cache_features: true`).

    lstmsuite train captioning --config configs/captioning/flickr8k.yaml \
        --set data.path=/data/flickr8k --set encoder.trainable=false \
        --set data.cache_features=true

A frozen encoder computes the same features for an image every epoch; computing them
once per split and encoder, and training the decoder on them, makes an epoch many
times faster. The cache file is `<dir>/<key>.npy` (float16, (N, h, w, D)), where the
key hashes the encoder's weights, the image size and the split's images (paths,
sizes and modification times, or pixels), so a changed encoder or data set never
reuses stale features. `<dir>` is `data.feature_cache_dir`, default
`$LSTMSUITE_CACHE/captioning-features` (see `lstmsuite.pipelines.sources.cache_dir`).

The frozen encoder itself is saved in the run directory as `encoder.keras` (it is not
part of the trained model then), and a resumed run or `evaluate` / `predict` loads it
from there: with `encoder.weights: null` it is a random network that only that file
can reproduce.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import keras
import numpy as np

from lstmsuite.apps.captioning.data import CaptionSplit, fingerprint
from lstmsuite.apps.captioning.encoder import build_encoder
from lstmsuite.apps.captioning.pipeline import image_batches
from lstmsuite.pipelines.config import ConfigError
from lstmsuite.pipelines.sources import cache_dir

ENCODER_FILE = "encoder.keras"


def frozen_encoder(cfg, run_dir) -> keras.Model:
    """The run's frozen encoder: loaded from RUN/encoder.keras, else built and saved."""
    if cfg.encoder.trainable:
        raise ConfigError(
            "data.cache_features: features can only be cached for a frozen encoder; "
            "set encoder.trainable: false (or data.cache_features: false)"
        )
    path = Path(run_dir) / ENCODER_FILE
    if path.exists():
        encoder = keras.models.load_model(path, safe_mode=True, compile=False)
        encoder.trainable = False
        return encoder
    encoder = build_encoder(cfg.encoder, cfg.data.image_size, cfg.seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".saving-{path.name}")
    encoder.save(tmp)
    os.replace(tmp, path)
    return encoder


def weights_digest(model: keras.Model) -> str:
    digest = hashlib.md5()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:16]


def cached_features(
    encoder: keras.Model, split: CaptionSplit, cfg, normalize, verbose: int = 1
) -> np.ndarray:
    """(N, h, w, D) float16 features of every image of `split`, from the cache or
    computed (and written) now."""
    folder = Path(cfg.data.feature_cache_dir or cache_dir() / "captioning-features")
    key = hashlib.md5(
        "|".join(
            [
                weights_digest(encoder),
                str(cfg.data.image_size),
                fingerprint(split),
            ]
        ).encode()
    ).hexdigest()[:20]
    path = folder.expanduser() / f"{key}.npy"
    if path.exists():
        try:
            return np.load(path, allow_pickle=False)
        except ValueError:
            pass  # a corrupt cache file is recomputed
    batches = image_batches(
        split.images, cfg.data.image_size, cfg.decode.batch_size, normalize
    )
    if verbose:
        print(f"Caching encoder features of {len(split)} images in {path}")
    features = encoder.predict(batches, verbose=verbose).astype(np.float16)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.npy")
    np.save(tmp, features, allow_pickle=False)
    os.replace(tmp, path)
    return features
