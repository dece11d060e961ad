"""The captioning app's config sections (`configs/captioning/*.yaml`).

    lstmsuite train captioning --config configs/captioning/shapes.yaml \
        --set model.decoder=show_and_tell --set encoder.name=MobileNetV3Small

Sections beyond the shared ones: `encoder` (the CNN) and `decode` (how evaluate and
predict generate captions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from lstmsuite.pipelines import decoding
from lstmsuite.pipelines.config import Config, DataConfig, ModelConfig, check_choice


@dataclass(kw_only=True)
class CaptionDataConfig(DataConfig):
    source: str = "shapes"  # shapes | flickr8k | coco | coco_tfds | folder
    image_size: int = 64  # images are resized to image_size x image_size
    batch_size: int = 32
    shuffle_buffer: int = 2048
    # random: one reference per image and epoch, drawn anew each epoch; all: one
    # example per (image, caption) pair.
    caption_sampling: Literal["random", "all"] = "random"
    min_word_count: int = 1  # rarer training words become <unk>
    max_words: int | None = None  # vocabulary size cap (most frequent words)
    max_caption_words: int = 30  # longer training captions are cut
    # Frozen encoder only: compute its features once per split and cache them on
    # disk (`feature_cache_dir`, default $LSTMSUITE_CACHE/captioning-features).
    cache_features: bool = False
    feature_cache_dir: str | None = None


@dataclass(kw_only=True)
class EncoderConfig:
    # small_cnn, or a keras.applications class: MobileNetV3Small, EfficientNetB0,
    # ResNet50, ... (see apps/captioning/encoder.py)
    name: str = "small_cnn"
    # null: random init (train from scratch); a local weights file; or "imagenet"
    # (downloads the weights; for users online).
    weights: str | None = None
    trainable: bool = True  # False: frozen (and its features may be cached)
    filters: list[int] = field(default_factory=lambda: [32, 64, 128])  # small_cnn


@dataclass(kw_only=True)
class CaptionModelConfig(ModelConfig):
    # show_and_tell: the image embedding is the decoder's initial state (Vinyals et
    # al. 2015); show_attend_tell: soft attention over the feature map every step
    # (Xu et al. 2015).
    decoder: Literal["show_and_tell", "show_attend_tell"] = "show_attend_tell"
    units: int = 256
    embedding_dim: int = 128
    feature_units: int = 128  # each feature-map location is projected to this width
    attention_units: int = 128
    attention_gate: bool = True  # Xu et al.'s gating scalar on the context
    positions: bool = True  # learned embedding of each feature-map location
    # show_and_tell's image embedding: mean over locations, or all locations
    # flattened (keeps the layout; for small feature maps).
    pooling: Literal["mean", "flatten"] = "mean"
    feature_dropout: float = 0.0
    embedding_dropout: float = 0.0
    output_dropout: float = 0.2


@dataclass(kw_only=True)
class DecodeConfig(decoding.DecodeConfig):
    """`strategy` is what predict uses; evaluate reports each of `evaluate`."""

    beam_width: int = 3
    max_words: int = 30
    evaluate: list[Literal["greedy", "beam", "sample"]] = field(
        default_factory=lambda: ["greedy", "beam"]
    )
    batch_size: int = 64  # images per decoding batch
    attention_dir: str | None = None  # --attention-png output (default RUN/attention)


@dataclass(kw_only=True)
class CaptionConfig(Config):
    app: str = "captioning"
    data: CaptionDataConfig = field(default_factory=CaptionDataConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    model: CaptionModelConfig = field(default_factory=CaptionModelConfig)
    decode: DecodeConfig = field(default_factory=DecodeConfig)

    def validate(self, origin: str = "defaults") -> None:
        from lstmsuite.apps.captioning.data import SOURCES
        from lstmsuite.apps.captioning.encoder import encoder_names

        super().validate(origin)
        check_choice(origin, "data.source", self.data.source, SOURCES.names(), "source")
        check_choice(
            origin, "encoder.name", self.encoder.name, encoder_names(), "encoder"
        )
