"""Tests for course.fetch, served from a loopback HTTP server (no network needed)."""

import hashlib
import io
import os
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from course.fetch import DataFileError, RemoteFile, check_npz, fetch, sha256_of

EXPECTED = {"x": ((None, 4), "uint8"), "y": ((None,), "int64")}


def npz_bytes(offset: int = 0) -> bytes:
    """A small .npz matching EXPECTED; a different offset gives different bytes, same structure."""
    buffer = io.BytesIO()
    x = (np.arange(12).reshape(3, 4) + offset).astype(np.uint8)
    np.savez(buffer, x=x, y=np.arange(3, dtype=np.int64))
    return buffer.getvalue()


def check(path):
    check_npz(path, EXPECTED)


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        self.server.hits.append(self.path)
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        # Paths starting with /truncated promise more bytes than they send, then hang up.
        claimed = len(body) + (100 if self.path.startswith("/truncated") else 0)
        self.send_response(200)
        self.send_header("Content-Length", str(claimed))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.files, httpd.hits = {}, []
    httpd.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    # A short poll interval makes shutdown() return quickly (the default waits up to 0.5 s).
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture(autouse=True)
def no_shared_dir(monkeypatch):
    monkeypatch.delenv("DL_DATA_DIR", raising=False)


def serve(server, name, body, sha256=None):
    """Serve body at /<name> and describe it as a RemoteFile stored at ds/<name>."""
    server.files[f"/{name}"] = body
    sha = sha256 or hashlib.sha256(body).hexdigest()
    return RemoteFile(f"ds/{name}", f"{server.url}/{name}", sha, check)


def test_download_is_verified_and_leaves_no_temp_files(server, tmp_path):
    body = npz_bytes()
    remote = serve(server, "a.npz", body)
    path = fetch(remote, cache_dir=tmp_path, progress=False)
    assert path == tmp_path / "ds" / "a.npz"
    assert path.read_bytes() == body
    assert sha256_of(path) == remote.sha256
    assert os.listdir(path.parent) == ["a.npz"]


def test_second_call_uses_the_cache(server, tmp_path):
    remote = serve(server, "a.npz", npz_bytes())
    first = fetch(remote, cache_dir=tmp_path, progress=False)
    second = fetch(remote, cache_dir=tmp_path, progress=False)
    assert first == second
    assert server.hits == ["/a.npz"]


def test_hash_mismatch_names_both_hashes_and_leaves_nothing(server, tmp_path):
    body = npz_bytes()
    remote = serve(server, "a.npz", body, sha256="0" * 64)
    with pytest.raises(DataFileError) as info:
        fetch(remote, cache_dir=tmp_path, progress=False)
    assert "0" * 64 in str(info.value)
    assert hashlib.sha256(body).hexdigest() in str(info.value)
    assert os.listdir(tmp_path / "ds") == []


def test_truncated_download_leaves_nothing(server, tmp_path):
    body = npz_bytes()
    remote = serve(server, "truncated.npz", body)
    with pytest.raises(DataFileError, match=f"{len(body)} of {len(body) + 100} bytes"):
        fetch(remote, cache_dir=tmp_path, progress=False)
    assert os.listdir(tmp_path / "ds") == []


def test_download_failing_its_check_is_not_kept(server, tmp_path):
    remote = serve(server, "a.npz", b"published, but not an npz")
    with pytest.raises(DataFileError, match="not a valid .npz"):
        fetch(remote, cache_dir=tmp_path, progress=False)
    assert os.listdir(tmp_path / "ds") == []


def test_offline_message_names_file_url_and_folder(tmp_path):
    with socket.socket() as sock:  # grab a free port, then close it so nothing listens there
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/mnist.npz"
    remote = RemoteFile("mnist/mnist.npz", url, "0" * 64)
    with pytest.raises(DataFileError) as info:
        fetch(remote, cache_dir=tmp_path, progress=False, timeout=5)
    message = str(info.value)
    for part in ("mnist.npz", url, str(tmp_path / "mnist"), "DL_DATA_DIR"):
        assert part in message
    assert info.value.__cause__ is not None
    assert os.listdir(tmp_path / "mnist") == []


def put(path, body):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(body)
    return path


def test_shared_copy_with_other_hash_but_good_structure_is_used(server, tmp_path, monkeypatch):
    remote = serve(server, "a.npz", npz_bytes())
    shared = put(tmp_path / "shared" / "ds" / "a.npz", npz_bytes(offset=1))
    monkeypatch.setenv("DL_DATA_DIR", str(tmp_path / "shared"))
    assert fetch(remote, cache_dir=tmp_path / "cache", progress=False) == shared
    assert not (tmp_path / "cache").exists()
    assert server.hits == []


