"""The package as it is installed: every package folder listed, and the SQL carried inside it."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_package_folder_is_listed_for_the_wheel():
    listed = set(_pyproject()["tool"]["setuptools"]["packages"])
    on_disk = {
        ".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "audit_toolkit").rglob("__init__.py")
    }
    assert on_disk | {"audit_toolkit.sql"} == listed


def test_the_wheel_maps_the_top_level_queries_folder_into_the_package():
    tool = _pyproject()["tool"]["setuptools"]
    assert tool["package-dir"] == {"audit_toolkit.sql": "queries"}
    patterns = tool["package-data"]["audit_toolkit.sql"]
    shipped = {p for pattern in patterns for p in (ROOT / "queries").glob(pattern)}
    assert shipped == set((ROOT / "queries").rglob("*.sql"))
