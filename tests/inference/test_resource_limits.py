"""Resource guards: a small input cannot ask for a huge table; refused with one clear error."""

from __future__ import annotations

import numpy as np
import pytest

from npprob._limits import MAX_STATES
from npprob.errors import BIFSyntaxError, NetworkError
from npprob.inference.engine import Engine
from npprob.io.bif import read_bif
from npprob.network.network import Network
from npprob.network.variable import Variable


def _bif_with_parents(k: int) -> str:
    lines = ["network n {}"]
    for i in range(k + 1):
        lines.append(f"variable v{i} {{ type discrete [ 2 ] {{ a, b }}; }}")
    for i in range(k):
        lines.append(f"probability ( v{i} ) {{ table 0.5, 0.5; }}")
    parents = ", ".join(f"v{i}" for i in range(k))
    lines.append(f"probability ( v{k} | {parents} ) {{ default 0.5, 0.5; }}")
    return "\n".join(lines) + "\n"


def test_a_bif_table_past_the_limit_is_refused_before_it_is_allocated(tmp_path, monkeypatch):
    monkeypatch.setenv("NPPROB_MAX_TABLE_ENTRIES", "1000")
    path = tmp_path / "wide.bif"
    path.write_text(_bif_with_parents(10))  # 2**10 configurations x 2 states = 2,048
    with pytest.raises(BIFSyntaxError, match=r"2,048 entries .* above the limit of 1,000"):
        read_bif(path)
    monkeypatch.setenv("NPPROB_MAX_TABLE_ENTRIES", "4096")
    assert len(read_bif(path)) == 11


def test_a_query_past_the_limit_names_the_clique(monkeypatch):
    k = 8
    variables = [Variable(f"v{i}", ("a", "b")) for i in range(k + 1)]
    parents = {f"v{k}": [f"v{i}" for i in range(k)]}
    cpts = {f"v{i}": np.array([0.5, 0.5]) for i in range(k)}
    cpts[f"v{k}"] = np.full((2,) * k + (2,), 0.5)
    network = Network(variables, parents, cpts)
    monkeypatch.setenv("NPPROB_MAX_TABLE_ENTRIES", "64")
    with pytest.raises(
        NetworkError, match=r"table of [\d,]+ entries over .*v\d \(2\).*limit of 64"
    ):
        Engine(network).query({f"v{k}": "a"}, ["v0"])
    monkeypatch.delenv("NPPROB_MAX_TABLE_ENTRIES")
    result = Engine(network).query({f"v{k}": "a"}, ["v0"])
    np.testing.assert_allclose(result.mean("v0")[0], [0.5, 0.5])


def test_more_states_than_evidence_codes_hold_is_refused():
    with pytest.raises(NetworkError, match=f"at most {MAX_STATES}"):
        Variable("big", tuple(f"s{i}" for i in range(MAX_STATES + 1)))
    assert Variable("ok", tuple(f"s{i}" for i in range(MAX_STATES))).cardinality == MAX_STATES


def test_a_network_file_past_the_size_limit_is_refused_unread(tmp_path, monkeypatch):
    import gzip

    monkeypatch.setenv("NPPROB_MAX_NETWORK_BYTES", "10000")
    text = "network x {}\nvariable a { type discrete [ 2 ] { y, n }; }\n"
    small = tmp_path / "small.bif"
    small.write_text(text + "probability ( a ) { table 0.5, 0.5; }\n")
    assert read_bif(small).names == ("a",)
    padded = tmp_path / "padded.bif"
    padded.write_text(text + " " * 20_000 + "probability ( a ) { table 0.5, 0.5; }\n")
    with pytest.raises(BIFSyntaxError, match="larger than 10,000 bytes"):
        read_bif(padded)
    # A small gzip file that would unpack far past the limit is stopped while unpacking.
    bomb = tmp_path / "bomb.bif.gz"
    bomb.write_bytes(gzip.compress(text.encode() + b" " * 50_000_000))
    assert bomb.stat().st_size < 100_000
    with pytest.raises(BIFSyntaxError, match="larger than 10,000 bytes"):
        read_bif(bomb)
    with padded.open("rb") as fh, pytest.raises(BIFSyntaxError, match="larger than"):
        read_bif(fh)
