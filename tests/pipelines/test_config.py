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
from lstmsuite.pipelines.decoding import DecodeConfig


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


# ------------------------------------------------------- validation before any data


def test_unknown_cell_is_refused_at_load_with_a_suggestion(tmp_path):
    path = write(tmp_path, "model:\n  cell: layernrom\n")
    with pytest.raises(ConfigError, match="Did you mean 'layernorm'") as e:
        load_config(AppConfig, path)
    assert str(e.value).startswith(f"{path}: model.cell: Unknown cell 'layernrom'.")
    with pytest.raises(ConfigError, match=r"^defaults with --set: model.cell"):
        load_config(AppConfig, None, ["model.cell=gruu"])


def test_cell_options_are_checked_against_the_cells_arguments():
    cfg = load_config(
        AppConfig, None, ["model.cell=lstmp", "model.cell_options.proj_units=4"]
    )
    assert cfg.model.cell_options == {"proj_units": 4}
    # proj_units is LSTMP's, not GRU's
    with pytest.raises(ConfigError, match=r"cell_options.proj_units: not an arg"):
        load_config(
            AppConfig, None, ["model.cell=gru", "model.cell_options.proj_units=4"]
        )
    with pytest.raises(ConfigError, match=r"proj_units: the 'lstmp' cell needs"):
        load_config(AppConfig, None, ["model.cell=lstmp"])
    with pytest.raises(ConfigError, match="Did you mean 'zoneout_cell'"):
        load_config(AppConfig, None, ["model.cell_options.zonout_cell=0.1"])
    with pytest.raises(ConfigError, match="set model.dropout instead"):
        load_config(AppConfig, None, ["model.cell_options.dropout=0.1"])
    with pytest.raises(ConfigError, match="return_sequences: the app sets it"):
        load_config(AppConfig, None, ["model.cell_options.return_sequences=true"])


@pytest.mark.parametrize(
    "app, override, message",
    [
        (
            "music",
            "data.source=matt",
            "data.source: Unknown source 'matt'. Did you mean 'mat'",
        ),
        ("translation", "data.source=tvs", "Did you mean 'tsv'"),
        ("handwriting", "data.source=iamm", "Did you mean 'iam'"),
        ("captioning", "data.source=flickr8", "Did you mean 'flickr8k'"),
        ("captioning", "encoder.name=MobileNetV2x", "Did you mean 'MobileNetV2'"),
        ("music", "generate.strategy=beam", "expected one of sample, greedy"),
        ("translation", "data.tokenizer=bpee", "Did you mean 'bpe'"),
        ("handwriting", "decode.strategy=lexion", "Did you mean 'lexicon'"),
        ("captioning", "decode.evaluate=[greedy, bem]", "Did you mean 'beam'"),
        ("music", "tuning.tuner=hyperbnd", "Did you mean 'hyperband'"),
        ("music", "runtime.strategy=mirorred", "Did you mean 'mirrored'"),
    ],
)
def test_every_app_checks_its_fixed_choices_when_the_config_loads(
    app, override, message
):
    from lstmsuite.pipelines.registry import get_app

    config_class = get_app(app).config_class
    with pytest.raises(ConfigError, match=message):
        load_config(config_class, f"{app}/tiny", [override], app=app)


def test_tuning_choices_are_validated_up_front():
    from lstmsuite.pipelines.tuning import resolve_space

    cfg = load_config(AppConfig, None, ["tuning.space.cell=[lstm, gru]"])
    assert resolve_space(cfg) == {"model.cell": ["lstm", "gru"]}
    bad = load_config(AppConfig, None, ["tuning.space.cell=[lstm, lstn]"])
    with pytest.raises(ConfigError, match="tuning.space.cell='lstn': model.cell"):
        resolve_space(bad)


def test_shipped_configs_are_found_by_name(tmp_path, monkeypatch):
    from lstmsuite.pipelines.config import find_config, shipped_configs

    assert {"music/bach", "music/tiny", "translation/anki_fra"} <= set(
        shipped_configs()
    )
    monkeypatch.chdir(tmp_path)  # no configs/ folder here
    assert find_config("music/bach").name == "bach.yaml"
    assert find_config("configs/music/bach.yaml") == find_config("music/bach.yaml")
    local = write(tmp_path, "model:\n  units: 3\n", name="mine.yaml")
    assert find_config("mine.yaml") == local.relative_to(tmp_path)
    with pytest.raises(ConfigError, match="Did you mean 'music/bach'"):
        find_config("music/bahc")


@dataclass(kw_only=True)
class DecodingAppConfig(AppConfig):
    decode: DecodeConfig = field(default_factory=DecodeConfig)


@pytest.mark.parametrize(
    "override, message",
    [
        ("decode.top_p=0", r"decode.top_p: expected a number in \(0, 1\]"),
        ("decode.top_p=1.2", r"decode.top_p: expected a number in \(0, 1\]"),
        ("decode.temperature=0", "decode.temperature: expected a number > 0"),
        ("decode.top_k=-1", "decode.top_k: expected 0 .no limit. or more"),
        ("decode.beam_width=0", "decode.beam_width: expected at least 1"),
    ],
)
def test_decode_settings_are_checked_when_the_config_loads(override, message):
    cfg = load_config(DecodingAppConfig, None, ["decode.top_p=0.9"])
    assert cfg.decode.top_p == 0.9
    with pytest.raises(ConfigError, match=message):
        load_config(DecodingAppConfig, None, [override])


def test_music_refuses_nucleus_sampling_and_names_top_k():
    from lstmsuite.apps.music.app import MusicConfig

    with pytest.raises(ConfigError, match="generate.top_p.*generate.top_k"):
        load_config(MusicConfig, None, ["generate.top_p=0.9"])


def test_a_saved_run_without_a_newer_key_reads_as_it_was_trained(tmp_path):
    """music's `model.output` defaults to "nade" now; a run saved before the key
    existed was a Bernoulli model, and reads as one."""
    from lstmsuite.apps.music.app import MusicConfig

    old = tmp_path / "config.yaml"
    old.write_text("app: music\ndata: {source: mat}\nmodel: {units: 8}\n")
    assert load_config(MusicConfig, old).model.output == "nade"  # a new config
    saved = load_config(MusicConfig, old, saved_run=True)
    assert saved.model.output == "bernoulli" and saved.model.units == 8
    explicit = tmp_path / "new.yaml"
    explicit.write_text("app: music\ndata: {source: mat}\nmodel: {output: nade}\n")
    assert load_config(MusicConfig, explicit, saved_run=True).model.output == "nade"
    overridden = load_config(MusicConfig, old, ["model.output=nade"], saved_run=True)
    assert overridden.model.output == "nade"
