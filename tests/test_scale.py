"""`--ray` and `derain_cli.scale` on a real local Ray instance (2 CPUs), started once for the module
(those tests skip without Ray); pool sizing and the missing-extra error need no Ray."""

import os
import subprocess
import sys

import av
import pytest
from typer.testing import CliRunner

from conftest import REPO_ROOT, noise_image
from derain_cli.cli import app
from derain_cli.scale import RaySettings, derain_dataset
from derain_cli.errors import UsageError
from derain_cli.scale.cluster import WorkerPool, plan_pool
from video_clips import make_clip

runner = CliRunner()


@pytest.fixture(scope="module")
def ray_instance():
    """One local Ray instance for all tests here: starting Ray costs seconds, each run then reuses it."""
    ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]' to run the --ray tests")
    ray.init(address="local", num_cpus=2, include_dashboard=False, logging_level="warning")
    yield ray
    ray.shutdown()


def _derain(*args):
    return runner.invoke(app, ["image", "--device", "cpu", *map(str, args)])


def _outputs(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


@pytest.mark.slow  # Ray starts its workers (torch imports) for each run: 25-60 s a test here, minutes on saturated cores
def test_ray_matches_local_reports_broken_file_and_resumes(tmp_path, tiny_weights, ray_instance):
    photos, bad = tmp_path / "photos", tmp_path / "bad"
    photos.mkdir()
    bad.mkdir()
    for k in range(20):
        noise_image(photos / f"im{k:02d}.png", 18, 26, seed=k)
    (bad / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")

    local = _derain(photos, "-o", tmp_path / "local", "--weights", tiny_weights, "-q")
    assert local.exit_code == 0, local.output
    result = _derain(photos, bad, "-o", tmp_path / "ray", "--weights", tiny_weights, "--ray", "--workers", "2")
    assert result.exit_code == 1, result.output
    assert "broken.png: unreadable or truncated image" in result.output
    assert "1 of 21 input(s) failed" in result.output
    assert "on Ray with 2 cpu worker(s)" in result.output and "1 failed" in result.output
    assert _outputs(tmp_path / "ray") == _outputs(tmp_path / "local")  # byte-identical, no partial files

    finished = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ray").iterdir()}
    again = _derain(photos, "-o", tmp_path / "ray", "--weights", tiny_weights, "--ray", "--skip-existing")
    assert again.exit_code == 0, again.output
    assert "Skipped 20 image(s)" in again.output and "on Ray" not in again.output  # no Ray run at all
    assert {p.name: p.stat().st_mtime_ns for p in (tmp_path / "ray").iterdir()} == finished
    refused = _derain(photos, "-o", tmp_path / "ray", "--weights", tiny_weights, "--ray")
    assert refused.exit_code == 1 and "already exists" in refused.output


@pytest.mark.slow  # Ray starts its workers (torch imports) for each run: 25-60 s a test here, minutes on saturated cores
def test_derain_dataset_takes_a_ray_dataset_and_resumes(tmp_path, tiny_weights, ray_instance):
    paths = [noise_image(tmp_path / f"p{k}.jpg", 16, 20, seed=k) for k in range(3)]
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "p1.png").write_bytes(b"finished before an interruption")
    data = ray_instance.data.from_items([{"path": str(p)} for p in paths])
    report = derain_dataset(data, tmp_path / "out", weights=tiny_weights, device="cpu", skip_existing=True,
                            cluster=RaySettings(workers=1))
    assert sorted(j.target.name for j in report.written) == ["p0.png", "p2.png"]
    assert [j.target.name for j in report.skipped] == ["p1.png"]
    assert report.failures == [] and report.images_per_second > 0
    assert (tmp_path / "out" / "p1.png").read_bytes() == b"finished before an interruption"
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0.png", "p1.png", "p2.png"]


@pytest.mark.slow  # Ray starts its workers (torch imports) for each run: 25-60 s a test here, minutes on saturated cores
def test_ray_videos_one_task_per_file(tmp_path, tiny_weights, ray_instance):
    clips = [make_clip(tmp_path / f"clip{k}.mp4", frames=4) for k in range(2)]
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    result = runner.invoke(
        app, ["video", *map(str, [*clips, broken]), "-o", str(tmp_path / "out"), "--device", "cpu",
              "--weights", str(tiny_weights), "--ray", "--workers", "2"])
    assert result.exit_code == 1, result.output
    assert "broken.mp4" in result.output and "1 of 3 input(s) failed" in result.output
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["clip0.mp4", "clip1.mp4"]
    for name in ("clip0.mp4", "clip1.mp4"):
        with av.open(str(tmp_path / "out" / name)) as container:
            assert sum(1 for _ in container.decode(video=0)) == 4


def test_usage_errors_before_any_work(tmp_path, tiny_weights, ray_instance):
    src = noise_image(tmp_path / "a.png", 8, 8)
    cuda = _derain(src, "-o", tmp_path / "o", "--weights", tiny_weights, "--ray", "--device", "cuda")
    if ray_instance.cluster_resources().get("GPU", 0) == 0:
        assert cuda.exit_code == 2 and "has no GPU" in cuda.output
    fp16 = _derain(src, "-o", tmp_path / "o", "--weights", tiny_weights, "--ray", "--precision", "fp16")
    assert fp16.exit_code == 2 and "fp16 needs a CUDA device" in fp16.output
    missing = _derain(src, "-o", tmp_path / "o", "--weights", tmp_path / "nope.pth", "--ray")
    assert missing.exit_code == 1 and "nope.pth: checkpoint file not found" in missing.output
    client = _derain(src, "-o", tmp_path / "o", "--weights", tiny_weights, "--ray-address", "ray://head:10001")
    assert client.exit_code == 2 and "cannot run through Ray Client" in client.output
    assert not (tmp_path / "o").exists()
    assert plan_pool(ray_instance.cluster_resources(), "cpu", RaySettings()).size == 2


def test_pool_sizes():
    gpu_node = {"CPU": 16.0, "GPU": 2.0}
    assert plan_pool(gpu_node, "auto", RaySettings(gpus_per_worker=0.5)) == WorkerPool("cuda", 4, 0.0, 0.5)
    assert plan_pool(gpu_node, "cuda", RaySettings(workers=3)) == WorkerPool("cuda", 3, 0.0, 1.0)
    assert plan_pool(gpu_node, "cpu", RaySettings()) == WorkerPool("cpu", 16, 1.0, 0.0)
    for device, settings, message in [
        ("cuda", RaySettings(gpus_per_worker=1.5), "gpus-per-worker"),
        ("cuda:1", RaySettings(), "Ray assigns"),
        ("tpu", RaySettings(), "unknown device"),
    ]:
        with pytest.raises(UsageError, match=message):
            plan_pool(gpu_node, device, settings)
    with pytest.raises(UsageError, match="has no GPU"):
        plan_pool({"CPU": 2.0}, "cuda", RaySettings())


def test_ray_extra_missing_is_a_usage_error(tmp_path, tiny_weights, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name == "ray" or name.startswith("ray."):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    result = _derain(noise_image(tmp_path / "a.png", 8, 8), "-o", tmp_path / "o", "--weights", tiny_weights, "--ray")
    assert result.exit_code == 2 and "pip install 'derain-cli[ray]'" in result.output
    assert os.listdir(tmp_path) == ["a.png"]


@pytest.mark.slow  # its own Ray instance in a fresh process (Ray's start-up lines are what is checked)
def test_ray_prints_derains_lines_only_and_still_every_failure(tmp_path, tiny_weights):
    pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]' to run the --ray tests")
    noise_image(tmp_path / "a.png", 18, 26)
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    command = [sys.executable, "-m", "derain_cli", "image", tmp_path / "a.png", tmp_path / "bad.png", "-o", tmp_path / "out",
               "--weights", tiny_weights, "--ray", "--workers", "1", "--device", "cpu"]  # fmt: skip
    result = subprocess.run([str(c) for c in command], capture_output=True, text=True, timeout=900, cwd=REPO_ROOT)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert any("bad.png: unreadable or truncated image" in line for line in lines), result.stderr
    assert all(line.startswith(("error: ", "Derained 1 image(s)")) for line in lines), result.stderr
    assert (tmp_path / "out" / "a.png").is_file()


def _refused_port():
    """A local port where nothing listens (bound, then released): connecting is refused at once."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_a_refused_ray_address_fails_within_seconds_in_one_line(tmp_path):
    import subprocess
    import sys
    import time

    pytest.importorskip("ray", reason="Ray is not installed")
    address = f"127.0.0.1:{_refused_port()}"
    began = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "derain_cli", "image", str(noise_image(tmp_path / "a.png", 32, 32)),
                          "-o", str(tmp_path / "out.png"), "--device", "cpu", "--ray-address", address],
                         capture_output=True, text=True, timeout=180)  # fmt: skip
    assert run.returncode == 1, run.stderr
    assert run.stderr.strip().splitlines() == [f"error: --ray-address {address}: no Ray head answers there "
                                               "(Connection refused); start one with `ray start --head` or fix the address"]  # fmt: skip
    assert time.perf_counter() - began < 120 and not (tmp_path / "out.png").exists()


@pytest.mark.parametrize("bad", ["nohost", "host:port", "10.0.0.1:70000"])
def test_a_malformed_ray_address_is_a_usage_error(bad):
    from derain_cli.scale.cluster import check_reachable

    with pytest.raises(UsageError, match="HOST:PORT"):
        check_reachable(bad)


_JOIN_SILENT_HEAD = """
import socket, sys
silent = socket.create_server(("127.0.0.1", 0))  # accepts connections, never answers: no Ray head
import ray
from derain_cli.scale.cluster import _join_within
address = f"127.0.0.1:{silent.getsockname()[1]}"
print("joining", flush=True)
_join_within(float(sys.argv[1]), address, lambda: ray.init(address=address, include_dashboard=False))
"""


@pytest.mark.parametrize("signum,status", [(15, 143), (2, 130), (None, 1)])
def test_joining_a_silent_ray_address_ends_on_every_signal_and_at_the_deadline(tmp_path, signum, status):
    """Real Ray against a port that accepts but never answers: without the watcher it retries for minutes, deaf to SIGTERM."""
    import subprocess
    import sys
    import time

    pytest.importorskip("ray", reason="Ray is not installed")
    timeout = "600" if signum else "3"
    process = subprocess.Popen([sys.executable, "-c", _JOIN_SILENT_HEAD, timeout], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)  # fmt: skip
    assert process.stdout.readline() == "joining\n"
    time.sleep(3)  # inside ray.init, in its C++ retries
    sent = time.monotonic()
    if signum:
        process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == status, err
    assert time.monotonic() - sent < (5 if signum else 30)
    assert err.strip().splitlines()[-1].startswith("error: ")
