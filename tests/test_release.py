"""Release files: licence, citation, changelog, and what the wheel and sdist carry.

The wheel and sdist are built offline from a copy of the sources (``--no-build-isolation``:
the interpreter's own setuptools), so the tests need no network and leave the checkout
untouched.
"""

from __future__ import annotations

import email
import importlib.util
import re
import shutil
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest

import npprob

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
VERSION = PROJECT["version"]


def test_version_is_one_number():
    assert npprob.__version__ == VERSION


def test_license_is_bsd_3_clause():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("BSD 3-Clause License")
    assert "Copyright (c) 2026, npprob developers" in text
    assert "Neither the name of the copyright holder" in text  # the third clause
    assert PROJECT["license"] == {"text": "BSD-3-Clause"}
    assert "License :: OSI Approved :: BSD License" in PROJECT["classifiers"]


def test_citation_version_without_yaml():
    """The version line alone, for environments without PyYAML."""
    text = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
    versions = re.findall(r'^version:\s*"?([^"\s]+)"?\s*$', text, flags=re.MULTILINE)
    assert versions == [VERSION]
    assert re.search(r"^cff-version:\s*1\.2\.0\s*$", text, flags=re.MULTILINE)


def test_citation_is_valid_cff():
    yaml = pytest.importorskip("yaml")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    # The keys CFF 1.2.0 requires, and the ones a software citation needs to be useful.
    for key in ("cff-version", "message", "title", "authors", "version", "license", "abstract"):
        assert cff.get(key), key
    assert cff["cff-version"] == "1.2.0"
    assert cff["type"] == "software"
    assert cff["version"] == VERSION
    assert cff["license"] == PROJECT["license"]["text"]
    assert cff["authors"] == [{"name": "npprob developers"}]  # an entity, not a person
    assert all(isinstance(k, str) and k for k in cff["keywords"])
    assert cff["repository-code"] == PROJECT["urls"]["Source"]
    allowed = {
        "cff-version", "message", "type", "title", "version", "authors", "license",
        "repository-code", "url", "abstract", "keywords",
    }  # fmt: skip
    assert set(cff) <= allowed, set(cff) - allowed


def test_changelog_has_the_version():
    text = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert text.startswith("# Changelog")
    assert re.search(rf"^## \[{re.escape(VERSION)}\]", text, flags=re.MULTILINE)
    sections = re.findall(r"^### (\w+)", text, flags=re.MULTILINE)
    assert "Added" in sections
    assert set(sections) <= {"Added", "Changed", "Deprecated", "Removed", "Fixed", "Security"}


def test_scipy_is_declared():
    """The package imports SciPy directly (decision, evaluation, cohorts, learning)."""
    names = [re.split(r"[<>=!~ ;\[]", d, maxsplit=1)[0].lower() for d in PROJECT["dependencies"]]
    assert "scipy" in names
    uses = [
        p
        for p in (ROOT / "src" / "npprob").rglob("*.py")
        if re.search(r"^\s*(from|import) scipy", p.read_text(encoding="utf-8"), re.MULTILINE)
    ]
    assert uses  # the declaration is still needed


def test_project_urls_and_classifiers():
    urls = PROJECT["urls"]
    assert set(urls) == {"Homepage", "Documentation", "Source", "Issues", "Changelog"}
    assert all(u.startswith("https://github.com/npprob/npprob") for u in urls.values())
    classifiers = PROJECT["classifiers"]
    for needed in (
        "Intended Audience :: Science/Research",
        "Intended Audience :: Healthcare Industry",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Topic :: Scientific/Engineering :: Medical Science Apps.",
        "Topic :: Scientific/Engineering :: Information Analysis",
        "Operating System :: OS Independent",
    ):
        assert needed in classifiers
    assert any(c.startswith("Development Status :: ") for c in classifiers)


# -- built distributions ---------------------------------------------------------------------


def _can_build_offline() -> bool:
    """setuptools with a bdist_wheel command: its own (70.1 and later) or the wheel package's."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    own = importlib.util.find_spec("setuptools.command.bdist_wheel") is not None
    return own or importlib.util.find_spec("wheel") is not None


needs_setuptools = pytest.mark.skipif(
    not _can_build_offline(), reason="offline build needs setuptools>=70.1 or wheel installed"
)


def _source_copy(tmp_path: Path) -> Path:
    """The files a build reads, copied (src/npprob/models stays a link to models/)."""
    copy = tmp_path / "source"
    copy.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md", "CITATION.cff"):
        shutil.copy2(ROOT / name, copy / name)
    if (ROOT / "MANIFEST.in").exists():
        shutil.copy2(ROOT / "MANIFEST.in", copy / "MANIFEST.in")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "src", copy / "src", symlinks=True, ignore=ignore)
    shutil.copytree(ROOT / "models", copy / "models", ignore=ignore)
    return copy


def _run(command: list[str], cwd: Path) -> None:
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.compat
@needs_setuptools
def test_wheel_carries_model_card_licence_and_metadata(tmp_path):
    source = _source_copy(tmp_path)
    out = tmp_path / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
         "--no-index", "-q", "-w", str(out), "."],
        source,
    )  # fmt: skip
    (wheel,) = out.glob("npprob-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        dist_info = f"npprob-{VERSION}.dist-info"
        metadata = email.message_from_bytes(archive.read(f"{dist_info}/METADATA"))
    # The card and the evidence folder's notes travel with the models they describe.
    assert "npprob/models/MODEL_CARD.md" in names
    assert "npprob/models/evidence/README.md" in names
    assert "npprob/models/default/card.json" in names
    # The licence: dist-info/LICENSE (older setuptools) or dist-info/licenses/LICENSE.
    assert {f"{dist_info}/LICENSE", f"{dist_info}/licenses/LICENSE"} & names
    assert metadata["Version"] == VERSION
    assert metadata["License"] == "BSD-3-Clause"
    requires = [r.split(";")[0].replace(" ", "") for r in metadata.get_all("Requires-Dist")]
    assert "scipy>=1.11" in requires
    assert set(metadata.get_all("Classifier")) == set(PROJECT["classifiers"])
    urls = dict(u.split(", ", 1) for u in metadata.get_all("Project-URL"))
    assert urls == PROJECT["urls"]


@pytest.mark.compat
@needs_setuptools
def test_sdist_carries_licence_citation_changelog_and_card(tmp_path):
    source = _source_copy(tmp_path)
    build = "from setuptools import build_meta as b; print(b.build_sdist('dist'))"
    _run([sys.executable, "-c", build], source)
    (sdist,) = (source / "dist").glob("npprob-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    for name in ("LICENSE", "CITATION.cff", "CHANGELOG.md", "README.md", "pyproject.toml"):
        assert name in names, name
    assert "src/npprob/models/MODEL_CARD.md" in names
