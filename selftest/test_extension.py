"""Extension assembly: relocation, path rules, extension-release, shadowing, names, and real merges."""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
from pathlib import Path

import pytest

from layerbuild.image import types
from layerbuild.image.extension import (
    ExtensionConfig,
    ExtensionError,
    assemble,
    extension_release,
    systemd_architecture,
    validate_name,
)
from layerbuild.image.pkgdb import BaseInfo, unpack_snapshot, write_snapshot
from layerbuild.image.types import ImageOptions
from layerbuild.util import osrelease
from layerbuild.util.errors import UnexpandedError

SDE = 1_700_000_000
BASE_STATUS = """Package: base-files
Status: install ok installed
Architecture: x86-64
Version: 1.0-r0
Description: base files

Package: busybox
Status: install ok installed
Architecture: x86-64
Version: 1.36-r0
Description: tools
"""
BASE_LISTS = {
    "base-files": ["/.", "/usr", "/usr/lib", "/usr/lib/os-release", "/etc", "/etc/os-release"],
    "busybox": ["/.", "/usr", "/usr/bin", "/usr/bin/sh", "/bin", "/bin/ls"],
}

Files = dict[str, "str | tuple[str]"]  # path -> content, or (link target,)


def make_base(root: Path, os_release: str = 'ID=lbtest\nVERSION_ID="1.0"\nNAME="LB test"\n') -> Path:
    dpkg = root / "var/lib/dpkg"
    (dpkg / "info").mkdir(parents=True)
    (dpkg / "status").write_text(BASE_STATUS)
    for name, lines in BASE_LISTS.items():
        (dpkg / "info" / f"{name}.list").write_text("\n".join(lines) + "\n")
    for d in ("usr/bin", "usr/lib", "usr/share", "etc", "opt", "var/lib/extensions", "run", "tmp"):
        (root / d).mkdir(parents=True, exist_ok=True)
    (root / "usr/lib/os-release").write_text(os_release)
    os.symlink("../usr/lib/os-release", root / "etc/os-release")
    (root / "usr/bin/sh").write_text("#!base sh\n")
    return root


def staging_from(base_root: Path, tmp: Path) -> tuple[Path, BaseInfo]:
    snap = tmp / "snap.tar.zst"
    write_snapshot(base_root, snap, SDE)
    staging = tmp / "staging"
    return staging, unpack_snapshot(snap, staging)


def install(root: Path, package: str, files: Files, version: str = "1.0") -> None:
    """What the installer leaves: the files, a status stanza and the package's file list."""
    dirs: set[str] = set()
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        parts = rel.split("/")
        dirs.update("/".join(parts[:i]) for i in range(1, len(parts)))
        if isinstance(content, tuple):
            os.symlink(content[0], path)
        else:
            path.write_text(content)
    dpkg = root / "var/lib/dpkg"
    (dpkg / "info").mkdir(parents=True, exist_ok=True)
    with open(dpkg / "status", "a") as fh:
        fh.write(f"\nPackage: {package}\nStatus: install ok installed\nArchitecture: x86-64\n"
                 f"Version: {version}\nDescription: {package}\n")
    lines = ["/."] + [f"/{d}" for d in sorted(dirs)] + [f"/{f}" for f in sorted(files)]
    (dpkg / "info" / f"{package}.list").write_text("\n".join(lines) + "\n")


def tree(root: Path) -> dict[str, str]:
    found = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(dirpath, name)
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = "-> " + os.readlink(path)
            elif path.is_dir():
                found[rel] = "/"
            else:
                found[rel] = path.read_text()
    return found


needs_sysext = pytest.mark.skipif(shutil.which("systemd-sysext") is None, reason="systemd-sysext not installed")


@pytest.fixture
def based(tmp_path: Path) -> tuple[Path, BaseInfo]:
    return staging_from(make_base(tmp_path / "base"), tmp_path)


def sysext(name: str = "tools", **kw: object) -> ExtensionConfig:
    return ExtensionConfig(kind="sysext", name=name, architecture="x86_64", **kw)  # type: ignore[arg-type]


