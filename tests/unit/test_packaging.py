"""The distribution maps every package folder to a specific import name."""

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _declared_folders() -> dict[str, Path]:
    setuptools = _pyproject()["tool"]["setuptools"]
    mapping = setuptools["package-dir"]
    folders = {}
    for package in setuptools["packages"]:
        for prefix in sorted(mapping, key=len, reverse=True):
            if package == prefix or package.startswith(prefix + "."):
                rest = package[len(prefix) :].lstrip(".").replace(".", "/")
                folders[package] = ROOT / mapping[prefix] / rest
                break
    return folders


def test_every_package_folder_is_declared():
    declared = {path.resolve() for path in _declared_folders().values()}
    on_disk = {
        init.parent.resolve()
        for top in ("libs", "services", "gen")
        for init in (ROOT / top).rglob("__init__.py")
    }
    assert sorted(map(str, on_disk - declared)) == []


def test_every_declared_package_exists():
    missing = [name for name, path in _declared_folders().items() if not (path / "__init__.py").is_file()]
    assert missing == []


def test_no_generic_top_level_import_names():
    tops = {name.split(".")[0] for name in _pyproject()["tool"]["setuptools"]["packages"]}
    assert tops.isdisjoint({"libs", "services", "gen", "tests", "utils"})
