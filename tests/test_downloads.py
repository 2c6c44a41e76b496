"""Dataset downloads (mvlm_distill/data/adapters/_common.py): resumed after a lost connection or a
killed run, retried with backoff, checked against the size and checksum the adapter knows (else the
server's Content-Length), written atomically. A local HTTP server stands in for the dataset hosts."""

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from mvlm_distill.data.adapters import _common as C

CONTENT = bytes(range(256)) * 400  # 102,400 bytes


class Server:
    """Serves ``content`` at any path, with HTTP Range and If-Range (strong ETag) unless ``ranges`` is off.

    ``fail``: statuses answered first, one a request (503: retried, 404: not); ``drop``: bytes of
    the body after which the next responses break the connection (one a request); ``requests``: the
    Range and If-Range headers of every request."""

    def __init__(self):
        self.content, self.etag, self.ranges = CONTENT, '"v1"', True
        self.fail, self.drop, self.requests = [], [], []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                server.requests.append((self.headers.get("Range"), self.headers.get("If-Range")))
                if server.fail:
                    self.send_error(server.fail.pop(0))
                    return
                body, start = server.content, 0
                wanted = self.headers.get("Range")
                if_range = self.headers.get("If-Range")
                if server.ranges and wanted and (if_range is None or if_range == server.etag):
                    start = int(wanted.removeprefix("bytes=").split("-")[0])
                    if start >= len(body):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(body)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(body) - start))
                self.send_header("ETag", server.etag)
                self.end_headers()
                sent = body[start:]
                if server.drop:  # the connection breaks midway: fewer bytes than Content-Length
                    sent = sent[: server.drop.pop(0)]
                self.wfile.write(sent)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/data/archive.zip"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


def fetch(server, dest, **kwargs):
    C.fetch_url(server.url, dest, backoff=0, timeout=10, **kwargs)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith((".part", ".part.json")))


def test_a_lost_connection_is_resumed_from_where_it_broke(server, tmp_path):
    dest = tmp_path / "archive.zip"
    server.drop = [40_000, 30_000]
    fetch(server, dest)
    assert dest.read_bytes() == CONTENT
    assert server.requests == [(None, None), ("bytes=40000-", '"v1"'), ("bytes=70000-", '"v1"')]
    assert leftovers(tmp_path) == []


def test_a_killed_run_resumes_its_partial_file(server, tmp_path):
    dest = tmp_path / "archive.zip"
    server.drop = [50_000]
    with pytest.raises(C.DownloadError) as err:
        fetch(server, dest, attempts=1)
    assert str(err.value) == (f"Download of {server.url} to {dest} failed after 1 attempt (last: connection closed after "
                              f"50,000 of 102,400 bytes); 50,000 bytes are kept in {dest}.part, rerun to resume from there.")
    assert not dest.exists() and leftovers(tmp_path) == ["archive.zip.part", "archive.zip.part.json"]
    fetch(server, dest)  # the next run
    assert dest.read_bytes() == CONTENT
    assert server.requests[-1] == ("bytes=50000-", '"v1"')


def test_a_file_changed_on_the_server_starts_over_instead_of_mixing_versions(server, tmp_path):
    dest = tmp_path / "archive.zip"
    server.drop = [50_000]
    with pytest.raises(C.DownloadError):
        fetch(server, dest, attempts=1)
    server.content, server.etag = CONTENT[::-1], '"v2"'
    fetch(server, dest)
    assert dest.read_bytes() == CONTENT[::-1]
    assert server.requests[-1] == ("bytes=50000-", '"v1"')  # If-Range did not match: the whole new file came


def test_a_server_without_ranges_sends_the_whole_file_again(server, tmp_path):
    server.ranges, server.drop = False, [60_000]
    dest = tmp_path / "archive.zip"
    fetch(server, dest)
    assert dest.read_bytes() == CONTENT and len(server.requests) == 2


def test_a_complete_partial_file_is_finished_without_downloading_again(server, tmp_path):
    dest = tmp_path / "archive.zip"
    (tmp_path / "archive.zip.part").write_bytes(CONTENT)
    fetch(server, dest)
    assert dest.read_bytes() == CONTENT and server.requests == [(f"bytes={len(CONTENT)}-", None)]


def test_server_errors_are_retried_and_a_missing_file_is_not(server, tmp_path):
    server.fail = [503, 502]
    fetch(server, tmp_path / "a.zip")
    assert (tmp_path / "a.zip").read_bytes() == CONTENT and len(server.requests) == 3

    server.fail, server.requests = [503, 503, 503], []
    with pytest.raises(C.DownloadError, match=r"failed after 3 attempts \(last: HTTP 503 Service Unavailable\)"):
        fetch(server, tmp_path / "b.zip", attempts=3)
    assert len(server.requests) == 3

    server.fail, server.requests = [404], []
    with pytest.raises(C.DownloadError) as err:
        fetch(server, tmp_path / "c.zip")
    assert str(err.value) == f"Download of {server.url} failed: HTTP 404 Not Found."
    assert len(server.requests) == 1 and leftovers(tmp_path) == []


def test_a_wrong_checksum_is_refused_and_the_file_deleted(server, tmp_path):
    dest = tmp_path / "archive.zip"
    wrong = "0" * 64
    with pytest.raises(C.DownloadError) as err:
        fetch(server, dest, checksum=f"sha256:{wrong}")
    actual = hashlib.sha256(CONTENT).hexdigest()
    assert str(err.value) == (
        f"Download of {server.url} to {dest} has sha256 {actual}, expected {wrong}; the file was deleted: rerun "
        "to fetch it again, and if this repeats the server no longer serves the release the adapter knows.")
    assert not dest.exists() and leftovers(tmp_path) == []
    fetch(server, dest, checksum=f"md5:{hashlib.md5(CONTENT).hexdigest()}", size=len(CONTENT))
    assert dest.read_bytes() == CONTENT


def test_a_wrong_size_is_refused(server, tmp_path):
    dest = tmp_path / "archive.zip"
    with pytest.raises(C.DownloadError, match=f"to {dest} has 102,400 bytes, expected 102,401; the file was deleted"):
        fetch(server, dest, size=len(CONTENT) + 1)
    assert not dest.exists() and leftovers(tmp_path) == []


def test_fetch_all_hands_over_what_the_adapter_knows(tmp_path):
    calls = []
    items = [("u1", tmp_path / "a"), ("u2", tmp_path / "b", {"size": 3, "checksum": "md5:x"})]
    C.fetch_all(items, lambda url, dest, **known: calls.append((url, known)))
    assert calls == [("u1", {}), ("u2", {"size": 3, "checksum": "md5:x"})]
    assert C.COCO_2014_ZIPS["val"]["size"] == 6_645_013_297


def test_the_validator_file_is_json_with_the_url(server, tmp_path):
    dest = tmp_path / "archive.zip"
    server.drop = [10]
    with pytest.raises(C.DownloadError):
        fetch(server, dest, attempts=1)
    assert json.loads((tmp_path / "archive.zip.part.json").read_text()) == {"url": server.url, "validator": '"v1"'}
