"""The image's record in buildhistory, written by ``do_image`` (``IMAGE_PREPROCESS_COMMAND``), in OE's
layout under ``BUILDHISTORY_DIR_IMAGE`` (``${BUILDHISTORY_DIR}/images/${MACHINE_ARCH}/${TCLIBC}/${IMAGE_BASENAME}``):

- ``installed-package-names.txt``: one package name a line, sorted;
- ``installed-packages.txt``: the ``.deb`` file of each;
- ``installed-package-sizes.txt``: ``SIZE\\tKiB\\tNAME``, largest first (the installed size of its files);
- ``installed-package-info.txt``: ``NAME RECIPE VERSION SIZE`` (bytes), what the diff reads;
- ``depends.dot``: the dependency graph between the installed packages (recommendations dotted);
- ``files-in-image.txt``: every path of the image with its type and mode, owner, size and link target;
- ``image-info.txt``: the image's variables (``DISTRO``, ``IMAGE_INSTALL``...) and its size.

An extension's record is what it ships: its manifest's packages and its payload's files.
"""

from __future__ import annotations

import os
import re
import stat

from layerbuild.image.tasks import rootfs_image_name
from layerbuild.packaging.split import read_pkgdata
from layerbuild.taskapi import TaskContext
from layerbuild.util.fsutil import atomic_write, sorted_walk

#: the variables image-info.txt records, as OE's buildhistory_get_imageinfo
IMAGE_INFO_VARS = ("DISTRO", "DISTRO_VERSION", "IMAGE_CLASSES", "IMAGE_FEATURES", "IMAGE_LINGUAS", "IMAGE_INSTALL",
                   "BAD_RECOMMENDATIONS", "NO_RECOMMENDATIONS", "PACKAGE_EXCLUDE", "ROOTFS_POSTPROCESS_COMMAND",
                   "IMAGE_PREPROCESS_COMMAND")

_NAME = re.compile(r"\s*([^\s(|]+)")


def _names(field: str) -> list[str]:
    """The package names of a dependency field (each alternative of ``a | b (>= 1)``)."""
    out = []
    for group in field.split(","):
        for alternative in group.split("|"):
            match = _NAME.match(alternative)
            if match:
                out.append(match.group(1))
    return out


def _manifest(path: str) -> list[tuple[str, str, str]]:
    with open(path, encoding="utf-8") as fh:
        return [(w[0], w[1], w[2]) for w in (line.split() for line in fh) if len(w) == 3]


def _kind(mode: int) -> str:
    return stat.filemode(mode)


def files_in_image(root: str) -> str:
    """``files-in-image.txt``: a line per path (``mode uid gid size ./path [-> target]``), sorted; links
    are read, never followed."""
    lines = []
    for top, dirs, files in sorted_walk(root):
        for name in sorted(dirs + files):
            full = os.path.join(top, name)
            st = os.lstat(full)
            rel = "./" + os.path.relpath(full, root)
            size = st.st_size if stat.S_ISREG(st.st_mode) else 0
            line = f"{_kind(st.st_mode)} {st.st_uid} {st.st_gid} {size} {rel}"
            if stat.S_ISLNK(st.st_mode):
                line += f" -> {os.readlink(full)}"
            lines.append(line)
    return "".join(f"{line}\n" for line in sorted(lines, key=lambda text: text.split(" ", 4)[4]))


def buildhistory_image(ctx: TaskContext) -> None:
    """Write the image's record (see the module's description)."""
    v = ctx.vars
    out = v.path("BUILDHISTORY_DIR_IMAGE")
    deploy = v.path("IMGDEPLOYDIR")
    installed = _manifest(os.path.join(deploy, rootfs_image_name(deploy, v.get("IMAGE_NAME")) + ".manifest"))
    names = {name for name, _arch, _version in installed}
    info = []
    edges = []
    for name, arch, version in installed:
        data = read_pkgdata(ctx.pkgdata_dir, name)
        size = int(data.get("SIZE") or 0)
        info.append((name, str(data.get("PN") or ""), version, arch, size))
        for dep in sorted(set(_names(str(data.get("RDEPENDS") or ""))) & names - {name}):
            edges.append(f'"{name}" -> "{dep}"')
        for dep in sorted(set(_names(str(data.get("RRECOMMENDS") or ""))) & names - {name}):
            edges.append(f'"{name}" -> "{dep}" [style=dotted]')
    os.makedirs(out, exist_ok=True)
    atomic_write(os.path.join(out, "installed-package-names.txt"), "".join(f"{n}\n" for n in sorted(names)))
    atomic_write(os.path.join(out, "installed-packages.txt"),
                 "".join(f"{n}_{ver}_{arch}.deb\n" for n, _pn, ver, arch, _size in sorted(info)))
    atomic_write(os.path.join(out, "installed-package-sizes.txt"),
                 "".join(f"{-(-size // 1024)}\tKiB\t{n}\n"
                         for n, _pn, _v, _a, size in sorted(info, key=lambda i: (-i[4], i[0]))))
    atomic_write(os.path.join(out, "installed-package-info.txt"),
                 "".join(f"{n} {pn} {ver} {size}\n" for n, pn, ver, _arch, size in sorted(info)))
    atomic_write(os.path.join(out, "depends.dot"),
                 "digraph depends {\n    node [shape=plaintext]\n" + "".join(f"{e};\n" for e in sorted(edges)) + "}\n")
    files = files_in_image(v.path("IMAGE_ROOTFS"))
    atomic_write(os.path.join(out, "files-in-image.txt"), files)
    image_size = sum(int(line.split(" ", 4)[3]) for line in files.splitlines())
    lines = [f"{var} = {' '.join((v.getVar(var) or '').split())}" for var in IMAGE_INFO_VARS]
    lines.append(f"IMAGESIZE = {-(-image_size // 1024)}")
    atomic_write(os.path.join(out, "image-info.txt"), "\n".join(lines) + "\n")
    ctx.note(f"buildhistory: {os.path.relpath(out, v.path('BUILDHISTORY_DIR'))}")
