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


def _visit(browser: DevTools, url: str, screenshot: str, width: int = 1280, dark: bool = False) -> dict[str, Any]:
    """Load ``url`` in a window ``width`` px wide, wait for every chart to be tried, return what the page did."""
    browser.call("Emulation.setDeviceMetricsOverride", width=width, height=900, deviceScaleFactor=1, mobile=False)
    browser.call("Page.navigate", url="about:blank")
    browser.evaluate("1")
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
    wanted_scheme = "slate" if dark else "default"
    if browser.evaluate("document.body.getAttribute('data-md-color-scheme')") != wanted_scheme:
        # Material remembers the last scheme chosen: switch with its own toggle, as a reader would.
        browser.evaluate("document.querySelector('[data-md-component=palette] label:not([hidden])').click()")
    while True:
        # charts.js redraws every chart when the scheme changes.
        scheme = browser.evaluate(
            "({scheme: document.body.getAttribute('data-md-color-scheme'), drawn: Array.from("
            "document.querySelectorAll('div.vega-chart')).map(e => e.getAttribute('data-drawn') || '')})"
        )
        wanted = "#dark" if dark else "#light"
        if scheme["scheme"] == wanted_scheme and all(
                d.endswith(wanted) for d in scheme["drawn"]) and browser.evaluate(
                "Array.from(document.querySelectorAll('div.vega-chart')).every(e => e.classList.contains("
                "'vega-ready') || e.classList.contains('vega-failed'))"):
            break
        if time.monotonic() > deadline:
            pytest.fail(f"{url}: charts not redrawn in the {wanted_scheme} scheme after 60 s: {scheme}")
        time.sleep(0.2)
    drawn = browser.evaluate(
        "Array.from(document.querySelectorAll('div.vega-chart')).map(e => ({spec: e.getAttribute('data-spec'),"
        " drawn: !!e.querySelector('svg.marks, canvas.marks'), failed: e.classList.contains('vega-failed')}))"
    )
    height = browser.evaluate("Math.min(document.documentElement.scrollHeight, 12000)")
    time.sleep(0.3)  # the last redraw's paint
    shot = browser.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                        clip={"x": 0, "y": 0, "width": width, "height": height, "scale": 1})
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


# Every visible text of every drawn chart, from the DOM's own boxes: overlaps, text outside
# its chart, text cut with an ellipsis, a menu over the chart, a chart wider than the column.
CHART_TEXT_PROBLEMS = """
(() => {
  const out = [];
  document.querySelectorAll('div.vega-chart').forEach(el => {
    const svg = el.querySelector('svg.marks');
    if (!svg) { out.push({chart: el.getAttribute('data-spec'), problems: ['not drawn']}); return; }
    const s = svg.getBoundingClientRect();
    const texts = [];
    svg.querySelectorAll('text').forEach(t => {
      const text = t.textContent.trim();
      if (!text) return;
      for (let node = t; node && node !== svg; node = node.parentElement) {
        const style = getComputedStyle(node);
        if (style.opacity === '0' || style.display === 'none' || style.visibility === 'hidden') return;
      }
      const r = t.getBoundingClientRect();
      if (r.width === 0) return;
      texts.push({text, l: r.left, t: r.top, r: r.right, b: r.bottom});
    });
    const problems = [];
    texts.forEach((a, i) => {
      if (a.l < s.left - 0.5 || a.r > s.right + 0.5 || a.t < s.top - 0.5 || a.b > s.bottom + 0.5)
        problems.push('outside the chart: ' + a.text);
      if (a.text.includes('\u2026')) problems.push('cut short: ' + a.text);
      texts.slice(i + 1).forEach(b => {
        if (a.l < b.r - 0.5 && b.l < a.r - 0.5 && a.t < b.b - 0.5 && b.t < a.b - 0.5)
          problems.push('overlap: ' + a.text + ' / ' + b.text);
      });
    });
    const menu = el.querySelector('details');
    if (menu) {
      const m = menu.getBoundingClientRect();
      if (m.bottom > s.top + 0.5 && m.top < s.bottom && m.right > s.left && m.left < s.right)
        problems.push('the actions menu covers the chart');
      if (parseFloat(getComputedStyle(menu).borderLeftWidth) > 0) problems.push('the menu is styled as a note box');
    }
    const column = (el.closest('.md-content__inner') || document.body).getBoundingClientRect();
    if (s.right > column.right + 1) problems.push('wider than the text column: ' + s.width + ' px');
    out.push({chart: el.getAttribute('data-drawn'), narrow: el.hasAttribute('data-spec-narrow'), texts: texts.length,
              problems});
  });
  return out;
})()
"""
CHART_PAGES = ["figures/fixture-gpu/fp32/study.html", "figures/fixture-gpu/fp32/all.html",
               "figures/fixture-cpu-2t/fp32/study.html", "models/resnet50.html"]


