"""Image types: every writer in IMAGE_TYPES, checked with the real tools and for reproducibility."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest
import zstandard

from layerbuild.image import types
from layerbuild.image.erofs import DEFAULT_UUID, ErofsOptions, mkfs_erofs_argv
from layerbuild.image.types import IMAGE_TYPES, ImageOptions, UnknownImageTypeError

SDE = 1_600_000_000
HAVE_EROFS = shutil.which("mkfs.erofs") is not None
needs_erofs = pytest.mark.skipif(not HAVE_EROFS, reason="erofs-utils not installed")
SQUASHFS_TYPES = [n for n in IMAGE_TYPES if n.startswith("squashfs")]
EROFS_TYPES = [n for n in IMAGE_TYPES if n.startswith("erofs")]

#: path -> content (None: directory), created in the order given
TREE: dict[str, bytes | None] = {
    "usr": None, "usr/bin": None, "usr/lib": None, "usr/share": None, "usr/share/doc": None,
    "usr/bin/tool": b"#!/bin/sh\necho tool\n",
    "usr/lib/libx.so.1": b"\x7fELF not really" * 300,
    "usr/share/doc/README": b"read me\n" * 50,
    "usr/share/big": bytes(range(256)) * 2000,
    "opt": None, "opt/empty": None,
}


def make_tree(root: Path, order: int, mtime: int) -> Path:
    """The same tree, created in another order and with other mtimes (all newer than SDE)."""
    root.mkdir(parents=True)
    items = list(TREE.items())
    if order:
        # parents first, siblings reversed
        items.sort(key=lambda kv: (kv[0].count("/"), [-ord(c) for c in kv[0]]))
    for rel, content in items:
        path = root / rel
        if content is None:
            path.mkdir(parents=True, exist_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
    os.chmod(root / "usr/bin/tool", 0o755)
    os.symlink("libx.so.1", root / "usr/lib/libx.so")
    os.link(root / "usr/share/doc/README", root / "usr/share/README.hard")
    if os.geteuid() == 0:
        os.lchown(root / "usr/share/big", 1000, 1001)
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            os.utime(os.path.join(dirpath, name), (mtime, mtime), follow_symlinks=False)
    os.utime(root, (mtime, mtime))
    return root


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    top = tmp_path_factory.mktemp("trees")
    return make_tree(top / "one" / "root", 0, SDE + 1000), make_tree(top / "elsewhere" / "x", 1, SDE + 99999)


def test_table_names_and_suffixes() -> None:
    assert {"tar.zst", "squashfs", "squashfs-xz", "squashfs-gz", "squashfs-zst", "erofs"} <= set(IMAGE_TYPES)
    for name, kind in IMAGE_TYPES.items():
        assert kind.name == name and kind.suffix == name


def test_unknown_type_lists_known() -> None:
    with pytest.raises(UnknownImageTypeError) as exc:
        types.image_type("ext9")
    text = str(exc.value)
    assert text.startswith("error: unknown image type 'ext9'")
    assert "hint: known image types: erofs, erofs-lz4, erofs-lz4hc, squashfs," in text
    from layerbuild.util.errors import Location
    with pytest.raises(UnknownImageTypeError) as exc:
        types.image_type("ext9", Location("recipes/x.bb", 3))
    assert str(exc.value).startswith("recipes/x.bb:3: error: unknown image type 'ext9'\n")


def test_erofs_argv_is_reproducible_by_construction() -> None:
    argv = mkfs_erofs_argv("in", "out", ErofsOptions(source_date_epoch=SDE, compression="lz4hc", all_root=True))
    assert argv == ["mkfs.erofs", "--quiet", "-U", DEFAULT_UUID, "-T", str(SDE), "-zlz4hc,12", "--all-root",
                    "out", "in"]


@pytest.mark.parametrize("name", sorted(IMAGE_TYPES))
def test_same_tree_same_bytes(name: str, trees: tuple[Path, Path], tmp_path: Path) -> None:
    if name.startswith("erofs") and not HAVE_EROFS:
        pytest.skip("erofs-utils not installed")
    one, two = trees
    options = ImageOptions(source_date_epoch=SDE)
    out1, out2 = tmp_path / f"a.{name}", tmp_path / "sub" / f"b.{name}"
    out2.parent.mkdir()
    types.write(name, one, out1, options)
    types.write(name, two, out2, options)
    assert out1.stat().st_size > 0
    assert sha256(out1) == sha256(out2)


def _tar_members(path: Path) -> list[tarfile.TarInfo]:
    with open(path, "rb") as raw, zstandard.ZstdDecompressor().stream_reader(raw) as zr, \
            tarfile.open(fileobj=zr, mode="r|") as tar:  # type: ignore[call-overload]
        return list(tar)


def test_tar_zst_listing(trees: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "r.tar.zst"
    types.write("tar.zst", trees[0], out, ImageOptions(source_date_epoch=SDE))
    listing = subprocess.run(["tar", "--zstd", "-tvf", str(out), "--numeric-owner"], check=True,
                             capture_output=True, text=True).stdout.splitlines()
    names = [line.split()[5].rstrip("/") or "." for line in listing]
    assert names == [".", "opt", "opt/empty", "usr", "usr/bin", "usr/bin/tool", "usr/lib", "usr/lib/libx.so",
                     "usr/lib/libx.so.1", "usr/share", "usr/share/README.hard", "usr/share/big",
                     "usr/share/doc", "usr/share/doc/README"]
    members = {m.name: m for m in _tar_members(out)}
    assert {n: m.mtime for n, m in members.items() if m.mtime != SDE} == {}
    assert members["usr/lib/libx.so"].issym() and members["usr/lib/libx.so"].linkname == "libx.so.1"
    assert members["usr/share/doc/README"].islnk() and members["usr/share/doc/README"].linkname == \
        "usr/share/README.hard"
    assert members["usr/bin/tool"].mode == 0o755
    if os.geteuid() == 0:
        assert (members["usr/share/big"].uid, members["usr/share/big"].gid) == (1000, 1001)
    extracted = tmp_path / "x"
    extracted.mkdir()
    subprocess.run(["tar", "--zstd", "-xf", str(out), "-C", str(extracted)], check=True)
    assert (extracted / "usr/share/big").read_bytes() == TREE["usr/share/big"]


def test_all_root(trees: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "r.tar.zst"
    types.write("tar.zst", trees[0], out, ImageOptions(source_date_epoch=SDE, all_root=True))
    assert all(m.uid == 0 and m.gid == 0 for m in _tar_members(out))


def _tree_hashes(root: Path) -> dict[str, str]:
    found = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                found[rel] = "dir"
            else:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _expected_hashes() -> dict[str, str]:
    found = {rel: ("dir" if c is None else hashlib.sha256(c).hexdigest()) for rel, c in TREE.items()}
    found["usr/lib/libx.so"] = "-> libx.so.1"
    found["usr/share/README.hard"] = found["usr/share/doc/README"]
    return found


@pytest.mark.parametrize("name", SQUASHFS_TYPES)
def test_squashfs_with_unsquashfs(name: str, trees: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "img"
    types.write(name, trees[0], out, ImageOptions(source_date_epoch=SDE))
    listing = subprocess.run(["unsquashfs", "-lln", str(out)], check=True, capture_output=True,
                             text=True).stdout
    comp = subprocess.run(["unsquashfs", "-s", str(out)], check=True, capture_output=True, text=True).stdout
    want = {"squashfs": "zstd", "squashfs-zst": "zstd", "squashfs-xz": "xz", "squashfs-gz": "gzip"}[name]
    assert f"Compression {want}" in comp
    lines = {line.split()[-1].split("/", 1)[-1]: line.split() for line in listing.splitlines()
             if line.startswith(("-", "d", "l"))}
    assert lines["usr/bin/tool"][0] == "-rwxr-xr-x"
    if os.geteuid() == 0:
        assert lines["usr/share/big"][1] == "1000/1001"
    extracted = tmp_path / "x"
    subprocess.run(["unsquashfs", "-q", "-n", "-d", str(extracted), str(out)], check=True,
                   stdout=subprocess.DEVNULL)
    assert _tree_hashes(extracted) == _expected_hashes()


@needs_erofs
@pytest.mark.parametrize("name", EROFS_TYPES)
def test_erofs_with_erofs_tools(name: str, trees: tuple[Path, Path], tmp_path: Path) -> None:
    out = tmp_path / "img"
    types.write(name, trees[0], out, ImageOptions(source_date_epoch=SDE))
    dump = subprocess.run(["dump.erofs", str(out)], check=True, capture_output=True, text=True).stdout
    assert f"Filesystem UUID:               {DEFAULT_UUID}" in dump or DEFAULT_UUID in dump
    inode = subprocess.run(["dump.erofs", "--path=/usr/share/big", str(out)], check=True, capture_output=True,
                           text=True).stdout
    if os.geteuid() == 0:
        assert "Uid: 1000" in inode and "Gid: 1001" in inode
    extracted = tmp_path / "x"
    subprocess.run(["fsck.erofs", f"--extract={extracted}", str(out)], check=True, capture_output=True)
    assert _tree_hashes(extracted) == _expected_hashes()
    st = os.lstat(extracted / "usr/share/big")
    assert int(st.st_mtime) == SDE


@pytest.mark.root
@pytest.mark.parametrize("name", ["squashfs", "squashfs-xz", "erofs", "erofs-lz4hc"])
def test_kernel_mounts(name: str, trees: tuple[Path, Path], tmp_path: Path) -> None:
    if name.startswith("erofs") and not HAVE_EROFS:
        pytest.skip("erofs-utils not installed")
    out = tmp_path / "img"
    types.write(name, trees[0], out, ImageOptions(source_date_epoch=SDE))
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    fstype = "erofs" if name.startswith("erofs") else "squashfs"
    script = (f"mount -t {fstype} -o loop,ro {out} {mnt} && cat {mnt}/usr/share/big | sha256sum "
              f"&& stat -c '%a %u %Y' {mnt}/usr/bin/tool && readlink {mnt}/usr/lib/libx.so")
    result = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[0] == hashlib.sha256(TREE["usr/share/big"] or b"").hexdigest()
    assert lines[1] == f"755 0 {SDE}"
    assert lines[2] == "libx.so.1"


@needs_erofs
def test_erofs_missing_root_is_typed(tmp_path: Path) -> None:
    from layerbuild.image.erofs import ErofsError
    with pytest.raises(ErofsError, match="no such directory"):
        types.write("erofs", tmp_path / "nope", tmp_path / "out", ImageOptions(source_date_epoch=SDE))
