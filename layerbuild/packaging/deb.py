"""Debian binary packages, written byte-for-byte reproducibly without dpkg-deb.

A ``.deb`` is an ar archive of ``debian-binary``, ``control.tar.zst`` and ``data.tar.zst``. Entries are
sorted, owners are root unless the installed file says otherwise (when the build runs as root),
mtimes are clamped to ``SOURCE_DATE_EPOCH``, and zstd runs single-threaded at a fixed level, so the
same package content always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
import textwrap
from collections.abc import Iterable
from dataclasses import dataclass

import zstandard

ZSTD_LEVEL = 19
FIELD_ORDER = ("Package", "Source", "Version", "Architecture", "Maintainer", "Installed-Size", "Depends",
               "Recommends", "Provides", "Conflicts", "Replaces", "Section", "Priority", "Homepage", "Description")
SCRIPTS = ("preinst", "postinst", "prerm", "postrm")


@dataclass(frozen=True)
class DebInfo:
    path: str
    package: str
    version: str
    architecture: str
    control: str


def _tarinfo(name: str, st: os.stat_result, clamp: int, owner_map: bool) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode = stat.S_IMODE(st.st_mode)
    info.mtime = min(int(st.st_mtime), clamp)
    uid, gid = st.st_uid, st.st_gid
    if owner_map:
        uid = 0 if uid == os.geteuid() else uid
        gid = 0 if gid == os.getegid() else gid
    info.uid, info.gid = uid, gid
    info.uname = "root" if uid == 0 else ""
    info.gname = "root" if gid == 0 else ""
    return info


def _tar(entries: Iterable[tuple[tarfile.TarInfo, bytes | None]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for info, data in entries:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _zst(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=0, write_checksum=True,
                                    write_content_size=True).compress(data)


def data_tar(root: str, clamp: int) -> tuple[bytes, dict[str, str], int]:
    """The data archive of ``root``; returns it, md5sums of regular files and the installed size (KiB)."""
    owner_map = os.geteuid() != 0
    entries: list[tuple[tarfile.TarInfo, bytes | None]] = []
    md5sums: dict[str, str] = {}
    size_kib = 0
    st = os.lstat(root)
    top = _tarinfo("./", st, clamp, owner_map)
    top.type = tarfile.DIRTYPE
    top.uid = top.gid = 0
    top.uname = top.gname = "root"
    entries.append((top, None))
    links: dict[tuple[int, int], str] = {}
    paths = []
    for dirpath, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(dirs + files):
            paths.append(os.path.relpath(os.path.join(dirpath, name), root))
    for rel in sorted(paths):
        full = os.path.join(root, rel)
        st = os.lstat(full)
        name = "./" + rel + ("/" if stat.S_ISDIR(st.st_mode) else "")
        info = _tarinfo(name, st, clamp, owner_map)
        data = None
        if stat.S_ISDIR(st.st_mode):
            info.type = tarfile.DIRTYPE
            size_kib += 1
        elif stat.S_ISLNK(st.st_mode):
            info.type = tarfile.SYMTYPE
            info.linkname = os.readlink(full)
        elif stat.S_ISREG(st.st_mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in links:
                info.type = tarfile.LNKTYPE
                info.linkname = links[key]
            else:
                links[key] = "./" + rel
                with open(full, "rb") as fh:
                    data = fh.read()
                info.size = len(data)
                md5sums[rel] = hashlib.md5(data).hexdigest()  # noqa: S324 - dpkg's md5sums format
                size_kib += (len(data) + 1023) // 1024
        else:
            continue
        entries.append((info, data))
    return _tar(entries), md5sums, size_kib


def control_text(fields: dict[str, str], summary: str, description: str) -> str:
    lines = []
    for key in FIELD_ORDER:
        if key == "Description":
            continue
        value = fields.get(key)
        if value:
            lines.append(f"{key}: {value}")
    lines.append(f"Description: {summary.strip() or fields['Package']}")
    body = description.strip()
    if body and body != summary.strip():
        for para in body.split("\n\n"):
            wrapped = textwrap.wrap(" ".join(para.split()), 78) or ["."]
            lines.extend(f" {w}" for w in wrapped)
            lines.append(" .")
        lines.pop()
    return "\n".join(lines) + "\n"


def _ar_member(name: str, data: bytes, mtime: int) -> bytes:
    header = f"{name:<16}{mtime:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode()
    assert len(header) == 60
    return header + data + (b"\n" if len(data) % 2 else b"")


def write_deb(root: str, output_dir: str, fields: dict[str, str], summary: str, description: str,
              scripts: dict[str, str], conffiles: list[str], clamp: int) -> DebInfo:
    """Write the package whose files are in ``root``; returns where it went and its control text."""
    data, md5sums, size_kib = data_tar(root, clamp)
    fields = dict(fields)
    fields["Installed-Size"] = str(size_kib)
    control = control_text(fields, summary, description)
    members: list[tuple[tarfile.TarInfo, bytes | None]] = []

    def member(name: str, content: bytes | None, mode: int) -> None:
        info = tarfile.TarInfo(name)
        info.mode = mode
        info.mtime = clamp
        info.uname = info.gname = "root"
        if content is None:
            info.type = tarfile.DIRTYPE
        else:
            info.size = len(content)
        members.append((info, content))

    member("./", None, 0o755)
    files = {"control": control.encode()}
    if conffiles:
        files["conffiles"] = "".join(f"{p}\n" for p in conffiles).encode()
    if md5sums:
        files["md5sums"] = "".join(f"{md5}  {path}\n" for path, md5 in sorted(md5sums.items())).encode()
    for script in SCRIPTS:
        if scripts.get(script):
            files[script] = scripts[script].encode()
    for name in sorted(files):
        member(f"./{name}", files[name], 0o755 if name in SCRIPTS else 0o644)
    control_tar = _tar(members)
    version = fields["Version"]
    arch = fields["Architecture"]
    filename = f"{fields['Package']}_{version.split(':', 1)[-1]}_{arch}.deb"
    path = os.path.join(output_dir, filename)
    os.makedirs(output_dir, exist_ok=True)
    blob = b"!<arch>\n" + _ar_member("debian-binary", b"2.0\n", clamp) + \
        _ar_member("control.tar.zst", _zst(control_tar), clamp) + _ar_member("data.tar.zst", _zst(data), clamp)
    tmp = path + f".{os.getpid()}.tmp"
    with open(tmp, "wb") as fh:
        fh.write(blob)
    os.replace(tmp, path)
    return DebInfo(path, fields["Package"], version, arch, control)


def read_control(deb: str) -> str:
    """The control file of a .deb written by :func:`write_deb` (or any zstd/xz/gzip .deb)."""
    with open(deb, "rb") as fh:
        blob = fh.read()
    if not blob.startswith(b"!<arch>\n"):
        raise ValueError(f"{deb} is not an ar archive")
    pos = 8
    while pos < len(blob):
        header = blob[pos:pos + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        data = blob[pos + 60:pos + 60 + size]
        pos += 60 + size + (size % 2)
        if name.startswith("control.tar"):
            if name.endswith(".zst"):
                raw = zstandard.ZstdDecompressor().decompressobj().decompress(data)
                mode = "r:"
            else:
                raw, mode = data, "r:*"
            with tarfile.open(fileobj=io.BytesIO(raw), mode=mode) as tar:  # type: ignore[call-overload]
                member = tar.extractfile("./control")
                assert member is not None
                return member.read().decode()
    raise ValueError(f"{deb} has no control archive")
