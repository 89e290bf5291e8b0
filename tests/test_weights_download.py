"""Fetching checkpoints: URL sources over real HTTP on 127.0.0.1 (Range, resume, 404), hashes, offline, folders."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from huggingface_hub import constants

from derain_cli.errors import DerainError
from derain_cli.weights.cache import url_cache_path
from derain_cli.weights.download import WeightsUnavailableError, fetch_checkpoint
from derain_cli.weights.registry import HubSource, UrlSource, WeightsEntry

PAYLOAD = os.urandom(300_000)
SHA = hashlib.sha256(PAYLOAD).hexdigest()


class FileServer:
    """Serves ``files`` (path -> bytes) on 127.0.0.1 with HTTP Range support and logs every request.

    ``cut`` maps a path to a byte count: its first GET sends the full length header, then only that
    many bytes before closing the connection. Paths under ``/<org>/<name>/resolve/<revision>/`` answer
    like the Hugging Face Hub (commit and ETag headers; ``X-Error-Code: RepoNotFound`` when absent).
    """

    def __init__(self, files: dict[str, bytes], cut: dict[str, int] | None = None) -> None:
        self.files, self.cut, self.log = files, dict(cut or {}), []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                self.answer(body=False)

            def do_GET(self) -> None:
                self.answer(body=True)

            def answer(self, body: bool) -> None:
                server.log.append((self.command, self.path, self.headers.get("Range")))
                data = server.files.get(self.path)
                if data is None:
                    self.send_response(404)
                    if "/resolve/" in self.path:
                        self.send_header("X-Error-Code", "RepoNotFound")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                start = int(self.headers["Range"].removeprefix("bytes=").split("-")[0]) if self.headers.get("Range") else 0
                if start >= len(data):
                    self.send_response(416)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(206 if start else 200)
                if start:
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                if "/resolve/" in self.path:
                    self.send_header("X-Repo-Commit", "0" * 40)
                    self.send_header("ETag", f'"{hashlib.sha256(data).hexdigest()}"')
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if body:
                    limit = server.cut.pop(self.path, None) if self.command == "GET" else None
                    self.wfile.write(data[start:] if limit is None else data[start : start + limit])

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def gets(self) -> list[tuple[str, str | None]]:
        return [(path, rng) for method, path, rng in self.log if method == "GET"]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    srv = FileServer({"/w.pth": PAYLOAD, "/other.pth": PAYLOAD[::-1]})
    yield srv
    srv.close()


def _entry(*sources, name="tiny") -> WeightsEntry:
    return WeightsEntry(name, "sapnet", {}, "", "", "MIT", "", None, (), tuple(sources))


def _url(server: FileServer, path: str = "/w.pth", sha: str = SHA, filename: str = "w.pth") -> UrlSource:
    return UrlSource(server.url + path, filename, sha)


def test_url_source_downloads_verifies_and_is_reused_from_the_cache(server, hf_home):
    entry = _entry(_url(server))
    path = fetch_checkpoint(entry)
    assert path == url_cache_path(entry, entry.sources[0]) and path.is_relative_to(hf_home / "assets")
    assert path.read_bytes() == PAYLOAD
    assert not path.with_name(path.name + ".part").exists()
    assert fetch_checkpoint(entry) == path
    assert server.gets() == [("/w.pth", None)]  # the second call used the verified cache


def test_interrupted_transfer_resumes_with_a_range_request(server, hf_home):
    server.cut["/w.pth"] = 100_000
    path = fetch_checkpoint(_entry(_url(server)))
    assert path.read_bytes() == PAYLOAD
    assert server.gets() == [("/w.pth", None), ("/w.pth", "bytes=100000-")]


def test_a_partial_file_left_by_an_earlier_run_is_resumed(server, hf_home):
    entry = _entry(_url(server))
    target = url_cache_path(entry, entry.sources[0])
    target.parent.mkdir(parents=True)
    target.with_name(target.name + ".part").write_bytes(PAYLOAD[:123_456])
    assert fetch_checkpoint(entry).read_bytes() == PAYLOAD
    assert server.gets() == [("/w.pth", "bytes=123456-")]


def test_404_falls_through_to_the_next_source_with_one_note(server, hf_home, capsys):
    path = fetch_checkpoint(_entry(_url(server, "/missing.pth"), _url(server)))
    assert path.read_bytes() == PAYLOAD
    notes = [line for line in capsys.readouterr().err.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "/missing.pth: HTTP 404" in notes[0] and f"trying {server.url}/w.pth" in notes[0]


def test_hash_mismatch_names_the_file_and_both_hashes_then_tries_the_next_source(server, hf_home):
    wrong = _url(server, "/other.pth", filename="other.pth")
    wrong = UrlSource(wrong.url, wrong.filename, SHA)  # the registered hash is not these bytes'
    actual = hashlib.sha256(PAYLOAD[::-1]).hexdigest()
    with pytest.raises(WeightsUnavailableError) as info:
        fetch_checkpoint(_entry(wrong))
    assert f"sha256 mismatch for {server.url}/other.pth: expected {SHA}, got {actual}" in str(info.value)
    kept = {p.name for p in (hf_home / "assets").rglob("other.pth*")}
    assert kept <= {"other.pth.lock"}  # nothing unverified is kept
    assert fetch_checkpoint(_entry(wrong, _url(server))).read_bytes() == PAYLOAD


def test_a_corrupted_cache_file_is_reported_and_fetched_again(server, hf_home, capsys):
    entry = _entry(_url(server))
    path = fetch_checkpoint(entry)
    path.write_bytes(b"corrupt")
    assert fetch_checkpoint(entry).read_bytes() == PAYLOAD
    assert "sha256 mismatch for" in capsys.readouterr().err


def test_offline_with_nothing_cached_explains_how_to_supply_the_file(server, hf_home, monkeypatch):
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    entry = _entry(HubSource("derain-test/tiny", "model.safetensors", "main", SHA), _url(server))
    with pytest.raises(WeightsUnavailableError) as info:
        fetch_checkpoint(entry)
    message = str(info.value)
    assert "\n" not in message and message.count("offline (HF_HUB_OFFLINE is set) and not cached") == 2
    assert "--weights PATH" in message and "$DERAIN_WEIGHTS_DIR" in message and "tiny.safetensors" in message
    assert server.log == []


def test_weights_dir_is_searched_first_and_checked(server, hf_home, tmp_path, monkeypatch):
    folder = tmp_path / "mine"
    folder.mkdir()
    monkeypatch.setenv("DERAIN_WEIGHTS_DIR", str(folder))
    entry = _entry(_url(server))
    (folder / "w.pth").write_bytes(PAYLOAD)  # the URL source's filename
    assert fetch_checkpoint(entry) == folder / "w.pth" and server.log == []
    (folder / "w.pth").unlink()
    (folder / "tiny.safetensors").write_bytes(b"not these weights")
    assert fetch_checkpoint(entry).read_bytes() == PAYLOAD  # a mismatching copy is skipped
    assert server.gets() == [("/w.pth", None)]


def test_force_downloads_again(server, hf_home):
    entry = _entry(_url(server))
    fetch_checkpoint(entry)
    fetch_checkpoint(entry, force=True)
    assert len(server.gets()) == 2


def test_an_entry_without_sources_says_no_public_checkpoint_exists(hf_home):
    entry = WeightsEntry("hcn", "hcn", {}, "", "", "n/a", "", None, (), ())
    with pytest.raises(DerainError, match=r"^no public checkpoint exists for hcn; train one with "
                       r"`derain train --model hcn` and pass --weights$"):
        fetch_checkpoint(entry)


@pytest.mark.slow
def test_unpublished_hub_repo_costs_one_line_then_the_url_and_published_hub_files_work(tmp_path):
    """Through huggingface_hub with HF_ENDPOINT pointing at a local server (a fresh process reads the env)."""
    server = FileServer({"/w.pth": PAYLOAD, "/derain-test/live/resolve/main/model.safetensors": PAYLOAD})
    toml = tmp_path / "weights.toml"
    toml.write_text(f"""