def test_relocation_and_cleanup(based: tuple[Path, BaseInfo]) -> None:
    staging, base = based
    install(staging, "tools", {
        "bin/tool": "tool", "bin/t": ("tool",), "bin/up": ("../lib/libt.so.1",), "bin/doc": ("../usr/share/d",),
        "bin/abs": ("/usr/bin/tool",), "sbin/stool": "stool", "lib/libt.so.1": "lib", "lib/libt.so": ("libt.so.1",),
        "lib64/ld.so": "ld", "lib/modules/x/m.ko": "ko", "usr/bin/other": "other", "usr/share/d": "doc",
        "opt/tools/data": "data", "bin/same": "same", "usr/bin/same": "same",
    })
    os.makedirs(staging / "var/cache/empty")
    os.makedirs(staging / "etc/empty.d")
    result = assemble(staging, sysext(), base)
    assert tree(staging) == {
        "usr": "/", "usr/bin": "/", "usr/sbin": "/", "usr/lib": "/", "usr/lib64": "/", "usr/share": "/",
        "usr/lib/modules": "/", "usr/lib/modules/x": "/", "usr/lib/modules/x/m.ko": "ko",
        "usr/bin/tool": "tool", "usr/bin/t": "-> tool", "usr/bin/up": "-> ../lib/libt.so.1",
        "usr/bin/doc": "-> ../share/d", "usr/bin/abs": "-> /usr/bin/tool", "usr/sbin/stool": "stool",
        "usr/lib/libt.so.1": "lib", "usr/lib/libt.so": "-> libt.so.1", "usr/lib64/ld.so": "ld",
        "usr/bin/other": "other", "usr/share/d": "doc", "usr/bin/same": "same",
        "opt": "/", "opt/tools": "/", "opt/tools/data": "data",
        "usr/lib/extension-release.d": "/",
        "usr/lib/extension-release.d/extension-release.tools": "ID=lbtest\nVERSION_ID=1.0\nARCHITECTURE=x86-64\n",
    }
    assert result.release_path == "usr/lib/extension-release.d/extension-release.tools"
    assert result.all_root and result.warnings == ()
    assert result.relocated["bin/tool"] == "usr/bin/tool" and result.relocated["bin/up"] == "usr/bin/up"


def test_merged_usr_links_are_dropped(based: tuple[Path, BaseInfo]) -> None:
    staging, base = based
    install(staging, "tools", {"usr/bin/tool": "x", "bin": ("usr/bin",), "lib64": ("/usr/lib64",)})
    assemble(staging, sysext(), base)
    assert not os.path.lexists(staging / "bin") and not os.path.lexists(staging / "lib64")


def test_relocation_clash(based: tuple[Path, BaseInfo]) -> None:
    staging, base = based
    install(staging, "old-tools", {"bin/tool": "old"})
    install(staging, "new-tools", {"usr/bin/tool": "new"})
    with pytest.raises(ExtensionError) as exc:
        assemble(staging, sysext(), base)
    assert str(exc.value) == (
        "error: system extension 'tools': /bin/tool (from package 'old-tools') cannot move to /usr/bin/tool: "
        "/usr/bin/tool (from package 'new-tools') is there\n"
        "  hint: the files clash with /usr; install them into /usr only")


def test_path_outside_usr_and_opt_message(based: tuple[Path, BaseInfo]) -> None:
    staging, base = based
    install(staging, "tools", {"usr/bin/tool": "x", "var/lib/tools/state": "s", "srv/www/index": "i"})
    (staging / "boot").mkdir()
    (staging / "boot/vmlinuz").write_text("k")
    with pytest.raises(ExtensionError) as exc:
        assemble(staging, sysext(), base)
    assert str(exc.value) == (
        "error: system extension 'tools': /boot/vmlinuz (listed by no package) is outside /usr and /opt\n"
        "  also /srv/www/index (from package 'tools') is outside /usr and /opt\n"
        "  also /var/lib/tools/state (from package 'tools') is outside /usr and /opt\n"
        "  hint: a system extension only merges /usr and /opt; install the files there in the recipe")


