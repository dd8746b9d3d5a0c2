"""The package as a user installs it: a built wheel, not this checkout, renders and builds from any folder.

The wheel is built from a copy of the files a release ships and installed with
``pip install --no-deps`` into a fresh virtual environment that cannot see this
repository. Its dependencies (jinja2, altair, mkdocs, ...) come from the test's
own environment through a ``.pth`` line: downloading them again would make the
test slow and need a network, and they are not what is under test. About 30 s,
most of it the render and the strict MkDocs build.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from generator import project_files

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO / "tests" / "fixtures" / "measurements"
# What an sdist carries (MANIFEST.in plus the package): the wheel is built from these only.
RELEASE_FILES = ("generator", "templates", "mkdocs.yml", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md")


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "PYTHONHOME"}}
    result = subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, f"{command}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def test_checkout_uses_its_own_templates_and_config() -> None:
    assert project_files.in_checkout()
    assert project_files.templates_dir() == REPO / "templates"
    assert project_files.mkdocs_config() == REPO / "mkdocs.yml"
    assert project_files.work_root() == REPO


def test_installed_wheel_renders_and_builds_from_another_folder(tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    for name in RELEASE_FILES:
        path = REPO / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(path, source / name)
    # --no-build-isolation: setuptools from this environment, no download.
    _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
          "--wheel-dir", str(tmp_path / "dist"), str(source)], cwd=tmp_path)
    wheel = next((tmp_path / "dist").glob("canziani_report-*.whl"))

    venv = tmp_path / "venv"
    _run([getattr(sys, "_base_executable", sys.executable), "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    purelib = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        cwd=tmp_path).stdout.strip())
    # A plain path line: the dependencies become importable, but this environment's own .pth
    # files (an editable install of this checkout) are not run, so the checkout stays unseen.
    (purelib / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps", str(wheel)],
         cwd=tmp_path)

    work = tmp_path / "elsewhere"
    work.mkdir()
    installed = _run([str(python), "-c", "import generator; print(generator.__file__)"], cwd=work).stdout
    assert installed.startswith(str(purelib)), installed
    # A few records are enough to exercise every template; the full fixture set only costs time.
    for run in ("fixture-cpu-2t", "fixture-gpu"):
        for name in ("resnet18.json", "resnet50.json", "mobilenet_v3_large.json"):
            (source,) = (FIXTURES / run / "fp32").rglob(name)  # <machine>/<config>/<software>/<model>.json
            target = work / "measurements" / source.relative_to(FIXTURES)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    command = str(venv / "bin" / "canziani-report")
    _run([command, "render"], cwd=work)
    assert (work / "site" / "models" / "resnet50.md").is_file()
    assert (work / "site" / "assets" / "charts.js").is_file()  # the shipped templates' assets
    _run([command, "build"], cwd=work)
    assert (work / "build" / "site" / "index.html").is_file()
    assert (work / "build" / "site" / "models" / "resnet50.html").is_file()
    assert not (purelib / "site").exists() and not (purelib / "build").exists()
