SUMMARY = "The base directory layout, os-release and the files every image needs"
DESCRIPTION = "The standard directories (with /bin, /sbin and /lib as links into /usr), \
/usr/lib/os-release from the distro configuration, /etc/hostname, and the empty /etc/machine-id \
and /etc/resolv.conf that systemd and the overlay boot fill in at run time."
LICENSE = "MIT"
SECTION = "base"

PACKAGE_ARCH = "${MACHINE_ARCH}"
INHIBIT_DEFAULT_DEPS = "1"
hostname ?= "${MACHINE}"

# os-release fields (os-release(5)); SYSEXT_LEVEL is set when the distro sets one
OS_RELEASE_FIELDS = "ID NAME VERSION VERSION_ID VERSION_CODENAME PRETTY_NAME HOME_URL SYSEXT_LEVEL"
OS_RELEASE_ID = "${DISTRO_ID}"
OS_RELEASE_NAME = "${DISTRO_NAME}"
OS_RELEASE_VERSION = "${DISTRO_VERSION}${@' (%s)' % d.getVar('DISTRO_CODENAME') if d.getVar('DISTRO_CODENAME') else ''}"
OS_RELEASE_VERSION_ID = "${DISTRO_VERSION}"
OS_RELEASE_VERSION_CODENAME = "${@d.getVar('DISTRO_CODENAME') or ''}"
OS_RELEASE_PRETTY_NAME = "${DISTRO_NAME} ${DISTRO_VERSION}"
OS_RELEASE_HOME_URL = ""
OS_RELEASE_SYSEXT_LEVEL = "${@d.getVar('DISTRO_SYSEXT_LEVEL') or ''}"

python do_install() {
    import os
    dest = d.getVar("D")
    for directory in ("etc", "usr/bin", "usr/sbin", "usr/lib", "usr/lib64", "usr/share", "var/lib", "var/log",
                      "var/tmp", "home", "root", "mnt", "srv", "opt", "tmp", "proc", "sys", "dev", "run"):
        os.makedirs(os.path.join(dest, directory), exist_ok=True)
    os.chmod(os.path.join(dest, "tmp"), 0o1777)
    os.chmod(os.path.join(dest, "var/tmp"), 0o1777)
    os.chmod(os.path.join(dest, "root"), 0o700)
    if bb.utils.contains("DISTRO_FEATURES", "usrmerge", True, False, d):
        for link in ("bin", "sbin", "lib", "lib64"):
            os.symlink("usr/" + link, os.path.join(dest, link))
    run_builtin("os_release", d)
    os.symlink("../usr/lib/os-release", os.path.join(dest, "etc/os-release"))
    with open(os.path.join(dest, "etc/hostname"), "w") as fh:
        fh.write(d.getVar("hostname") + "\n")
    for empty in ("etc/machine-id", "etc/resolv.conf"):
        open(os.path.join(dest, empty), "w").close()
    with open(os.path.join(dest, "etc/passwd"), "w") as fh:
        fh.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    with open(os.path.join(dest, "etc/group"), "w") as fh:
        fh.write("root:x:0:\nnogroup:x:65534:\n")
}

PACKAGES = "${PN}"
FILES:${PN} = "/"
CONFFILES:${PN} = "${sysconfdir}/hostname"
