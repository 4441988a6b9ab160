"""schemathesis against the running server's /openapi.json: generated valid and invalid requests to
every operation never get a 500, and every response matches the documented status codes, content type
and schema (including the one error shape). The default run is bounded (a few examples per
operation); the slow run explores more."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from api_live_server import live_server

CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
UNLIMITED = {"burst": 1_000_000, "per_second": 1_000_000.0}


def _fuzz(tmp_path: Path, *limits: str) -> None:
    pytest.importorskip("schemathesis", reason="schemathesis is not installed (pip install -r requirements.txt)")
    with live_server(tmp_path, user_rate=UNLIMITED, ip_rate=UNLIMITED, login_max_failures=10**6) as s:
        s.add_user("fuzzer", admin=True)
        token = s.login("fuzzer")["access_token"]
        out = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{s.url}/openapi.json", "-H", f"Authorization: Bearer {token}", "-c", CHECKS,
             "--seed", "7", "--request-timeout", "120", "--generation-database", "none", "--no-color",
             # logout would revoke the fuzzer's own token (it is tested in test_auth)
             "--exclude-path", "/api/v1/auth/logout", *limits],
            capture_output=True, text=True, timeout=900, cwd=tmp_path)  # its cache goes to tmp, not the repo
    assert out.returncode == 0, out.stdout[-8000:] + out.stderr[-2000:]


def test_schemathesis_bounded(tmp_path: Path) -> None:
    _fuzz(tmp_path, "--phases", "examples,coverage,fuzzing", "-n", "3", "--max-time", "45")


@pytest.mark.slow
def test_schemathesis_thorough(tmp_path: Path) -> None:
    _fuzz(tmp_path, "-n", "30", "--max-time", "300")
