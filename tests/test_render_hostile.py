"""Render against hostile records and folders: every case either renders safely or is refused by
name, and a refusal or a failure at any point leaves the site byte-identical."""

from __future__ import annotations

import json
import re
import os
import stat
from pathlib import Path

import pytest
from fixtures.factory import (
    CPU,
    STUDY_MODELS,
    FixtureHardware,
    FixtureModel,
    make_record,
    write_records,
)

from generator.cli import main
from generator.render.site import MARKER, render_site
from generator.safe_read import MAX_RECORD_BYTES, read_json, read_regular_file
from generator.schema import RecordError, record_to_json

REPO = Path(__file__).resolve().parent.parent
TEMPLATES = REPO / "templates"
SMALL = (1, 2)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _model(name: str, family: str = "resnet") -> FixtureModel:
    return FixtureModel(name, family, None, 1.0, 0.5, 70.0, 90.0)


@pytest.fixture(scope="module")
def small_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, bytes]]:
    """Two study models on the CPU fixture, rendered once; tests copy the records and site."""
    root = tmp_path_factory.mktemp("small")
    write_records([make_record(m, CPU, SMALL) for m in STUDY_MODELS[:2]], root / "m")
    render_site(root / "m", TEMPLATES, root / "site", quiet=True)
    return root / "m", root / "site", _tree(root / "site")


def _copy(small_site: tuple[Path, Path, dict[str, bytes]], tmp_path: Path) -> tuple[Path, Path]:
    records, _, files = small_site
    measurements, site = tmp_path / "m", tmp_path / "site"
    for path in records.rglob("*.json"):
        target = measurements / path.relative_to(records)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    for name, content in files.items():
        (site / name).parent.mkdir(parents=True, exist_ok=True)
        (site / name).write_bytes(content)
    return measurements, site


def test_reserved_and_long_names_cannot_take_over_fixed_pages(tmp_path: Path) -> None:
    long_a, long_b = "x" * 300 + "a", "x" * 300 + "b"
    records = [make_record(_model(name), CPU, SMALL) for name in ("index", "compare", "charts", long_a, long_b)]
    records += [make_record(STUDY_MODELS[0], FixtureHardware(slug, f"machine {slug}", "cpu", 9.0, None), SMALL)
                for slug in ("index", "compare", "index.md", "y" * 400)]
    records += [make_record(STUDY_MODELS[0], CPU, SMALL)]
    write_records(records, tmp_path / "m")
    site = tmp_path / "site"
    render_site(tmp_path / "m", TEMPLATES, site, quiet=True)
    # The fixed pages are still what they were meant to be.
    models_index = (site / "models/index.md").read_text()
    assert models_index.startswith('---\ntitle: "Models"')
    model_pages = sorted(p.name for p in (site / "models").glob("index-*.md"))
    assert len(model_pages) == 1
    assert f"[index]({model_pages[0]})" in models_index  # the model 'index' is listed, on its own page
    hardware_index = (site / "hardware/index.md").read_text()
    assert hardware_index.startswith('---\ntitle: "Hardware"')
    assert "machine index" in hardware_index and "machine compare" in hardware_index
    compare = (site / "hardware/compare.md").read_text()
    assert "speed-up" in compare  # still the comparison, not the hardware 'compare'
    assert (site / "figures/index.md").is_file()
    assert len(list((site / "hardware").glob("index-*.md"))) == 1
    assert len(list((site / "hardware").glob("compare-*.md"))) == 1
    assert len(list((site / "hardware").glob("index.md-*.md"))) == 1
    # Long names: capped, unique.
    for path in site.rglob("*"):
        assert len(path.name.encode()) <= 120, path.name
    long_pages = [p for p in (site / "models").glob("xxx*.md")]
    assert len(long_pages) == 2


