"""Screenshot of ``npprob serve`` for the documentation: the PHN example filled in.

Usage: python3 scripts/screenshot_serve.py [--out docs/serve.png] [--example NAME]
(needs the web and test extras and Debian's chromium).
"""

from __future__ import annotations

import argparse
import json
import shutil
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "serve.png")
    parser.add_argument("--example", default="postherpetic_neuralgia")
    args = parser.parse_args(argv)

    import uvicorn
    from playwright.sync_api import sync_playwright

    from npprob.io.resources import clinical_spec
    from npprob.web.app import create_app
    from npprob.web.form import form_values

    server = uvicorn.Server(uvicorn.Config(create_app(), host="127.0.0.1", port=0,
                                           log_level="warning", access_log=False))  # fmt: skip
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    record = json.loads((ROOT / "examples" / f"{args.example}.json").read_text())
    values = form_values(record, clinical_spec().network)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1050})
        page.goto(f"http://127.0.0.1:{port}/")
        page.uncheck("#live")
        for name, value in values.items():
            if page.locator(f'select[name="{name}"]').count():
                page.select_option(f'select[name="{name}"]', value)
            elif page.locator(f'input[type="radio"][name="{name}"]').count():
                page.check(f'input[type="radio"][name="{name}"][value="{value}"]')
            elif page.locator(f'input[name="{name}"]').count():
                page.fill(f'input[name="{name}"]', value)
        with page.expect_navigation():
            page.click("#compute")
        page.screenshot(path=str(args.out))
        browser.close()
    server.should_exit = True
    print(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
