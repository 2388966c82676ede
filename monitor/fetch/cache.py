"""On-disk cache of EDGAR responses, laid out like the URLs: `{cache_dir}/{host}/{path}`.

Each body has a `.meta.json` beside it with its validators (ETag, Last-Modified) and a
SHA-256, so a body cut short by a crash is never served. Writes are atomic.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

META_SUFFIX = ".meta.json"


@dataclass(frozen=True, slots=True, kw_only=True)
class CachedResponse:
    body: bytes
    etag: str | None
    last_modified: str | None


class ResponseCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path_for(self, url: str) -> Path:
        parts = urlsplit(url)
        segments = [s for s in parts.path.split("/") if s not in ("", ".", "..")]
        name = "/".join(segments) or "index"
        if parts.query:
            name += "__" + hashlib.sha256(parts.query.encode()).hexdigest()[:16]
        return self.root / parts.netloc.replace(":", "_") / name

    def get(self, url: str) -> CachedResponse | None:
        path = self.path_for(url)
        try:
            meta = json.loads((path.parent / (path.name + META_SUFFIX)).read_text("utf-8"))
            body = path.read_bytes()
        except (OSError, ValueError):
            return None
        if not isinstance(meta, dict) or hashlib.sha256(body).hexdigest() != meta.get("sha256"):
            return None
        return CachedResponse(
            body=body, etag=meta.get("etag"), last_modified=meta.get("last_modified")
        )

    def put(self, url: str, body: bytes, *, etag: str | None, last_modified: str | None) -> None:
        path = self.path_for(url)
        meta = {
            "url": url,
            "sha256": hashlib.sha256(body).hexdigest(),
            "etag": etag,
            "last_modified": last_modified,
        }
        _write_atomic(path, body)
        _write_atomic(path.parent / (path.name + META_SUFFIX), json.dumps(meta).encode())


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
