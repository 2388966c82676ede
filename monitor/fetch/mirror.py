"""An httpx transport that answers from a directory laid out as `{host}/{path}`.

`../shared/edgar/www.sec.gov/Archives/...` answers `https://www.sec.gov/Archives/...`.
What is not there gets 404, as from any partial mirror; a path that would leave the
directory (`..`, encoded or not, or a symlink out) gets 403 and is never read.
"""

from __future__ import annotations

import mimetypes
import re
from pathlib import Path
from urllib.parse import unquote

import httpx

_HOST = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")


class MirrorTransport(httpx.BaseTransport):
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method not in ("GET", "HEAD"):
            return _text_response(405, "the mirror is read-only", request)
        path = self.locate(request.url.host, request.url.path)
        if path is None:
            return _text_response(403, "path outside the mirror directory refused", request)
        if not path.is_file():
            return _text_response(404, f"not in the mirror: {request.url.path}", request)
        body = path.read_bytes()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        return httpx.Response(
            200,
            headers={"Content-Type": content_type, "Content-Length": str(len(body))},
            content=body if request.method == "GET" else b"",
            request=request,
        )

    def locate(self, host: str, url_path: str) -> Path | None:
        """The file for host + path, or None when it would fall outside the mirror."""
        if not _HOST.fullmatch(host) or ".." in host:
            return None
        relative = unquote(url_path).lstrip("/")
        if "\x00" in relative:
            return None
        candidate = (self.root / host / relative).resolve()
        if not candidate.is_relative_to(self.root / host):
            return None
        return candidate


def _text_response(status: int, text: str, request: httpx.Request) -> httpx.Response:
    return httpx.Response(status, text=text, request=request)
