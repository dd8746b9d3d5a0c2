"""Static SVG of a Vega-Lite spec with vl-convert, optionally across processes.

Kept apart from the rest of the render so a worker process imports only
vl_convert: SVG export is most of the render time for big record sets, and
vl-convert serialises calls within one process.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import re
import subprocess
import sys
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor

from generator.host_load import usable_cpus

_SVG_ID = re.compile(r"\b(clip|gradient|pattern)(\d+)\b")
PARALLEL_FROM = 24  # below this many charts, starting worker processes costs more than it saves


def normalise_svg(svg: str) -> str:
    """Renumber vl-convert's clip-path ids from 1 in order of appearance.

    vl-convert numbers them from a process-wide counter, so the same chart would
    otherwise differ byte for byte depending on what was converted before it.
    """
    numbers: dict[tuple[str, str], int] = {}

    def renumber(match: re.Match[str]) -> str:
        key = (match.group(1), match.group(2))
        numbers.setdefault(key, sum(1 for kind, _ in numbers if kind == key[0]) + 1)
        return f"{key[0]}{numbers[key]}"

    return _SVG_ID.sub(renumber, svg)


def stamp(spec_json: str, vl_version: str) -> bytes:
    """How an SVG's first line starts: what it was drawn from and by. The SVG is a function of exactly
    these, so a previous render's SVG with the same stamp can be reused instead of drawn again."""
    import vl_convert

    digest = hashlib.sha256(spec_json.encode("utf-8")).hexdigest()
    version = vl_convert.__version__  # type: ignore[attr-defined]  # the type stub leaves it out
    return f"<!-- vl-convert {version}, Vega-Lite {vl_version}, spec sha256 {digest}".encode()


def to_svg(spec_json: str, vl_version: str) -> bytes:
    import vl_convert

    image = normalise_svg(vl_convert.vegalite_to_svg(json.loads(spec_json), vl_version=vl_version)).encode("utf-8")
    return stamp(spec_json, vl_version) + f", image sha256 {hashlib.sha256(image).hexdigest()} -->\n".encode() + image


def reusable(previous: bytes, spec_json: str, vl_version: str) -> bool:
    """Whether ``previous`` is exactly what ``to_svg`` would draw now: same stamp, and the image unchanged
    since (its hash matches, so a hand-edited file is drawn again, never carried over)."""
    head = stamp(spec_json, vl_version) + b", image sha256 "
    if not previous.startswith(head):
        return False
    digest, newline, image = previous[len(head) :].partition(b" -->\n")
    return bool(newline) and hashlib.sha256(image).hexdigest().encode() == digest


def _worker(arguments: tuple[str, str]) -> bytes:
    return to_svg(*arguments)


def javascript_bundle(vl_version: str) -> str:
    """Vega, Vega-Lite and vega-embed in one script, as vl-convert bundles them (about 2 s)."""
    import vl_convert

    # The type stub marks 'snippet' required; vl-convert makes it optional (the default bundle).
    return str(vl_convert.javascript_bundle(vl_version=vl_version))  # type: ignore[call-arg]


# What the bundling process runs: vl-convert alone, so it imports nothing of the caller's.
_BUNDLE_SCRIPT = (
    "import sys, vl_convert; "
    "sys.stdout.buffer.write(vl_convert.javascript_bundle(vl_version=sys.argv[1]).encode('utf-8'))"
)


class BundleBuilder:
    """``javascript_bundle`` in a process of its own, started at once; ``result`` waits for it.

    A render starts it before it reads the records, which is one core's work: the
    2 s of bundling take the other core then, not later, when the figures are drawn
    and the pages built on both. (A thread would not help: vl-convert holds the
    interpreter lock while it bundles.) If the process fails in any way, ``result``
    bundles here: the same script, and an error raises where it can be read.
    """

    def __init__(self, vl_version: str) -> None:
        self.vl_version = vl_version
        self.process: subprocess.Popen[bytes] | None = None
        if usable_cpus() >= 2:
            try:
                self.process = subprocess.Popen(
                    [sys.executable, "-c", _BUNDLE_SCRIPT, vl_version],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                )
            except OSError:
                self.process = None

    def result(self) -> str:
        if self.process is not None:
            process, self.process = self.process, None
            script, _ = process.communicate()
            if process.returncode == 0:
                try:
                    return script.decode("utf-8")
                except UnicodeDecodeError:
                    pass
        return javascript_bundle(self.vl_version)

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.communicate()
            self.process = None


class Drawer:
    """Draws SVGs in worker processes while the caller goes on building pages.

    A zoo's figures take tens of seconds to draw; started as soon as their specs
    exist, they are drawn while the model pages are built. Below ``PARALLEL_FROM``
    charts in all, or on one CPU, they are drawn in this process at ``results``.
    """

    def __init__(self, vl_version: str) -> None:
        self.vl_version = vl_version
        # One CPU stays with the caller: the pages it builds meanwhile are the render's critical path,
        # and a drawer on every CPU only slowed them (the drawing itself never was waited for).
        self.workers = min(usable_cpus() - 1, 4)
        self.waiting: list[str] = []  # specs not yet handed to a worker
        self.futures: list[Future[bytes]] = []
        self.pool: ProcessPoolExecutor | None = None

    def submit(self, spec_jsons: Sequence[str]) -> None:
        self.waiting.extend(spec_jsons)
        if self.pool is None and self.workers >= 1 and len(self.waiting) + len(self.futures) >= PARALLEL_FROM:
            # 'spawn': a fork of a process whose vl-convert runtime has threads could hang.
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        if self.pool is not None:
            self.futures.extend(self.pool.submit(_worker, (spec, self.vl_version)) for spec in self.waiting)
            self.waiting = []

    def results(self) -> list[bytes]:
        """Every SVG in the order submitted."""
        try:
            drawn = [future.result() for future in self.futures]
            return drawn + [to_svg(spec, self.vl_version) for spec in self.waiting]
        finally:
            self.close()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)
            self.pool = None
