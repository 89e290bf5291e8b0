"""plan_videos: output names of a multi-video run, collisions, refusals and --skip-existing."""

from pathlib import Path

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
    assert "is the input" in failures[0].message
