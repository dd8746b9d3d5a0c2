"""Where the command line finds the templates, the MkDocs configuration and its default folders.

In a source checkout they are the repository's own ``templates/`` and
``mkdocs.yml`` and the default folders sit in the repository, as before. An
installed package (``pip install '.[render]'``, not editable) carries copies of
both inside the wheel, as ``generator/site_files/`` (setup.py's build step puts
them there), and its default folders are the current working folder's, since
site-packages is no place for records or a site.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
CHECKOUT_ROOT = PACKAGE_DIR.parent
SHIPPED_DIR = PACKAGE_DIR / "site_files"  # must match setup.py


def in_checkout() -> bool:
    """True when this package runs from the repository (plain or editable), not from a wheel."""
    return (CHECKOUT_ROOT / "pyproject.toml").is_file() and (CHECKOUT_ROOT / "templates").is_dir()


def work_root() -> Path:
    """The folder that holds measurements/, site/ and build/ by default."""
    return CHECKOUT_ROOT if in_checkout() else Path.cwd()


def templates_dir() -> Path:
    return (CHECKOUT_ROOT if in_checkout() else SHIPPED_DIR) / "templates"


def mkdocs_config() -> Path:
    return (CHECKOUT_ROOT if in_checkout() else SHIPPED_DIR) / "mkdocs.yml"


def is_shipped_config(config_file: Path) -> bool:
    """The wheel's copy of mkdocs.yml: its relative docs_dir and site_dir would point into site-packages."""
    try:
        return config_file.resolve() == (SHIPPED_DIR / "mkdocs.yml").resolve()
    except OSError:
        return False