def test_shared_copy_failing_its_check_is_rejected(server, tmp_path, monkeypatch):
    remote = serve(server, "a.npz", npz_bytes())
    shared = put(tmp_path / "shared" / "ds" / "a.npz", b"not an npz at all")
    monkeypatch.setenv("DL_DATA_DIR", str(tmp_path / "shared"))
    with pytest.raises(DataFileError, match="DL_DATA_DIR") as info:
        fetch(remote, cache_dir=tmp_path / "cache", progress=False)
    assert str(shared) in str(info.value)
    assert server.hits == []


def test_shared_copy_takes_precedence_over_the_cache(server, tmp_path, monkeypatch):
    remote = serve(server, "a.npz", npz_bytes())
    put(tmp_path / "cache" / "ds" / "a.npz", npz_bytes())
    shared = put(tmp_path / "shared" / "ds" / "a.npz", npz_bytes(offset=1))
    monkeypatch.setenv("DL_DATA_DIR", str(tmp_path / "shared"))
    assert fetch(remote, cache_dir=tmp_path / "cache", progress=False) == shared


def test_cached_copy_with_other_hash_but_good_structure_is_used(server, tmp_path):
    remote = serve(server, "a.npz", npz_bytes())
    cached = put(tmp_path / "ds" / "a.npz", npz_bytes(offset=1))
    assert fetch(remote, cache_dir=tmp_path, progress=False) == cached
    assert server.hits == []


@pytest.mark.parametrize("body", [os.urandom(300), npz_bytes()[:200]], ids=["random", "cut"])
def test_corrupt_cache_file_is_reported_with_its_path(server, tmp_path, body):
    remote = serve(server, "a.npz", npz_bytes())
    cached = put(tmp_path / "ds" / "a.npz", body)
    with pytest.raises(DataFileError, match="Delete it") as info:
        fetch(remote, cache_dir=tmp_path, progress=False)
    assert str(cached) in str(info.value)
    assert server.hits == []


def test_check_npz_accepts_a_good_file(tmp_path):
    check_npz(put(tmp_path / "good.npz", npz_bytes()), EXPECTED)


@pytest.mark.parametrize(
    "expected, problem",
    [
        ({"z": ((None,), "int64")}, "no array 'z'"),
        ({"x": ((None, 5), "uint8")}, "shape"),
        ({"x": ((None,), "uint8")}, "shape"),
        ({"y": ((None,), "float32")}, "dtype"),
    ],
    ids=["key", "shape", "rank", "dtype"],
)
def test_check_npz_rejects_mismatches(tmp_path, expected, problem):
    path = put(tmp_path / "good.npz", npz_bytes())
    with pytest.raises(DataFileError, match=problem):
        check_npz(path, expected)


@pytest.mark.parametrize("body", [b"plain text", npz_bytes()[:-40]], ids=["not-zip", "cut"])
def test_check_npz_rejects_unreadable_files(tmp_path, body):
    with pytest.raises(DataFileError, match="not a valid .npz"):
        check_npz(put(tmp_path / "bad.npz", body), EXPECTED)


def test_a_cache_that_cannot_be_written_gets_one_clear_error(server, tmp_path, monkeypatch):
    remote = serve(server, "a.npz", npz_bytes())
    # As root, chmod cannot make a folder read-only, so the check itself is made to say no.
    monkeypatch.setattr("course.fetch.os.access", lambda path, mode: False)
    with pytest.raises(DataFileError, match="cannot be written") as info:
        fetch(remote, cache_dir=tmp_path, progress=False)
    assert str(tmp_path / "ds") in str(info.value) and server.hits == []
    monkeypatch.undo()
    blocked = put(tmp_path / "blocked", b"a file where the cache folder should be")
    with pytest.raises(DataFileError, match="cannot be written"):
        fetch(remote, cache_dir=blocked, progress=False)


def test_a_wrong_dl_data_dir_is_named_in_the_error(server, tmp_path, monkeypatch):
    remote = serve(server, "a.npz", npz_bytes())
    monkeypatch.setenv("DL_DATA_DIR", str(tmp_path / "no-such-folder"))
    with pytest.raises(DataFileError, match="DL_DATA_DIR is set to .*no-such-folder"):
        fetch(remote, cache_dir=tmp_path / "cache", progress=False)
    # A folder that exists but lacks the file: the download is tried, and a failure says
    # where DL_DATA_DIR pointed.
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.setenv("DL_DATA_DIR", str(tmp_path / "elsewhere"))
    server.files.clear()
    with pytest.raises(DataFileError, match="DL_DATA_DIR is set to .*elsewhere.*has no ds/a.npz"):
        fetch(remote, cache_dir=tmp_path / "cache", progress=False)
