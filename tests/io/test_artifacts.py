"""Model folders: NPZ + JSON + SHA256SUMS round trip, corruption, and load_model's checks."""

from __future__ import annotations

import ast
import gc
import hashlib
import inspect
import json
import re
import shutil
import warnings
import zipfile
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

import npprob.io.artifacts as artifacts
from npprob.diagnosis import load_model
from npprob.diagnosis.model import DEFAULT_MODEL
from npprob.errors import ModelFileError
from npprob.io.artifacts import CHECKSUMS, read_model_dir, sha256_file, write_model_dir, write_npz
from npprob.io.resources import clinical_spec_path, models_dir
from npprob.network.spec import load_spec

CARD = {"name": "m", "kind": "posterior", "n_draws": 4, "nested": {"a": [1, 2.5, None]}}


def sample_arrays(rng) -> dict[str, np.ndarray]:
    return {
        "b_cpt": rng.dirichlet([1, 2, 3], size=(4, 2)),
        "a_cpt": rng.random((4, 2)),
        "ints": np.arange(12, dtype=np.int16).reshape(3, 4),
        "fortran": np.asfortranarray(rng.random((3, 5))),
        "empty": np.zeros((0, 3)),
    }


@pytest.fixture
def model_dir(tmp_path, rng) -> Path:
    d = tmp_path / "model"
    (d).mkdir()
    (d / "posterior.nc").write_bytes(b"\x89HDF\r\n\x1a\n" + b"a stand-in, listed")
    write_model_dir(d, sample_arrays(rng), CARD, extra_files=["posterior.nc"])
    return d


def rewrite_sums(folder: Path) -> None:
    """Recompute SHA256SUMS over the files it lists (hiding a change from the checksums)."""
    sums = folder / CHECKSUMS
    names = [line.split()[1] for line in sums.read_text(encoding="utf-8").splitlines()]
    sums.write_text("".join(f"{sha256_file(folder / n)}  {n}\n" for n in names), encoding="utf-8")


# -- round trip and determinism ---------------------------------------------------------


def test_round_trip_keeps_arrays_and_card(tmp_path, rng):
    arrays = sample_arrays(rng)
    out = write_model_dir(tmp_path / "m", arrays, CARD)
    assert out == tmp_path / "m"
    assert sorted(p.name for p in out.iterdir()) == [CHECKSUMS, "card.json", "draws.npz"]
    got, card = read_model_dir(out)
    assert card == CARD
    assert set(got) == set(arrays)
    for name, arr in arrays.items():
        arr = np.asarray(arr)
        assert got[name].dtype == arr.dtype, name
        assert got[name].shape == arr.shape, name
        np.testing.assert_array_equal(got[name], arr)
        assert got[name].tobytes() == np.ascontiguousarray(arr).tobytes()


def test_zero_dimensional_arrays_keep_their_shape(tmp_path):
    # np.ascontiguousarray turns a 0-d array into shape (1,); the round trip must not.
    write_model_dir(tmp_path / "m", {"scalar": np.float64(3.5), "n": np.array(7)}, CARD)
    got, _ = read_model_dir(tmp_path / "m")
    assert got["scalar"].shape == ()
    assert got["n"].shape == ()


def test_checksums_list_every_file_including_extras(model_dir):
    lines = (model_dir / CHECKSUMS).read_text(encoding="utf-8").splitlines()
    listed = {line.split()[1]: line.split()[0] for line in lines}
    assert set(listed) == {"draws.npz", "card.json", "posterior.nc"}
    for name, digest in listed.items():
        assert digest == hashlib.sha256((model_dir / name).read_bytes()).hexdigest()
    assert sha256_file(model_dir / "card.json") == listed["card.json"]


def test_write_npz_gives_identical_bytes_twice(tmp_path, rng):
    arrays = sample_arrays(rng)
    write_npz(tmp_path / "one.npz", arrays)
    reordered = dict(reversed(list(arrays.items())))
    write_npz(tmp_path / "two.npz", reordered)
    assert (tmp_path / "one.npz").read_bytes() == (tmp_path / "two.npz").read_bytes()
    with zipfile.ZipFile(tmp_path / "one.npz") as zf:
        assert all(info.date_time == (1980, 1, 1, 0, 0, 0) for info in zf.infolist())


