"""The autotools, autotools-brokensep and pkgconfig classes and PACKAGECONFIG, in real builds.

A configure script with autoconf's interface records how the class ran it (its arguments, the toolchain
in its environment, its directory); a project with only configure.ac goes through the host's autoreconf;
pkg-config is shown to find what the recipe sysroot has and nothing of the build host's. Packages are
checked with dpkg-deb.
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

FAKE_CONFIGURE = """\
#!/bin/sh
# autoconf's interface, recording how it was run
srcdir=$(dirname "$0")
printf '%s\\n' "$0" "$@" > configure.args
printf 'CC=%s\\nCFLAGS=%s\\nLDFLAGS=%s\\nAR=%s\\nCC_FOR_BUILD=%s\\n' "$CC" "$CFLAGS" "$LDFLAGS" "$AR" "$CC_FOR_BUILD" \\
    > configure.env
bindir=/usr/bin
for arg; do
    case "$arg" in --bindir=*) bindir=${arg#--bindir=} ;; esac
done
sed -e "s|@srcdir@|$srcdir|" -e "s|@bindir@|$bindir|" "$srcdir/Makefile.in" > Makefile
"""

MAKEFILE_IN = """\
srcdir = @srcdir@
bindir = @bindir@
all: tool
tool: $(srcdir)/tool.c
\t$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(srcdir)/tool.c
install: tool
\tinstall -d $(DESTDIR)$(bindir)
\tinstall -m 0755 tool $(DESTDIR)$(bindir)/tool
"""

TOOL_RECIPE = """\
LICENSE = "MIT"
SRC_URI = "file://tool-1.0"
inherit {cls}
EXTRA_OECONF = "--with-extra"
PACKAGECONFIG ??= "greeting"
PACKAGECONFIG[greeting] = "--enable-greeting,--disable-greeting,libgreet,hello"
PACKAGECONFIG[echo] = "--with-echo,--without-echo,lb-init,,greet"
"""


def tool_layer(root: Path, cls: str = "autotools") -> Path:
    layer = make_layer(root, "at", {
        "recipes/tool/tool_1.0.bb": TOOL_RECIPE.format(cls=cls),
        "recipes/tool/files/tool-1.0/configure": FAKE_CONFIGURE,
        "recipes/tool/files/tool-1.0/Makefile.in": MAKEFILE_IN,
        "recipes/tool/files/tool-1.0/tool.c": "int main(void) { return 0; }\n",
    })
    (layer / "recipes/tool/files/tool-1.0/configure").chmod(0o755)
    return layer


def deb_field(deb: Path, field: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), field], capture_output=True, text=True, check=True).stdout.strip()


def test_configure_runs_as_oe_runs_it(tmp_path: Path) -> None:
    layer = tool_layer(tmp_path)
    top = make_build(tmp_path, [layer], local='CC = "gcc -DTOOLCHAIN_FROM_CC"\n')
    build = BuildDir(top)
    build.run("tool")
    work = next((top / "tmp/work").glob("*/tool/1.0-r0"))
    b = work / "build"
    args = (b / "configure.args").read_text().splitlines()
    # run from the separate build directory, by a relative path: no build path in what it writes
    assert args[0] == "../sources/tool-1.0/configure"
    assert args[1:] == [
        "--build=x86_64-linux", "--host=x86_64-oe-linux", "--target=x86_64-oe-linux", "--prefix=/usr",
        "--exec_prefix=/usr", "--bindir=/usr/bin", "--sbindir=/usr/sbin", "--libexecdir=/usr/libexec",
        "--datadir=/usr/share", "--sysconfdir=/etc", "--sharedstatedir=/com", "--localstatedir=/var",
        "--libdir=/usr/lib", "--includedir=/usr/include", "--oldincludedir=/usr/include",
        "--infodir=/usr/share/info", "--mandir=/usr/share/man", "--disable-silent-rules",
        "--disable-dependency-tracking", "--with-extra", "--disable-static", "--without-echo", "--enable-greeting"]
    env = dict(line.split("=", 1) for line in (b / "configure.env").read_text().splitlines())
    assert env["CC"] == "gcc -DTOOLCHAIN_FROM_CC" and env["AR"] == "ar" and env["CC_FOR_BUILD"] == "gcc"
    assert f"-I{work}/recipe-sysroot/usr/include" in env["CFLAGS"]
    assert f"-L{work}/recipe-sysroot/usr/lib" in env["LDFLAGS"]
    assert not (work / "sources/tool-1.0/Makefile").exists() and (b / "tool").is_file()
    deb = top / "tmp/deploy/deb/x86_64/tool_1.0-r0_amd64.deb"
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True, check=True).stdout
    assert "./usr/bin/tool\n" in listing
    # the enabled option's build dependency was staged, its runtime one is in the package's Depends
    assert (work / "recipe-sysroot/usr/include/greet.h").is_file()
    assert "hello" in deb_field(deb, "Depends").replace(",", " ").split()
    assert deb_field(deb, "Recommends") == ""

    # toggling PACKAGECONFIG changes the configure line and the dependencies
    local = top / "conf/local.conf"
    local.write_text(local.read_text() + 'PACKAGECONFIG:pn-tool = "echo"\n')
    build.run("tool")
    args = (b / "configure.args").read_text().splitlines()
    assert args[-2:] == ["--with-echo", "--disable-greeting"]
    assert not (work / "recipe-sysroot/usr/include/greet.h").exists()
    assert (work / "recipe-sysroot/usr/sbin").exists() is False  # lb-init ships a program, stages nothing
    assert "hello" not in deb_field(deb, "Depends")
    assert deb_field(deb, "Recommends") == "greet"
    out = build.run("-e", "tool").stdout
    depends = next(line for line in out.splitlines() if line.startswith("DEPENDS="))
    assert "lb-init" in depends and "libgreet" not in depends


@pytest.mark.slow  # a real autotools build: the default run keeps test_configure_runs_as_oe_runs_it
def test_brokensep_builds_in_the_source_tree(tmp_path: Path) -> None:
    top = make_build(tmp_path, [tool_layer(tmp_path, "autotools-brokensep")])
    BuildDir(top).run("tool:do_compile")
    work = next((top / "tmp/work").glob("*/tool/1.0-r0"))
    assert (work / "sources/tool-1.0/configure.args").read_text().splitlines()[0] == "./configure"
    assert (work / "sources/tool-1.0/tool").is_file()


CONFIGURE_AC = """\
AC_INIT([greeter], [1.0])
AC_PROG_CC
AC_ARG_ENABLE([shout], AS_HELP_STRING([--enable-shout], [greet loudly]),
              [AC_DEFINE([SHOUT], [1], [greet loudly])])
AC_CONFIG_HEADERS([config.h])
AC_CONFIG_FILES([Makefile])
AC_OUTPUT
"""

GREETER_MAKEFILE_IN = """\
srcdir = @srcdir@
VPATH = @srcdir@
prefix = @prefix@
exec_prefix = @exec_prefix@
bindir = @bindir@
CC = @CC@
CFLAGS = @CFLAGS@ -I.
LDFLAGS = @LDFLAGS@
all: greeter
greeter: greeter.c config.h
\t$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(srcdir)/greeter.c
install: greeter
\tinstall -d $(DESTDIR)$(bindir)
\tinstall -m 0755 greeter $(DESTDIR)$(bindir)/greeter
"""

GREETER_C = """\
#include <stdio.h>
#include "config.h"
int main(void) {
#ifdef SHOUT
    puts("HELLO");
#else
    puts("hello");
#endif
    return 0;
}
"""


@pytest.mark.slow  # a real autotools build: the default run keeps test_configure_runs_as_oe_runs_it
@pytest.mark.skipif(shutil.which("autoreconf") is None, reason="autoreconf not installed (Debian package autoconf)")
def test_autoreconf_when_there_is_no_configure_script(tmp_path: Path) -> None:
    layer = make_layer(tmp_path, "at", {
        "recipes/greeter/greeter_1.0.bb": 'LICENSE = "MIT"\nSRC_URI = "file://greeter-1.0"\ninherit autotools\n'
                                          'PACKAGECONFIG ??= "shout"\nPACKAGECONFIG[shout] = "--enable-shout,,"\n',
        "recipes/greeter/files/greeter-1.0/configure.ac": CONFIGURE_AC,
        "recipes/greeter/files/greeter-1.0/Makefile.in": GREETER_MAKEFILE_IN,
        "recipes/greeter/files/greeter-1.0/greeter.c": GREETER_C,
    })
    top = make_build(tmp_path, [layer])
    BuildDir(top).run("greeter")
    work = next((top / "tmp/work").glob("*/greeter/1.0-r0"))
    assert (work / "sources/greeter-1.0/configure").is_file()
    assert "Running autoreconf" in next((work / "temp").glob("log.do_configure.*")).read_text()
    out = subprocess.run([str(work / "image/usr/bin/greeter")], capture_output=True, text=True, check=True).stdout
    assert out == "HELLO\n"


# -- pkg-config --------------------------------------------------------------------------------------

LIBFOO = """\
LICENSE = "MIT"
SRC_URI = "file://foo.c file://foo.h"
S = "${UNPACKDIR}"
do_compile() {
    ${CC} ${CFLAGS} -fPIC -shared -Wl,-soname,libfoo.so.1 ${LDFLAGS} -o libfoo.so.1 ${S}/foo.c
}
do_install() {
    install -d ${D}${libdir}/pkgconfig ${D}${includedir}
    install -m 0755 libfoo.so.1 ${D}${libdir}/
    ln -s libfoo.so.1 ${D}${libdir}/libfoo.so
    install -m 0644 ${S}/foo.h ${D}${includedir}/
    printf 'prefix=/usr\\nlibdir=${libdir}\\nincludedir=${includedir}\\nName: foo\\nDescription: foo\\nVersion: 1.0\\nLibs: -L${libdir} -lfoo\\nCflags: -I${includedir}/foo-api -DFOO_FROM_PC\\n' \\
        > ${D}${libdir}/pkgconfig/foo.pc
}
"""

USER = """\
LICENSE = "MIT"
SRC_URI = "file://use.c"
S = "${{UNPACKDIR}}"
DEPENDS = "{depends}"
inherit pkgconfig
do_compile() {{
    ${{PKG_CONFIG}} --cflags --libs {module} > pkg-config.out
    ${{CC}} ${{CFLAGS}} ${{LDFLAGS}} $(${{PKG_CONFIG}} --cflags {module}) -o use ${{S}}/use.c $(${{PKG_CONFIG}} --libs {module})
}}
do_install() {{
    install -d ${{D}}${{bindir}}
    install -m 0755 use ${{D}}${{bindir}}/use
}}
"""


@pytest.fixture
def planted_pc() -> Iterator[str]:
    """A .pc file where the build host's pkg-config looks by default (/usr/local/share/pkgconfig)."""
    name = f"lbplanted{uuid.uuid4().hex[:8]}"
    directory = Path("/usr/local/share/pkgconfig")
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.pc"
    path.write_text(f"Name: {name}\nDescription: host only\nVersion: 1\nLibs: -lhostonly\nCflags: -DHOST_ONLY\n")
    try:
        yield name
    finally:
        path.unlink()
        if created:
            directory.rmdir()


@pytest.mark.slow  # a real autotools build: the default run keeps test_configure_runs_as_oe_runs_it
@pytest.mark.skipif(shutil.which("pkg-config") is None, reason="pkg-config not installed (Debian package pkgconf)")
@pytest.mark.skipif(os.geteuid() != 0, reason="plants a .pc file in /usr/local")
def test_pkg_config_sees_the_recipe_sysroot_only(tmp_path: Path, planted_pc: str) -> None:
    # the host's pkg-config finds the planted module: the builds below must not
    assert subprocess.run(["pkg-config", "--exists", planted_pc]).returncode == 0
    layer = make_layer(tmp_path, "pc", {
        "recipes/libfoo/libfoo_1.0.bb": LIBFOO,
        "recipes/libfoo/files/foo.c": "int foo(void) { return 42; }\n",
        "recipes/libfoo/files/foo.h": "int foo(void);\n",
        "recipes/usefoo/usefoo_1.0.bb": USER.format(depends="libfoo", module="foo"),
        "recipes/usefoo/files/use.c": '#include <foo.h>\n#ifndef FOO_FROM_PC\n#error no cflags\n#endif\n'
                                      'int main(void) { return foo() != 42; }\n',
        "recipes/forgot/forgot_1.0.bb": USER.format(depends="", module="foo"),
        "recipes/forgot/files/use.c": "int main(void) { return 0; }\n",
        "recipes/hostonly/hostonly_1.0.bb": USER.format(depends="", module=planted_pc),
        "recipes/hostonly/files/use.c": "int main(void) { return 0; }\n",
    })
    top = make_build(tmp_path, [layer])
    build = BuildDir(top)
    build.run("usefoo")
    work = next((top / "tmp/work").glob("*/usefoo/1.0-r0"))
    sysroot = work / "recipe-sysroot"
    printed = next(work.rglob("pkg-config.out")).read_text().split()
    assert f"-I{sysroot}/usr/include/foo-api" in printed and "-lfoo" in printed
    needed = subprocess.run(["readelf", "-d", str(work / "image/usr/bin/use")], capture_output=True, text=True,
                            check=True).stdout
    assert "Shared library: [libfoo.so.1]" in needed
    # a recipe that forgets DEPENDS does not find the library, and nothing of the host is found
    for recipe, module in (("forgot", "foo"), ("hostonly", planted_pc)):
        result = build.run(f"{recipe}:do_compile", check=False)
        assert result.returncode == 1, result.stderr
        assert f"Package {module} was not found in the pkg-config search path" in result.stderr
