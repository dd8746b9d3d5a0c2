"""Static SVG of a Vega-Lite spec with vl-convert, optionally across processes.

Kept apart from the rest of the render so a worker process imports only
vl_convert: SVG export is most of the render time for big record sets, and
vl-convert serialises calls within one process.
"""

from __future__ import annotations

import functools
import hashlib
import json
import multiprocessing
import re
from collections.abc import Callable, Sequence
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
            self._start_workers()
        if self.pool is not None:
            self.futures.extend(self.pool.submit(_worker, (spec, self.vl_version)) for spec in self.waiting)
            self.waiting = []

    def bundle(self) -> Callable[[], str]:
        """``javascript_bundle`` in a worker process while the caller goes on; returns the wait for it.
        (A thread would not help: vl-convert holds the interpreter lock while it bundles.)"""
        if self.workers < 1:
            return functools.partial(javascript_bundle, self.vl_version)
        return self._start_workers().submit(javascript_bundle, self.vl_version).result

    def _start_workers(self) -> ProcessPoolExecutor:
        if self.pool is None:
            # 'spawn': a fork of a process whose vl-convert runtime has threads could hang.
            self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"))
        return self.pool

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
