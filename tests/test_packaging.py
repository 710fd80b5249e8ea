"""The package as it is installed: every package folder listed, and the SQL carried inside it."""

import re
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


# conda-forge names the Python bindings of two C libraries differently from PyPI.
_CONDA_NAMES = {"duckdb": "python-duckdb", "isal": "python-isal"}


def _environment_yml() -> set[str]:
    import yaml

    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    listed = set()
    for dep in env["dependencies"]:
        items = dep["pip"] if isinstance(dep, dict) else [dep]
        listed |= {i.split("#")[0].strip() for i in items}
    return {d for d in listed if d and not d.startswith(("python=", "pip", "-e "))}


def test_environment_yml_lists_exactly_the_dependencies_of_pyproject():
    project = _pyproject()["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["notebooks"]
    expected = set()
    for dep in wanted:
        name = re.match(r"[A-Za-z0-9_.-]+", dep)[0]
        expected.add(_CONDA_NAMES.get(name, name) + dep[len(name):])
    assert _environment_yml() == expected


def test_pip_install_alone_cannot_pick_a_botocore_the_suite_has_not_passed_with():
    deps = _pyproject()["project"]["dependencies"]
    pinned = {line.split("==")[0]: line.split("==")[1].strip()
              for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line}
    for name in ("boto3", "botocore"):
        (spec,) = [d for d in deps if d.split(">")[0] == name]
        assert "<" in spec, f"{name} has no upper bound in pyproject.toml"
        upper = spec.split("<")[1]
        assert tuple(map(int, pinned[name].split("."))) < tuple(map(int, upper.split(".")))


def test_every_library_the_package_imports_is_declared_not_only_pulled_in_by_another():
    """yaml came only through pysigma: a pysigma that dropped it would break `detect --sigma`."""
    import ast
    import sys
    from importlib.metadata import packages_distributions

    imported = set()
    for path in (ROOT / "audit_toolkit").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                imported.add(node.module.split(".")[0])
    third_party = imported - set(sys.stdlib_module_names) - {"audit_toolkit"}
    declared = {re.split(r"[<>=\[ ;]", d, maxsplit=1)[0].lower().replace("_", "-")
                for d in _pyproject()["project"]["dependencies"]}
    dists = packages_distributions()
    undeclared = {m for m in third_party if not {d.lower().replace("_", "-") for d in dists.get(m, [m])} & declared}
    assert undeclared == set()
