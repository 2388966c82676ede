"""Mirror mode: the same client reads a {host}/{path} directory through MirrorTransport."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from monitor.errors import FetchError, NotFoundError
from monitor.fetch.client import EdgarClient
from monitor.fetch.mirror import MirrorTransport
from monitor.settings import EdgarSettings

NVDA_10K = "https://www.sec.gov/Archives/edgar/data/1045810/000104581025000023/nvda-20250126.htm"


def test_mirror_mode_serves_files_in_place_without_cache_or_user_agent(
    mirror: Path, tmp_path: Path
) -> None:
    settings = EdgarSettings(mirror=mirror, cache_dir=tmp_path / "cache")
    with EdgarClient(settings) as client:
        body = client.get(NVDA_10K)
        with pytest.raises(NotFoundError):
            client.get("https://www.sec.gov/Archives/edgar/data/1045810/not-mirrored.htm")
    assert (
        body
        == (
            mirror / "www.sec.gov/Archives/edgar/data/1045810/000104581025000023/nvda-20250126.htm"
        ).read_bytes()
    )
    assert not (tmp_path / "cache").exists()


@pytest.fixture
def small_mirror(tmp_path: Path) -> Path:
    """A hand-made mirror with a secret beside it and a symlink pointing out."""
    root = tmp_path / "mirror"
    (root / "www.sec.gov" / "files").mkdir(parents=True)
    (root / "www.sec.gov" / "files" / "ok.txt").write_text("inside")
    (tmp_path / "secret.txt").write_text("outside")
    (root / "www.sec.gov" / "files" / "link.txt").symlink_to(tmp_path / "secret.txt")
    return root


@pytest.mark.parametrize(
    "raw_path",
    [
        b"/files/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        b"/files/..%2f..%2f..%2fsecret.txt",
        b"/%2e%2e/%2e%2e/secret.txt",
        b"/files/link.txt",
    ],
)
def test_mirror_transport_refuses_paths_outside(small_mirror: Path, raw_path: bytes) -> None:
    transport = MirrorTransport(small_mirror)
    url = httpx.URL("https://www.sec.gov").copy_with(raw_path=raw_path)
    response = transport.handle_request(httpx.Request("GET", url))
    assert response.status_code == 403
    assert b"outside" in response.read()  # the refusal text, never the secret's bytes
    assert response.content != b"outside"


def test_mirror_transport_refuses_odd_hosts(small_mirror: Path) -> None:
    transport = MirrorTransport(small_mirror)
    assert transport.locate("..", "/secret.txt") is None
    assert (
        transport.locate("www.sec.gov", "/files/ok.txt")
        == (small_mirror / "www.sec.gov/files/ok.txt").resolve()
    )


def test_client_reports_a_refused_path_as_a_fetch_error(small_mirror: Path) -> None:
    settings = EdgarSettings(mirror=small_mirror)
    with EdgarClient(settings) as client:
        assert client.get("https://www.sec.gov/files/ok.txt") == b"inside"
        with pytest.raises(FetchError, match="403") as caught:
            client.get("https://www.sec.gov/files/%2e%2e/%2e%2e/secret.txt")
    assert not isinstance(caught.value, NotFoundError)
