"""A piece of the render in a forked child: the same result as in-process, whatever happens to the child."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from generator.render import site as site_module
from generator.host_load import usable_cpus
from generator.render.background import Background
from generator.render.load import load_records

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "measurements"


def test_the_result_comes_from_another_process_when_forked() -> None:
    with Background(os.getpid, fork=True) as forked:
        assert forked.result() != os.getpid()
    with Background(os.getpid, fork=False) as here:
        assert here.result() == os.getpid()


def _fails_in_a_child(how: str) -> object:
    parent = _fails_in_a_child.parent  # type: ignore[attr-defined]
    if os.getpid() != parent:
        if how == "raise":
            raise RuntimeError("only in the child")
        if how == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        if how == "unpicklable":
            return lambda: None
    return ("computed by", os.getpid())


@pytest.mark.parametrize("how", ["raise", "kill", "unpicklable"])
def test_a_child_that_fails_leaves_the_work_to_the_parent(how: str) -> None:
    _fails_in_a_child.parent = os.getpid()  # type: ignore[attr-defined]
    with Background(lambda: _fails_in_a_child(how), fork=True) as background:
        assert background.result() == ("computed by", os.getpid())


def test_an_error_of_the_work_itself_is_raised_in_the_parent() -> None:
    def broken() -> None:
        raise ValueError("a bug in a page")

    with Background(broken, fork=True) as background, pytest.raises(ValueError, match="a bug in a page"):
        background.result()


def test_leaving_early_stops_the_child() -> None:
    with Background(lambda: signal.pause(), fork=True) as background:
        process = background.process
        assert process is not None and process.is_alive()
    assert process.exitcode is not None  # stopped and reaped, not left running


def test_a_render_with_the_model_pages_forked_equals_one_without(monkeypatch: pytest.MonkeyPatch) -> None:
    items = load_records(FIXTURES)
    monkeypatch.setattr(site_module, "FORK_MODEL_PAGES_FROM", 10**9)
    alone = site_module.render_files(items, REPO / "templates")
    monkeypatch.setattr(site_module, "FORK_MODEL_PAGES_FROM", 1)
    forked: list[int] = []
    original = Background.__init__

    def spy(self: Background[object], function: object, fork: bool) -> None:
        forked.append(fork)
        original(self, function, fork)  # type: ignore[arg-type]

    monkeypatch.setattr(Background, "__init__", spy)
    assert site_module.render_files(items, REPO / "templates") == alone
    # The comparison and downloads, and the model pages in two halves.
    assert forked == ([True] * 3 if usable_cpus() >= 2 else [False] * 2)
