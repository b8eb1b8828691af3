"""Real CMake and Meson projects from Debian's orig tarballs: json-c (cmake) and libspng (meson, zlib through
pkg-config in the recipe sysroot), checked with dpkg-deb, installed with dpkg --root and used from that
root by programs compiled against the recipe sysroot.

The sources come through DEBIAN_MIRROR into the DL_DIR test_realsw keeps between runs.
"""

from __future__ import annotations

import hashlib
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from conftest import BuildDir, make_build
from elftools.elf.elffile import ELFFile
from test_realsw import DL_DIR, build_id, dpkg_deb, dynamic, run_in

from layerbuild.util.aptsources import debian_mirror

pytestmark = pytest.mark.slow

SOURCES = ("zlib_1.2.13.dfsg.orig.tar.bz2", "json-c_0.16.orig.tar.gz", "libspng_0.7.3.orig.tar.gz")


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> BuildDir:
    if debian_mirror() is None and not all((DL_DIR / f"{name}.done").exists() for name in SOURCES):
        pytest.skip("the host's apt sources name no Debian mirror, and DL_DIR does not hold the sources")
    top = make_build(tmp_path_factory.mktemp("realsw-cm"), [], local=f'DL_DIR = "{DL_DIR}"\n')
    build = BuildDir(top)
    build.run("json-c", "libspng")
    return build


def feed(build: BuildDir, name: str) -> Path:
    (deb,) = (build.top / "tmp/deploy/deb").glob(f"*/{name}_*.deb")
    return deb


def work(build: BuildDir, pn: str) -> Path:
    (found,) = (build.top / "tmp/work").glob(f"*/{pn}/*")
    return found


