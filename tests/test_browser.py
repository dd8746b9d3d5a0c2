"""The built site in a real browser: headless Debian Chromium over the DevTools protocol.

Builds the fixture site, serves it on 127.0.0.1, loads the home page, a figures
page and a model page, and checks that every chart was drawn by vega-embed, the
console holds no error and no request left localhost. Screenshots go to
build/screenshots/ for a person to look at. In CI (CI=true) a missing Chromium
fails the test instead of skipping it.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fixtures.factory import GPU, FixtureModel, fixture_records, make_record, write_records
from generator.render.site import build_site, render_site

REPO = Path(__file__).resolve().parent.parent
# A model whose name is markup: if any of it ran, the page would open an alert dialog.
HOSTILE = FixtureModel("<img src=x onerror=alert(1)>", "<b>x</b>", None, 3.0, 0.5, 60.0, None)
HOSTILE_PAGE = "models/img-src-x-onerror-alert-1.html"
SCREENSHOTS = REPO / "build" / "screenshots"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps",
    "--disable-extensions", "--window-size=1280,900", "--remote-debugging-port=0",
]

pytestmark = pytest.mark.browser


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail("Chromium not found: CI must run the browser test (make browser-deps installs it)")
    pytest.skip("Chromium not installed (apt-get install chromium); CI fails instead of skipping")


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


@pytest.fixture(scope="module")
def served_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("browser")
    write_records([*fixture_records(), make_record(HOSTILE, GPU)], root / "measurements")
    render_site(root / "measurements", REPO / "templates", root / "src", quiet=True)
    assert build_site(REPO / "mkdocs.yml", strict=True, docs_dir=root / "src", site_dir=root / "html") == 0
    handler = functools.partial(_QuietHandler, directory=str(root / "html"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class DevTools:
    """A minimal Chrome DevTools Protocol client over one page's websocket."""

    def __init__(self, websocket_url: str) -> None:
        import websocket  # websocket-client, in the dev extra

        self.socket = websocket.create_connection(websocket_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        message_id = self.next_id
        self.socket.send(json.dumps({"id": message_id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == message_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            if "method" in message:
                self.events.append(message)

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self) -> None:
        self.socket.close()


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevTools]:
    executable = _chromium()
    profile = tmp_path_factory.mktemp("chromium-profile")
    process = subprocess.Popen(
        [executable, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"Chromium did not start (exit code {process.poll()})")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as response:
            targets = json.load(response)
        page = next(t for t in targets if t["type"] == "page")
        tools = DevTools(page["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Network", "Log"):
            tools.call(f"{domain}.enable")
        yield tools
        tools.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


def _visit(browser: DevTools, url: str, screenshot: str) -> dict[str, Any]:
    """Load ``url``, wait for every chart to be tried, return what the page did."""
    browser.events.clear()
    browser.call("Page.navigate", url=url)
    deadline = time.monotonic() + 60
    while True:
        state = browser.evaluate(
            "document.documentElement ? ({url: location.href, ready: document.readyState,"
            " done: document.documentElement.getAttribute('data-charts-done'),"
            " charts: document.querySelectorAll('div.vega-chart').length}) : {}"
        )
        if (state.get("url") == url and state["ready"] == "complete"
                and (state["done"] == "1" or state["charts"] == 0)):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"{url}: charts not done after 60 s: {state}")
        time.sleep(0.2)
    drawn = browser.evaluate(
        "Array.from(document.querySelectorAll('div.vega-chart')).map(e => ({spec: e.getAttribute('data-spec'),"
        " drawn: !!e.querySelector('svg.marks, canvas.marks'), failed: e.classList.contains('vega-failed')}))"
    )
    height = browser.evaluate("Math.min(document.documentElement.scrollHeight, 12000)")
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": 1280, "height": height, "scale": 1})
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / screenshot).write_bytes(base64.b64decode(shot["data"]))
    time.sleep(0.2)  # late console messages
    browser.evaluate("1")  # drains pending events into browser.events
    errors = [
        event for event in browser.events
        if event["method"] == "Runtime.exceptionThrown"
        or (event["method"] == "Runtime.consoleAPICalled" and event["params"]["type"] in {"error", "assert"})
        or (event["method"] == "Log.entryAdded" and event["params"]["entry"]["level"] == "error")
        or event["method"] == "Page.javascriptDialogOpening"  # an alert() from injected markup
    ]
    requests = [event["params"]["request"]["url"] for event in browser.events
                if event["method"] == "Network.requestWillBeSent"]
    return {"charts": drawn, "errors": errors, "requests": requests}


@pytest.mark.parametrize(
    ("page", "screenshot", "min_charts"),
    [
        ("index.html", "home.png", 0),
        ("figures/fixture-gpu/fp32/study.html", "figures-gpu-study.png", 13),
        ("figures/fixture-cpu-2t/fp32/all.html", "figures-cpu-all.png", 10),
        ("models/resnet50.html", "model-resnet50.png", 1),
        ("hardware/compare.html", "compare.png", 1),
        (HOSTILE_PAGE, "model-hostile-name.png", 1),
    ],
)
def test_page_in_browser(served_site: str, browser: DevTools, page: str, screenshot: str, min_charts: int) -> None:
    seen = _visit(browser, f"{served_site}/{page}", screenshot)
    assert len(seen["charts"]) >= min_charts, seen["charts"]
    not_drawn = [chart["spec"] for chart in seen["charts"] if not chart["drawn"] or chart["failed"]]
    assert not not_drawn, f"charts not rendered by vega-embed: {not_drawn}"
    assert not seen["errors"], json.dumps(seen["errors"], indent=1)[:4000]
    outside = [url for url in seen["requests"]
               if not url.startswith((served_site + "/", "data:", "blob:", "about:"))]
    assert not outside, f"requests left localhost: {outside}"
    assert seen["requests"], "no request seen: the network log is not being recorded"


def test_hostile_name_shows_as_text(served_site: str, browser: DevTools) -> None:
    _visit(browser, f"{served_site}/{HOSTILE_PAGE}", "model-hostile-name-top.png")
    heading = browser.evaluate("document.querySelector('h1').textContent")
    assert heading.startswith("<img src=x onerror=alert(1)>")
    assert browser.evaluate("document.querySelectorAll('article img[src=\"x\"]').length") == 0


_TOP1_COLUMN = """(() => {
  const table = document.querySelector('div.leaderboard table');
  const headers = Array.from(table.tHead.rows[0].cells).map(h => h.textContent.trim());
  const column = headers.indexOf('top-1 (%)');
  return Array.from(table.tBodies[0].rows).filter(r => !r.hidden).map(r => r.cells[column].textContent.trim());
})()"""


def _clicked(browser: DevTools, header: str) -> None:
    browser.evaluate(
        "Array.from(document.querySelector('div.leaderboard table').tHead.rows[0].cells)"
        f".find(h => h.textContent.trim() === {json.dumps(header)}).click()"
    )


def test_leaderboard_sorts_and_filters(served_site: str, browser: DevTools) -> None:
    seen = _visit(browser, f"{served_site}/models/index.html", "models-leaderboard.png")
    assert not seen["errors"], json.dumps(seen["errors"], indent=1)[:4000]
    before = browser.evaluate(_TOP1_COLUMN)
    assert "not known" in before and before != sorted(before)
    _clicked(browser, "top-1 (%)")
    ascending = browser.evaluate(_TOP1_COLUMN)
    numbers = [float(v) for v in ascending if v != "not known"]
    assert numbers == sorted(numbers) and len(numbers) >= 10
    assert ascending[len(numbers):] == ["not known"] * (len(ascending) - len(numbers))  # not known: last
    _clicked(browser, "top-1 (%)")
    descending = browser.evaluate(_TOP1_COLUMN)
    assert [float(v) for v in descending if v != "not known"] == sorted(numbers, reverse=True)
    assert descending[-1] == "not known"
    assert browser.evaluate("document.querySelector('div.leaderboard th[aria-sort]').textContent.trim()") == "top-1 (%)"

    # Family filter, then a name filter on top of it.
    browser.evaluate("""(() => { const s = document.querySelector('div.leaderboard select');
        s.value = 'resnet'; s.dispatchEvent(new Event('change')); })()""")
    models = ("Array.from(document.querySelector('div.leaderboard table').tBodies[0].rows)"
              ".filter(r => !r.hidden).map(r => r.cells[0].textContent.trim())")
    assert browser.evaluate(models) == ["ResNet-152 (resnet152)", "ResNet-50 (resnet50)", "ResNet-18 (resnet18)"]
    browser.evaluate("""(() => { const i = document.querySelector('div.leaderboard input[type=search]');
        i.value = 'net1'; i.dispatchEvent(new Event('input')); })()""")
    assert browser.evaluate(models) == ["ResNet-152 (resnet152)", "ResNet-18 (resnet18)"]
    assert browser.evaluate("document.querySelector('div.leaderboard .leaderboard-filters span').textContent") \
        == "2 of 15 models"