def test_empty_render_over_a_site_is_refused_unless_asked(small_site: tuple[Path, Path, dict[str, bytes]],
                                                         tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, site = _copy(small_site, tmp_path)
    before = _tree(site)
    assert main(["render", "--measurements", str(tmp_path / "mistyped"), "--out", str(site)]) == 2
    error = capsys.readouterr().err
    assert "no records found" in error and "--allow-empty" in error
    assert _tree(site) == before
    assert main(["render", "--measurements", str(tmp_path / "mistyped"), "--out", str(site), "--allow-empty"]) == 0
    assert (site / "index.md").is_file() and not (site / "models/alexnet.md").exists()


def _refused(measurements: Path, site: Path, capsys: pytest.CaptureFixture[str], *words: str) -> str:
    before = _tree(site)
    assert main(["render", "--measurements", str(measurements), "--out", str(site)]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: ") and "Traceback" not in error, error
    for word in words:
        assert word in error, error
    assert _tree(site) == before
    assert not list(site.parent.glob(".site.*")), "a staging folder was left behind"
    return error


def _alexnet_text() -> str:
    return record_to_json(make_record(STUDY_MODELS[0], CPU, SMALL))


HOSTILE_TEXT = {
    "not_utf8": lambda: _alexnet_text().encode().replace(b"alexnet", b"alex\xffnet", 1),
    "deep": lambda: ("[" * 200_000 + "]" * 200_000).encode(),
    "huge_int": lambda: _alexnet_text().replace('"threads": 2', '"threads": ' + "9" * 4300).encode(),
    "inf": lambda: _alexnet_text().replace('"median_ms_per_batch": ', '"median_ms_per_batch": 1e999, "x": ', 1).encode(),
    "nan": lambda: _alexnet_text().replace('"threads": 2', '"threads": NaN').encode(),
    "nul_in_name": lambda: _alexnet_text().replace('"name": "alexnet"', '"name": "alex\\u0000net"').encode(),
    "fffe_in_name": lambda: _alexnet_text().replace('"name": "alexnet"', '"name": "alex\\ufffenet"').encode(),
    "lone_surrogate": lambda: _alexnet_text().replace('"name": "alexnet"', '"name": "alex\\ud800net"').encode(),
}
HOSTILE_WORDS = {
    "not_utf8": ("not UTF-8",), "deep": ("nested",), "huge_int": ("4300 digits",), "inf": ("1e999", "out of range"),
    "nan": ("NaN is not a number",), "nul_in_name": ("U+0000", "model.name"), "fffe_in_name": ("U+FFFE", "model.name"),
    "lone_surrogate": ("U+D800",),
}


@pytest.mark.parametrize("kind", sorted(HOSTILE_TEXT))
def test_hostile_content_is_refused_by_file_name(kind: str, small_site: tuple[Path, Path, dict[str, bytes]],
                                                 tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    measurements, site = _copy(small_site, tmp_path)
    bad = measurements / "fixture-cpu-2t" / "fp32" / f"{kind}.json"
    bad.write_bytes(HOSTILE_TEXT[kind]())
    assert _refused(measurements, site, capsys, str(bad), *HOSTILE_WORDS[kind])


def test_oversized_record_is_refused_with_the_limit(small_site: tuple[Path, Path, dict[str, bytes]], tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    measurements, site = _copy(small_site, tmp_path)
    big = measurements / "big.json"
    with big.open("wb") as handle:
        handle.truncate(MAX_RECORD_BYTES + 1)  # sparse: costs no disk
    assert _refused(measurements, site, capsys, str(big), f"{MAX_RECORD_BYTES:,} bytes per record")


def test_links_in_measurements_are_refused(small_site: tuple[Path, Path, dict[str, bytes]], tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    measurements, site = _copy(small_site, tmp_path)
    outside = tmp_path / "outside"
    write_records([make_record(STUDY_MODELS[3], CPU, SMALL)], outside)
    link = measurements / "fixture-cpu-2t" / "fp32" / "resnet18.json"
    link.symlink_to(next(outside.rglob("*.json")))
    assert _refused(measurements, site, capsys, str(link), "symbolic link")
    link.unlink()
    folder_link = measurements / "elsewhere"
    folder_link.symlink_to(outside)
    assert _refused(measurements, site, capsys, str(folder_link), "symbolic link")
    folder_link.unlink()
    (measurements / "zero.json").symlink_to("/dev/zero")
    assert _refused(measurements, site, capsys, "zero.json", "symbolic link")


def test_fifos_and_devices_are_refused_without_blocking(small_site: tuple[Path, Path, dict[str, bytes]],
                                                        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    measurements, site = _copy(small_site, tmp_path)
    fifo = measurements / "pipe.json"
    os.mkfifo(fifo)  # nobody writes: a plain open() would block forever
    assert _refused(measurements, site, capsys, str(fifo), "FIFO")
    with pytest.raises(RecordError, match="is a device"):
        read_regular_file(Path("/dev/zero"))


def test_links_in_the_output_folder_are_not_followed(small_site: tuple[Path, Path, dict[str, bytes]],
                                                     tmp_path: Path) -> None:
    measurements, site = _copy(small_site, tmp_path)
    victim = tmp_path / "victim"
    victim.mkdir()
    (victim / "alexnet.md").write_text("precious\n")
    models = site / "models"
    for path in models.rglob("*"):
        if path.is_file():
            path.unlink()
    for path in sorted(models.rglob("*"), reverse=True):
        path.rmdir()
    models.rmdir()
    models.symlink_to(victim)  # a render that followed it would write pages into victim/
    (site / "data.md").unlink()
    (site / "data.md").symlink_to(victim / "alexnet.md")
    render_site(measurements, TEMPLATES, site, quiet=True)
    assert (victim / "alexnet.md").read_text() == "precious\n" and len(list(victim.iterdir())) == 1
    assert not models.is_symlink() and (models / "alexnet.md").is_file()
    assert not (site / "data.md").is_symlink()
    (tmp_path / "link-site").symlink_to(site)
    assert main(["render", "--measurements", str(measurements), "--out", str(tmp_path / "link-site")]) == 2


def test_a_failure_mid_write_leaves_the_site_byte_identical(small_site: tuple[Path, Path, dict[str, bytes]],
                                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    measurements, site = _copy(small_site, tmp_path)
    write_records([make_record(STUDY_MODELS[3], CPU, SMALL)], measurements)  # something to change
    before = _tree(site)
    written: list[str] = []
    real = Path.write_bytes

    def failing(self: Path, data: bytes) -> int:  # type: ignore[override]
        written.append(self.name)
        if len(written) == 20:
            raise OSError(28, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(Path, "write_bytes", failing)
    with pytest.raises(OSError, match="No space"):
        render_site(measurements, TEMPLATES, site, quiet=True)
    monkeypatch.undo()
    assert len(written) == 20
    assert _tree(site) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "site"]  # no staging folder left
    render_site(measurements, TEMPLATES, site, quiet=True)
    assert (site / "models/resnet18.md").is_file() and (site / MARKER).is_file()
    assert stat.S_IMODE(site.stat().st_mode) & 0o055 == 0o055 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_csv_formula_injection_is_neutralised(tmp_path: Path) -> None:
    evil = _model("=cmd|' /C calc'!A0", family="+SUM(1,2)")
    write_records([make_record(evil, CPU, SMALL), make_record(STUDY_MODELS[0], CPU, SMALL)], tmp_path / "m")
    render_site(tmp_path / "m", TEMPLATES, tmp_path / "site", quiet=True)
    csv_text = (tmp_path / "site/data/records.csv").read_text()
    assert "'=cmd|' /C calc'!A0" in csv_text and "'+SUM(1,2)" in csv_text
    for line in csv_text.splitlines():
        for cell in line.split(","):
            assert not cell.startswith(("=", "+", "@")), cell
    document = json.loads((tmp_path / "site/data/records.json").read_text())
    assert any(d["model"]["name"] == "=cmd|' /C calc'!A0" for d in document)  # the JSON keeps the text


def test_strict_reader_accepts_a_real_record(tmp_path: Path) -> None:
    path = write_records([make_record(STUDY_MODELS[0], CPU)], tmp_path)[0]
    assert read_json(path)["model"]["name"] == "alexnet"


@pytest.mark.parametrize(
    "text, found",
    [
        ('{"a": "b\\u0007"}', "U+0007"),  # escaped: the escape sends it the long way
        ('{"a": "b\u0007"}', "not valid JSON"),  # raw, in an ASCII text: JSON itself refuses a C0 control
        ('{"a": "é\u0085"}', "U+0085"),  # raw C1 control in a non-ASCII text
        ('{"a": "\U0001fffe"}', "U+1FFFE"),  # astral non-character
        ('{"a": ["x", {"b": "\\f"}]}', "U+000C"),  # deep, escaped
        ("[" * 33 + "1" + "]" * 33, "nested more than 32 levels"),  # no string at all: depth alone
    ],
)
def test_the_strict_reader_refuses_a_forbidden_character_or_depth_however_written(
    tmp_path: Path, text: str, found: str
) -> None:
    path = tmp_path / "r.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(RecordError, match=re.escape(found)):
        read_json(path)
    path.write_text("[" * 32 + '"plain é \\u00e9 text"' + "]" * 32, encoding="utf-8")
    assert read_json(path) is not None  # 32 levels and ordinary text, escaped or not: accepted


def test_every_ascii_character_is_judged_alike_by_the_fast_and_the_full_check() -> None:
    from generator import safe_read

    for code in range(128):
        text = f'{{"a": "{chr(code)}"}}'
        assert safe_read._holds_forbidden_character(text) == bool(safe_read._FORBIDDEN_CHARACTER.search(text)), code
