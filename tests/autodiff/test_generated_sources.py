"""Generated model sources in the cache folder are verified before they run.

A generated module's file is named after the hash of its source. A damaged file (truncated,
garbled) or one replaced by other code must not break a run or be executed: the module runs
from the source the code generator produced, the file is rewritten, and one
CacheRepairWarning says so.
"""

from __future__ import annotations

import sys
import warnings

import pytest

from autodiff.codegen.emit import HEADER, load_source
from kernels.cache import CacheRepairWarning


def _source(tag: str) -> str:
    # a unique source per test, so that no earlier run's module is in sys.modules
    return "\n".join(HEADER) + f"\n\n\ndef compiled(x):\n    return x + 1.0  # {tag}\n"


def _forget(module) -> str:
    del sys.modules[module.__name__]
    return module.__file__


@pytest.mark.parametrize("damage", ["truncated", "garbled", "not utf-8"])
def test_a_damaged_generated_source_is_rewritten(damage, request):
    source = _source(request.node.name)
    path = _forget(load_source(source))
    with open(path, "wb") as f:
        if damage == "truncated":
            f.write(source.encode()[: len(source) // 2])
        elif damage == "garbled":
            f.write(b"def compiled(x:\n    return ((((\n")
        else:
            f.write(b"\xff\xfe\x00 not text")
    with pytest.warns(CacheRepairWarning, match="did not hold the code"):
        module = load_source(source)
    assert module.compiled(2.0) == 3.0
    with open(path) as f:
        assert f.read() == source


def test_a_replaced_generated_source_is_not_executed(tmp_path, request):
    source = _source(request.node.name)
    path = _forget(load_source(source))
    marker = tmp_path / "executed"
    with open(path, "w") as f:  # valid Python under the trusted name
        f.write(f"open({str(marker)!r}, 'w').close()\ndef compiled(x):\n    return -1.0\n")
    with pytest.warns(CacheRepairWarning):
        module = load_source(source)
    assert not marker.exists()
    assert module.compiled(2.0) == 3.0


def test_an_intact_generated_source_is_used_silently(request):
    source = _source(request.node.name)
    _forget(load_source(source))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_source(source).compiled(1.0) == 2.0