def test_write_model_dir_is_deterministic(tmp_path, rng):
    arrays = sample_arrays(rng)
    for name in ("a", "b"):
        write_model_dir(tmp_path / name, arrays, CARD)
    for file in (CHECKSUMS, "card.json", "draws.npz"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()


@pytest.mark.parametrize(
    "bad",
    [
        np.array([{"a": 1}, None], dtype=object),
        np.array(["x", 1], dtype=object),
        np.zeros(2, dtype=[("x", "f8"), ("y", "O")]),
    ],
)
def test_write_npz_refuses_python_objects(tmp_path, bad):
    with pytest.raises(ValueError, match="'evil'"):
        write_npz(tmp_path / "x.npz", {"fine": np.ones(3), "evil": bad})


def test_never_loads_with_allow_pickle():
    source = inspect.getsource(artifacts)
    # Every np.load call passes allow_pickle=False explicitly.
    loads = [
        node
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "load"
    ]
    assert loads
    for call in loads:
        kw = {k.arg: k.value for k in call.keywords}
        assert "allow_pickle" in kw
        assert isinstance(kw["allow_pickle"], ast.Constant)
        assert kw["allow_pickle"].value is False


# -- corruption: every case is a ModelFileError naming the file --------------------------


def test_one_flipped_byte_in_draws_fails_the_checksum(model_dir):
    path = model_dir / "draws.npz"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"draws\.npz.*corrupted"):
        read_model_dir(model_dir)


def test_truncated_draws_fails_the_checksum(model_dir):
    path = model_dir / "draws.npz"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ModelFileError, match=r"draws\.npz.*SHA-256"):
        read_model_dir(model_dir)


@pytest.mark.parametrize("keep", [0.5, 0.99, 10, 3, 0])
# numpy's np.load leaves its file open when the zip is unreadable; that leak has its own
# test below, this one checks the error.
@pytest.mark.filterwarnings("ignore:unclosed file:ResourceWarning")
def test_truncated_draws_with_matching_checksums_fails_to_parse(model_dir, keep):
    path = model_dir / "draws.npz"
    data = path.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else keep
    path.write_bytes(data[:n])
    rewrite_sums(model_dir)
    with pytest.raises(ModelFileError, match=r"Cannot read '.*draws\.npz'"):
        read_model_dir(model_dir)


def test_unreadable_draws_leave_no_file_open(model_dir):
    path = model_dir / "draws.npz"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    rewrite_sums(model_dir)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            read_model_dir(model_dir)
        except ModelFileError:
            pass
        else:
            pytest.fail("a truncated draws.npz was read")
        gc.collect()
    leaks = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, leaks


def test_altered_extra_file_fails_the_checksum(model_dir):
    (model_dir / "posterior.nc").write_bytes(b"changed")
    with pytest.raises(ModelFileError, match=r"posterior\.nc"):
        read_model_dir(model_dir)


def test_deleted_card_is_named(model_dir):
    (model_dir / "card.json").unlink()
    with pytest.raises(ModelFileError, match=r"card\.json.*missing"):
        read_model_dir(model_dir)


@pytest.mark.parametrize("text", ["{not json", '["a list"]', "\xff\xfe"])
def test_unreadable_card_with_matching_checksums_is_named(model_dir, text):
    (model_dir / "card.json").write_bytes(text.encode("latin-1"))
    rewrite_sums(model_dir)
    with pytest.raises(ModelFileError, match=r"card\.json"):
        read_model_dir(model_dir)


@pytest.mark.parametrize(
    "line",
    [
        "deadbeef  draws.npz",
        "0" * 64,
        f"{'0' * 64}  draws.npz  extra",
        "",
        "this is not a checksum line at all",
    ],
)
def test_malformed_checksum_line_is_named(model_dir, line):
    sums = model_dir / CHECKSUMS
    sums.write_text(sums.read_text(encoding="utf-8") + line + "\n", encoding="utf-8")
    with pytest.raises(ModelFileError, match=rf"{CHECKSUMS}:4: malformed"):
        read_model_dir(model_dir)


def test_missing_checksums_file_is_named(model_dir):
    (model_dir / CHECKSUMS).unlink()
    with pytest.raises(ModelFileError, match=CHECKSUMS):
        read_model_dir(model_dir)


def test_checksums_must_list_draws_and_card(model_dir):
    sums = model_dir / CHECKSUMS
    kept = [ln for ln in sums.read_text().splitlines() if not ln.endswith(" card.json")]
    sums.write_text("\n".join(kept) + "\n")
    with pytest.raises(ModelFileError, match=r"does not list card\.json"):
        read_model_dir(model_dir)


def test_missing_folder_is_a_model_file_error(tmp_path):
    with pytest.raises(ModelFileError, match="no_such_folder"):
        read_model_dir(tmp_path / "no_such_folder")


