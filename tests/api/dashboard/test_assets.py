"""The dashboard's files as a browser fetches them from a running server: the page, every module it
imports (transitively), the stylesheet and icon, and plotly.js from the installed plotly package
(gzip-compressed, cached by version). Nothing may point off the server: the dashboard works offline."""

from __future__ import annotations

import re
from pathlib import Path

import plotly

from nofx.api.dashboard import STATIC

IMPORT = re.compile(r"""(?:import|from)\s*(?:[^'"]*?from\s*)?["'](\.{1,2}/[^"']+)["']""")


def _module_graph() -> set[str]:
    """Every JS module reachable from app.js, as /assets/... URLs."""
    seen: set[str] = set()
    todo = ["js/app.js"]
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        base = (STATIC / rel).parent
        for spec in IMPORT.findall((STATIC / rel).read_text()):
            todo.append((base / spec).resolve().relative_to(STATIC.resolve()).as_posix())
    return {f"/assets/{r}" for r in seen}


def test_page_and_every_module_it_loads_are_served(server) -> None:  # type: ignore[no-untyped-def]
    with server.client() as c:
        page = c.get("/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        refs = set(re.findall(r'(?:src|href)="(/[^"]+)"', page.text))
        assert {"/assets/js/app.js", "/assets/css/app.css", "/assets/favicon.svg"} <= refs
        modules = _module_graph()
        assert "/assets/js/pages/trader.js" in modules and len(modules) >= 10
        for url in refs | modules:
            r = c.get(url)
            assert r.status_code == 200, url
            assert "max-age" in r.headers["cache-control"] and "no-store" not in r.headers["cache-control"], url
            if url.endswith(".js"):
                assert "javascript" in r.headers["content-type"], url  # module scripts need a JS type
        assert c.get("/assets/../__init__.py").status_code == 404
        assert c.get("/assets/%2e%2e/__init__.py").status_code == 404
        assert c.get("/api/v1/me").headers["cache-control"] == "no-store"  # API answers are still never cached


def test_no_asset_points_off_the_server() -> None:
    for path in STATIC.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".js", ".css"):
            text = path.read_text()
            assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), path  # no CDN or remote URL
            assert "@import url(" not in text, path


def test_plotly_comes_from_the_installed_package_compressed_and_cached(server) -> None:  # type: ignore[no-untyped-def]
    raw = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
    with server.client() as c:
        z = c.get("/vendor/plotly.min.js", headers={"Accept-Encoding": "gzip"})
        assert z.status_code == 200 and z.headers["content-encoding"] == "gzip"
        assert int(z.headers["content-length"]) < len(raw) / 2  # compressed on the wire ...
        assert z.content == raw  # ... and exactly the package's file once decoded (httpx decodes)
        plain = c.get("/vendor/plotly.min.js", headers={"Accept-Encoding": "identity"})
        assert "content-encoding" not in plain.headers and plain.content == raw
        etag = z.headers["etag"]
        assert plotly.__version__ in etag and "immutable" in z.headers["cache-control"]
        assert c.get("/vendor/plotly.min.js", headers={"If-None-Match": etag}).status_code == 304


def test_dashboard_routes_stay_out_of_the_api_schema(server) -> None:  # type: ignore[no-untyped-def]
    with server.client() as c:
        paths = c.get("/openapi.json").json()["paths"]
    assert "/" not in paths and not any(p.startswith(("/assets", "/vendor")) for p in paths)
    assert {"/api/v1/strategies", "/api/v1/symbols"} <= set(paths)
