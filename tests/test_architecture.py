"""The layer contract in pyproject.toml: lower layers never import higher ones."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_layers_point_down():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("import-linter not installed")
    out = subprocess.run([exe], cwd=REPO, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 kept, 0 broken" in out.stdout


def test_domain_has_no_io_imports():
    banned = ("sqlalchemy", "pandas", "requests", "zmq", "open(")
    for f in (REPO / "nofx" / "domain").glob("*.py"):
        text = f.read_text()
        for b in banned:
            assert f"import {b}" not in text and f"from {b}" not in text, f"{f.name} imports {b}"
