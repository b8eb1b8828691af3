# autotools: GNU build systems (configure; make; make install), with OE's meaning (docs/classes.md).
#
# do_configure runs ${CONFIGURE_SCRIPT} from the separate build directory B with the arguments OE passes
# (--build/--host/--target, --prefix and the other directories from the path variables,
# --disable-static, ${EXTRA_OECONF} and ${PACKAGECONFIG_CONFARGS}); the toolchain is what CC, CXX, LD, AR,
# CFLAGS, LDFLAGS... say, exported to the task. autoreconf regenerates the scripts when there is no
# configure script, or always with AUTOTOOLS_AUTORECONF = "1". do_compile is oe_runmake, do_install
# oe_runmake DESTDIR=${D} install.

B = "${WORKDIR}/build"

AUTOTOOLS_SCRIPT_PATH ?= "${S}"
CONFIGURE_SCRIPT ?= "${AUTOTOOLS_SCRIPT_PATH}/configure"
# "auto": run autoreconf only when the sources have no configure script (a release tarball carries one,
# made by the autoconf upstream chose); "1": always, as OE does; "0": never
AUTOTOOLS_AUTORECONF ?= "auto"
# (OE adds --exclude=autopoint, an option of its own patched autoreconf; the host's has none)
EXTRA_AUTORECONF ?= ""

CONFIGUREOPT_DEPTRACK ?= "--disable-dependency-tracking"
CONFIGUREOPTS = " --build=${BUILD_SYS} \
                  --host=${HOST_SYS} \
                  --target=${TARGET_SYS} \
                  --prefix=${prefix} \
                  --exec_prefix=${exec_prefix} \
                  --bindir=${bindir} \
                  --sbindir=${sbindir} \
                  --libexecdir=${libexecdir} \
                  --datadir=${datadir} \
                  --sysconfdir=${sysconfdir} \
                  --sharedstatedir=${sharedstatedir} \
                  --localstatedir=${localstatedir} \
                  --libdir=${libdir} \
                  --includedir=${includedir} \
                  --oldincludedir=${includedir} \
                  --infodir=${infodir} \
                  --mandir=${mandir} \
                  --disable-silent-rules \
                  ${CONFIGUREOPT_DEPTRACK}"
# shell assignments put before the configure script (cache values: ac_cv_func_foo=yes ...)
CACHED_CONFIGUREVARS ?= ""
DISABLE_STATIC ?= " --disable-static"
EXTRA_OECONF ?= ""
EXTRA_OECONF:append = "${DISABLE_STATIC} ${PACKAGECONFIG_CONFARGS}"

# programs a build compiles to run during the build itself
export CC_FOR_BUILD = "${BUILD_CC}"
export CFLAGS_FOR_BUILD = "${BUILD_CFLAGS}"
export CXX_FOR_BUILD = "${BUILD_CXX}"
export CXXFLAGS_FOR_BUILD = "${BUILD_CXXFLAGS}"
export CPP_FOR_BUILD = "${BUILD_CPP}"
export CPPFLAGS_FOR_BUILD = "${BUILD_CPPFLAGS}"
export LD_FOR_BUILD = "${BUILD_LD}"
export LDFLAGS_FOR_BUILD = "${BUILD_LDFLAGS}"
export lt_cv_sys_lib_dlsearch_path_spec = "${libdir} ${base_libdir}"

oe_runconf() {
    # relative to B, so no build path ends up in what configure writes
    cfgscript="${@os.path.relpath(os.path.dirname(d.getVar('CONFIGURE_SCRIPT')), d.getVar('B'))}/$(basename ${CONFIGURE_SCRIPT})"
    if [ ! -x "$cfgscript" ]; then
        bbfatal "no configure script found at ${CONFIGURE_SCRIPT}"
    fi
    bbnote "Running $cfgscript ${CONFIGUREOPTS} ${EXTRA_OECONF} $@"
    if ! env CONFIG_SHELL=${CONFIG_SHELL-/bin/bash} ${CACHED_CONFIGUREVARS} $cfgscript ${CONFIGUREOPTS} ${EXTRA_OECONF} "$@"; then
        bbnote "config.log may say why: $(find ${B} -type f -name config.log)"
        bbfatal "configure failed"
    fi
}

autotools_autoreconf() {
    if [ ! -e ${AUTOTOOLS_SCRIPT_PATH}/configure.ac -a ! -e ${AUTOTOOLS_SCRIPT_PATH}/configure.in ]; then
        return
    fi
    case "${AUTOTOOLS_AUTORECONF}" in
    0) return ;;
    auto) [ -e ${CONFIGURE_SCRIPT} ] && return ;;
    esac
    command -v autoreconf >/dev/null || bbfatal "autoreconf is not on PATH (Debian packages autoconf, automake, libtool)"
    bbnote "Running autoreconf --verbose --install --force ${EXTRA_AUTORECONF} in ${AUTOTOOLS_SCRIPT_PATH}"
    # the recipe sysroot's macros (pkg.m4 of a library's -dev...) before the host's (OE's aclocal has an
    # --aclocal-path option for this; the host's reads ACLOCAL_PATH)
    mkdir -p ${STAGING_DATADIR}/aclocal
    export ACLOCAL_PATH="${STAGING_DATADIR}/aclocal"
    (cd ${AUTOTOOLS_SCRIPT_PATH} && autoreconf --verbose --install --force ${EXTRA_AUTORECONF}) || bbfatal "autoreconf failed"
}

autotools_do_configure() {
    autotools_autoreconf
    oe_runconf
}

autotools_do_compile() {
    oe_runmake
}

autotools_do_install() {
    oe_runmake 'DESTDIR=${D}' install
    # the info directory listing belongs to no package
    rm -f ${D}${infodir}/dir
}

EXPORT_FUNCTIONS do_configure do_compile do_install

# a separate build directory starts empty at every configure (in-tree builds, autotools-brokensep, keep S)
do_configure[cleandirs] += "${@d.getVar('B') if os.path.normpath(d.getVar('B')) != os.path.normpath(d.getVar('S')) else ''}"
