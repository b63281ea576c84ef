"""The page in a real browser (headless Chromium driven by Playwright).

Run with ``python3 -m pytest -m browser`` (``.ci/run`` installs Debian's ``chromium``
when it is missing). The page must show what ``npprob diagnose --json`` computes,
update when a finding is toggled, be usable from the keyboard alone, and log no
console error. Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import io
import json
import shutil
import threading
import time
from contextlib import redirect_stdout
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def server():
    import uvicorn

    from npprob.web.app import create_app

    config = uvicorn.Config(create_app(), host="127.0.0.1", port=0, log_level="warning",
                            access_log=False)  # fmt: skip
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not srv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    port = srv.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    assert CHROMIUM, "Chromium is not installed: apt-get install -y chromium (see .ci/run)"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server)
    yield page
    assert errors == [], errors
    page.close()


def _cli_answer(example: Path) -> dict:
    from npprob.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["diagnose", str(example), "--json"]) == 0
    return json.loads(out.getvalue())


def _fill(page, example: Path) -> None:
    from npprob.io.resources import clinical_spec
    from npprob.web.form import form_values

    network = clinical_spec().network
    values = form_values(json.loads(example.read_text()), network)
    page.uncheck("#live")  # fill everything first, then compute once
    for name, value in values.items():
        if page.locator(f'select[name="{name}"]').count():
            page.select_option(f'select[name="{name}"]', value)
        elif page.locator(f'input[type="radio"][name="{name}"]').count():
            page.check(f'input[type="radio"][name="{name}"][value="{value}"]')
        elif page.locator(f'input[name="{name}"]').count():
            page.fill(f'input[name="{name}"]', value)
    with page.expect_navigation():
        page.click("#compute")


@pytest.mark.parametrize("name", ["postherpetic_neuralgia", "knee_osteoarthritis_allodynia"])
def test_the_filled_form_shows_what_the_cli_computes(page, name):
    from npprob.web.app import _probability

    example = ROOT / "examples" / f"{name}.json"
    _fill(page, example)
    answer = _cli_answer(example)
    assert page.inner_text("#p-neuropathic") == _probability(answer["p_neuropathic"])
    low, high = answer["credible_interval"]
    assert page.inner_text("#ci-low") == _probability(low)
    assert page.inner_text("#ci-high") == _probability(high)
    low, high = answer["prediction_interval"]
    assert page.inner_text("#pi-low") == _probability(low)
    assert page.inner_text("#pi-high") == _probability(high)
    assert page.inner_text("#neupsig-grade") == answer["neupsig_grade"]
    first = page.locator("#treatments tbody tr").first.locator("td.drug").inner_text()
    assert first == answer["treatments"]["ranked"][0]["name"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"serve-{name}.png"), full_page=True)


def test_toggling_a_finding_updates_the_result(page):
    _fill(page, ROOT / "examples" / "postherpetic_neuralgia.json")
    before = page.inner_text("#p-neuropathic")
    page.check("#live")
    # Sensory signs in the painful area lowered to absent: the live form recomputes.
    with page.expect_navigation():
        page.check('input[name="sensory_loss"][value="absent"]')
    after = page.inner_text("#p-neuropathic")
    assert after != before
    assert page.evaluate("document.activeElement.name") == "sensory_loss"


def test_keyboard_alone_reaches_every_field(page):
    from npprob.io.resources import clinical_spec
    from npprob.web.form import form_groups

    names = {f.name for g in form_groups(clinical_spec().network) for f in g.fields}
    reached: set[str] = set()
    for _ in range(len(names) * 2 + 20):
        page.keyboard.press("Tab")
        name = page.evaluate("document.activeElement && document.activeElement.name")
        if name:
            reached.add(name)
        if names <= reached:
            break
    assert names - reached == set()
    # And the form submits from the keyboard.
    page.focus("#compute")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.locator("#result").count() == 1


@pytest.mark.parametrize(
    "name", ["postherpetic_neuralgia_older_cardiac", "lumbar_radiculopathy_mixed"]
)
def test_the_result_prints_on_one_a4_page(page, name):
    import re

    # The longest treatment lists of the examples (exclusions, cautions, overrides).
    page.uncheck("#live")
    page.click("details.json summary")
    page.fill("#record_json", (ROOT / "examples" / f"{name}.json").read_text())
    with page.expect_navigation():
        page.click("#compute")
    pdf = page.pdf(format="A4")
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == 1
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"serve-{name}.pdf").write_bytes(pdf)
