"""The ABI closure check, on tiny programs and libraries built with the host compiler."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from layerbuild.image.abi import AbiError, check_closure

pytestmark = pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
LIBC = {"libc.so.6": "libc6"}


def cc(args: list[str], cwd: Path) -> None:
    subprocess.run(["gcc", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("abi-src")
    (src / "tiny.c").write_text("int tiny(void) { return 42; }\n")
    (src / "other.c").write_text("int other(void) { return 7; }\n")
    (src / "prog.c").write_text("int tiny(void);\nint main(void) { return tiny() - 42; }\n")
    (src / "both.c").write_text("int tiny(void); int other(void);\nint main(void) { return tiny() + other(); }\n")
    (src / "plain.c").write_text("int main(void) { return 0; }\n")
    cc(["-shared", "-fPIC", "-Wl,-soname,libtiny.so.1", "-o", "libtiny.so.1", "tiny.c"], src)
    cc(["-shared", "-fPIC", "-Wl,-soname,libother.so.2", "-o", "libother.so.2", "other.c"], src)
    cc(["-o", "prog", "prog.c", "-L.", "-l:libtiny.so.1"], src)
    cc(["-o", "both", "both.c", "-L.", "-l:libtiny.so.1", "-l:libother.so.2"], src)
    cc(["-o", "prog-rpath", "prog.c", "-L.", "-l:libtiny.so.1", "-Wl,-rpath,$ORIGIN/../lib"], src)
    cc(["-o", "plain", "plain.c"], src)
    return src


def payload(tmp_path: Path, built: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "payload"
    for dest, name in files.items():
        (root / dest).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(built / name, root / dest)
    (root / "usr/share/doc").mkdir(parents=True, exist_ok=True)
    (root / "usr/share/doc/README").write_text("not ELF\n")
    return root


def test_hits_in_extension_and_base(tmp_path: Path, built: Path) -> None:
    root = payload(tmp_path, built, {"usr/bin/prog": "prog", "usr/lib/libtiny.so.1": "libtiny.so.1",
                                     "usr/bin/plain": "plain"})
    report = check_closure(root, LIBC)
    assert report.binaries == 2  # the library needs nothing (Debian's gcc links --as-needed)
    assert report.found[("/usr/bin/prog", "libtiny.so.1")] == "extension"
    assert report.found[("/usr/bin/prog", "libc.so.6")] == "base:libc6"
    assert report.found[("/usr/bin/plain", "libc.so.6")] == "base:libc6"


def test_miss_names_binary_and_library(tmp_path: Path, built: Path) -> None:
    root = payload(tmp_path, built, {"usr/bin/prog": "prog"})
    with pytest.raises(AbiError) as exc:
        check_closure(root, LIBC)
    assert str(exc.value) == (
        "error: extension: /usr/bin/prog needs libtiny.so.1, which neither the extension nor its base provides\n"
        "  hint: add the package that provides the library to the extension (or to the base image)")


def test_all_misses_in_one_error(tmp_path: Path, built: Path) -> None:
    root = payload(tmp_path, built, {"usr/bin/prog": "prog", "usr/bin/both": "both"})
    with pytest.raises(AbiError) as exc:
        check_closure(root, {}, what="system extension 'tools'")
    text = str(exc.value)
    assert text.startswith("error: system extension 'tools': /usr/bin/both needs libtiny.so.1, which neither "
                           "the system extension 'tools' nor its base provides\n")
    assert "  also /usr/bin/both needs libother.so.2\n" in text
    assert "  also /usr/bin/both needs libc.so.6\n" in text
    assert "  also /usr/bin/prog needs libtiny.so.1\n" in text
    assert "  also /usr/bin/prog needs libc.so.6\n" in text


def test_base_library_paths(tmp_path: Path, built: Path) -> None:
    root = payload(tmp_path, built, {"usr/bin/prog": "prog"})
    report = check_closure(root, LIBC, ["/usr/lib/x86_64-linux-gnu/libtiny.so.1"])
    assert report.found[("/usr/bin/prog", "libtiny.so.1")] == "base"
    with pytest.raises(AbiError, match="needs libtiny.so.1"):
        check_closure(root, LIBC, ["/usr/share/libtiny.so.1"])  # not a directory the loader searches


def test_library_outside_the_search_path(tmp_path: Path, built: Path) -> None:
    root = payload(tmp_path, built, {"opt/tiny/bin/prog": "prog", "opt/tiny/lib/libtiny.so.1": "libtiny.so.1",
                                     "opt/tiny/bin/prog-rpath": "prog-rpath"})
    with pytest.raises(AbiError) as exc:
        check_closure(root, LIBC)
    assert "/opt/tiny/bin/prog needs libtiny.so.1" in str(exc.value)
    assert "prog-rpath" not in str(exc.value)  # its RUNPATH ($ORIGIN/../lib) finds the library


def test_multiarch_library_directory_in_the_extension(tmp_path: Path, built: Path) -> None:
    root = payload(tmp_path, built, {"usr/bin/prog": "prog",
                                     "usr/lib/x86_64-linux-gnu/libtiny.so.1": "libtiny.so.1"})
    report = check_closure(root, LIBC)
    assert report.found[("/usr/bin/prog", "libtiny.so.1")] == "extension"
