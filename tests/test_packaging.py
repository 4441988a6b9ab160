"""`pip install .` must give a working `nofx` (issue 9: `dependencies = []` left typer out): every
third-party module nofx imports is declared in pyproject.toml, the core commands' modules in the core
dependencies (torch, ray, lightgbm, torch-geometric and stable-baselines3 only as extras), with the
same specifiers as requirements.txt, which scripts/setup.sh installs after the CPU torch."""

from __future__ import annotations

import ast
import functools
import json
import re
import subprocess
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

import nofx

ROOT = Path(nofx.__file__).resolve().parents[1]  # the checkout whose nofx is tested
EXTRAS_ONLY = {"torch", "ray", "lightgbm", "torch-geometric", "stable-baselines3"}


def _name(requirement: str) -> str:
    return re.split(r"[\[<>=!~; ]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _core() -> dict[str, str]:
    return {_name(r): r for r in _project()["dependencies"]}


def _extras() -> dict[str, str]:
    out = {}
    for reqs in _project().get("optional-dependencies", {}).values():
        out.update({_name(r): r for r in reqs if not r.startswith("nofx")})
    return out


def _requirements() -> dict[str, str]:
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return {_name(ln): ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")}


@functools.cache
def _module_owners() -> dict[str, list[str]]:
    return packages_distributions()  # scans every installed distribution: once per session


def _distribution(module: str) -> str | None:
    dists = _module_owners().get(module)
    return _name(dists[0]) if dists else None


def _imported_modules() -> set[str]:
    mods = set()
    for path in (ROOT / "nofx").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                mods |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods.add(node.module.split(".")[0])
    return {m for m in mods if m != "nofx" and m not in sys.stdlib_module_names}


def test_every_requirement_is_declared_with_the_same_specifier():
    declared = {**_extras(), **_core()}
    for name, line in _requirements().items():
        assert name in declared, f"{name} is in requirements.txt but not in pyproject.toml"
        assert declared[name].replace(" ", "") == line.replace(" ", ""), (declared[name], line)


def test_every_imported_third_party_module_is_declared():
    # declared, or installed by what is declared (nofx imports starlette, which fastapi brings)
    installed_with = _closure(set(_core()) | set(_extras()))
    for module in sorted(_imported_modules()):
        dist = _distribution(module)
        assert dist is not None, f"nofx imports {module}, which no installed distribution provides"
        assert dist in installed_with, f"nofx imports {module} ({dist}) but pyproject.toml does not declare it"


def test_heavy_stacks_are_extras_and_core_commands_need_only_core_dependencies():
    core = set(_core())
    assert not (core & EXTRAS_ONLY)
    assert EXTRAS_ONLY <= set(_extras())
    # what the CLI imports to list and parse every command must come from the core dependencies
    probe = ("import sys, json\nfrom nofx.cli.main import main\ntry:\n    main(['--help'])\n"
             "except SystemExit:\n    pass\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    loaded = set(json.loads(r.stdout.strip().splitlines()[-1]))
    # the third-party modules nofx's own code imports that the CLI loaded (libraries' optional imports,
    # such as rich trying attrs, are theirs to declare)
    for module in sorted(loaded & _imported_modules()):
        dist = _distribution(module)
        assert dist in core, f"`nofx --help` imports {module} ({dist}), not a core dependency"
    assert {"typer", "rich"} <= loaded


def _closure(names: set[str]) -> set[str]:
    """``names`` and everything they require (without extras), as installed."""
    from importlib.metadata import PackageNotFoundError, requires

    seen, todo = set(), list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = requires(name) or []
        except PackageNotFoundError:
            continue
        todo.extend(_name(r) for r in reqs if "extra ==" not in r)
    return seen


def test_the_wheel_holds_every_file_of_the_package(tmp_path):
    """`pip install .` ships what nofx reads at run time: rule tables, calendars' closures, the bundled
    data slice and its sidecar, prompt templates, Alembic's migrations and template. Built as a clean
    clone would build it (the tracked files only), offline, with the setuptools already installed."""
    import shutil
    import zipfile

    import pytest

    tracked = subprocess.run(["git", "ls-files", "-z", "nofx", "pyproject.toml", "README.md"], cwd=ROOT,
                             capture_output=True, text=True)
    if tracked.returncode != 0:
        pytest.skip(f"not a git checkout: {ROOT}")
    files = [f for f in tracked.stdout.split("\0") if f]
    src = tmp_path / "src"
    for f in files:
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, src / f)
    out = tmp_path / "wheel"
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
                        "-q", "-w", str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    (wheel,) = out.glob("nofx-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    package_files = [f for f in files if f.startswith("nofx/")]
    missing = [f for f in package_files if f not in shipped]
    assert missing == [], f"{len(missing)} package file(s) not in the wheel (pyproject package-data?): {missing[:10]}"
    assert any(f.endswith(".parquet") for f in shipped) and any("/migrations/versions/" in f for f in shipped)
