# cmake: CMake projects, with OE's meaning (docs/classes.md).
#
# do_generate_toolchain_file writes ${WORKDIR}/toolchain.cmake from the configuration's toolchain (CC, CXX,
# CFLAGS, CXXFLAGS, LDFLAGS, AR...: the class names no compiler) and points every find_* at the recipe
# sysroot; do_configure runs the host's cmake from the separate build directory B with the install
# directories from the path variables, ${EXTRA_OECMAKE} and ${PACKAGECONFIG_CONFARGS}; do_compile and
# do_install are cmake --build and cmake --install with DESTDIR=${D}. The generator is
# ${OECMAKE_GENERATOR}: Ninja (the default, as OE's) or "Unix Makefiles".

# a project's find_package(PkgConfig) runs the host's pkg-config: it must see the recipe sysroot alone
inherit pkgconfig

B = "${WORKDIR}/build"

# the directory of the top CMakeLists.txt
OECMAKE_SOURCEPATH ??= "${S}"
OECMAKE_GENERATOR ?= "Ninja"

def oecmake_generator_args(d):
    generator = d.getVar("OECMAKE_GENERATOR") or ""
    if generator == "Ninja":
        return "-G Ninja -DCMAKE_MAKE_PROGRAM=ninja"
    if generator == "Unix Makefiles":
        return "-G 'Unix Makefiles' -DCMAKE_MAKE_PROGRAM=%s" % d.getVar("MAKE").split()[0]
    loc = d.location("OECMAKE_GENERATOR")
    raise bb.parse.ParseError('OECMAKE_GENERATOR = "%s" is no generator the cmake class knows: '
                              'write "Ninja" or "Unix Makefiles"' % generator,
                              loc.path if loc else d.getVar("FILE"), loc.line if loc else 0)

OECMAKE_GENERATOR_ARGS = "${@oecmake_generator_args(d)}"

python __anonymous() {
    # an unknown generator is an error when the recipe is read, as in OE
    oecmake_generator_args(d)
}

# CC and CXX are a compiler and its options ("gcc --sysroot=... -specs=..."), perhaps behind ccache:
# CMake takes the program alone, the launcher apart and the options with the flags
def oecmake_map_compiler(var, d):
    words = (d.getVar(var) or "").split()
    launcher = ""
    if words and words[0] == "ccache":
        launcher, words = words[0], words[1:]
    if not words:
        loc = d.location(var)
        raise bb.parse.ParseError("%s names no compiler; the cmake class takes the compiler from it" % var,
                                  loc.path if loc else d.getVar("FILE"), loc.line if loc else 0)
    return words[0], launcher, " ".join(words[1:])

OECMAKE_C_COMPILER ?= "${@oecmake_map_compiler('CC', d)[0]}"
OECMAKE_CXX_COMPILER ?= "${@oecmake_map_compiler('CXX', d)[0]}"
OECMAKE_AR ?= "${AR}"

OECMAKE_C_FLAGS ?= "${@oecmake_map_compiler('CC', d)[2]} ${CFLAGS}"
OECMAKE_CXX_FLAGS ?= "${@oecmake_map_compiler('CXX', d)[2]} ${CXXFLAGS}"
OECMAKE_C_FLAGS_RELEASE ?= "-DNDEBUG"
OECMAKE_CXX_FLAGS_RELEASE ?= "-DNDEBUG"
OECMAKE_C_LINK_FLAGS ?= "${@oecmake_map_compiler('CC', d)[2]} ${CPPFLAGS} ${LDFLAGS}"
OECMAKE_CXX_LINK_FLAGS ?= "${@oecmake_map_compiler('CXX', d)[2]} ${CXXFLAGS} ${LDFLAGS}"

OECMAKE_RPATH ?= ""
OECMAKE_EXTRA_ROOT_PATH ?= ""
# Programs the build runs come from the build host: OE's "ONLY" re-roots their search into its native
# sysroot and host-tools directory, which for layerbuild are the host's PATH itself ("NEVER" re-roots
# nothing; headers, libraries and packages are searched in the recipe sysroot ONLY, as in OE)
OECMAKE_FIND_ROOT_PATH_MODE_PROGRAM ?= "NEVER"

EXTRA_OECMAKE ?= ""
EXTRA_OECMAKE:append = " ${PACKAGECONFIG_CONFARGS}"
EXTRA_OECMAKE_BUILD ?= ""
OECMAKE_TARGET_COMPILE ?= "all"
OECMAKE_TARGET_INSTALL ?= "install"
# CMAKE_VERBOSE = "" in a recipe or local.conf quietens the build log
CMAKE_VERBOSE ??= "VERBOSE=1"