def test_etc_is_an_error_with_a_hint(based: tuple[Path, BaseInfo]) -> None:
    staging, base = based
    install(staging, "tools", {"usr/bin/tool": "x", "etc/tools.conf": "c"})
    with pytest.raises(ExtensionError) as exc:
        assemble(staging, sysext(), base)
    assert str(exc.value) == (
        "error: system extension 'tools': /etc/tools.conf (from package 'tools') is in /etc, which a system "
        "extension cannot ship\n"
        "  hint: build a configuration extension (confext) for /etc, or set SYSEXT_ETC_TO_USR_SHARE = \"1\" to "
        "ship it under /usr/share/tools/etc with a tmpfiles.d rule that copies it into /etc")


def test_etc_to_usr_share_as_dalec_does(based: tuple[Path, BaseInfo]) -> None:
    staging, base = based
    install(staging, "tools", {"usr/bin/tool": "x", "etc/tools.conf": "c", "etc/tools.d/a b.conf": "a",
                               "etc/tools.d/link": ("../tools.conf",)})
    result = assemble(staging, sysext(etc_to_usr_share=True), base)
    found = tree(staging)
    assert "etc" not in found
    assert found["usr/share/tools/etc/tools.conf"] == "c"
    assert found["usr/share/tools/etc/tools.d/a b.conf"] == "a"
    assert found["usr/share/tools/etc/tools.d/link"] == "-> ../tools.conf"
    assert found["usr/lib/tmpfiles.d/tools-etc.conf"] == (
        "# Copies the /etc content of tools into /etc (it stays after unmerge).\n"
        "C /etc/tools.conf - - - - /usr/share/tools/etc/tools.conf\n"
        'C "/etc/tools.d/a b.conf" - - - - "/usr/share/tools/etc/tools.d/a b.conf"\n'
        "C /etc/tools.d/link - - - - /usr/share/tools/etc/tools.d/link\n")
    assert result.warnings == ()
    assert result.relocated["etc/tools.conf"] == "usr/share/tools/etc/tools.conf"


def test_tmpfiles_rule_copies_into_etc(based: tuple[Path, BaseInfo], tmp_path: Path) -> None:
    """systemd-tmpfiles itself applies the rule to a root."""
    if shutil.which("systemd-tmpfiles") is None:
        pytest.skip("systemd-tmpfiles not installed")
    staging, base = based
    install(staging, "tools", {"etc/tools.conf": "c", "etc/tools.d/a.conf": "a"})
    assemble(staging, sysext(etc_to_usr_share=True), base)
    subprocess.run(["systemd-tmpfiles", f"--root={staging}", "--create",
                    str(staging / "usr/lib/tmpfiles.d/tools-etc.conf")], check=True, capture_output=True)
    assert (staging / "etc/tools.conf").read_text() == "c"
    assert (staging / "etc/tools.d/a.conf").read_text() == "a"


def test_os_release_in_payload(based: tuple[Path, BaseInfo]) -> None:
    staging, base = based
    install(staging, "my-release", {"usr/lib/os-release": "ID=other\n"})
    with pytest.raises(ExtensionError) as exc:
        assemble(staging, sysext(), base)
    assert str(exc.value) == (
        "error: system extension 'tools': /usr/lib/os-release (from package 'my-release') must not be in an "
        "extension\n"
        "  hint: systemd identifies an extension by its extension-release.tools, which is written from the "
        "base's os-release")


def test_snapshot_database_and_os_release_are_removed(based: tuple[Path, BaseInfo]) -> None:
    staging, base = based
    install(staging, "tools", {"usr/bin/tool": "x"})
    assemble(staging, sysext(), base)
    assert not (staging / "var").exists() and not (staging / "etc").exists()
    assert not (staging / "usr/lib/os-release").exists()


