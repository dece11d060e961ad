"""Registries from a name in a config or on the command line to what implements it.

Apps, benchmarks, data sources and cells are looked up by the strings users write,
so an unknown name must fail loudly and suggest the closest known one.
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


# ------------------------------------------------------------------------ apps, benches

# Apps and benchmarks come from two places: the entry-point groups below, which any
# installed distribution can add to (this one names its four apps and two benchmarks
# in setup.cfg), and these registries, for ones defined in the running process (a
# notebook, a test). Entry points are loaded on demand, so `lstmsuite apps` and one
# app's command never import the other apps or their heavy dependencies.
APP_GROUP = "lstmsuite.apps"
BENCHMARK_GROUP = "lstmsuite.benchmarks"
APPS = Registry("app")
BENCHMARKS = Registry("benchmark")


def _entry_points(group: str) -> dict[str, Any]:
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=group)}


def app_names() -> list[str]:
    """Every app name: the entry points' and those registered in this process."""
    return sorted(set(_entry_points(APP_GROUP)) | set(APPS.names()))


def app_description(name: str) -> str:
    """First line of the app package's docstring; imports the package that holds
    the app's module, not the module itself (cheap for ours: no TensorFlow)."""
    import importlib

    doc = ""
    ep = _entry_points(APP_GROUP).get(name)
    if name in APPS:
        doc = getattr(APPS.get(name), "__doc__", "") or ""
    elif ep is not None:
        package = ep.module.rpartition(".")[0] or ep.module
        doc = importlib.import_module(package).__doc__ or ""
        if not doc.strip():
            doc = getattr(ep.load(), "__doc__", "") or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


def get_app(name: str) -> Any:
    """The `App` instance for `name`, loading its entry point the first time."""
    if name not in APPS:
        ep = _entry_points(APP_GROUP).get(name)
        if ep is None:
            raise ValueError(unknown_name_message("app", name, app_names()))
        APPS.register(name)(ep.load())
    entry = APPS.get(name)
    return entry() if isinstance(entry, type) else entry


def find_benchmark(name: str) -> Callable[[list[str]], int | None]:
    """The function behind `lstmsuite bench NAME`; it takes the remaining arguments
    and returns the exit status."""
    if name not in BENCHMARKS:
        ep = _entry_points(BENCHMARK_GROUP).get(name)
        if ep is None:
            names = sorted(
                set(_entry_points(BENCHMARK_GROUP)) | set(BENCHMARKS.names())
            )
            raise ValueError(unknown_name_message("benchmark", name, names))
        BENCHMARKS.register(name)(ep.load())
    return BENCHMARKS.get(name)
