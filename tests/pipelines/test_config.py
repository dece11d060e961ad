"""Typed configs: YAML loading, --set overrides, and errors that say what to fix."""

from dataclasses import dataclass, field

import pytest

from lstmsuite.pipelines.config import (
    Config,
    ConfigError,
    DataConfig,
    dump_config,
    load_config,
    set_value,
)


@dataclass(kw_only=True)
class ImageData(DataConfig):
    source: str = "folder"
    height: int = 32  # an app-specific field


@dataclass(kw_only=True)
class AppConfig(Config):
    app: str = "demo"
    data: ImageData = field(default_factory=ImageData)


def write(tmp_path, text, name="exp.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_yaml_and_overrides_are_typed(tmp_path):
    path = write(tmp_path, "data:\n  height: 48\nmodel:\n  units: 64\n")
    cfg = load_config(
        AppConfig,
        path,
        [
            "model.units=256",
            "training.learning_rate=1e-3",  # YAML 1.1 reads this as a string
            "training.clipnorm=null",
            "data.source=123",  # a str field keeps the text
            "tuning.space.units=[8, 16]",
            "data.options.limit=5",
            "runtime.jit_compile=true",
        ],
        app="demo",
    )
    assert cfg.data.height == 48 and isinstance(cfg.data, ImageData)
    assert cfg.model.units == 256
    assert cfg.training.learning_rate == pytest.approx(0.001)
    assert cfg.training.clipnorm is None
    assert cfg.data.source == "123"
    assert cfg.tuning.space == {"units": [8, 16]}
    assert cfg.data.options == {"limit": 5}
    assert cfg.runtime.jit_compile is True


def test_unknown_key_names_file_key_and_suggestion(tmp_path):
    path = write(tmp_path, "model:\n  unitz: 3\n")
    with pytest.raises(ConfigError) as error:
        load_config(AppConfig, path)
    message = str(error.value)
    assert str(path) in message
    assert "model.unitz" in message
    assert "Did you mean model.units?" in message


def test_unknown_override_key_is_suggested():
    with pytest.raises(ConfigError, match=r"--set data\.hieght=3.*data\.height"):
        load_config(AppConfig, None, ["data.hieght=3"])


def test_wrong_type_names_key_file_and_expected_type(tmp_path):
    path = write(tmp_path, "training:\n  epochs: many\n")
    with pytest.raises(ConfigError) as error:
        load_config(AppConfig, path)
    message = str(error.value)
    assert str(path) in message
    assert "training.epochs" in message
    assert "expected int" in message and "'many'" in message


def test_wrong_choice_suggests_the_closest():
    with pytest.raises(ConfigError, match="Did you mean 'mirrored'"):
        load_config(AppConfig, None, ["runtime.strategy=mirored"])


def test_missing_required_value_names_key_and_type(tmp_path):
    path = write(tmp_path, "model:\n  units: 3\n")
    with pytest.raises(ConfigError) as error:
        load_config(Config, path)  # the base DataConfig has no default source
    message = str(error.value)
    assert str(path) in message
    assert "missing required value data.source (str)" in message


def test_app_mismatch_and_bad_yaml(tmp_path):
    with pytest.raises(ConfigError, match="for app 'music', not 'demo'"):
        load_config(AppConfig, write(tmp_path, "app: music\n"), app="demo")
    with pytest.raises(ConfigError, match="invalid YAML at line"):
        load_config(AppConfig, write(tmp_path, "model:\n  units: [1\n", "bad.yaml"))
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        load_config(AppConfig, None, ["model.units"])


def test_dump_round_trips(tmp_path):
    cfg = load_config(AppConfig, None, ["model.units=7", "tuning.space.cell=[a, b]"])
    path = write(tmp_path, dump_config(cfg), "resolved.yaml")
    assert load_config(AppConfig, path) == cfg


def test_set_value_checks_types():
    cfg = load_config(AppConfig, None)
    assert set_value(cfg, "model.units", 9).model.units == 9
    assert cfg.model.units != 9  # a copy
    with pytest.raises(ConfigError, match="model.units: expected int"):
        set_value(cfg, "model.units", "nine")
