"""Ships the repository's ``templates/`` and ``mkdocs.yml`` inside the wheel.

The project keeps both at the top level of the repository (where people edit
them and GitHub shows them); setuptools only packages files under a package, so
the build step copies them to ``generator/site_files/``, where
``generator/project_files.py`` looks for them when running from an install.
Everything else about the package is declared in pyproject.toml.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
SHIPPED = ("templates", "mkdocs.yml")
TARGET = ("generator", "site_files")  # must match generator/project_files.py


class BuildPyWithSiteFiles(build_py):
    def run(self) -> None:
        super().run()
        target = Path(self.build_lib).joinpath(*TARGET)
        for name in SHIPPED:
            source = HERE / name
            if source.is_dir():
                shutil.copytree(
                    source, target / name, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
                )
            else:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target / name)


setup(cmdclass={"build_py": BuildPyWithSiteFiles})