# CMake names systems and processors as uname(2) does
def oecmake_system_name(d):
    host_os = d.getVar("HOST_OS")
    for prefix, name in (("linux", "Linux"), ("darwin", "Darwin"), ("mingw", "Windows")):
        if host_os.startswith(prefix):
            return name
    return "Generic" if host_os == "eabi" else host_os

def oecmake_system_processor(d):
    arch = d.getVar("HOST_ARCH")
    return {"powerpc": "ppc", "powerpc64": "ppc64", "powerpc64le": "ppc64le"}.get(arch, arch)

# paths below the prefix, as GNUInstallDirs wants them (an absolute one would be taken as it is)
def oecmake_reldir(var, d):
    return os.path.relpath(d.getVar(var), d.getVar("prefix") + "/")

OECMAKE_ARGS = "\
    -DCMAKE_INSTALL_PREFIX:PATH=${prefix} \
    -DCMAKE_INSTALL_BINDIR:PATH=${@oecmake_reldir('bindir', d)} \
    -DCMAKE_INSTALL_SBINDIR:PATH=${@oecmake_reldir('sbindir', d)} \
    -DCMAKE_INSTALL_LIBEXECDIR:PATH=${@oecmake_reldir('libexecdir', d)} \
    -DCMAKE_INSTALL_SYSCONFDIR:PATH=${sysconfdir} \
    -DCMAKE_INSTALL_SHAREDSTATEDIR:PATH=${@oecmake_reldir('sharedstatedir', d)} \
    -DCMAKE_INSTALL_LOCALSTATEDIR:PATH=${localstatedir} \
    -DCMAKE_INSTALL_LIBDIR:PATH=${@oecmake_reldir('libdir', d)} \
    -DCMAKE_INSTALL_INCLUDEDIR:PATH=${@oecmake_reldir('includedir', d)} \
    -DCMAKE_INSTALL_DATAROOTDIR:PATH=${@oecmake_reldir('datadir', d)} \
    -DLIB_SUFFIX=${@d.getVar('baselib').replace('lib', '')} \
    -DCMAKE_INSTALL_SO_NO_EXE=0 \
    -DCMAKE_TOOLCHAIN_FILE:FILEPATH=${WORKDIR}/toolchain.cmake \
    -DCMAKE_NO_SYSTEM_FROM_IMPORTED=1 \
    -DCMAKE_EXPORT_NO_PACKAGE_REGISTRY=ON \
    -DFETCHCONTENT_FULLY_DISCONNECTED=ON \
"

cmake_do_generate_toolchain_file() {
    if [ "${BUILD_SYS}" = "${HOST_SYS}" ]; then
        cmake_crosscompiling="set( CMAKE_CROSSCOMPILING FALSE )"
        cmake_sysroot=""
    else
        cmake_crosscompiling="set( CMAKE_CROSSCOMPILING TRUE )"
        cmake_sysroot="set( CMAKE_SYSROOT \"${RECIPE_SYSROOT}\" )"
    fi
    cat > ${WORKDIR}/toolchain.cmake <<EOF
# written by the cmake class from the recipe's toolchain variables
$cmake_crosscompiling
set( CMAKE_SYSTEM_NAME ${@oecmake_system_name(d)} )
set( CMAKE_SYSTEM_PROCESSOR ${@oecmake_system_processor(d)} )
set( CMAKE_C_COMPILER ${OECMAKE_C_COMPILER} )
set( CMAKE_CXX_COMPILER ${OECMAKE_CXX_COMPILER} )
set( CMAKE_C_COMPILER_LAUNCHER ${@oecmake_map_compiler('CC', d)[1]} )
set( CMAKE_CXX_COMPILER_LAUNCHER ${@oecmake_map_compiler('CXX', d)[1]} )
set( CMAKE_ASM_COMPILER ${OECMAKE_C_COMPILER} )
find_program( CMAKE_AR ${OECMAKE_AR} DOC "Archiver" REQUIRED )

set( CMAKE_C_FLAGS "${OECMAKE_C_FLAGS}" CACHE STRING "CFLAGS" )
set( CMAKE_CXX_FLAGS "${OECMAKE_CXX_FLAGS}" CACHE STRING "CXXFLAGS" )
set( CMAKE_ASM_FLAGS "${OECMAKE_C_FLAGS}" CACHE STRING "ASM FLAGS" )
set( CMAKE_C_FLAGS_RELEASE "${OECMAKE_C_FLAGS_RELEASE}" CACHE STRING "Additional CFLAGS for release" )
set( CMAKE_CXX_FLAGS_RELEASE "${OECMAKE_CXX_FLAGS_RELEASE}" CACHE STRING "Additional CXXFLAGS for release" )
set( CMAKE_ASM_FLAGS_RELEASE "${OECMAKE_C_FLAGS_RELEASE}" CACHE STRING "Additional ASM FLAGS for release" )
set( CMAKE_C_LINK_FLAGS "${OECMAKE_C_LINK_FLAGS}" CACHE STRING "LDFLAGS" )
set( CMAKE_CXX_LINK_FLAGS "${OECMAKE_CXX_LINK_FLAGS}" CACHE STRING "LDFLAGS" )

# headers, libraries and packages come from the recipe sysroot alone, never from the build host
set( CMAKE_FIND_ROOT_PATH ${STAGING_DIR_HOST} ${OECMAKE_EXTRA_ROOT_PATH} )
set( CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY )
set( CMAKE_FIND_ROOT_PATH_MODE_PROGRAM ${OECMAKE_FIND_ROOT_PATH_MODE_PROGRAM} )
set( CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY )
set( CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY )

$cmake_sysroot

set( CMAKE_INSTALL_RPATH ${OECMAKE_RPATH} )
# build-tree RPATHs relative to the binary, so no build path is written into one
set( CMAKE_BUILD_RPATH_USE_ORIGIN ON )

list( APPEND CMAKE_MODULE_PATH "${STAGING_DATADIR}/cmake/Modules/" )
set( CMAKE_LIBRARY_PATH ${libdir} ${base_libdir} )
list( APPEND CMAKE_C_IMPLICIT_INCLUDE_DIRECTORIES ${includedir} )
list( APPEND CMAKE_CXX_IMPLICIT_INCLUDE_DIRECTORIES ${includedir} )
EOF
}