def test_extension_release_fields(tmp_path: Path) -> None:
    def base(text: str) -> BaseInfo:
        return BaseInfo(osrelease.parse(text), {}, {}, frozenset())

    plain = base("ID=lbtest\nVERSION_ID=1.0\n")
    levelled = base("ID=lbtest\nVERSION_ID=1.0\nSYSEXT_LEVEL=2.1\nCONFEXT_LEVEL=7\n")
    assert extension_release(sysext(), plain) == {"ID": "lbtest", "VERSION_ID": "1.0", "ARCHITECTURE": "x86-64"}
    assert extension_release(sysext(), levelled) == {"ID": "lbtest", "SYSEXT_LEVEL": "2.1",
                                                     "ARCHITECTURE": "x86-64"}
    conf = ExtensionConfig(kind="confext", name="c", scope="system portable", reload_manager=True)
    assert extension_release(conf, levelled) == {"ID": "lbtest", "CONFEXT_LEVEL": "7",
                                                 "CONFEXT_SCOPE": "system portable",
                                                 "EXTENSION_RELOAD_MANAGER": "1"}
    assert extension_release(sysext(scope="initrd"), plain)["SYSEXT_SCOPE"] == "initrd"
    assert extension_release(sysext(id="_any"), None) == {"ID": "_any", "ARCHITECTURE": "x86-64"}
    assert extension_release(sysext(id="_any"), plain) == {"ID": "_any", "ARCHITECTURE": "x86-64"}
    assert extension_release(sysext(id="debian", version_id="12"), None)["VERSION_ID"] == "12"
    with pytest.raises(ExtensionError, match="an extension without a base needs an ID"):
        extension_release(sysext(), None)
    with pytest.raises(ExtensionError, match="extension ID 'other' differs from the base's ID 'lbtest'"):
        extension_release(sysext(id="other"), plain)
    with pytest.raises(ExtensionError, match="invalid SYSEXT_SCOPE 'host'"):
        extension_release(sysext(scope="host"), plain)
    assert systemd_architecture("aarch64") == "arm64" and systemd_architecture("amd64") == "x86-64"
    with pytest.raises(ExtensionError, match="unknown architecture 'z80'"):
        systemd_architecture("z80")


def test_shadow_warning_and_error(based: tuple[Path, BaseInfo]) -> None:
    staging, base = based
    install(staging, "mysh", {"usr/bin/sh": "#!my sh\n", "bin/ls": "my ls", "usr/bin/fresh": "new"})
    result = assemble(staging, sysext(), base)
    assert result.warnings == (
        "/usr/bin/ls of package 'mysh' shadows /bin/ls of the base's package 'busybox'",
        "/usr/bin/sh of package 'mysh' shadows /usr/bin/sh of the base's package 'busybox'",
    )


def test_shadow_error(based: tuple[Path, BaseInfo]) -> None:
    staging, base = based
    install(staging, "mysh", {"usr/bin/sh": "#!my sh\n"})
    with pytest.raises(ExtensionError) as exc:
        assemble(staging, sysext(shadow="error"), base)
    assert str(exc.value).startswith(
        "error: system extension 'tools': /usr/bin/sh of package 'mysh' shadows /usr/bin/sh of the base's "
        "package 'busybox'")


@pytest.mark.parametrize(("name", "why"), [
    ("", "it is empty"), (".", "it is '.' or '..'"), ("..", "it is '.' or '..'"), ("a/b", "it contains '/'"),
    (".hidden", "it starts with '.'"), ("tab\tx", "it contains a control character"),
    ("two words", "it contains white space"), ("x" * 300, "it is too long for a file name"),
    ("x" * 238, "it is too long for a file name"),  # extension-release.NAME would pass 255 bytes
    ("ä" * 119, "it is too long for a file name"),  # bytes count, not characters
], ids=lambda v: v if len(v) < 40 else f"{len(v.encode())}-bytes")
def test_invalid_names(name: str, why: str) -> None:
    with pytest.raises(ExtensionError) as exc:
        validate_name(name)
    assert f"invalid extension name '{name}': {why}" in str(exc.value)


VALID_NAMES = ("tools", "my-ext_1.2", "a.raw", "_x", "wärme", "x" * 237)