def test_a_pickled_array_is_never_unpickled(model_dir):
    # An NPZ whose member holds pickled objects (written by numpy itself), checksums fixed.
    path = model_dir / "draws.npz"
    np.savez(path, evil=np.array([{"x": 1}], dtype=object))
    rewrite_sums(model_dir)
    with pytest.raises(ModelFileError, match=r"draws\.npz"):
        read_model_dir(model_dir)


def test_corrupt_deflate_stream_with_matching_checksums_is_a_model_file_error(tmp_path, rng):
    # Damage inside the compressed data of an archive whose checksums were recomputed:
    # zlib or the CRC check rejects it; either way it must surface as ModelFileError.
    arrays = {"x": rng.random((200, 50))}
    for offset in (60, 200, 1000, 5000, 20000):
        d = tmp_path / f"m{offset}"
        write_model_dir(d, arrays, CARD)
        data = bytearray((d / "draws.npz").read_bytes())
        data[offset] ^= 0xFF
        (d / "draws.npz").write_bytes(bytes(data))
        rewrite_sums(d)
        with pytest.raises(ModelFileError, match=r"draws\.npz"):
            read_model_dir(d)


# -- load_model -------------------------------------------------------------------------


def shipped_default() -> Path:
    return models_dir() / DEFAULT_MODEL


@pytest.fixture
def default_copy(tmp_path) -> Path:
    folder = tmp_path / "copied_model"
    shutil.copytree(shipped_default(), folder)
    return folder


def test_shipped_default_model_loads():
    card = json.loads((shipped_default() / "card.json").read_text(encoding="utf-8"))
    model = load_model()
    assert (model.kind, model.name) == ("posterior", "default")
    assert model.n_draws == card["n_draws"]
    named = load_model("default")
    assert (named.kind, named.name, named.n_draws) == ("posterior", "default", card["n_draws"])
    assert model.info()["spec_sha256"] == card["spec_sha256"]


def test_prior_model_loads():
    model = load_model("prior", n_draws=50)
    assert (model.kind, model.name, model.n_draws) == ("prior", "prior", 50)


def test_copied_default_loads_by_path(default_copy):
    model = load_model(str(default_copy))
    assert model.kind == "posterior"
    d = model.diagnose({"aetiology": "herpes_zoster", "brush_allodynia": "present"})
    assert 0.0 < d.p_neuropathic < 1.0


@pytest.mark.parametrize("file", ["draws.npz", "card.json", "posterior.nc"])
def test_one_altered_byte_is_refused(default_copy, file):
    path = default_copy / file
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x20
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=re.escape(file)):
        load_model(str(default_copy))


def rewrite_card(folder: Path, **changes) -> None:
    card_path = folder / "card.json"
    card = json.loads(card_path.read_text(encoding="utf-8"))
    for key, value in changes.items():
        if value is None:
            card.pop(key, None)
        else:
            card[key] = value
    card_path.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    rewrite_sums(folder)
    read_model_dir(folder)  # the checksums are consistent again


def test_model_of_another_specification_is_refused(default_copy):
    other = hashlib.sha256(b"another network").hexdigest()
    rewrite_card(default_copy, spec_sha256=other, spec_content_sha256=other)
    with pytest.raises(ModelFileError, match="different network specification"):
        load_model(str(default_copy))


def test_the_content_digest_decides_when_the_card_has_one(default_copy):
    # Another content (variables, states, parents, prior) is refused whatever the text digest.
    spec = load_spec(clinical_spec_path())
    other = hashlib.sha256(b"another network").hexdigest()
    rewrite_card(default_copy, spec_sha256=spec.digest, spec_content_sha256=other)
    with pytest.raises(ModelFileError, match="different network specification"):
        load_model(str(default_copy))
    # The same content under another text (comments, finding roles, descriptions) is accepted.
    rewrite_card(default_copy, spec_sha256=other, spec_content_sha256=spec.content_digest)
    model = load_model(str(default_copy))
    assert model.info()["spec_sha256"] == other  # the text the model was trained on
    assert model.info()["spec_content_sha256"] == spec.content_digest


def test_a_card_of_an_earlier_text_of_the_same_specification_loads(default_copy):
    # Cards written before the content digest name the text they were trained on; a
    # specification lists its earlier texts with the same content.
    from npprob.io.artifacts import ModelFolder
    from npprob.network.spec import parse_spec

    earlier = hashlib.sha256(b"an earlier text").hexdigest()
    text = clinical_spec_path().read_text(encoding="utf-8")
    spec = parse_spec(
        text.replace("[network]\n", f'[network]\nearlier_text_sha256 = ["{earlier}"]\n', 1)
    )
    assert spec.earlier_digests == (earlier,)
    rewrite_card(default_copy, spec_content_sha256=None, spec_sha256=earlier)
    _, card = ModelFolder(default_copy).load(spec)
    assert card["spec_sha256"] == earlier
    # Without that entry the same card is refused.
    with pytest.raises(ModelFileError, match="different network specification"):
        ModelFolder(default_copy).load(load_spec(clinical_spec_path()))


