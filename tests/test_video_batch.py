"""plan_videos: output names of a multi-video run, collisions, refusals and --skip-existing."""

from pathlib import Path

from video_clips import tiny_weights  # noqa: F401  (fixture)

from derain_cli.video.batch import plan_videos


def test_names_collisions_and_skips(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for path in (tmp_path / "a" / "rain.mp4", tmp_path / "b" / "rain.mov", tmp_path / "a" / "snow.mkv"):
        path.write_bytes(b"")
    frames = tmp_path / "frames"
    frames.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "snow.mp4").write_bytes(b"done")
    sources = [tmp_path / "a" / "rain.mp4", tmp_path / "b" / "rain.mov", tmp_path / "a" / "snow.mkv", frames]

    jobs, failures, skipped = plan_videos(sources, out, overwrite=False)
    assert [(j.source.name, j.target.name) for j in jobs] == [("rain.mp4", "rain.mp4"), ("frames", "frames.mp4")]
    assert [Path(f.source).name for f in failures] == ["rain.mov", "snow.mkv"] and not skipped
    assert "already the output of" in failures[0].message and "already exists" in failures[1].message

    jobs, failures, skipped = plan_videos(sources, out, overwrite=False, skip_existing=True)
    assert [j.source.name for j in skipped] == ["snow.mkv"] and len(jobs) == 2 and len(failures) == 1


def test_one_source_keeps_its_output_name(tmp_path):
    source = tmp_path / "in.mp4"
    source.write_bytes(b"")
    jobs, failures, _ = plan_videos([source], tmp_path / "x.mkv", overwrite=False)
    assert [j.target for j in jobs] == [tmp_path / "x.mkv"] and not failures
    _, failures, _ = plan_videos([source], source, overwrite=True)
    assert "is an input" in failures[0].message


def _clip(path):
    from video_clips import make_clip

    path.parent.mkdir(parents=True, exist_ok=True)
    return make_clip(path, frames=2)


def _video(*args):
    from typer.testing import CliRunner

    from derain_cli.cli import app

    return CliRunner().invoke(app, ["video", "--device", "cpu", "-q", *map(str, args)])


def test_an_input_is_never_an_output_even_with_overwrite(tmp_path, tiny_weights):
    first, second = _clip(tmp_path / "a" / "a.mp4"), _clip(tmp_path / "b" / "a.mp4")
    kept = second.read_bytes()
    result = _video(first, second, "-o", tmp_path / "b", "--overwrite", "--weights", tiny_weights)
    assert result.exit_code == 1 and "is an input" in result.output, result.output
    assert second.read_bytes() == kept and sorted(p.name for p in (tmp_path / "b").iterdir()) == ["a.mp4"]


def test_a_segmentation_overlay_never_replaces_an_input(tmp_path, tiny_weights):
    source, named_like_overlay = _clip(tmp_path / "src" / "x.mp4"), _clip(tmp_path / "out" / "x.seg.mp4")
    kept = named_like_overlay.read_bytes()
    for run in ([source, named_like_overlay, "-o", tmp_path / "out"], [named_like_overlay, "-o", tmp_path / "out" / "x.mp4"]):
        result = _video(*run, "--segment", "--overwrite", "--weights", tiny_weights)
        assert result.exit_code == 1 and f"{named_like_overlay}: is an input" in result.output, result.output
        assert named_like_overlay.read_bytes() == kept and not (tmp_path / "out" / "x.mp4").exists()


def test_a_hard_link_of_the_input_is_the_input(tmp_path, tiny_weights):
    source = _clip(tmp_path / "in.mp4")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "same.mp4").hardlink_to(source)
    result = _video(source, "-o", tmp_path / "out" / "same.mp4", "--overwrite", "--weights", tiny_weights)
    assert result.exit_code == 1 and "is an input" in result.output, result.output


def test_skip_existing_does_not_count_an_empty_output_as_finished(tmp_path):
    source = tmp_path / "in.mp4"
    source.write_bytes(b"x")
    (tmp_path / "out.mp4").write_bytes(b"")
    jobs, failures, skipped = plan_videos([source], tmp_path / "out.mp4", overwrite=False, skip_existing=True)
    assert not jobs and not skipped and "not a finished output" in failures[0].message
    (tmp_path / "out.mp4").write_bytes(b"done")
    jobs, failures, skipped = plan_videos([source], tmp_path / "out.mp4", overwrite=False, skip_existing=True)
    assert [j.source for j in skipped] == [source] and not failures
