"""What every app's data sources share: named splits, the MD5 split rule, path
checks, the cache folder, and the call from `data.source` to a loader.

A data source is a function registered in its app's `Registry` under the name users
write as `data.source`; it takes `data.path` and `data.options` and returns `Splits`,
the three named splits with an `info` summary for logs and tests:

    SOURCES = Registry("music data source")

    @SOURCES.register("mat")
    def load_mat(path=None, *, verbose=True) -> Splits:
        file = require_file(path, "mat")
        ...
        return Splits({"train": ..., "valid": ..., "test": ...}, {"source": "mat"})
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from lstmsuite.pipelines.config import ConfigError

SPLITS = ("train", "valid", "test")


class Splits(dict):
    """`{"train": ..., "valid": ..., "test": ...}` plus an `info` summary.

    A dict subclass, so that callers that want the plain mapping get exactly that,
    while `info` (the source's label, counts per split, skipped items...) stays
    available for logs and tests.
    """

    def __init__(self, splits: dict[str, Any], info: dict[str, Any] | None = None):
        super().__init__(splits)
        self.info = dict(info or {})

    def require_all(self, source: str, what: str) -> Splits:
        """Raises a ValueError naming the first split that is missing or empty:
        `"iam: the valid split has no lines"`."""
        for name in SPLITS:
            if len(self.get(name) or ()) == 0:
                raise ValueError(f"{source}: the {name} split has no {what}")
        return self


def md5_split(key: str, valid: int = 1, test: int = 1, buckets: int = 10) -> str:
    """The split of an item by the MD5 of its name: of `buckets` equal buckets,
    `test` go to test and the next `valid` to valid (default 80/10/10).

    MD5, not `hash()`, because Python salts string hashes per process: the same
    file must land in the same split on every run and every machine.
    """
    bucket = int(hashlib.md5(key.encode("utf-8")).hexdigest(), 16) % buckets
    return "test" if bucket < test else "valid" if bucket < test + valid else "train"


def require_path(path: str | os.PathLike | None, source: str, hint: str = "") -> Path:
    """`data.path` as a Path; a ConfigError naming the source when it is unset."""
    if path is None or str(path) == "":
        hint = f" ({hint})" if hint else ""
        raise ConfigError(f"data.path: the {source} source needs data.path{hint}")
    return Path(path).expanduser()


def require_file(path: str | os.PathLike | None, source: str, what="file") -> Path:
    """An existing file; FileNotFoundError naming the source and `what` otherwise."""
    file = require_path(path, source)
    if not file.is_file():
        if file.is_dir():
            raise IsADirectoryError(
                f"{file}: {source}: expected a {what}, not a folder"
            )
        raise FileNotFoundError(f"{file}: {source} {what} not found")
    return file


def require_dir(path: str | os.PathLike | None, source: str, hint: str = "") -> Path:
    """An existing folder; FileNotFoundError naming the source otherwise."""
    folder = require_path(path, source, hint)
    if not folder.is_dir():
        hint = f" ({hint})" if hint else ""
        raise FileNotFoundError(f"{folder}: {source} data folder not found{hint}")
    return folder


def cache_dir() -> Path:
    """Where sources keep what is slow to rebuild (parsed corpora, image features):
    `$LSTMSUITE_CACHE`, else `$XDG_CACHE_HOME/lstmsuite`, else ~/.cache/lstmsuite."""
    if os.environ.get("LSTMSUITE_CACHE"):
        return Path(os.environ["LSTMSUITE_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lstmsuite"


def load_source(sources, data_cfg):
    """Calls the data source that `data.source` names with `data.path` and
    `data.options`; a problem with any of the three is a `ConfigError` naming its
    key.

    `sources` is the app's `lstmsuite.pipelines.registry.Registry` of loaders.
    """
    try:
        loader = sources.get(data_cfg.source)
    except ValueError as e:
        raise ConfigError(f"data.source: {e}") from None
    try:
        return loader(data_cfg.path, **data_cfg.options)
    except TypeError as e:
        raise ConfigError(f"data.options: {e}") from None
    except FileNotFoundError as e:
        raise ConfigError(f"data.path: {e}") from None
