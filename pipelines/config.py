"""Typed experiment configs: dataclasses loaded from YAML, overridden with `--set`.

    lstmsuite train music --config configs/music/bach.yaml --set model.units=256

A config is a tree of dataclasses: the top-level `Config` holds the sections `data`,
`model`, `training`, `runtime` and `tuning`. An app subclasses the sections it needs to
extend (the handwriting app adds image fields to `DataConfig`, the music app adds a
`generate` section) and its `Config` subclass names the section types; every loader,
override and error below works on any such subclass because it reads the field types,
never a hard-coded list of keys.

Every value is checked against its annotation. An unknown key, a wrong type or a missing
required value raises `ConfigError`, whose message names the dotted key, where the value
came from (the YAML file or the `--set` item) and the expected type, with a "did you
mean" for typos. YAML is read with `yaml.safe_load` only: a config file never constructs
Python objects.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml


class ConfigError(ValueError):
    """A bad config value; the message is meant to be shown to the user as is."""


# ---------------------------------------------------------------------------- sections
# kw_only lets a subclass add a required field after fields with defaults, and lets an
# app change a default (e.g. `source: str = "music21_bach"`) by redeclaring the field.


@dataclass(kw_only=True)
class DataConfig:
    """Where the data comes from and how it is batched."""

    source: str  # a name registered in the app's data-source registry
    path: str | None = None  # file or folder for sources that read one
    options: dict[str, Any] = field(
        default_factory=dict
    )  # extra keyword args to the source
    batch_size: int = 32
    shuffle_buffer: int = 4096
    # Length bucketing: sequences are grouped by length at these boundaries so that a
    # batch pads to about its own length. Empty: shuffle, then pad every batch to its
    # longest item.
    bucket_boundaries: list[int] = field(default_factory=list)
    max_length: int | None = (
        None  # training windows longer than this are randomly cropped
    )
    cache: bool = True  # keep decoded examples in memory after the first epoch


@dataclass(kw_only=True)
class ModelConfig:
    """The recurrent stack; an app adds its own fields (embeddings, attention...)."""

    cell: str = "lstm"  # a key of lstmsuite.layers.CELLS: lstm, gru, layernorm...
    units: int = 128
    num_layers: int = 1
    dropout: float = 0.0  # input dropout inside each cell
    recurrent_dropout: float = 0.0
    inter_layer_dropout: float = 0.0
    residual: bool = False
    # More arguments of the cell's layer: zoneout_cell, proj_units, cell_clip...
    cell_options: dict[str, Any] = field(default_factory=dict)


@dataclass(kw_only=True)
class TrainingConfig:
    epochs: int = 10
    optimizer: Literal["adam", "adamw", "rmsprop", "sgd"] = "adam"
    learning_rate: float = 1e-3
    lr_schedule: Literal["constant", "cosine"] = "constant"
    weight_decay: float = 0.0  # adamw only
    clipnorm: float | None = 1.0
    # Polyak averaging: with a momentum (e.g. 0.99, per step) the optimizer keeps an
    # exponential moving average of the weights, and validation, best.keras and
    # last.keras use the average; training goes on from the raw weights. null: off.
    ema_momentum: float | None = None
    # The metric that picks the best checkpoint, or "last": best.keras is the last
    # epoch's model (for a validation split that does not predict the test split,
    # such as speech's held-out speakers).
    monitor: str = "val_loss"
    early_stopping_patience: int = 0  # epochs without improvement; 0 turns it off
    steps_per_epoch: int | None = None  # None: one pass over the training data
    validation_steps: int | None = None
    # Wall-clock budget of one `train` invocation: no epoch starts after it is spent
    # (benchmarks state their targets as "trained in at most N minutes").
    max_minutes: float | None = None


@dataclass(kw_only=True)
class RuntimeConfig:
    strategy: Literal["auto", "one_device", "mirrored", "multi_worker", "tpu"] = "auto"
    mixed_precision: Literal["none", "mixed_float16", "mixed_bfloat16"] = "none"
    jit_compile: bool = (
        False  # XLA; worth it on GPU/TPU, slow to compile recurrent nets on CPU
    )
    device: str | None = (
        None  # for one_device, e.g. "/gpu:0"; None picks the first GPU or CPU
    )
    tpu: str | None = (
        None  # TPU address for the resolver ("" or None: local / environment)
    )
    deterministic: bool = False  # tf.config.experimental.enable_op_determinism()
    verbose: int = 1  # Keras progress: 0 silent, 1 bars, 2 one line per epoch


@dataclass(kw_only=True)
class TuningConfig:
    """KerasTuner search: `space` maps config keys to the choices to try.

    Keys are dotted (`model.units`, `training.learning_rate`) or short names resolved to
    the one section field of that name (`units`, `cell`, `recurrent_dropout`).
    """

    tuner: Literal["random", "hyperband", "bayesian"] = "random"
    space: dict[str, list[Any]] = field(default_factory=dict)
    max_trials: int = 10
    epochs: int = 5  # per trial (hyperband: the max epochs of its brackets)
    executions_per_trial: int = 1
    hyperband_factor: int = 3
    objective: str = "val_loss"
    direction: Literal["min", "max"] = "min"


@dataclass(kw_only=True)
class Config:
    """The root of every experiment. Apps subclass it to name their section types."""

    app: str = ""  # which app the file is for; checked against the command line
    seed: int = 1234  # one seed for data shuffling, weight init, dropout and sampling
    data: DataConfig
    model: ModelConfig = field(default_factory=ModelConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    tuning: TuningConfig = field(default_factory=TuningConfig)

    #: Where a default changed: the value a run directory's saved config.yaml means
    #: when it predates the key (e.g. music's `model.output`, "bernoulli" before
    #: the NADE became the default), so old runs evaluate and resume as they were
    #: trained. Filled in by `load_config(..., saved_run=True)`.
    saved_run_defaults: typing.ClassVar[dict[str, Any]] = {}

    def validate(self, origin: str = "defaults") -> None:
        """Checks what the annotations cannot, before any data is loaded: names
        that must be in a registry (the cell here; an app adds its data sources,
        encoders...) and `model.cell_options` against the cell's arguments.
        `load_config` calls it; an app overrides it and calls `super()`."""
        check_cell(self.model, origin)
        check_ranges(self, origin)


# ----------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class _Raw:
    """A `--set` value as typed: parsed only once the target field's type is known, so
    that `--set data.source=123` stays the string "123" while `--set model.units=123` is
    an int."""

    text: str
    origin: str


def load_config(
    cls: type[Config],
    path: str | Path | None = None,
    overrides: typing.Sequence[str] = (),
    app: str | None = None,
    saved_run: bool = False,
) -> Config:
    """Builds `cls` from the YAML file at `path` (or only defaults) and `--set`
    overrides.

    Args:
        cls: the app's Config subclass.
        path: YAML file; None uses the dataclass defaults.
        overrides: items like "model.units=256" applied after the file.
        app: the app named on the command line; a file written for another app is an
            error.
        saved_run: the file is a run directory's config.yaml: keys it lacks take
            `cls.saved_run_defaults` where those differ from today's defaults.
    """
    if path is not None:
        path = find_config(path)
    origin = str(path) if path is not None else "defaults"
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as e:
            raise ConfigError(
                f"{path}: cannot read config file ({e.strerror})"
            ) from None
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as e:
            where = getattr(e, "problem_mark", None)
            at = f" at line {where.line + 1}" if where else ""
            raise ConfigError(
                f"{path}: invalid YAML{at}: {getattr(e, 'problem', e)}"
            ) from None
        if raw is None:
            raise ConfigError(
                f"{path}: the file is empty; give at least `app:` and `data:`, or "
                "name a shipped config (lstmsuite.configs)"
            )
        if not isinstance(raw, dict):
            raise ConfigError(
                f"{path}: expected a mapping of sections, got {_tname(raw)}"
            )
    if saved_run:
        raw = fill_saved_run_defaults(cls, raw)
    for item in overrides:
        apply_override(cls, raw, item)
    config = from_dict(cls, raw, origin=origin)
    if app is not None:
        if config.app and config.app != app:
            raise ConfigError(
                f"{origin}: app: the file is for app {config.app!r}, not {app!r}"
            )
        config.app = app
    config.validate(f"{origin} with --set" if overrides else origin)
    return config


def fill_saved_run_defaults(cls: type[Config], raw: dict[str, Any]) -> dict[str, Any]:
    """`raw` (a saved run's config) with `cls.saved_run_defaults` set where it has
    no value for the key."""
    for key, value in cls.saved_run_defaults.items():
        *sections, leaf = key.split(".")
        node = raw
        for section in sections:
            node = node.setdefault(section, {}) if isinstance(node, dict) else None
        if isinstance(node, dict) and leaf not in node:
            node[leaf] = value
    return raw


# ------------------------------------------------------------------------- validation


def check_choice(origin: str, key: str, value: Any, choices, kind: str) -> None:
    """A ConfigError naming `key` (and a "did you mean") when `value` is not one
    of `choices`."""
    from lstmsuite.pipelines.registry import unknown_name_message

    if value not in choices:
        message = unknown_name_message(kind, value, sorted(choices))
        raise ConfigError(f"{origin}: {key}: {message}")


def require(cfg: Any, origin: str, ok: bool, key: str, what: str) -> None:
    """A ConfigError naming `key`, what it should be and its value, unless `ok`."""
    if not ok:
        value = get_value(cfg, key)
        raise ConfigError(f"{origin}: {key}: expected {what}, got {value!r}")


def check_ranges(cfg: Any, origin: str) -> None:
    """Numbers that would fail later, deep inside Keras, under a Keras name."""
    import math

    def need(ok: bool, key: str, what: str) -> None:
        require(cfg, origin, ok, key, what)

    t, m, d = cfg.training, cfg.model, cfg.data
    rate = t.learning_rate
    need(math.isfinite(rate) and rate > 0, "training.learning_rate", "a number > 0")
    need(t.epochs >= 1, "training.epochs", "at least 1")
    need(d.batch_size >= 1, "data.batch_size", "at least 1")
    need(m.units >= 1, "model.units", "at least 1")
    need(m.num_layers >= 1, "model.num_layers", "at least 1")
    for key in ("dropout", "recurrent_dropout", "inter_layer_dropout"):
        need(0 <= getattr(m, key) < 1, f"model.{key}", "a rate in [0, 1)")
    if t.max_minutes is not None:
        need(t.max_minutes > 0, "training.max_minutes", "a number > 0 (or null)")
    need(t.early_stopping_patience >= 0, "training.early_stopping_patience", ">= 0")
    if t.ema_momentum is not None:
        need(0 < t.ema_momentum < 1, "training.ema_momentum", "in (0, 1) (or null)")
    if t.monitor == "last":
        need(
            t.early_stopping_patience == 0,
            "training.early_stopping_patience",
            "0 with training.monitor: last (the last epoch is always the best)",
        )
    from lstmsuite.pipelines.decoding import DecodeConfig

    # Every decode section (`decode`, music's `generate`), by its own name.
    for section in dataclasses.fields(cfg):
        decode = getattr(cfg, section.name)
        if not isinstance(decode, DecodeConfig):
            continue
        name = section.name
        temperature = decode.temperature
        finite = math.isfinite(temperature) and temperature > 0
        need(finite, f"{name}.temperature", "a number > 0")
        need(decode.top_k >= 0, f"{name}.top_k", "0 (no limit) or more")
        need(0 < decode.top_p <= 1, f"{name}.top_p", "a number in (0, 1] (1: no limit)")
        need(decode.beam_width >= 1, f"{name}.beam_width", "at least 1")


# Set by the app from its own fields (or by the stack builder), never by
# cell_options: a second value would be a TypeError deep inside the model builder.
_NOT_CELL_OPTIONS = {
    "units": "model.units",
    "dropout": "model.dropout",
    "recurrent_dropout": "model.recurrent_dropout",
    "seed": "seed",
    "return_sequences": None,
    "return_state": None,
    "go_backwards": None,
    "stateful": None,
}


# Arguments a cell cannot do without, asked for before any data is loaded (and
# before a study trains the cells listed ahead of it).
_REQUIRED_CELL_OPTIONS = {"lstmp": {"proj_units": "the size of its projection"}}


def check_cell(model: Any, origin: str) -> None:
    """`model.cell` is a known cell and `model.cell_options` are its arguments."""
    import inspect

    from lstmsuite.layers import CELLS

    check_choice(origin, "model.cell", model.cell, CELLS, "cell")
    layer = CELLS[model.cell]
    accepted = [
        name
        for name, p in inspect.signature(layer.__init__).parameters.items()
        if name != "self" and p.kind is not p.VAR_KEYWORD
    ]
    for key, what in _REQUIRED_CELL_OPTIONS.get(model.cell, {}).items():
        if model.cell_options.get(key) is None:
            raise ConfigError(
                f"{origin}: model.cell_options.{key}: the {model.cell!r} cell needs "
                f"{what}, e.g. --set model.cell_options.{key}=64"
            )
    for key in model.cell_options:
        if key in _NOT_CELL_OPTIONS:
            instead = _NOT_CELL_OPTIONS[key]
            hint = f"set {instead} instead" if instead else "the app sets it"
            raise ConfigError(f"{origin}: model.cell_options.{key}: {hint}")
        if key not in accepted:
            choices = [n for n in accepted if n not in _NOT_CELL_OPTIONS]
            close = difflib.get_close_matches(key, choices, n=1)
            hint = f" Did you mean {close[0]!r}?" if close else ""
            raise ConfigError(
                f"{origin}: model.cell_options.{key}: not an argument of the "
                f"{model.cell!r} cell ({layer.__name__}).{hint} Its arguments: "
                f"{', '.join(choices)}."
            )


# The configs shipped with the package: `configs/` beside `pipelines/`, both in the
# repository and in an installed wheel (where they are `lstmsuite/configs/`).
SHIPPED_CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def shipped_configs() -> list[str]:
    """The shipped configs by name, e.g. `music/bach`."""
    return sorted(
        p.relative_to(SHIPPED_CONFIGS).with_suffix("").as_posix()
        for p in SHIPPED_CONFIGS.glob("*/*.yaml")
    )


def find_config(name: str | Path) -> Path:
    """A config file's path: `name` itself when it is a file, else the shipped config
    of that name (`music/bach`, `music/bach.yaml`, `configs/music/bach.yaml`)."""
    path = Path(name)
    if path.is_file():
        return path
    stem = path.as_posix().removesuffix(".yaml").removeprefix("configs/")
    shipped = SHIPPED_CONFIGS / f"{stem}.yaml"
    if shipped.is_file():
        return shipped
    if path.exists():  # a folder, say: let the read report it
        return path
    message = f"{name}: no such config file, and no shipped config of that name."
    close = difflib.get_close_matches(stem, shipped_configs(), n=1)
    if close:
        message += f" Did you mean {close[0]!r}?"
    raise ConfigError(message + f" Shipped: {', '.join(shipped_configs())}.")


def apply_override(cls: type, raw: dict[str, Any], item: str) -> None:
    """Puts one `a.b.c=value` item into the raw dict, checking the key path against
    `cls`."""
    origin = f"--set {item}"
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"{origin}: expected KEY=VALUE, e.g. --set model.units=256")
    parts = key.split(".")
    tp: Any = cls
    node = raw
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        prefix = ".".join(parts[:depth])
        if _is_dataclass_type(tp):
            fields = _fields(tp)
            if part not in fields:
                raise ConfigError(
                    _unknown_key_message(origin, prefix, part, list(fields))
                )
            tp = fields[part]
        elif _dict_value_type(tp) is not None:
            tp = _dict_value_type(tp)
        else:
            raise ConfigError(
                f"{origin}: {prefix} is a {_type_name(tp)}, it has no key {part!r}"
            )
        if last:
            node[part] = _Raw(text, origin)
        else:
            child = node.get(part)
            if not isinstance(child, dict):
                child = {}
                node[part] = child
            node = child


def from_dict(
    cls: type, data: Any, *, origin: str = "defaults", prefix: str = ""
) -> Any:
    """Builds dataclass `cls` from plain data, checking keys and types recursively."""
    if isinstance(data, _Raw):
        origin, data = data.origin, _parse_raw(data, cls, prefix)
    if not isinstance(data, dict):
        raise ConfigError(
            f"{origin}: {prefix or 'config'}: expected a mapping, "
            f"got {_tname(data)} {data!r}"
        )
    fields = _fields(cls)
    for key in data:
        if key not in fields:
            raise ConfigError(
                _unknown_key_message(origin, prefix, str(key), list(fields))
            )
    kwargs = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        dotted = f"{prefix}.{f.name}" if prefix else f.name
        tp = fields[f.name]
        if f.name in data:
            kwargs[f.name] = _coerce(data[f.name], tp, dotted, origin)
        elif _is_dataclass_type(tp):
            # A missing section is built from its defaults, so a required leaf inside it
            # is reported by its own dotted name.
            kwargs[f.name] = from_dict(tp, {}, origin=origin, prefix=dotted)
        elif (
            f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ):
            raise ConfigError(
                f"{origin}: missing required value {dotted} ({_type_name(tp)})"
            )
    return cls(**kwargs)


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def dump_config(config: Any) -> str:
    """YAML text that `load_config` reads back into an equal config."""
    return yaml.safe_dump(to_dict(config), sort_keys=False, default_flow_style=None)


def save_config(config: Any, path: str | Path) -> None:
    """Writes the config atomically (a kill leaves the old file or the new)."""
    from lstmsuite.pipelines.contract import write_text

    write_text(path, dump_config(config))


def get_value(config: Any, key: str) -> Any:
    """`get_value(cfg, "model.units")`."""
    node = config
    for part in key.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def set_value(config: Any, key: str, value: Any, _prefix: str = "") -> Any:
    """Returns a copy of `config` with the dotted key set to `value` (type-checked)."""
    head, _, rest = key.partition(".")
    dotted = f"{_prefix}.{head}" if _prefix else head
    fields = _fields(type(config))
    if head not in fields:
        raise ConfigError(
            _unknown_key_message("set_value", _prefix, head, list(fields))
        )
    current = getattr(config, head)
    if not rest:
        new = _coerce(value, fields[head], dotted, "set_value")
    elif dataclasses.is_dataclass(current):
        new = set_value(current, rest, value, dotted)
    elif isinstance(current, dict):
        new = {**current, rest: value}
    else:
        raise ConfigError(f"set_value: {dotted} is a {_type_name(fields[head])}")
    return dataclasses.replace(config, **{head: new})


def field_names(cls: type, prefix: str = "") -> list[str]:
    """Every dotted leaf key of a config class, for short-name lookup and
    suggestions."""
    names = []
    for name, tp in _fields(cls).items():
        dotted = f"{prefix}.{name}" if prefix else name
        if _is_dataclass_type(tp):
            names += field_names(tp, dotted)
        else:
            names.append(dotted)
    return names


# ------------------------------------------------------------------------- type checks


def _fields(cls: type) -> dict[str, Any]:
    # get_type_hints resolves the string annotations of `from __future__ import
    # annotations`, including those of app subclasses defined in other modules.
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _dict_value_type(tp: Any) -> Any:
    if typing.get_origin(tp) is dict:
        args = typing.get_args(tp)
        return args[1] if args else Any
    return None


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _parse_raw(raw: _Raw, tp: Any, key: str) -> Any:
    # A string-typed field takes the text verbatim; everything else is parsed as YAML so
    # that lists, booleans, null and numbers can be given on the command line.
    if tp is str or (_is_union(tp) and str in typing.get_args(tp)):
        if not (_is_union(tp) and raw.text.strip() in ("null", "~", "None")):
            return raw.text
    try:
        return yaml.safe_load(raw.text) if raw.text.strip() else ""
    except yaml.YAMLError:
        return raw.text


def _coerce(value: Any, tp: Any, key: str, origin: str) -> Any:
    if isinstance(value, _Raw):
        origin, value = value.origin, _parse_raw(value, tp, key)

    def fail() -> typing.NoReturn:
        raise ConfigError(
            f"{origin}: {key}: expected {_type_name(tp)}, got {_tname(value)} {value!r}"
        )

    if tp is Any:
        return value
    if _is_dataclass_type(tp):
        return from_dict(tp, value, origin=origin, prefix=key)
    if _is_union(tp):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            fail()
        for arm in (a for a in args if a is not type(None)):
            try:
                return _coerce(value, arm, key, origin)
            except ConfigError:
                continue
        fail()
    origin_tp = typing.get_origin(tp)
    if origin_tp is Literal:
        choices = typing.get_args(tp)
        if value in choices and type(value) is type(choices[choices.index(value)]):
            return value
        names = ", ".join(map(str, choices))
        message = f"{origin}: {key}: expected one of {names}, got {value!r}"
        close = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
        if close:
            message += f". Did you mean {close[0]!r}?"
        raise ConfigError(message)
    if origin_tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            fail()
        (item_tp,) = typing.get_args(tp)[:1] or (Any,)
        return [_coerce(v, item_tp, f"{key}[{i}]", origin) for i, v in enumerate(value)]
    if origin_tp is dict:
        if not isinstance(value, dict):
            fail()
        value_tp = _dict_value_type(tp)
        return {
            str(k): _coerce(v, value_tp, f"{key}.{k}", origin) for k, v in value.items()
        }
    if tp is bool:
        if isinstance(value, bool):
            return value
        fail()
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        fail()
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        # YAML 1.1 reads `1e-3` (no dot) as a string; accept what float() accepts.
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        fail()
    if tp is str:
        if isinstance(value, str):
            return value
        fail()
    raise TypeError(f"config field {key} has an unsupported annotation {tp!r}")


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    if isinstance(tp, type) and not typing.get_args(tp):
        return tp.__name__
    if _is_union(tp):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if typing.get_origin(tp) is Literal:
        return "one of " + ", ".join(map(str, typing.get_args(tp)))
    return str(tp).replace("typing.", "")


def _tname(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _unknown_key_message(origin: str, prefix: str, key: str, choices: list[str]) -> str:
    dotted = f"{prefix}.{key}" if prefix else key
    message = f"{origin}: unknown key {dotted}."
    close = difflib.get_close_matches(key, choices, n=1, cutoff=0.6)
    if close:
        suggestion = f"{prefix}.{close[0]}" if prefix else close[0]
        message += f" Did you mean {suggestion}?"
    where = f"in {prefix}" if prefix else "at the top level"
    return message + f" Valid keys {where}: {', '.join(choices)}."
