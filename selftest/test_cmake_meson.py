"""The cmake and meson classes, in real builds with the host's cmake, meson and ninja.

A small CMake project (a shared library, its program and a .pc file) and a small Meson project that finds
that library through pkg-config: the generated toolchain, cross and native files are read back, the
configure line follows EXTRA_OECMAKE, EXTRA_OEMESON and PACKAGECONFIG, the packages are checked with
dpkg-deb and the binaries with pyelftools. A recipe that forgets a DEPENDS, or asks for a header, library
or .pc file only the build host has (planted in /usr/local), fails to configure.
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

pytestmark = [
    pytest.mark.skipif(shutil.which("cmake") is None or shutil.which("ninja") is None,
                       reason="cmake and ninja not installed (Debian packages cmake, ninja-build)"),
    pytest.mark.skipif(shutil.which("pkg-config") is None, reason="pkg-config not installed (Debian package pkgconf)"),
]
needs_meson = pytest.mark.skipif(shutil.which("meson") is None, reason="meson not installed (Debian package meson)")

CALC_H = "const char *calc_greeting(void);\nint calc_add(int a, int b);\n"
CALC_C = """\
#include "calc.h"
int calc_add(int a, int b) { return a + b; }
const char *calc_greeting(void) {
#ifdef SHOUT
    return "HELLO";
#else
    return "hello";
#endif
}
"""
CALC_MAIN = '#include <stdio.h>\n#include "calc.h"\nint main(void) { printf("%s %d\\n", calc_greeting(), calc_add(2, 3)); return 0; }\n'
CALC_PC_IN = """\
prefix=@CMAKE_INSTALL_PREFIX@
libdir=${prefix}/@CMAKE_INSTALL_LIBDIR@
includedir=${prefix}/@CMAKE_INSTALL_INCLUDEDIR@
Name: calc
Description: adds
Version: @PROJECT_VERSION@
Libs: -L${libdir} -lcalc
Cflags: -I${includedir}
"""
CALC_CMAKELISTS = """\
cmake_minimum_required(VERSION 3.13)
project(calc VERSION 1.2.0 LANGUAGES C)
include(GNUInstallDirs)
option(WITH_SHOUT "greet loudly" OFF)
message(STATUS "CALC_EXTRA is ${CALC_EXTRA}")
add_library(calc SHARED calc.c)
set_target_properties(calc PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION 1 PUBLIC_HEADER calc.h)
if(WITH_SHOUT)
  target_compile_definitions(calc PRIVATE SHOUT)