@pytest.mark.parametrize("width", [400, 1400])
@pytest.mark.parametrize("page", CHART_PAGES)
def test_chart_text_never_collides_nor_is_cut(served_site: str, browser: DevTools, page: str, width: int) -> None:
    name = page.replace("/", "-").removesuffix(".html")
    _visit(browser, f"{served_site}/{page}", f"{name}-{width}.png", width=width)
    charts = browser.evaluate(CHART_TEXT_PROBLEMS)
    assert charts, "no chart on the page"
    assert all(chart["texts"] > 0 for chart in charts), charts
    # A narrow column gets a chart's narrow version; the small figures of a model page are built small
    # enough for a phone and have none.
    def drawn_as_expected(chart: dict[str, Any]) -> bool:
        narrow = width < 640 and chart["narrow"]
        return chart["chart"].endswith(".narrow.vl.json#light" if narrow else ".vl.json#light") and (
            narrow or ".narrow." not in chart["chart"])

    assert all(drawn_as_expected(chart) for chart in charts), [chart["chart"] for chart in charts]
    if page.startswith("models/"):
        assert sum(1 for chart in charts if not chart["narrow"]) == 3  # small Fig. 2, Fig. 9 on each of two runs
    problems = {chart["chart"]: chart["problems"] for chart in charts if chart["problems"]}
    assert problems == {}
    # Nothing makes the page scroll sideways.
    assert browser.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_wheel_scrolls_the_page_over_a_chart(served_site: str, browser: DevTools) -> None:
    _visit(browser, f"{served_site}/figures/fixture-gpu/fp32/study.html", "wheel.png", width=1400)
    box = browser.evaluate(
        "(() => { const e = document.querySelector('#fig2 ~ figure div.vega-chart svg.marks')"
        " || document.querySelectorAll('div.vega-chart svg.marks')[2];"
        " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
        " return {x: r.left + r.width / 2, y: r.top + r.height / 2}; })()"
    )
    before = browser.evaluate("window.scrollY")
    for _ in range(3):
        browser.call("Input.dispatchMouseEvent", type="mouseWheel", x=box["x"], y=box["y"], deltaX=0, deltaY=120)
        time.sleep(0.15)
    assert browser.evaluate("window.scrollY") > before + 100, "the wheel over a chart did not scroll the page"


@pytest.mark.parametrize("width", [400, 1400])
def test_dark_scheme_charts_follow_and_stay_legible(served_site: str, browser: DevTools, width: int) -> None:
    page = "figures/fixture-gpu/fp32/study.html"
    seen = _visit(browser, f"{served_site}/{page}", f"figures-gpu-study-dark-{width}.png", width=width, dark=True)
    assert not seen["errors"], seen["errors"]
    fills = browser.evaluate(
        "Array.from(document.querySelectorAll('div.vega-chart svg.marks .role-axis-label text'))"
        ".slice(0, 20).map(t => getComputedStyle(t).fill)"
    )
    assert fills, "no axis labels found"

    def luminance(css: str) -> float:
        red, green, blue = (int(v) for v in css[css.index("(") + 1:css.index(")")].split(",")[:3])
        return (0.2126 * red + 0.7152 * green + 0.0722 * blue) / 255

    assert all(luminance(fill) > 0.6 for fill in fills), fills  # light text on the dark page
    charts = browser.evaluate(CHART_TEXT_PROBLEMS)
    assert {chart["chart"]: chart["problems"] for chart in charts if chart["problems"]} == {}
    _visit(browser, f"{served_site}/index.html", f"home-dark-{width}.png", width=width, dark=True)
    _visit(browser, f"{served_site}/models/resnet50.html", f"model-resnet50-dark-{width}.png", width=width, dark=True)
    _visit(browser, f"{served_site}/index.html", f"home-{width}.png", width=width)
