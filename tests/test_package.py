"""Package hygiene: public names, import layering, cheap top-level import."""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import pytest

import npprob

SRC = Path(npprob.__file__).resolve().parent

#: Lower number = lower layer; a module may import only its own layer or below.
LAYERS = {
    "errors": 0,
    "_checks": 0,
    "network": 1,
    "io": 2,
    "inference": 3,
    "learning": 4,
    "diagnosis": 5,
    "cohorts": 6,
    "evaluation": 7,
    "decision": 8,
    "estimator": 9,
    "cli": 10,
    "__main__": 11,
    "__init__": 11,
}


def layer_of(module: str) -> int:
    parts = module.split(".")
    assert parts[0] == "npprob"
    return LAYERS[parts[1] if len(parts) > 1 else "__init__"]


def module_name(path: Path) -> str:
    rel = path.relative_to(SRC.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__" and len(parts) > 1 and parts[-2] != "npprob":
        parts = parts[:-1]
    return ".".join(parts)


SOURCES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_upward_imports(path):
    me = module_name(path)
    mine = layer_of(me) if not me.endswith("npprob.__init__") else 11
    for node in ast.walk(ast.parse(path.read_text())):
        targets = []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            targets = [node.module]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        for t in targets:
            if t.startswith("npprob.") and me != "npprob.__init__":
                assert layer_of(t) <= mine, f"{me} imports {t}, a higher layer"


def test_every_public_name_exists():
    for name in npprob.__all__:
        assert getattr(npprob, name) is not None
    for sub in (
        "npprob.network",
        "npprob.io",
        "npprob.inference",
        "npprob.diagnosis",
        "npprob.cohorts",
    ):
        module = importlib.import_module(sub)
        for name in module.__all__:
            assert hasattr(module, name), f"{sub}.{name}"


def test_import_is_cheap():
    code = (
        "import sys, npprob; "
        "heavy = [m for m in ('pymc', 'pytensor', 'arviz', 'matplotlib', 'numba', 'pgmpy') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


def test_unknown_attribute_raises():
    with pytest.raises(AttributeError, match="no attribute 'nonsense'"):
        npprob.nonsense  # noqa: B018