[models.unpublished]
architecture = "sapnet"
sources = [
  {{ hf_repo = "derain-test/unpublished", hf_file = "model.safetensors", revision = "main", sha256 = "{SHA}" }},
  {{ url = "{server.url}/w.pth", filename = "w.pth", sha256 = "{SHA}" }},
]
[models.live]
architecture = "sapnet"
sources = [{{ hf_repo = "derain-test/live", hf_file = "model.safetensors", revision = "main", sha256 = "{SHA}" }}]
""")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "DERAIN_WEIGHTS"))}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=server.url, DERAIN_WEIGHTS_TOML=str(toml), NO_COLOR="1")

    def download(name: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "derain_cli", "weights", "download", name],
                              capture_output=True, text=True, env=env, timeout=300)

    try:
        first, live = download("unpublished"), download("live")
    finally:
        server.close()
    assert first.returncode == 0, first.stderr
    notes = [line for line in first.stderr.splitlines() if "derain-test/unpublished" in line]
    assert notes == [f"note: hub derain-test/unpublished/model.safetensors@main: repository not found on the Hub "
                     f"(not published yet, or private); trying {server.url}/w.pth"]
    assert first.stdout.splitlines()[-1].endswith("assets/derain-cli/unpublished/w.pth")
    assert live.returncode == 0, live.stderr
    path = live.stdout.splitlines()[-1]
    assert "hub/models--derain-test--live/snapshots/" in path and open(path, "rb").read() == PAYLOAD


def _closed_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow  # a fresh process (huggingface_hub reads HF_ENDPOINT at import)
def test_offline_first_run_fails_over_at_once_with_one_line(tmp_path):
    """HF_ENDPOINT at a closed port, nothing cached: under 3 s (process start aside), no retry lines, the hint."""
    closed = f"http://127.0.0.1:{_closed_port()}"
    toml = tmp_path / "weights.toml"
    toml.write_text(f"""
