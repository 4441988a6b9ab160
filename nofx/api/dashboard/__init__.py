"""The web dashboard that ``nofx serve`` serves at ``/``: a static single-page app (plain HTML, CSS and
JavaScript modules under ``static/``, no build step) that talks to the ``/api/v1`` endpoints and the
``/api/v1/ws`` WebSocket like any other client.

Every asset comes from this package or an installed one (no CDN), so the dashboard works offline.
The chart library is plotly.js from the installed ``plotly`` package (``/vendor/plotly.min.js``), sent
gzip-compressed (about a third of its 4.6 MB) and cached by the browser by its version.
"""

from __future__ import annotations

import gzip
import threading
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

STATIC = Path(__file__).with_name("static")
_ASSET_CACHE = "public, max-age=300"  # the app's own files: short, they change with nofx
_VENDOR_CACHE = "public, max-age=604800, immutable"  # plotly.js: keyed by its version (ETag)


class _Plotly:
    """plotly.min.js of the installed plotly package, read and gzip-compressed once, on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._raw: bytes | None = None
        self._gz: bytes | None = None
        self.etag = ""

    def load(self) -> tuple[bytes, bytes]:
        with self._lock:
            if self._raw is None:
                import plotly

                path = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
                self._raw = path.read_bytes()
                self._gz = gzip.compress(self._raw, compresslevel=6, mtime=0)
                self.etag = f'"plotly-{plotly.__version__}-{len(self._raw)}"'
            assert self._gz is not None
            return self._raw, self._gz


def install(app: FastAPI) -> None:
    """Serve the dashboard: ``/`` (the page), ``/assets/*`` (its files), ``/vendor/plotly.min.js``."""
    plotly_js = _Plotly()

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html", headers={"Cache-Control": "no-cache"})

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    async def plotly(request: Request) -> Response:
        raw, gz = await run_in_threadpool(plotly_js.load)
        headers = {"Cache-Control": _VENDOR_CACHE, "ETag": plotly_js.etag, "Vary": "Accept-Encoding"}
        if request.headers.get("if-none-match") == plotly_js.etag:
            return Response(status_code=304, headers=headers)
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(gz, media_type="text/javascript", headers={**headers, "Content-Encoding": "gzip"})
        return Response(raw, media_type="text/javascript", headers=headers)

    app.mount("/assets", _Assets(directory=STATIC), name="dashboard-assets")


class _Assets(StaticFiles):
    """The dashboard's own files (StaticFiles refuses paths outside ``static/``) with a short cache."""

    def file_response(self, *args, **kwargs) -> Response:  # type: ignore[no-untyped-def,override]
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = _ASSET_CACHE
        return response
