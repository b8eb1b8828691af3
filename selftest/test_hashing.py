"""hashing: one content hash of files and directory trees for the parse cache and signatures."""

from __future__ import annotations

import os
from pathlib import Path

from layerbuild.util.fsutil import sha256_file
from layerbuild.util.hashing import sha256_path, sha256_tree


def _tree(root: Path) -> Path:
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "f").write_text("content\n")
    (root / "top").write_text("top\n")
    (root / "link").symlink_to("sub/f")
    (root / "dirlink").symlink_to("sub")
    return root


def test_same_content_same_hash_wherever_it_is(tmp_path: Path) -> None:
    a, b = _tree(tmp_path / "a"), _tree(tmp_path / "b")
    os.utime(b / "top", (1, 1))
    assert sha256_tree(a) == sha256_tree(b)
    (b / "sub" / "f").write_text("other\n")
    assert sha256_tree(a) != sha256_tree(b)


def test_a_symlink_hashes_its_target_text_not_what_it_points_to(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a")
    outside = tmp_path / "outside.txt"
    outside.write_text("one\n")
    (a / "out").symlink_to(outside)
    before = sha256_tree(a)
    outside.write_text("two\n")  # what the link points to changes, the link does not
    assert sha256_tree(a) == before
    # the link's target text counts, also for links to directories and dangling links
    (a / "dirlink").unlink()
    (a / "dirlink").symlink_to("elsewhere")
    assert sha256_tree(a) != before
    (a / "dangling").symlink_to("/nonexistent/path")
    b = _tree(tmp_path / "b")
    (b / "out").symlink_to(outside)
    (b / "dirlink").unlink()
    (b / "dirlink").symlink_to("elsewhere")
    (b / "dangling").symlink_to("/nonexistent/path")
    assert sha256_tree(a) == sha256_tree(b)


def test_a_renamed_file_changes_the_hash_an_empty_directory_does_not(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a")
    before = sha256_tree(a)
    (a / "empty").mkdir()
    assert sha256_tree(a) == before
    (a / "top").rename(a / "top2")
    assert sha256_tree(a) != before


def test_sha256_path(tmp_path: Path) -> None:
    a = _tree(tmp_path / "a")
    assert sha256_path(a / "top") == sha256_file(a / "top")
    assert sha256_path(a / "link") == sha256_file(a / "sub" / "f")  # a link named directly is followed
    assert sha256_path(a) == sha256_tree(a)
    assert sha256_path(tmp_path / "missing") is None
