"""Every public class documents its arguments, its call and an example."""

import doctest
import inspect
import re

import keras
import numpy as np
import pytest

from lstmsuite import layers
from tests.layers.helpers import documented_arguments

CLASSES = [name for name in layers.__all__ if inspect.isclass(getattr(layers, name))]


def test_every_public_class_is_checked():
    assert len(CLASSES) == 25


@pytest.mark.parametrize("name", CLASSES)
def test_docstring_sections(name):
    doc = inspect.getdoc(getattr(layers, name))
    assert doc, f"{name} has no docstring"
    for section in ("Args:", "Call arguments:", "Example:"):
        assert section in doc, f"{name} docstring lacks {section!r}"
    assert re.search(r"^\s+units:", doc, re.MULTILINE)


@pytest.mark.parametrize("name", CLASSES)
def test_every_argument_is_documented_in_signature_order(name):
    cls = getattr(layers, name)
    signature = inspect.signature(cls.__init__).parameters
    arguments = [n for n in signature if n != "self"]  # `**kwargs` too, last
    assert documented_arguments(cls) == arguments


@pytest.mark.parametrize("name", CLASSES)
def test_docstring_cites_a_paper(name):
    cls = getattr(layers, name)
    module_doc = inspect.getmodule(cls).__doc__ or ""
    text = (cls.__doc__ or "") + module_doc
    assert re.search(r"\b(19|20)\d\d\b", text), f"{name}: no paper (author, year)"


class _ShapeChecker(doctest.OutputChecker):
    """Reads TensorFlow's `TensorShape([2, 8])` as the `(2, 8)` JAX prints."""

    def check_output(self, want, got, optionflags):
        got = re.sub(r"TensorShape\(\[(.*)\]\)", r"(\1)", got)
        return super().check_output(want, got, optionflags)


@pytest.mark.parametrize("name", CLASSES)
def test_docstring_example_runs(name):
    cls = getattr(layers, name)
    globs = {"np": np, "keras": keras, **{n: getattr(layers, n) for n in CLASSES}}
    tests = doctest.DocTestFinder(recurse=False).find(cls, name, globs=globs)
    assert tests and tests[0].examples, f"{name}: no >>> example"
    runner = doctest.DocTestRunner(
        checker=_ShapeChecker(), optionflags=doctest.ELLIPSIS
    )
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