addtask generate_toolchain_file after do_patch do_prepare_recipe_sysroot before do_configure

cmake_check_host() {
    command -v cmake >/dev/null || bbfatal "cmake is not on PATH (Debian package cmake)"
    case "${OECMAKE_GENERATOR}" in
    Ninja) command -v ninja >/dev/null || bbfatal "ninja is not on PATH (Debian package ninja-build)" ;;
    esac
}
do_configure[prefuncs] += "cmake_check_host"

# a separate build directory starts empty at every configure
do_configure[cleandirs] += "${@d.getVar('B') if os.path.normpath(d.getVar('B')) != os.path.normpath(d.getVar('S')) else ''}"

cmake_do_configure() {
    if [ "${S}" = "${B}" ]; then
        find ${B} -name CMakeFiles -or -name Makefile -or -name cmake_install.cmake -or -name CMakeCache.txt -delete
    fi
    # results a build cannot find out by running a program, as autotools' cache values
    if [ -e ${WORKDIR}/site-file.cmake ]; then
        oecmake_sitefile="-C ${WORKDIR}/site-file.cmake"
    else
        oecmake_sitefile=
    fi
    bbnote "Running cmake ${OECMAKE_GENERATOR_ARGS} $oecmake_sitefile ${OECMAKE_SOURCEPATH} ${OECMAKE_ARGS} ${EXTRA_OECMAKE} -Wno-dev"
    cmake ${OECMAKE_GENERATOR_ARGS} $oecmake_sitefile ${OECMAKE_SOURCEPATH} ${OECMAKE_ARGS} ${EXTRA_OECMAKE} -Wno-dev \
        || bbfatal "cmake failed (${B}/CMakeFiles/CMakeError.log may say why)"
}

# CMAKE_VERBOSE's assignment goes in the environment of cmake --build and --install
cmake_runcmake_build() {
    bbnote "Running ${CMAKE_VERBOSE} cmake --build ${B} $* -- ${EXTRA_OECMAKE_BUILD}"
    env ${CMAKE_VERBOSE} cmake --build '${B}' "$@" -- ${EXTRA_OECMAKE_BUILD}
}

cmake_do_compile() {
    cmake_runcmake_build --target ${OECMAKE_TARGET_COMPILE} || bbfatal "cmake --build failed"
}

cmake_do_install() {
    if [ "${OECMAKE_TARGET_INSTALL}" = "install" ]; then
        bbnote "Running DESTDIR=${D} ${CMAKE_VERBOSE} cmake --install ${B}"
        env DESTDIR='${D}' ${CMAKE_VERBOSE} cmake --install '${B}' || bbfatal "cmake --install failed"
    else
        # a project's own install target
        DESTDIR='${D}' cmake_runcmake_build --target ${OECMAKE_TARGET_INSTALL} \
            || bbfatal "cmake --build --target ${OECMAKE_TARGET_INSTALL} failed"
    fi
}

export CMAKE_BUILD_PARALLEL_LEVEL = "${@(d.getVar('PARALLEL_MAKE') or '').replace('-j', '').strip()}"

EXPORT_FUNCTIONS do_configure do_compile do_install do_generate_toolchain_file
