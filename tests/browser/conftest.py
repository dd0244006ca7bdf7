"""The web front end in a real browser: Debian's chromium driven by Playwright, against the
whole system as processes (its own broker, the shared database server) with the demo data.

Under CI (``CI`` set) a missing browser fails these tests; elsewhere they are skipped with a
line saying how to install it.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from stack import embedded
from stack.demo.seed import seed
from tests.conftest import Stack, processes

ROOT = Path(__file__).resolve().parents[2]
AXE = ROOT / "gateway" / "web" / "node_modules" / "axe-core" / "axe.min.js"
SCREENSHOTS = ROOT / "build" / "screenshots"
WIDTHS = {"desktop": 1280, "phone": 375}


def chromium() -> str:
    found = os.environ.get("PSPX_CHROMIUM") or shutil.which("chromium")
    found = found or shutil.which("chromium-browser")
    if found:
        return found
    message = "no chromium found: install it with `apt-get install chromium` (or set PSPX_CHROMIUM)"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Per module: Playwright's sync API runs an event loop of its own while it is open, and
    # the tests after these start event loops of their own.
    path = chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def extra_settings() -> dict[str, Any]:
    """Settings the system runs with beyond a test's defaults; a module may override it."""
    return {}


@pytest.fixture(scope="module")
def other_sites() -> tuple[str, ...]:
    """Origins besides the gateway's that a module's pages may go to (none by default)."""
    return ()


@pytest.fixture(scope="module")
def urls(
    stack: Stack, tmp_path_factory: pytest.TempPathFactory, extra_settings: dict[str, Any]
) -> Iterator[dict[str, str]]:
    """Every service's URL, with the demo data loaded and rankable."""
    data = tmp_path_factory.mktemp("site")
    broker_port = embedded.free_port()
    broker = embedded.start_broker(broker_port)  # a log of its own: fixed demo ids stay here
    try:
        settings = stack.settings(
            data_dir=data,
            kafka_bootstrap=f"127.0.0.1:{broker_port}",
            log_check_s=1.0,
            **extra_settings,
        )
        names = ["registry", "exchange", "matching", "gateway"]
        with processes(settings, names, Path(data) / "logs") as urls:
            seed(urls["registry"], progress=False)
            wait_rankable(urls["matching"], "befriending older people")
            yield urls
    finally:
        embedded.stop(broker)


@pytest.fixture(scope="module")
def site(urls: dict[str, str]) -> str:
    """The gateway's URL: where the browser goes."""
    return urls["gateway"]


def wait_rankable(matching: str, text: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = httpx.post(f"{matching}/rank", json={"description": text, "limit": 1}).json()
        if found["results"]:
            return
        time.sleep(0.3)
    raise AssertionError("the demo partners never reached the index")


@pytest.fixture
def page(browser: Browser, site: str, other_sites: tuple[str, ...]) -> Iterator[Page]:
    context = browser.new_context(
        base_url=site, viewport={"width": WIDTHS["desktop"], "height": 900}
    )
    opened = context.new_page()
    outside: list[str] = []
    allowed = (site, *other_sites)
    opened.on("request", lambda r: None if r.url.startswith(allowed) else outside.append(r.url))
    yield opened
    context.close()
    assert outside == [], f"pages loaded URLs outside the gateway: {outside}"


def accessible(page: Page) -> None:
    """axe-core finds no serious or critical violation on the page as it is now."""
    page.add_script_tag(path=str(AXE))
    results: dict[str, Any] = page.evaluate("async () => await axe.run(document)")
    bad = [
        (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
        for v in results["violations"]
        if v["impact"] in ("serious", "critical")
    ]
    assert bad == [], f"{page.url}: {bad}"


def screenshots(page: Page, name: str) -> None:
    """The page at a desktop and a phone width, kept as test artefacts."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or {"width": WIDTHS["desktop"], "height": 900}
    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(size)


def checked(page: Page, name: str) -> None:
    accessible(page)
    screenshots(page, name)
