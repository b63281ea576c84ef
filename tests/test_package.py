"""Package hygiene: public names, import layering, cheap top-level import."""

from __future__ import annotations

import ast
import importlib
import re
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
    "_text": 0,
    "_limits": 0,
    "_extras": 0,
    "network": 1,
    "io": 2,
    "inference": 3,
    "learning": 4,
    "diagnosis": 5,
    "cohorts": 6,
    "evaluation": 7,
    "decision": 8,
    "estimator": 9,
    "web": 10,
    "cli": 11,
    "__main__": 12,
    "__init__": 12,
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


# -- clinical names live in network.toml, roles in network/variable.py ---------------------


def _string_constants(tree: ast.AST) -> list[ast.Constant]:
    """String constants of a module, docstrings left out (prose may mention anything)."""
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = body[0] if body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                docstrings.add(id(first.value))
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings
    ]


def _role_named(text: str, target: str, context: set[str]) -> bool:
    """Whether a string names the target or a context variable (not prose such as
    "P(neuropathic)"): the name itself, a cohort column built on it, the name quoted, or a
    context name anywhere (an identifier with an underscore is never prose)."""
    columns = {target, f"true_{target}", f"label_{target}", f"p_true_{target}", *context}
    tokens = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    quoted = any(f"'{n}'" in text or f'"{n}"' in text for n in (target, *context))
    return text in columns or bool(tokens & (columns - {target})) or quoted


def test_no_code_names_the_target_or_context_variables():
    """network.toml gives the target and context roles; code reads the roles, never the names."""
    from npprob.io.resources import clinical_spec_path
    from npprob.network.spec import load_spec

    spec = load_spec(clinical_spec_path())
    target, context = spec.target.name, set(spec.context)
    assert context  # the clinical network has a context (chronic pain) to check for
    hits = []
    for path in SOURCES:
        for node in _string_constants(ast.parse(path.read_text())):
            if _role_named(node.value, target, context):
                hits.append(f"{path.relative_to(SRC)}:{node.lineno}: {node.value[:60]!r}")
    assert hits == []
    # The check finds what it looks for.
    assert _role_named(target, target, context)
    assert _role_named(f"label_{target}", target, context)
    assert _role_named(f"{sorted(context)[0]} must be present", target, context)
    assert _role_named(f"'{target}' is latent", target, context)
    assert not _role_named(f"P({target}) draws", target, context)


def test_one_definition_of_which_roles_are_observable():
    """Only network/variable.py lists roles together (hidden roles, findings, observable)."""
    from npprob.network import Role

    roles = {r.value for r in Role}
    listed = []
    for path in SOURCES:
        if path.relative_to(SRC).as_posix() == "network/variable.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Tuple | ast.List | ast.Set):
                words = [e.value for e in node.elts if isinstance(e, ast.Constant)]
                if len(words) >= 2 and all(isinstance(w, str) and w in roles for w in words):
                    listed.append(f"{path.relative_to(SRC)}:{node.lineno}: {words}")
    assert listed == []