[models.mine]
architecture = "sapnet"
sources = [
  {{ hf_repo = "derain-test/mine", hf_file = "model.safetensors", revision = "main", sha256 = "{SHA}" }},
  {{ url = "{closed}/w.pth", filename = "w.pth", sha256 = "{SHA}" }},
]
""")
    source = tmp_path / "in.png"
    source.write_bytes(b"")  # never read: the model comes first
    script = (
        "import sys, time\nfrom derain_cli.cli import app\n"
        "import derain_cli.derainer, derain_cli.image_batch, derain_cli.weights.resolve\n"  # the command's own imports: lazy
        "start = time.perf_counter()\n"
        "try:\n    app(sys.argv[1:], prog_name='derain')\nexcept SystemExit as exc:\n    code = exc.code\n"
        "print(code, time.perf_counter() - start)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "DERAIN_WEIGHTS"))}
    env.update(HF_HOME=str(tmp_path / "hf"), HF_ENDPOINT=closed, DERAIN_WEIGHTS_TOML=str(toml), NO_COLOR="1")
    result = subprocess.run([sys.executable, "-c", script, "image", str(source), "-o", str(tmp_path / "out"),
                             "-m", "mine", "--device", "cpu"], capture_output=True, text=True, env=env, timeout=300)
    code, seconds = result.stdout.split()
    assert code == "1", result.stderr
    assert float(seconds) < 3, result.stderr
    assert "Retry" not in result.stderr and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "the Hub is unreachable" in errors[0] and "HF_HUB_OFFLINE=1" in errors[0]
    assert not (tmp_path / "out").exists()
