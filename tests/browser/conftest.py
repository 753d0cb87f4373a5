"""Fixtures of the browser tests: Debian's Chromium driven by Playwright (sync API).

Every test starts from an empty browser profile. Outside CI the tests are skipped when
/usr/bin/chromium is missing; in CI a missing browser is a failure.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest
from django.db import connections

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
REPO_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
TIMEOUT_MS = 15_000


# Outside CI, a machine without Debian's Chromium skips the browser tests; in CI they run
# and fail loudly if it is missing (the fixture below).
_NO_CHROMIUM = pytest.mark.skipif(
    not os.path.exists(CHROMIUM) and not os.environ.get("CI"),
    reason=f"{CHROMIUM} is not installed (apt-get install chromium)",
)


def pytest_collection_modifyitems(config, items) -> None:
    for item in items:
        if item.get_closest_marker("browser") is not None:
            item.add_marker(_NO_CHROMIUM)


@pytest.fixture
def chromium_path() -> str:
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is required in CI (apt-get install chromium)")
    return CHROMIUM


@pytest.fixture
def browser(chromium_path, monkeypatch):
    """A headless Chromium started from an empty profile."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API marks an asyncio loop as running in the test thread; the ORM
    # calls of the test body (demo loading, assertions) are still plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    # ``launch`` gives every run a new temporary profile that Playwright deletes on close.
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            # While Playwright is active the test thread looks "async" to Django (a running
            # loop), so the ORM calls of the test body got a connection of their own that
            # pytest-django never sees: close it here, or PostgreSQL cannot drop the test
            # database at the end of the session.
            connections.close_all()
            browser.close()
            _wait_for_request_threads()


def _wait_for_request_threads(timeout: float = 10.0) -> None:
    """Let the live server's request threads finish once the browser has hung up.

    Each kept-alive browser connection is served by a thread that holds its own database
    connection until the socket closes; the test database must not be flushed or dropped
    (PostgreSQL refuses to drop a database in use) while one is still open.
    """
    deadline = time.monotonic() + timeout
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and "process_request_thread" in thread.name:
            thread.join(max(0.0, deadline - time.monotonic()))


@pytest.fixture
def new_context(browser, live_server, settings):
    """Make a browser context (its own cookies) bound to the live server."""
    # Mailed links are built from the configured public origin: here, the live server.
    settings.EDUCOMPTE_PUBLIC_URL = live_server.url
    contexts = []

    def make(**kwargs):
        options = {"locale": "fr-FR", "viewport": {"width": 1280, "height": 900}, **kwargs}
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def screenshots() -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS
