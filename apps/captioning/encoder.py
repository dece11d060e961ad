"""The image encoder: a CNN from `keras.applications` or a small CNN, as a feature map.

    lstmsuite train captioning --config configs/captioning/flickr8k.yaml \
        --set encoder.name=EfficientNetB0 --set encoder.weights=imagenet

`build_encoder(cfg.encoder, image_size)` returns a Keras model named "encoder" from
images (B, S, S, 3) to a spatial feature map (B, h, w, D); `normalizer(name)` is what
the tf.data pipeline applies to the uint8 pixels first (as float32 0..255), so the
encoder sees exactly the input its weights expect:

* `small_cnn` (for the `shapes` data): conv 3x3 + batch norm + ReLU + 2x2 max-pool per
  entry of `encoder.filters`; pixels scaled to [-1, 1].
* a `keras.applications` class without its classifier (`include_top=False`):
  `MobileNetV3Small`, `EfficientNetB0`, `ResNet50`, ... with the matching
  `keras.applications.<module>.preprocess_input` (MobileNetV3 and EfficientNet take
  0..255 and normalize inside the network).

`encoder.weights`: null trains from scratch (random init, the default here, since
nothing is downloaded at run time); a path loads a local weights file (e.g. the
`*_notop.h5` file Keras would download); `imagenet` downloads them (users online).
`encoder.trainable: false` freezes the encoder (batch norm then stays in inference
mode), which also allows caching its features (`data.cache_features`).
"""

from __future__ import annotations

from pathlib import Path

import keras

from lstmsuite.pipelines.registry import unknown_name_message

#: keras.applications class -> its module (for preprocess_input)
APPLICATIONS = {
    "MobileNet": "mobilenet",
    "MobileNetV2": "mobilenet_v2",
    "MobileNetV3Small": "mobilenet_v3",
    "MobileNetV3Large": "mobilenet_v3",
    **{f"EfficientNetB{i}": "efficientnet" for i in range(8)},
    **{f"EfficientNetV2B{i}": "efficientnet_v2" for i in range(4)},
    "EfficientNetV2S": "efficientnet_v2",
    "ResNet50": "resnet50",
    "ResNet101": "resnet",
    "ResNet50V2": "resnet_v2",
    "DenseNet121": "densenet",
    "InceptionV3": "inception_v3",
    "Xception": "xception",
    "ConvNeXtTiny": "convnext",
    "VGG16": "vgg16",
}
SMALL_CNN = "small_cnn"


def encoder_names() -> list[str]:
    return [SMALL_CNN, *APPLICATIONS]


def _check_name(name: str) -> None:
    if name != SMALL_CNN and name not in APPLICATIONS:
        raise ValueError(
            "encoder.name: " + unknown_name_message("encoder", name, encoder_names())
        )


def normalizer(name: str):
    """float32 pixels 0..255 (..., S, S, 3) -> the encoder's input."""
    _check_name(name)
    if name == SMALL_CNN:
        return lambda x: x / 127.5 - 1.0
    module = getattr(keras.applications, APPLICATIONS[name])
    return module.preprocess_input


def build_encoder(enc_cfg, image_size: int, seed: int = 0) -> keras.Model:
    """The encoder model "encoder": (B, S, S, 3) -> (B, h, w, D)."""
    _check_name(enc_cfg.name)
    weights = enc_cfg.weights
    if weights not in (None, "imagenet") and not Path(weights).expanduser().is_file():
        raise FileNotFoundError(f"{weights}: encoder.weights file not found")
    shape = (image_size, image_size, 3)
    if enc_cfg.name == SMALL_CNN:
        model = small_cnn(shape, enc_cfg.filters, seed)
        if weights == "imagenet":
            raise ValueError("encoder.weights: small_cnn has no imagenet weights")
        if weights:
            model.load_weights(str(Path(weights).expanduser()))
    else:
        application = getattr(keras.applications, enc_cfg.name)
        base = application(
            include_top=False,
            weights=str(Path(weights).expanduser())
            if weights not in (None, "imagenet")
            else weights,
            input_shape=shape,
        )
        model = keras.Model(base.input, base.output, name="encoder")
    model.trainable = enc_cfg.trainable
    return model


def small_cnn(shape, filters: list[int], seed: int = 0) -> keras.Model:
    """conv-BN-ReLU-pool blocks; a 64x64 image and 3 blocks give an 8x8 map."""
    if not filters:
        raise ValueError("encoder.filters: small_cnn needs at least one block")
    images = keras.Input(shape=shape, name="pixels")
    x = images
    for k, width in enumerate(filters):
        x = keras.layers.Conv2D(
            width,
            3,
            padding="same",
            use_bias=False,
            kernel_initializer=keras.initializers.HeNormal(seed=seed + k),
            name=f"conv{k + 1}",
        )(x)
        x = keras.layers.BatchNormalization(name=f"bn{k + 1}")(x)
        x = keras.layers.ReLU(name=f"relu{k + 1}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool{k + 1}")(x)
    return keras.Model(images, x, name="encoder")
