"""``npprob serve``: loopback by default and says so; another address needs --host and warns."""

from __future__ import annotations

import pytest

from npprob.cli import main
from npprob.cli.serve import is_loopback


@pytest.fixture
def started(monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    return calls


def test_loopback_by_default_and_said(started, capsys):
    assert main(["serve"]) == 0
    assert started == [{"host": "127.0.0.1", "port": 8765, "access_log": False,
                        "log_level": "warning"}]  # fmt: skip
    err = capsys.readouterr().err
    assert "http://127.0.0.1:8765/" in err
    assert "this machine only" in err
    assert "warning" not in err


def test_another_address_warns(started, capsys):
    assert main(["serve", "--host", "0.0.0.0", "--port", "9000"]) == 0
    assert started[0]["host"] == "0.0.0.0"
    assert started[0]["port"] == 9000
    assert "warning: listening on 0.0.0.0" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--port", "0"], "--port must be in [1, 65535]"),
        (["--model", "nope"], "nope"),
        (["--setting", "diabetis"], "diabetis"),
    ],
)
def test_bad_options_are_one_line_before_listening(started, capsys, argv, message):
    assert main(["serve", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("npprob serve: error:")
    assert message in err
    assert err.count("\n") == 1
    assert started == []


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.5.5.5", True), ("::1", True), ("localhost", True),
     ("0.0.0.0", False), ("192.168.1.4", False), ("example.org", False), ("::", False)],
)  # fmt: skip
def test_is_loopback(host, loopback):
    assert is_loopback(host) is loopback
