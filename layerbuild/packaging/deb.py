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
import re
import tarfile
import textwrap
from dataclasses import dataclass

import zstandard

from layerbuild.util.errors import check_expanded
from layerbuild.util.fsutil import atomic_write, relative_paths
from layerbuild.util.tarzst import Member, tar_bytes, tree_members

ZSTD_LEVEL = 19
#: where each field goes in a control file; any other field follows these, in the order of its name
FIELD_ORDER = ("Package", "Source", "Version", "Architecture", "Essential", "Maintainer", "Installed-Size",
               "Pre-Depends", "Depends", "Recommends", "Suggests", "Provides", "Conflicts", "Breaks", "Replaces",
               "Enhances", "Section", "Priority", "Homepage", "Description")
#: deb-control(5): US-ASCII letters, digits and punctuation but the colon, not starting with ``#`` or ``-``
_FIELD_NAME = re.compile(r"(?![#-])[!-9;-~]+")
SCRIPTS = ("preinst", "postinst", "prerm", "postrm")


@dataclass(frozen=True)
class DebInfo:
    path: str
    package: str
    version: str
    architecture: str
    control: str


def _zst(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=0, write_checksum=True,
                                    write_content_size=True).compress(data)


def data_tar(root: str, clamp: int) -> tuple[bytes, dict[str, str], int]:
    """The data archive of ``root``; returns it, md5sums of regular files and the installed size (KiB).

    Members are in sorted order of their paths, named ``./path``. Built as root, owners are the installed
    files' own; otherwise the builder's uid and gid become root's.
    """
    builder = (os.geteuid(), os.getegid()) if os.geteuid() != 0 else None
    entries: list[Member] = []
    md5sums: dict[str, str] = {}
    size_kib = 0
    for info, path in tree_members(root, ".", clamp=clamp, paths=sorted(relative_paths(root))):
        if info.name == ".":
            info.uid = info.gid = 0
        elif builder is not None:
            info.uid = 0 if info.uid == builder[0] else info.uid
            info.gid = 0 if info.gid == builder[1] else info.gid
        info.uname = "root" if info.uid == 0 else ""
        info.gname = "root" if info.gid == 0 else ""
        data = None
        if info.isdir():
            if info.name != ".":
                size_kib += 1
        elif path is not None:
            with open(path, "rb") as fh:
                data = fh.read()
            info.size = len(data)
            md5sums[info.name[2:]] = hashlib.md5(data).hexdigest()  # noqa: S324 - dpkg's md5sums format
            size_kib += (len(data) + 1023) // 1024
        elif not (info.issym() or info.islnk()):
            continue  # device nodes and fifos are not packaged
        entries.append((info, data))
    return tar_bytes(entries), md5sums, size_kib


def _byte_order(item: tuple[str, str]) -> bytes:
    return os.fsencode(item[0])


def control_text(fields: dict[str, str], summary: str, description: str) -> str:
    """The control file of a package: the non-empty ``fields`` in FIELD_ORDER, then the description."""
    extra = sorted(set(fields) - set(FIELD_ORDER))
    known = {key.lower() for key in FIELD_ORDER}
    for key in extra:
        if not _FIELD_NAME.fullmatch(key):
            raise ValueError(f"'{key}' is not a control field name (deb-control(5))")
        if key.lower() in known:
            raise ValueError(f"'{key}' is the field {key.title()} again (field names ignore case)")
    lines = []
    package = fields.get("Package", "")
    for key in (*FIELD_ORDER, *extra):
        if key == "Description":
            continue
        value = fields.get(key)
        if value:
            check_expanded(value, f"the control field {key} of package {package}")
            lines.append(f"{key}: {value}")
    check_expanded(f"{summary}\n{description}", f"the control field Description of package {package}")
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
    members: list[Member] = []

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
    # File names are bytes to dpkg: one that is not UTF-8 is carried through as it is on disk
    # (surrogateescape), in the data archive, md5sums and conffiles alike.
    if conffiles:
        files["conffiles"] = "".join(f"{p}\n" for p in conffiles).encode("utf-8", "surrogateescape")
    if md5sums:
        files["md5sums"] = "".join(f"{md5}  {path}\n" for path, md5 in sorted(md5sums.items(), key=_byte_order)) \
            .encode("utf-8", "surrogateescape")
    for script in SCRIPTS:
        if scripts.get(script):
            files[script] = scripts[script].encode()
    for name in sorted(files):
        member(f"./{name}", files[name], 0o755 if name in SCRIPTS else 0o644)
    control_tar = tar_bytes(members)
    version = fields["Version"]
    arch = fields["Architecture"]
    filename = f"{fields['Package']}_{version.split(':', 1)[-1]}_{arch}.deb"
    path = os.path.join(output_dir, filename)
    blob = b"!<arch>\n" + _ar_member("debian-binary", b"2.0\n", clamp) + \
        _ar_member("control.tar.zst", _zst(control_tar), clamp) + _ar_member("data.tar.zst", _zst(data), clamp)
    atomic_write(path, blob)
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