@pytest.mark.parametrize("name", VALID_NAMES, ids=lambda n: n if len(n) < 20 else f"{len(n)}-bytes")
def test_valid_names(name: str, based: tuple[Path, BaseInfo]) -> None:
    staging, base = based
    install(staging, "tools", {"usr/bin/tool": "tool"})
    validate_name(name)  # raises when it refuses the name
    result = assemble(staging, sysext(name), base)
    assert result.release_path == f"usr/lib/extension-release.d/extension-release.{name}"
    assert (staging / result.release_path).read_text() == "ID=lbtest\nVERSION_ID=1.0\nARCHITECTURE=x86-64\n"


@needs_sysext
def test_valid_names_are_the_image_names_systemd_sees(tmp_path: Path) -> None:
    extensions = tmp_path / "var/lib/extensions"
    extensions.mkdir(parents=True)
    for name in VALID_NAMES:
        (extensions / f"{name}.raw").touch()
    out = subprocess.run(["systemd-sysext", "list", f"--root={tmp_path}", "--json=short"],
                         capture_output=True, text=True, check=True, timeout=60).stdout
    assert sorted(image["name"] for image in json.loads(out)) == sorted(VALID_NAMES)


def test_confext_ships_only_etc(based: tuple[Path, BaseInfo]) -> None:
    staging, base = based
    install(staging, "conf", {"etc/app/app.conf": "c"})
    result = assemble(staging, ExtensionConfig(kind="confext", name="appconf"), base)
    assert tree(staging) == {
        "etc": "/", "etc/app": "/", "etc/app/app.conf": "c", "etc/extension-release.d": "/",
        "etc/extension-release.d/extension-release.appconf": "ID=lbtest\nVERSION_ID=1.0\n",
    }
    assert result.release_path == "etc/extension-release.d/extension-release.appconf"


def test_confext_rejects_usr_and_os_release(based: tuple[Path, BaseInfo], tmp_path: Path) -> None:
    staging, base = based
    install(staging, "conf", {"etc/app.conf": "c", "usr/bin/app": "x"})
    with pytest.raises(ExtensionError) as exc:
        assemble(staging, ExtensionConfig(kind="confext", name="appconf"), base)
    assert str(exc.value).startswith(
        "error: configuration extension 'appconf': /usr/bin/app (from package 'conf') is outside /etc\n")
    (tmp_path / "two").mkdir()
    staging2, base2 = staging_from(make_base(tmp_path / "b2"), tmp_path / "two")
    install(staging2, "rel", {"etc/os-release": "ID=x\n"})
    with pytest.raises(ExtensionError, match="/etc/os-release .from package 'rel'. must not be in an extension"):
        assemble(staging2, ExtensionConfig(kind="confext", name="appconf"), base2)


def test_standalone_extension_without_base(tmp_path: Path) -> None:
    root = tmp_path / "standalone"
    install(root, "tools", {"usr/bin/tool": "x", "lib/libc.so.6": "libc"})
    assemble(root, sysext(id="_any"))
    assert (root / "usr/lib/libc.so.6").exists() and not (root / "var").exists()
    assert (root / "usr/lib/extension-release.d/extension-release.tools").read_text() == \
        "ID=_any\nARCHITECTURE=x86-64\n"


# -- real merges with systemd-sysext --------------------------------------------------------------

def _build_extension(tmp: Path, base_root: Path, recorded_release: str, fstype: str) -> Path:
    """An extension assembled against a snapshot whose os-release is ``recorded_release``."""
    recorded = make_base(tmp / "recorded-base", recorded_release)
    staging, base = staging_from(recorded, tmp)
    install(staging, "tools", {"usr/bin/lbtool": "#!/bin/sh\necho from-extension\n", "bin/lbold": "old"})
    os.chown(staging / "usr/bin/lbtool", 1234, 1234)  # the image makes it root's
    config = ExtensionConfig(kind="sysext", name="tools", architecture=systemd_architecture(platform.machine()))
    result = assemble(staging, config, base)
    image = tmp / f"tools.{fstype}"
    types.write(fstype, staging, image, ImageOptions(source_date_epoch=SDE, all_root=result.all_root))
    return image