@pytest.fixture(scope="module")
def root(build: BuildDir, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty root with dpkg's database, the packages installed into it by dpkg --root."""
    root = tmp_path_factory.mktemp("root")
    for directory in ("var/lib/dpkg/updates", "var/lib/dpkg/info", "var/log"):
        (root / directory).mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_text("")
    debs = [str(feed(build, name)) for name in ("libc6", "libgcc1", "zlib", "json-c", "json-c-dev", "libspng",
                                                "libspng-dev")]
    subprocess.run(["dpkg", f"--root={root}", "--log=/dev/null", "-i", *debs], check=True, capture_output=True)
    return root


def sysroot_sonames(sysroot: Path) -> dict[str, Path]:
    """The SONAME of each shared library of a recipe sysroot."""
    found = {}
    for lib in sysroot.rglob("*.so*"):
        if lib.is_file() and not lib.is_symlink() and lib.read_bytes()[:4] == b"\x7fELF":
            soname = dynamic(lib)[1]
            if soname:
                found[soname] = lib
    return found


def compile_against(sysroot: Path, source: str, output: Path, *libs: str) -> None:
    src = output.with_suffix(".c")
    src.write_text(source)
    subprocess.run(["gcc", f"--sysroot={sysroot}", f"-specs={sysroot}/usr/lib/sysroot.specs", "-o", str(output),
                    str(src), *libs], check=True)


def test_json_c_packages(build: BuildDir, root: Path) -> None:
    deb, dev = feed(build, "json-c"), feed(build, "json-c-dev")
    fields = dpkg_deb("-f", str(deb), "Package", "Version", "Depends", "Provides").splitlines()
    assert fields[:2] == ["Package: json-c", "Version: 0.16-r0"]
    assert fields[2].startswith("Depends: libc6 (>= ") and "," not in fields[2]
    assert fields[3] == "Provides: libjson"
    listing = dpkg_deb("-c", str(deb))
    assert "./usr/lib/libjson-c.so.5 -> libjson-c.so.5.2.0\n" in listing and " ./usr/lib/libjson-c.so.5.2.0\n" in listing
    assert dpkg_deb("-f", str(dev), "Depends").strip() == "json-c (= 0.16-r0)"
    dev_listing = dpkg_deb("-c", str(dev))
    for path in ("./usr/include/json-c/json.h", "./usr/lib/libjson-c.so -> libjson-c.so.5",
                 "./usr/lib/pkgconfig/json-c.pc", "./usr/lib/cmake/json-c/json-c-config.cmake"):
        assert path in dev_listing
    assert "./usr/lib/libjson-c.a" in dpkg_deb("-c", str(feed(build, "json-c-staticdev")))
    status = subprocess.run(["dpkg-query", f"--admindir={root}/var/lib/dpkg", "-W", "-f", "${Package} ${Version}\n"],
                            capture_output=True, text=True, check=True).stdout
    assert "json-c 0.16-r0\n" in status and "json-c-dev 0.16-r0\n" in status
    # configured by cmake with the toolchain file, out of tree, installed with DESTDIR
    log = (work(build, "json-c") / "temp/log.do_configure").read_text()
    assert "-DCMAKE_TOOLCHAIN_FILE:FILEPATH=" in log and "-DDISABLE_WERROR=ON" in log


def test_json_c_parses_from_the_installed_root(build: BuildDir, root: Path, tmp_path: Path) -> None:
    library = root / "usr/lib/libjson-c.so.5.2.0"
    needed, soname = dynamic(library)
    # (thread-local storage: __tls_get_addr is the dynamic loader's)
    assert soname == "libjson-c.so.5" and set(needed) == {"libc.so.6", "ld-linux-x86-64.so.2"}
    assert set(needed) <= set(sysroot_sonames(work(build, "json-c") / "recipe-sysroot"))
    with open(library, "rb") as fh:
        assert ELFFile(fh)["e_machine"] == "EM_X86_64"
    sysroot = work(build, "libspng") / "recipe-sysroot"
    # libspng's sysroot does not have json-c: compile against json-c's own build output
    json_sysroot = work(build, "json-c") / "sysroot-destdir"
    program = tmp_path / "roundtrip"
    source = """\
#include <stdio.h>
#include <json-c/json.h>
int main(void) {
    struct json_object *obj = json_tokener_parse("{\\"layer\\": [1, 2, {\\"build\\": true}]}");
    if (!obj) return 1;
    struct json_object *layer;
    if (!json_object_object_get_ex(obj, "layer", &layer)) return 2;
    printf("%zu %s\\n", json_object_array_length(layer), json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN));
    json_object_put(obj);
    return 0;
}
"""
    compile_against(sysroot, source, program, f"-I{json_sysroot}/usr/include", f"-L{json_sysroot}/usr/lib", "-ljson-c")
    assert dynamic(program)[0] == ["libjson-c.so.5", "libc.so.6"]
    result = run_in(root, str(program))
    assert result.returncode == 0, result.stderr
    assert result.stdout == '3 {"layer":[1,2,{"build":true}]}\n'


def test_libspng_links_zlib_from_the_sysroot(build: BuildDir, root: Path) -> None:
    deb = feed(build, "libspng")
    fields = dpkg_deb("-f", str(deb), "Version", "Depends").splitlines()
    assert fields[0] == "Version: 0.7.3-r0"
    assert fields[1].startswith("Depends: zlib (>= 1.2.13-r0), libc6 (>= ")
    assert "./usr/lib/libspng.so.0.7.3\n" in dpkg_deb("-c", str(deb))
    dev_listing = dpkg_deb("-c", str(feed(build, "libspng-dev")))
    assert "./usr/include/spng.h\n" in dev_listing and "./usr/lib/pkgconfig/spng.pc\n" in dev_listing
    w = work(build, "libspng")
    needed, soname = dynamic(w / "image/usr/lib/libspng.so.0.7.3")
    assert soname == "libspng.so.0" and set(needed) == {"libz.so.1", "libm.so.6", "libc.so.6"}
    # every library it needs is in the sysroot it was linked against, and the installed root has the same zlib
    sonames = sysroot_sonames(w / "recipe-sysroot")
    assert set(needed) <= set(sonames)
    assert build_id((root / "usr/lib/libz.so.1").resolve()) == build_id(sonames["libz.so.1"])
    # meson found zlib through pkg-config in the recipe sysroot (the cross file's pkg-config directories)
    log = (w / "temp/log.do_configure").read_text()
    assert "Run-time dependency zlib found: YES 1.2.13" in log and "Build type: cross build" in log
    assert f"pkg_config_libdir = '{w}/recipe-sysroot/usr/lib/pkgconfig:" in (w / "meson.cross").read_text()


def png_chunks(data: bytes) -> dict[bytes, bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    chunks, pos = {}, 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    return chunks


def test_libspng_encodes_and_decodes_from_the_installed_root(build: BuildDir, root: Path, tmp_path: Path) -> None:
    sysroot = work(build, "libspng") / "recipe-sysroot"
    spng = work(build, "libspng") / "sysroot-destdir"
    program = tmp_path / "pngtrip"
    source = """\
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <spng.h>
int main(int argc, char **argv) {
    unsigned char pixels[4 * 3 * 3];
    for (size_t i = 0; i < sizeof pixels; i++) pixels[i] = (unsigned char)(i * 7);
    spng_ctx *enc = spng_ctx_new(SPNG_CTX_ENCODER);
    spng_set_option(enc, SPNG_ENCODE_TO_BUFFER, 1);
    struct spng_ihdr ihdr = {.width = 4, .height = 3, .bit_depth = 8, .color_type = SPNG_COLOR_TYPE_TRUECOLOR};
    spng_set_ihdr(enc, &ihdr);
    if (spng_encode_image(enc, pixels, sizeof pixels, SPNG_FMT_PNG, SPNG_ENCODE_FINALIZE)) return 1;
    size_t size; int err;
    void *png = spng_get_png_buffer(enc, &size, &err);
    if (!png || err) return 2;
    FILE *out = fopen(argv[1], "wb");
    fwrite(png, 1, size, out);
    fclose(out);
    spng_ctx *dec = spng_ctx_new(0);
    spng_set_png_buffer(dec, png, size);
    unsigned char back[sizeof pixels];
    if (spng_decode_image(dec, back, sizeof back, SPNG_FMT_RGB8, 0)) return 3;
    printf("%s %s\\n", spng_version_string(), memcmp(back, pixels, sizeof pixels) ? "differs" : "same");
    free(png);
    spng_ctx_free(enc);
    spng_ctx_free(dec);
    return argc != 2;
}
"""
    compile_against(sysroot, source, program, f"-I{spng}/usr/include", f"-L{spng}/usr/lib", "-lspng")
    result = run_in(root, str(program), str(tmp_path / "out.png"))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "0.7.3 same\n"
    # the PNG the installed library wrote, read with Python's zlib: the same pixels, filtered by rows
    chunks = png_chunks((tmp_path / "out.png").read_bytes())
    assert struct.unpack(">IIBB", chunks[b"IHDR"][:10]) == (4, 3, 8, 2)
    raw = zlib.decompress(chunks[b"IDAT"])
    assert len(raw) == 3 * (1 + 4 * 3)


def test_licences(build: BuildDir) -> None:
    deployed = build.top / "tmp/deploy/licenses"
    assert sorted(p.name for p in (deployed / "json-c").iterdir()) == ["COPYING", "generic_MIT", "recipeinfo"]
    assert hashlib.md5((deployed / "json-c/COPYING").read_bytes()).hexdigest() == "de54b60fbbc35123ba193fea8ee216f2"
    names = sorted(p.name for p in (deployed / "libspng").iterdir())
    assert names == ["LICENSE", "generic_BSD-2-Clause", "generic_libpng-2.0", "recipeinfo", "spng.c.0", "spng.c.1"]
    assert (deployed / "libspng/spng.c.0").read_text() == "/* SPDX-License-Identifier: (BSD-2-Clause AND libpng-2.0) */\n"
    assert "PNG Reference Library License version 2" in (deployed / "libspng/spng.c.1").read_text()
