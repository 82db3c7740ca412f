"""inpaintbench.folders: what kind of folder a path is, and the one reader of a release's release.json."""

from __future__ import annotations

import re

import pytest

from inpaintbench.folders import (
    MANIFEST_NAME,
    RELEASE_SUMMARY_NAME,
    ReleaseFolderError,
    folder_kind,
    read_release_summary,
)


def test_folder_kind_is_read_from_what_the_folder_holds(tmp_path):
    assert folder_kind(tmp_path) is None
    assert folder_kind(tmp_path / "absent") is None
    (tmp_path / MANIFEST_NAME).write_text("{}")
    assert folder_kind(tmp_path) == "run"
    (tmp_path / RELEASE_SUMMARY_NAME).write_text("{}")
    assert folder_kind(tmp_path) == "release"  # a release staged inside a run folder is read as the release
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / RELEASE_SUMMARY_NAME).mkdir()  # a directory by that name is not a summary
    assert folder_kind(tmp_path / "other") is None


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (None, "missing (is"),
        (b"{not json", "cannot read JSON"),
        (b"\xff\xfe{}", "cannot read JSON"),
        (b"[1, 2]", "expected a JSON object at the top level, got list"),
    ],
)
def test_a_bad_release_summary_is_refused_naming_the_file(tmp_path, content, says):
    if content is not None:
        (tmp_path / RELEASE_SUMMARY_NAME).write_bytes(content)
    with pytest.raises(ReleaseFolderError, match=re.escape(says)) as caught:
        read_release_summary(tmp_path)
    assert str(tmp_path / RELEASE_SUMMARY_NAME) in str(caught.value)


def test_a_release_summary_is_read_as_written(tmp_path):
    (tmp_path / RELEASE_SUMMARY_NAME).write_text('{"version": "1.2.3", "configs": {"default": {}}}', encoding="utf-8")
    assert read_release_summary(tmp_path) == {"version": "1.2.3", "configs": {"default": {}}}