def _merge(base_root: Path, image: Path) -> str:
    shutil.copy(image, base_root / "var/lib/extensions/tools.raw")
    # Private first (nothing reaches the host), then shared inside this namespace: systemd-sysext
    # merges in a child namespace and relies on propagation to make the overlay visible here.
    script = (f"mount --make-rprivate / && mount --make-rshared / && mount -t tmpfs tmpfs /run && "
              f"systemd-sysext --root={base_root} merge; "
              f"cat {base_root}/usr/bin/lbtool 2>/dev/null; stat -c 'owner %u:%g' {base_root}/usr/bin/lbtool; "
              f"echo ---; ls {base_root}/usr/bin; echo ---; "
              f"findmnt -n -o FSTYPE {base_root}/usr || true")
    result = subprocess.run(["unshare", "-m", "sh", "-c", script],
                            capture_output=True, text=True, timeout=60)
    os.unlink(base_root / "var/lib/extensions/tools.raw")
    return result.stdout + result.stderr


@pytest.mark.root
@needs_sysext
@pytest.mark.parametrize("fstype", ["squashfs", "erofs"])
def test_real_merge(fstype: str, tmp_path: Path) -> None:
    if fstype == "erofs" and shutil.which("mkfs.erofs") is None:
        pytest.skip("erofs-utils not installed")
    base_root = make_base(tmp_path / "device")
    image = _build_extension(tmp_path / "good", base_root, 'ID=lbtest\nVERSION_ID="1.0"\n', fstype)
    out = _merge(base_root, image)
    before, listing, mounted = out.split("---\n")
    assert "from-extension" in before and "owner 0:0" in before, out
    assert {"lbtool", "lbold", "sh"} <= set(listing.split()), out
    assert "overlay" in mounted, out


@pytest.mark.root
@needs_sysext
def test_wrong_version_is_not_merged(tmp_path: Path) -> None:
    base_root = make_base(tmp_path / "device")
    image = _build_extension(tmp_path / "drifted", base_root, 'ID=lbtest\nVERSION_ID="2.0"\n', "squashfs")
    out = _merge(base_root, image)
    before, listing, mounted = out.split("---\n")
    assert "from-extension" not in before
    assert "lbtool" not in listing.split()
    assert "overlay" not in mounted


@pytest.mark.parametrize(("kind", "files", "empty"), [
    ("sysext", {}, True),
    ("sysext", {"usr/share/doc/tools/": ""}, True),  # directories alone ship nothing
    ("sysext", {"usr/bin/tool": "tool"}, False),
    ("sysext", {"usr/bin/t": ("tool",)}, False),  # a link is content
    ("sysext", {"etc/tools.conf": "x"}, False),  # relocated with its tmpfiles.d rule
    ("confext", {}, True),
    ("confext", {"etc/tools.conf": "x"}, False),
])
def test_empty_payload_is_reported(based: tuple[Path, BaseInfo], kind: str, files: Files, empty: bool) -> None:
    staging, base = based
    install(staging, "tools", {k: v for k, v in files.items() if not k.endswith("/")})
    for rel in (k for k in files if k.endswith("/")):
        (staging / rel).mkdir(parents=True, exist_ok=True)
    config = ExtensionConfig(kind=kind, name="tools", etc_to_usr_share=True)
    assert assemble(staging, config, base).empty is empty


def test_release_field_with_a_literal_reference_is_refused(tmp_path: Path) -> None:
    staging = tmp_path / "staging"
    install(staging, "tools", {"usr/bin/tool": "tool"})
    config = ExtensionConfig(kind="sysext", name="tools", id="lbtest", version_id="${MY_VERSION}")
    with pytest.raises(UnexpandedError) as err:
        assemble(staging, config)
    assert err.value.message == "the extension-release field VERSION_ID would hold ${MY_VERSION} literally: " \
                                "MY_VERSION is not set"
    assert not (staging / "usr/lib/extension-release.d/extension-release.tools").exists()
