"""Reading the TOML registries: contents, and one-line errors naming the file."""

import pytest

from derain_cli.errors import DerainError
from derain_cli.tomlfile import read_toml


def test_reads_tables(tmp_path):
    (tmp_path / "a.toml").write_text("[x]\ny = 1\n")
    assert read_toml(tmp_path / "a.toml") == {"x": {"y": 1}}


@pytest.mark.parametrize("text,message", [("[x\n", "not valid TOML"), (None, "cannot read it")])
def test_bad_or_missing_files_name_the_file(tmp_path, text, message):
    path = tmp_path / "b.toml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(DerainError, match=f"b.toml: {message}"):
        read_toml(path)
