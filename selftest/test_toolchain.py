"""The compiler's root is the recipe sysroot: what a recipe builds against comes from its DEPENDS, never from
the build host, even when the host has a library of the same name where its own compiler looks.

The test plants a header in /usr/local/include and a shared library in the host's multiarch library
directory (unique names, removed afterwards), shows that the host's gcc finds both, and then that recipes
do not: one that depends on a recipe providing the library links that recipe's copy (its SONAME, read
with pyelftools), and ones that forget the dependency fail to compile or to link.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import BuildDir, make_build, make_layer
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

pytestmark = [pytest.mark.skipif(os.geteuid() != 0, reason="plants files in the host's /usr"),
              pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc")]


def needed(path: Path) -> list[str]:
    with open(path, "rb") as fh:
        elf = ELFFile(fh)
        return [tag.needed for section in elf.iter_sections() if isinstance(section, DynamicSection)
                for tag in section.iter_tags() if tag.entry.d_tag == "DT_NEEDED"]


def host_libdir() -> Path:
    triplet = subprocess.run(["gcc", "-dumpmachine"], capture_output=True, text=True, check=True).stdout.strip()
    return Path("/usr/lib") / triplet


@pytest.fixture
def planted(tmp_path: Path) -> Iterator[str]:
    """lib<name>.so (SONAME lib<name>.so.99) and <name>.h, where the host's gcc finds them by default."""
    name = f"lbplanted{uuid.uuid4().hex[:8]}"
    source = tmp_path / "planted.c"
    source.write_text(f"int {name}(void) {{ return 99; }}\n")
    header = Path("/usr/local/include") / f"{name}.h"
    library = host_libdir() / f"lib{name}.so"
    header.parent.mkdir(parents=True, exist_ok=True)
    try:
        header.write_text(f"#define PLANTED_ON_HOST 1\nint {name}(void);\n")
        subprocess.run(["gcc", "-shared", "-fPIC", f"-Wl,-soname,lib{name}.so.99", "-o", str(library), str(source)],
                       check=True)
        yield name
    finally:
        header.unlink(missing_ok=True)
        library.unlink(missing_ok=True)


PROGRAM = """\
#include <{name}.h>
#ifdef PLANTED_ON_HOST
#error the build host's header was used
#endif
int main(void) {{ return {name}() != 1; }}
"""

CONSUMER = """\
LICENSE = "MIT"
SRC_URI = "file://use.c"
S = "${{UNPACKDIR}}"
DEPENDS = "{depends}"
do_compile() {{
    ${{CC}} ${{CFLAGS}} ${{LDFLAGS}} -o use ${{S}}/use.c -l{name}
}}
do_install() {{
    install -D -m 0755 use ${{D}}${{bindir}}/use
}}
"""


def test_builds_see_the_sysroot_not_the_host(tmp_path: Path, planted: str) -> None:
    name = planted
    # the host's own compiler finds the planted header and library
    probe = tmp_path / "probe.c"
    probe.write_text(f"#include <{name}.h>\nint main(void) {{ return {name}(); }}\n")
    subprocess.run(["gcc", "-o", str(tmp_path / "probe"), str(probe), f"-l{name}"], check=True)
    assert needed(tmp_path / "probe") == [f"lib{name}.so.99", "libc.so.6"]

    layer = make_layer(tmp_path, "tc", {
        # the recipe that provides the library: SONAME lib<name>.so.1, a header without the host's mark
        f"recipes/{name}/{name}_1.0.bb": f"""\
LICENSE = "MIT"
SRC_URI = "file://lib.c file://{name}.h"
S = "${{UNPACKDIR}}"
do_compile() {{
    ${{CC}} ${{CFLAGS}} -shared -fPIC -Wl,-soname,lib{name}.so.1 ${{LDFLAGS}} -o lib{name}.so.1 ${{S}}/lib.c
}}
do_install() {{
    install -D -m 0755 lib{name}.so.1 ${{D}}${{libdir}}/lib{name}.so.1
    ln -s lib{name}.so.1 ${{D}}${{libdir}}/lib{name}.so
    install -D -m 0644 ${{S}}/{name}.h ${{D}}${{includedir}}/{name}.h
}}
""",
        f"recipes/{name}/files/lib.c": f"int {name}(void) {{ return 1; }}\n",
        f"recipes/{name}/files/{name}.h": f"int {name}(void);\n",
        "recipes/uses/uses_1.0.bb": CONSUMER.format(depends=name, name=name),
        "recipes/uses/files/use.c": PROGRAM.format(name=name),
        # forgets DEPENDS: the header is not found
        "recipes/forgot/forgot_1.0.bb": CONSUMER.format(depends="", name=name),
        "recipes/forgot/files/use.c": PROGRAM.format(name=name),
        # declares the function itself, as a configure check does: the library is not found
        "recipes/declares/declares_1.0.bb": CONSUMER.format(depends="", name=name),
        "recipes/declares/files/use.c": f"int {name}(void);\nint main(void) {{ return {name}(); }}\n",
    })
    top = make_build(tmp_path, [layer])
    build = BuildDir(top)
    build.run("uses")
    binary = next((top / "tmp/work").glob("*/uses/1.0-r0/image/usr/bin/use"))
    assert needed(binary) == [f"lib{name}.so.1", "libc.so.6"]
    deb = top / "tmp/deploy/deb/x86_64/uses_1.0-r0_amd64.deb"
    depends = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True, text=True,
                             check=True).stdout
    assert depends.startswith(f"{name} (>= 1.0-r0)")

    result = build.run("forgot:do_compile", check=False)
    assert result.returncode == 1
    assert f"{name}.h: No such file or directory" in result.stderr
    result = build.run("declares:do_compile", check=False)
    assert result.returncode == 1
    assert f"cannot find -l{name}" in result.stderr
