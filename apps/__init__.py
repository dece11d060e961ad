"""The applications built on `lstmsuite.layers` and `lstmsuite.pipelines`.

Each app is one package here with an `app.py` whose `App` subclass (the contract of
`lstmsuite.pipelines.contract`) is named in the `lstmsuite.apps` entry-point group of
setup.cfg; `lstmsuite apps` lists them. Apps never import each other.
"""