def test_a_card_without_a_content_digest_needs_the_same_text(default_copy):
    spec = load_spec(clinical_spec_path())
    rewrite_card(default_copy, spec_content_sha256=None, spec_sha256=spec.digest)
    assert load_model(str(default_copy)).kind == "posterior"
    rewrite_card(default_copy, spec_sha256=hashlib.sha256(b"old text").hexdigest())
    with pytest.raises(ModelFileError, match="different network specification"):
        load_model(str(default_copy))


def test_model_missing_a_cpt_is_refused(default_copy, tmp_path):
    arrays, card = read_model_dir(default_copy)
    arrays.pop("burning")
    write_model_dir(tmp_path / "short", arrays, card)
    with pytest.raises(ModelFileError, match="no draws for 'burning'"):
        load_model(str(tmp_path / "short"))


def test_model_with_invalid_probabilities_is_refused(default_copy, tmp_path):
    arrays, card = read_model_dir(default_copy)
    arrays["burning"] = arrays["burning"] * 1.5
    write_model_dir(tmp_path / "bad", arrays, card)
    with pytest.raises(ModelFileError, match="invalid probabilities"):
        load_model(str(tmp_path / "bad"))


def test_unknown_model_name_lists_the_available_ones():
    with pytest.raises(ModelFileError, match="Unknown model 'no_such_model_xyz'") as info:
        load_model("no_such_model_xyz")
    message = str(info.value)
    assert "available:" in message
    assert "prior" in message
    assert DEFAULT_MODEL in message


class _Payload:
    """Unpickling this object records that it happened (it must never happen)."""

    ran: ClassVar[list] = []

    def __reduce__(self):
        return (_Payload.ran.append, ("unpickled",))


def test_a_pickled_array_with_valid_checksums_is_refused_unopened(model_dir):
    # An attacker rewrites draws.npz with an object array and fixes SHA256SUMS:
    # the checksums pass, so only allow_pickle=False stands between them and code execution.
    np.savez(model_dir / "draws.npz", b_cpt=np.array([_Payload()], dtype=object))
    sums = model_dir / CHECKSUMS
    lines = [
        f"{sha256_file(model_dir / name)}  {name}"
        for name in (ln.split()[1] for ln in sums.read_text(encoding="utf-8").splitlines())
    ]
    sums.write_text("\n".join(lines) + "\n", encoding="utf-8")
    _Payload.ran.clear()
    with pytest.raises(ModelFileError, match=r"draws\.npz"):
        read_model_dir(model_dir)
    assert _Payload.ran == []


# -- what a model folder may list and hold (checked before anything is read) ----------


@pytest.mark.parametrize(
    "name", ["../secret", "/etc/passwd", "sub/file", ".hidden", "..", "a\\b", "card\x00.json"]
)
def test_checksums_may_list_only_the_folders_own_files(model_dir, name):
    sums = model_dir / CHECKSUMS
    sums.write_text(sums.read_text() + f"{'0' * 64}  {name}\n", encoding="utf-8")
    with pytest.raises(ModelFileError, match="not a plain file name"):
        read_model_dir(model_dir)


def test_a_listed_file_that_is_a_link_is_refused(model_dir, tmp_path):
    outside = tmp_path / "outside.nc"
    outside.write_bytes((model_dir / "posterior.nc").read_bytes())
    (model_dir / "posterior.nc").unlink()
    (model_dir / "posterior.nc").symlink_to(outside)
    with pytest.raises(ModelFileError, match="is a link"):
        read_model_dir(model_dir)


@pytest.mark.parametrize(
    "replace",
    [
        lambda a: a.astype(np.complex128),
        lambda a: a.astype(np.float32),
        lambda a: a > 0.5,
        lambda a: a.astype(str),
    ],
    ids=["complex", "float32", "bool", "str"],
)
def test_model_draws_must_be_float64(default_copy, tmp_path, replace):
    arrays, card = read_model_dir(default_copy)
    arrays["burning"] = replace(arrays["burning"])
    write_model_dir(tmp_path / "typed", arrays, card)
    with pytest.raises(ModelFileError, match="not float64"):
        load_model(str(tmp_path / "typed"))


