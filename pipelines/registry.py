"""Registries from a name in a config to the object that implements it.

Apps, data sources and cells are looked up by the strings users write in YAML, so an
unknown name must fail loudly and suggest the closest known one.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any


class Registry:
    """A name -> object mapping with helpful errors.

    Args:
        kind: what the entries are, used in error messages ("data source", "app").
    """

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Any] = {}

    def register(self, name: str) -> Callable[[Any], Any]:
        """Decorator that registers its target under `name`."""

        def decorator(obj: Any) -> Any:
            if name in self._entries and self._entries[name] is not obj:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._entries[name] = obj
            return obj

        return decorator

    def get(self, name: str) -> Any:
        """Returns the entry for `name`; a ValueError names the choices otherwise."""
        if name not in self._entries:
            raise ValueError(unknown_name_message(self.kind, name, self.names()))
        return self._entries[name]

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries


def unknown_name_message(kind: str, name: str, choices: list[str]) -> str:
    """`Unknown data source 'mtaa'. Did you mean 'mat'? Choices: ...`"""
    message = f"Unknown {kind} {name!r}."
    close = difflib.get_close_matches(str(name), choices, n=1)
    if close:
        message += f" Did you mean {close[0]!r}?"
    return message + f" Choices: {', '.join(choices) or '(none)'}."


# -------------------------------------------------------------------------------- apps

# Apps live in `apps/<name>/app.py`, which registers an `App` subclass here under the
# package name. They are imported on demand, so `lstmsuite apps` and an app's command
# never import the other apps (or their heavy dependencies).
APPS = Registry("app")

# `lstmsuite bench NAME ARGS...` calls the function registered here as NAME with the
# remaining arguments and exits with its return value. A benchmark registers itself
# in one of the modules `find_benchmark` imports on demand: `pipelines.bench_NAME`
# (e.g. `pipelines/bench_layers.py` for `lstmsuite bench layers`), `NAME.bench`,
# `apps.NAME.bench` or `apps.NAME.app`.
BENCHMARKS = Registry("benchmark")


def app_names() -> list[str]:
    """The packages under `apps/` that have an `app.py`, without importing them."""
    import importlib.util
    import pkgutil

    import apps

    names = []
    for module in pkgutil.iter_modules(apps.__path__):
        if module.ispkg and importlib.util.find_spec(f"apps.{module.name}.app"):
            names.append(module.name)
    return sorted(set(names) | set(APPS.names()))


def app_description(name: str) -> str:
    """First line of the app package's docstring (cheap: does not import app.py)."""
    import importlib

    try:
        doc = importlib.import_module(f"apps.{name}").__doc__ or ""
    except ModuleNotFoundError:  # registered from elsewhere (tests, plugins)
        doc = getattr(APPS.get(name), "__doc__", "") or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def get_app(name: str) -> Any:
    """The `App` instance for `name`, importing `apps.<name>.app` the first time."""
    import importlib

    if name not in APPS and name in app_names():
        importlib.import_module(f"apps.{name}.app")
    if name not in APPS:
        raise ValueError(unknown_name_message("app", name, app_names()))
    entry = APPS.get(name)
    return entry() if isinstance(entry, type) else entry


def find_benchmark(name: str) -> Callable[[list[str]], int | None]:
    import importlib

    if name not in BENCHMARKS and name.isidentifier():
        candidates = (
            f"pipelines.bench_{name}",
            f"{name}.bench",
            f"apps.{name}.bench",
            f"apps.{name}.app",
        )
        for module in candidates:
            try:
                importlib.import_module(module)
            except ModuleNotFoundError as e:
                # Only "that module does not exist" is a miss; a missing dependency
                # inside an existing benchmark module is a real error.
                if e.name is None or not module.startswith(e.name):
                    raise
            if name in BENCHMARKS:
                break
    return BENCHMARKS.get(name)


class App:
    """What the CLI, the training runner and the tuner need from an application.

    An app subclasses this in `apps/<name>/app.py` and registers an instance or the
    class with `@APPS.register("<name>")`. The runner-facing hooks are `load_data`,
    `build_model` and `compile_args`; with them `train` and `tune` work unchanged.
    `evaluate` and `generate` / `predict` read only the run directory.
    """

    #: the app's `pipelines.config.Config` subclass
    config_class: type = type(None)
    #: the verb of its inference command: "generate" (music, captioning...) or
    #: "predict" (recognizers and translators)
    infer_command: str = "generate"

    # ---- hooks for pipelines.training and pipelines.tuning
    def load_data(self, cfg: Any, run_dir: Any) -> Any:
        """Returns a `pipelines.training.Datasets` (train, valid, test, info). May
        write what inference needs (a vocabulary, an alphabet) into `run_dir`."""
        raise NotImplementedError

    def build_model(self, cfg: Any, data: Any) -> Any:
        """A built, uncompiled `keras.Model` for this config and data."""
        raise NotImplementedError

    def compile_args(self, cfg: Any) -> dict[str, Any]:
        """`loss`, `metrics`, `weighted_metrics` for `model.compile` (the optimizer and
        `jit_compile` come from the config)."""
        raise NotImplementedError

    def callbacks(self, cfg: Any, run_dir: Any) -> list[Any]:
        """Extra Keras callbacks for training (e.g. sample outputs every epoch)."""
        return []

    # ---- commands
    def train(self, cfg: Any, run_dir: Any) -> dict[str, Any]:
        from pipelines import training

        return training.train(self, cfg, run_dir)

    def tune(self, cfg: Any, run_dir: Any) -> dict[str, Any]:
        from pipelines import tuning

        return tuning.tune(self, cfg, run_dir)

    def evaluate(self, cfg: Any, run_dir: Any) -> dict[str, float]:
        """Metrics of the trained model on the test split (a flat name -> number)."""
        raise NotImplementedError

    def generate(self, cfg: Any, run_dir: Any, output: str | None) -> list[str]:
        """Writes generated outputs; returns the paths written."""
        raise NotImplementedError(f"{type(self).__name__} does not generate")

    def predict(self, cfg: Any, run_dir: Any, inputs: list[str]) -> list[str]:
        """One prediction (a transcription, a translation) per input."""
        raise NotImplementedError(f"{type(self).__name__} does not predict")
