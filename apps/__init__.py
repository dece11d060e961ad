"""The applications built on `layers/` and `pipelines/`: one package per app.

An app is `apps/<name>/` with `app.py` registering an `pipelines.registry.App`
subclass under `<name>`; `lstmsuite apps` lists every package that has one.
"""