def test_an_unknown_array_is_refused_before_it_is_read(default_copy, tmp_path):
    arrays, card = read_model_dir(default_copy)
    arrays["extra"] = np.zeros((4, 4))
    write_model_dir(tmp_path / "extra", arrays, card)
    with pytest.raises(ModelFileError, match="no variable of the network: \\['extra'\\]"):
        load_model(str(tmp_path / "extra"))


def test_zero_draws_and_uneven_draws_are_refused(default_copy, tmp_path):
    arrays, card = read_model_dir(default_copy)
    empty = {k: v[:0] for k, v in arrays.items()}
    write_model_dir(tmp_path / "empty", empty, card)
    with pytest.raises(ModelFileError, match="one number of draws"):
        load_model(str(tmp_path / "empty"))
    uneven = dict(arrays)
    uneven["burning"] = arrays["burning"][:-1]
    write_model_dir(tmp_path / "uneven", uneven, card)
    with pytest.raises(ModelFileError, match="one number of draws"):
        load_model(str(tmp_path / "uneven"))


def test_a_header_claiming_more_than_it_stores_is_refused_unread(model_dir, monkeypatch):
    # A header promising 4e8 elements over a few stored bytes: refused from the header.
    npz = model_dir / "draws.npz"
    with zipfile.ZipFile(npz) as zf:
        members = {i.filename: zf.read(i) for i in zf.infolist()}
    raw = members["a_cpt.npy"]
    members["a_cpt.npy"] = raw.replace(b"(4, 2)", b"(400000000, 2)".ljust(6))
    with zipfile.ZipFile(npz, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    rewrite_sums(model_dir)
    with pytest.raises(ModelFileError, match="claims shape"):
        read_model_dir(model_dir)


def test_too_many_bytes_of_draws_are_refused_unread(model_dir, monkeypatch):
    monkeypatch.setattr(artifacts, "MAX_ARRAY_BYTES", 100)
    with pytest.raises(ModelFileError, match="MiB of draws; not read"):
        read_model_dir(model_dir)


@pytest.mark.parametrize("separator", [" \x1f", "\t", " ", "   "])
def test_checksum_lines_follow_the_sha256sum_format_exactly(model_dir, separator):
    sums = model_dir / CHECKSUMS
    lines = sums.read_text().splitlines()
    digest, name = lines[0].split("  ")
    sums.write_text("\n".join([f"{digest}{separator}{name}", *lines[1:]]) + "\n")
    with pytest.raises(ModelFileError, match="malformed checksum line"):
        read_model_dir(model_dir)


@pytest.mark.parametrize(
    "respell",
    [
        lambda d, n: f"{d} *{n}\n",  # sha256sum's binary mode: not how npprob writes
        lambda d, n: f"{d.upper()}  {n}\n",
        lambda d, n: f"{d}  {n}\r\n",
        lambda d, n: f"{d}  {n}\x0b",
        lambda d, n: f"{d}  {n}",  # no final newline
    ],
)
def test_one_spelling_of_a_checksum_line_only(model_dir, respell):
    # Any changed byte of SHA256SUMS is a changed file, even one that keeps its meaning.
    sums = model_dir / CHECKSUMS
    lines = sums.read_text().splitlines()
    digest, name = lines[-1].split("  ")
    sums.write_text("".join(f"{line}\n" for line in lines[:-1]) + respell(digest, name))
    with pytest.raises(ModelFileError, match="malformed checksum line"):
        read_model_dir(model_dir)


def test_a_posterior_that_is_not_netcdf_is_refused(model_dir):
    (model_dir / "posterior.nc").write_bytes(b"PK\x03\x04 a zip, not netCDF")
    rewrite_sums(model_dir)
    with pytest.raises(ModelFileError, match="not a netCDF file"):
        read_model_dir(model_dir)


def test_staging_left_by_a_killed_process_is_removed_on_the_next_save(tmp_path):
    from npprob.io.artifacts import ModelFolder

    # A process id no process can have: above the kernel's largest.
    pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    orphan = tmp_path / f".m.{pid}.abc123"
    orphan.mkdir()
    (orphan / "draws.npz").write_bytes(b"half")
    other = tmp_path / ".m.notapid.x"
    other.mkdir()
    ModelFolder(tmp_path / "m").save({"a": np.full((2, 2), 0.5)}, {"name": "m"})
    assert not orphan.exists()
    assert other.exists()  # not a staging folder of ours: left alone
    assert sorted(p.name for p in tmp_path.iterdir()) == [".m.notapid.x", "m"]