endif()
add_executable(calctool main.c)
target_link_libraries(calctool calc)
configure_file(calc.pc.in calc.pc @ONLY)
install(TARGETS calc calctool RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} PUBLIC_HEADER DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/calc.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
"""
CALC_RECIPE = """\
LICENSE = "MIT"
SRC_URI = "file://calc-1.0"
inherit cmake
EXTRA_OECMAKE = "-DCALC_EXTRA=from-the-recipe"
PACKAGECONFIG ??= "shout"
PACKAGECONFIG[shout] = "-DWITH_SHOUT=ON,-DWITH_SHOUT=OFF"
"""

# a CMake consumer: header and library through find_path/find_library, and a pkg-config module
USE_CMAKELISTS = """\
cmake_minimum_required(VERSION 3.18)
project(usecalc C)
include(GNUInstallDirs)
find_path(CALC_INCLUDE {header} REQUIRED)
find_library(CALC_LIBRARY {lib} REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(CALCPC REQUIRED {module})
add_executable(usecalc use.c)
target_include_directories(usecalc PRIVATE ${{CALC_INCLUDE}})
target_link_libraries(usecalc ${{CALC_LIBRARY}})
install(TARGETS usecalc DESTINATION ${{CMAKE_INSTALL_BINDIR}})
"""
USE_C = '#include <calc.h>\nint main(void) { return calc_add(1, 1) != 2; }\n'

GREET_MESON = """\
project('greetm', 'c', version : '2.0')
calc = dependency('{module}')
cc = meson.get_compiler('c')
cc.has_header('{header}', required : true)
cc.find_library('{lib}')
args = []
if get_option('shout')
  args += '-DSHOUT'
endif
message('extra is ' + get_option('extra'))
lib = library('greetm', 'greetm.c', c_args : args, dependencies : calc, version : '2.0.0', install : true)
install_headers('greetm.h')
executable('greetm', 'main.c', link_with : lib, install : true)
import('pkgconfig').generate(lib)
"""
GREET_OPTIONS = "option('shout', type : 'boolean', value : false)\noption('extra', type : 'string', value : '')\n"
GREET_C = """\
#include <calc.h>
#include "greetm.h"
const char *greetm(void) {
#ifdef SHOUT
    return calc_add(1, 1) == 2 ? "GREETINGS" : "?";
#else
    return calc_add(1, 1) == 2 ? "greetings" : "?";
#endif
}
"""
GREET_MAIN = '#include <stdio.h>\n#include "greetm.h"\nint main(void) { puts(greetm()); return 0; }\n'
GREET_RECIPE = """\
LICENSE = "MIT"
SRC_URI = "file://greetm-2.0"
DEPENDS = "{depends}"
inherit meson
EXTRA_OEMESON = "-Dextra=from-the-recipe"
PACKAGECONFIG ??= "shout"
PACKAGECONFIG[shout] = "-Dshout=true,-Dshout=false"
"""


def calc_files() -> dict[str, str]:
    return {
        "recipes/calc/calc_1.0.bb": CALC_RECIPE,
        "recipes/calc/files/calc-1.0/CMakeLists.txt": CALC_CMAKELISTS,
        "recipes/calc/files/calc-1.0/calc.h": CALC_H,
        "recipes/calc/files/calc-1.0/calc.c": CALC_C,
        "recipes/calc/files/calc-1.0/main.c": CALC_MAIN,
        "recipes/calc/files/calc-1.0/calc.pc.in": CALC_PC_IN,
    }


def use_files(name: str, depends: str, header: str = "calc.h", lib: str = "calc", module: str = "calc") -> dict[str, str]:
    return {
        f"recipes/{name}/{name}_1.0.bb": f'LICENSE = "MIT"\nSRC_URI = "file://src"\nS = "${{UNPACKDIR}}/src"\n'
                                         f'DEPENDS = "{depends}"\ninherit cmake\n',
        f"recipes/{name}/files/src/CMakeLists.txt": USE_CMAKELISTS.format(header=header, lib=lib, module=module),
        f"recipes/{name}/files/src/use.c": USE_C,
    }


def greet_files(name: str, depends: str, header: str = "calc.h", lib: str = "calc", module: str = "calc") -> dict[str, str]:
    return {
        f"recipes/{name}/{name}_2.0.bb": GREET_RECIPE.format(depends=depends).replace("greetm-2.0", "src")
        + 'S = "${UNPACKDIR}/src"\n',
        f"recipes/{name}/files/src/meson.build": GREET_MESON.format(header=header, lib=lib, module=module),
        f"recipes/{name}/files/src/meson_options.txt": GREET_OPTIONS,
        f"recipes/{name}/files/src/greetm.c": GREET_C,
        f"recipes/{name}/files/src/greetm.h": "const char *greetm(void);\n",
        f"recipes/{name}/files/src/main.c": GREET_MAIN,
    }


def needed(path: Path) -> list[str]:
    with open(path, "rb") as fh:
        return [tag.needed for section in ELFFile(fh).iter_sections() if isinstance(section, DynamicSection)
                for tag in section.iter_tags() if tag.entry.d_tag == "DT_NEEDED"]


def machine(path: Path) -> str:
    with open(path, "rb") as fh:
        return str(ELFFile(fh)["e_machine"])


def dpkg_deb(*args: str) -> str:
    return subprocess.run(["dpkg-deb", *args], capture_output=True, text=True, check=True).stdout


def task_log(work: Path, task: str) -> str:
    return (work / "temp" / f"log.do_{task}").read_text()


@pytest.fixture(scope="module")
def planted() -> Iterator[str]:
    """A header, a shared library and a .pc file of one name where the build host's compiler, cmake and
    pkg-config look by default (/usr/local): the builds must find none of them."""
    if os.geteuid() != 0:
        pytest.skip("plants a header, a library and a .pc file in /usr/local")
    name = f"lbplanted{uuid.uuid4().hex[:8]}"
    made = [d for d in (Path("/usr/local/include"), Path("/usr/local/lib"), Path("/usr/local/share/pkgconfig"))
            if not d.exists()]
    for directory in made:
        directory.mkdir(parents=True)
    files = [Path(f"/usr/local/include/{name}.h"), Path(f"/usr/local/lib/lib{name}.so"),
             Path(f"/usr/local/share/pkgconfig/{name}.pc")]
    files[0].write_text("int planted(void);\n")
    subprocess.run(["gcc", "-shared", "-o", str(files[1]), "-x", "c", "-"], input="int planted(void) { return 1; }\n",
                   text=True, check=True)
    files[2].write_text(f"Name: {name}\nDescription: host only\nVersion: 1\nLibs: -l{name}\nCflags: -DHOST_ONLY\n")
    try:
        yield name
    finally:
        for path in files:
            path.unlink()
        for directory in reversed(made):
            directory.rmdir()


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory, planted: str) -> BuildDir:
    """One build directory for the tests below: calc (CMake), its CMake and Meson users, and users that
    forget calc in DEPENDS or look for what was planted on the build host."""
    root = tmp_path_factory.mktemp("cmake-meson")
    layer = make_layer(root, "bs", {
        **calc_files(),
        **use_files("usecalc", "calc"),
        **use_files("forgot", ""),
        **use_files("hosthdr", "calc", header=f"{planted}.h"),
        **use_files("hostlib", "calc", lib=planted),
        **use_files("hostpc", "calc", module=planted),
        **greet_files("greetm", "calc"),
        **greet_files("mforgot", ""),
        **greet_files("mhosthdr", "calc", header=f"{planted}.h"),
        **greet_files("mhostlib", "calc", lib=planted),
        **greet_files("mhostpc", "calc", module=planted),
    })
    return BuildDir(make_build(root, [layer], local='CC:append = " -DTOOLCHAIN_FROM_CC"\n'))


def configure_line(work: Path, word: str) -> list[str]:
    """The command line do_configure ran, as its log notes it ("Running cmake ...")."""
    line = next(x for x in task_log(work, "configure").splitlines() if f"Running {word}" in x).split()
    return line[line.index("Running") + 1:]


def run_with(libs: str, program: Path) -> str:
    return subprocess.run([str(program)], capture_output=True, text=True, check=True,
                          env={**os.environ, "LD_LIBRARY_PATH": libs}).stdout


def test_cmake_toolchain_file_configure_line_and_packages(build: BuildDir) -> None:
    top = build.top
    build.run("calc")
    work = next((top / "tmp/work").glob("*/calc/1.0-r0"))
    sysroot = work / "recipe-sysroot"
    toolchain = (work / "toolchain.cmake").read_text()
    lines = {line.split(" ", 2)[1]: line.split(" ", 2)[2].rstrip(" )") for line in toolchain.splitlines()
             if line.startswith("set( ")}
    assert lines["CMAKE_SYSTEM_NAME"] == "Linux" and lines["CMAKE_SYSTEM_PROCESSOR"] == "x86_64"
    # the compiler is CC's first word; its other words go with the flags
    assert lines["CMAKE_C_COMPILER"] == "gcc" and lines["CMAKE_CXX_COMPILER"] == "g++"
    c_flags = lines["CMAKE_C_FLAGS"].split('"')[1].split()
    assert c_flags[:3] == [f"--sysroot={sysroot}", f"-specs={sysroot}/usr/lib/sysroot.specs", "-DTOOLCHAIN_FROM_CC"]
    assert f"-I{sysroot}/usr/include" in c_flags and "-O2" in c_flags
    link_flags = lines["CMAKE_C_LINK_FLAGS"].split('"')[1].split()
    assert f"-L{sysroot}/usr/lib" in link_flags and "-Wl,--build-id=sha1" in link_flags
    assert lines["CMAKE_FIND_ROOT_PATH"] == str(sysroot)
    assert lines["CMAKE_FIND_ROOT_PATH_MODE_PROGRAM"] == "NEVER"
    for kind in ("PACKAGE", "LIBRARY", "INCLUDE"):
        assert lines[f"CMAKE_FIND_ROOT_PATH_MODE_{kind}"] == "ONLY"
    assert lines["CMAKE_SYSROOT"] == f'"{sysroot}"'

    line = configure_line(work, "cmake")
    assert line[:4] == ["cmake", "-G", "Ninja", "-DCMAKE_MAKE_PROGRAM=ninja"]
    for arg in ("-DCMAKE_INSTALL_PREFIX:PATH=/usr", "-DCMAKE_INSTALL_BINDIR:PATH=bin", "-DCMAKE_INSTALL_LIBDIR:PATH=lib",
                "-DCMAKE_INSTALL_INCLUDEDIR:PATH=include", "-DCMAKE_INSTALL_SYSCONFDIR:PATH=/etc",
                f"-DCMAKE_TOOLCHAIN_FILE:FILEPATH={work}/toolchain.cmake", f"{work}/sources/calc-1.0"):
        assert arg in line
    assert line[-3:] == ["-DCALC_EXTRA=from-the-recipe", "-DWITH_SHOUT=ON", "-Wno-dev"]
    assert "CALC_EXTRA is from-the-recipe" in task_log(work, "configure")
    assert (work / "build/build.ninja").is_file() and not (work / "sources/calc-1.0/CMakeCache.txt").exists()
    # the compile commands: the configuration's compiler and flags, in the recipe sysroot
    compiled = [x for x in task_log(work, "compile").splitlines() if x.startswith("[") and "calc.c" in x]
    assert compiled and compiled[0].split()[1:3] == [shutil.which("gcc"), f"--sysroot={sysroot}"]
    assert "-DSHOUT" in compiled[0] and "-DTOOLCHAIN_FROM_CC" in compiled[0]

    image = work / "image"
    assert needed(image / "usr/bin/calctool") == ["libcalc.so.1", "libc.so.6"]
    assert machine(image / "usr/bin/calctool") == "EM_X86_64"
    assert run_with(f"{image}/usr/lib", image / "usr/bin/calctool") == "HELLO 5\n"
    deb = next((top / "tmp/deploy/deb").glob("*/calc_1.0-r0_*.deb"))
    listing = dpkg_deb("-c", str(deb))
    assert "./usr/bin/calctool\n" in listing and "./usr/lib/libcalc.so.1.2.0\n" in listing
    assert dpkg_deb("-f", str(deb), "Depends").startswith("libc6 (>= ")
    dev = dpkg_deb("-c", str(next((top / "tmp/deploy/deb").glob("*/calc-dev_1.0-r0_*.deb"))))
    assert "./usr/include/calc.h\n" in dev and "./usr/lib/pkgconfig/calc.pc\n" in dev


def test_cmake_unknown_generator_is_an_error_at_its_line(tmp_path: Path) -> None:
    layer = make_layer(tmp_path, "cm", calc_files())
    top = make_build(tmp_path, [layer], local='OECMAKE_GENERATOR = "Ninja Multi-Config"\n')
    result = BuildDir(top).run("-c", "configure", "calc", check=False)
    assert result.returncode == 1
    assert ('conf/local.conf:3: error: OECMAKE_GENERATOR = "Ninja Multi-Config" is no generator the cmake class '
            'knows: write "Ninja" or "Unix Makefiles"') in result.stderr
    assert "Traceback" not in result.stderr


def test_cmake_finds_the_recipe_sysroot_only(build: BuildDir, planted: str, tmp_path: Path) -> None:
    top = build.top
    build.run("usecalc")
    work = next((top / "tmp/work").glob("*/usecalc/1.0-r0"))
    cache = (work / "build/CMakeCache.txt").read_text()
    assert f"CALC_INCLUDE:PATH={work}/recipe-sysroot/usr/include\n" in cache
    assert f"CALC_LIBRARY:FILEPATH={work}/recipe-sysroot/usr/lib/libcalc.so\n" in cache
    assert needed(work / "image/usr/bin/usecalc") == ["libcalc.so.1", "libc.so.6"]
    # the host's cmake, without the toolchain file, finds all that was planted; the recipes find none of it
    control = tmp_path / "control"
    control.mkdir()
    (control / "CMakeLists.txt").write_text(USE_CMAKELISTS.format(header=f"{planted}.h", lib=planted, module=planted)
                                            .replace("add_executable", "#").replace("target_", "#").replace("install", "#"))
    subprocess.run(["cmake", "-S", str(control), "-B", str(control / "build")], check=True, capture_output=True)
    for recipe, message in (("forgot", "Could not find CALC_INCLUDE"), ("hosthdr", "Could not find CALC_INCLUDE"),
                            ("hostlib", "Could not find CALC_LIBRARY"),
                            ("hostpc", f"Package '{planted}', required by 'virtual:world', not found")):
        result = build.run(f"{recipe}:do_configure", check=False)
        assert result.returncode == 1, recipe
        log = task_log(next((top / "tmp/work").glob(f"*/{recipe}/1.0-r0")), "configure")
        assert message in log, (recipe, log[-2000:])


def meson_file(text: str) -> dict[str, dict[str, str]]:
    """A meson machine file's sections and their raw values."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        elif " = " in line:
            key, value = line.split(" = ", 1)
            current[key] = value
    return sections


@needs_meson
def test_meson_cross_file_configure_line_and_packages(build: BuildDir) -> None:
    top = build.top
    build.run("greetm")
    work = next((top / "tmp/work").glob("*/greetm/2.0-r0"))
    sysroot = work / "recipe-sysroot"
    cross = meson_file((work / "meson.cross").read_text())
    # the compiler and its options are CC's words, as an array; the flags are CFLAGS and LDFLAGS
    assert cross["binaries"]["c"] == repr(["gcc", f"--sysroot={sysroot}", f"-specs={sysroot}/usr/lib/sysroot.specs",
                                           "-DTOOLCHAIN_FROM_CC"])
    assert cross["binaries"]["ar"] == "'ar'" and cross["binaries"]["pkg-config"] == "'pkg-config'"
    assert f"'-I{sysroot}/usr/include'" in cross["built-in options"]["c_args"]
    assert f"'-L{sysroot}/usr/lib'" in cross["built-in options"]["c_link_args"]
    assert cross["properties"]["sys_root"] == f"'{sysroot}'"
    assert cross["properties"]["pkg_config_libdir"] == f"'{sysroot}/usr/lib/pkgconfig:{sysroot}/usr/share/pkgconfig'"
    assert cross["host_machine"] == {"system": "'linux'", "cpu_family": "'x86_64'", "cpu": "'x86_64'",
                                     "endian": "'little'"}
    native = meson_file((work / "meson.native").read_text())
    assert native["binaries"]["c"] == "'gcc'" and native["built-in options"]["c_args"] == "['-O2', '-pipe']"

    line = configure_line(work, "meson setup")
    assert line[:6] == ["meson", "setup", "--buildtype", "plain", "--prefix", "/usr"]
    for option, value in (("--libdir", "/usr/lib"), ("--bindir", "/usr/bin"), ("--sysconfdir", "/etc"),
                          ("--wrap-mode", "nodownload"), ("--native-file", f"{work}/meson.native"),
                          ("--cross-file", f"{work}/meson.cross")):
        assert line[line.index(option) + 1] == value
    assert line[-2:] == ["-Dextra=from-the-recipe", "-Dshout=true"]
    log = task_log(work, "configure")
    assert "Message: extra is from-the-recipe" in log
    assert "Build type: cross build" in log and f"C compiler for the host machine: gcc --sysroot={sysroot} " in log
    # calc came through pkg-config from the recipe sysroot
    assert "Run-time dependency calc found: YES 1.2.0" in log

    image = work / "image"
    # (meson links --as-needed: the library calls nothing of libc)
    assert needed(image / "usr/lib/libgreetm.so.2.0.0") == ["libcalc.so.1"]
    assert needed(image / "usr/bin/greetm") == ["libgreetm.so.2", "libc.so.6"]
    assert machine(image / "usr/bin/greetm") == "EM_X86_64"
    assert run_with(f"{image}/usr/lib:{sysroot}/usr/lib", image / "usr/bin/greetm") == "GREETINGS\n"
    deploy = top / "tmp/deploy/deb"
    deb = next(deploy.glob("*/greetm_2.0-r0_*.deb"))
    assert "./usr/lib/libgreetm.so.2.0.0\n" in dpkg_deb("-c", str(deb))
    # the library it links from another recipe is a dependency of the package, found from the ELF file
    depends = dpkg_deb("-f", str(deb), "Depends")
    assert "calc (>= 1.0-r0)" in depends and "libc6 (>= " in depends
    dev = dpkg_deb("-c", str(next(deploy.glob("*/greetm-dev_2.0-r0_*.deb"))))
    assert "./usr/include/greetm.h\n" in dev and "./usr/lib/pkgconfig/greetm.pc\n" in dev


@needs_meson
def test_meson_finds_the_recipe_sysroot_only(build: BuildDir, planted: str, tmp_path: Path) -> None:
    top = build.top
    # the host's meson, without the cross file, finds all that was planted; the recipes find none of it
    control = tmp_path / "control"
    control.mkdir()
    (control / "meson.build").write_text(
        GREET_MESON.format(header=f"{planted}.h", lib=planted, module=planted).split("args = []")[0])
    subprocess.run(["meson", "setup", str(control / "build"), str(control)], check=True, capture_output=True)
    for recipe, message in (("mforgot", 'Dependency "calc" not found'),
                            ("mhosthdr", f"C header '{planted}.h' not found"),
                            ("mhostlib", f"C shared or static library '{planted}' not found"),
                            ("mhostpc", f'Dependency "{planted}" not found')):
        result = build.run(f"{recipe}:do_configure", check=False)
        assert result.returncode == 1, recipe
        log = task_log(next((top / "tmp/work").glob(f"*/{recipe}/2.0-r0")), "configure")
        assert message in log, (recipe, log[-2000:])


@needs_meson
def test_packageconfig_extra_arguments_and_generator_change_the_configure_line(build: BuildDir) -> None:
    top = build.top
    build.run("greetm")
    local = top / "conf/local.conf"
    local.write_text(local.read_text() + 'PACKAGECONFIG:pn-calc = ""\nEXTRA_OECMAKE:pn-calc = "-DCALC_EXTRA=from-local"\n'
                     'OECMAKE_GENERATOR:pn-calc = "Unix Makefiles"\n'
                     'PACKAGECONFIG:pn-greetm = ""\nEXTRA_OEMESON:pn-greetm = "-Dextra=from-local"\n')
    build.run("greetm")
    calc = next((top / "tmp/work").glob("*/calc/1.0-r0"))
    line = configure_line(calc, "cmake")
    assert line[:3] == ["cmake", "-G", "'Unix"] and "-DCMAKE_MAKE_PROGRAM=make" in line
    assert line[-3:] == ["-DCALC_EXTRA=from-local", "-DWITH_SHOUT=OFF", "-Wno-dev"]
    assert (calc / "build/Makefile").is_file() and not (calc / "build/build.ninja").exists()
    greetm = next((top / "tmp/work").glob("*/greetm/2.0-r0"))
    assert configure_line(greetm, "meson setup")[-2:] == ["-Dextra=from-local", "-Dshout=false"]
    libs = f"{greetm}/image/usr/lib:{greetm}/recipe-sysroot/usr/lib"
    assert run_with(libs, greetm / "image/usr/bin/greetm") == "greetings\n"
    assert run_with(f"{calc}/image/usr/lib", calc / "image/usr/bin/calctool") == "hello 5\n"
