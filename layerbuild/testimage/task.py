"""``do_testimage``: boot what was built in a subhost, the way it will be used, and run its tests.

- an image boots from its deployed root file system (``.rootfs.tar.zst``, else squashfs or EROFS);
- a system or configuration extension boots its base image (``IMAGE_BASE_PKGDB``) with the ``.raw``
  merged as systemd merges it;
- a portable service image boots from its ``.raw`` with its units started and a network cable whose
  far end the tests reach from the host.

Then the suites of ``TEST_SUITES`` run (see :mod:`layerbuild.testimage.case`); every test's outcome
goes to the task log and to a JUnit XML report (``TESTIMAGE_REPORT``), and a failed test fails the task.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil

from layerbuild.boot import supervisor
from layerbuild.boot.config import make_config
from layerbuild.boot.state import find
from layerbuild.boot.subhost import Subhost
from layerbuild.taskapi import TaskContext
from layerbuild.testimage.case import Target
from layerbuild.testimage.runner import Outcome, Report, junit_xml, run_suites
from layerbuild.util import qemuuser
from layerbuild.util.errors import BuildError, LayerbuildError
from layerbuild.util.fsutil import atomic_write

ROOTFS_TYPES = ("tar.zst", "squashfs", "squashfs-zst", "squashfs-xz", "squashfs-gz", "erofs", "erofs-lz4",
                "erofs-lz4hc")


def subhost_name(pn: str) -> str:
    """A short, stable subhost name (interface names NAME0 must fit in 15 characters)."""
    return "lbt" + hashlib.sha256(pn.encode()).hexdigest()[:8]


def _deployed_rootfs(ctx: TaskContext, link_name: str, what: str) -> str:
    suffix = ctx.vars.get("IMAGE_NAME_SUFFIX", ".rootfs")
    for kind in ROOTFS_TYPES:
        path = os.path.join(ctx.deploy_dir_image, f"{link_name}{suffix}.{kind}")
        if os.path.exists(path):
            return os.path.realpath(path)
    raise ctx.fatal(f"testimage: no deployed root file system of {what} ({link_name}{suffix}.<type>) in "
                    f"{ctx.deploy_dir_image}", var="IMAGE_FSTYPES",
                    hint="build the image first; testimage boots tar.zst, squashfs or erofs root file systems")


def _manifest(path: str) -> set[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            return {line.split()[0] for line in fh if line.strip()}
    except OSError:
        return set()


def _stop_stale(name: str) -> None:
    """A test boot that a killed build left behind is torn down before the next one."""
    with contextlib.suppress(LayerbuildError):
        supervisor.stop(find(name))


def _dropins(ctx: TaskContext, upper: str) -> None:
    """``TESTIMAGE_ENVIRONMENT[unit] = "K=V ..."``: drop-ins in the subhost's /etc, as an admin would add."""
    for unit in sorted(ctx.vars.getVarFlags("TESTIMAGE_ENVIRONMENT")):
        value = ctx.vars.getVarFlag("TESTIMAGE_ENVIRONMENT", unit)
        if unit.startswith("_") or not value:
            continue
        ctx.expanded(f"TESTIMAGE_ENVIRONMENT[{unit}]", value, f"the drop-in of unit {unit}")
        directory = os.path.join(upper, "etc/systemd/system", f"{unit}.d")
        os.makedirs(directory, exist_ok=True)
        lines = "".join(f"Environment={item}\n" for item in value.split())
        atomic_write(os.path.join(directory, "50-testimage.conf"), f"[Service]\n{lines}")


def _cable_addresses(name: str) -> tuple[str, str]:
    net = int(name[3:5], 16) % 250 + 1
    return f"169.254.{net}.1", f"169.254.{net}.2"


def testimage(ctx: TaskContext) -> None:
    v = ctx.vars
    kind = v.get("TESTIMAGE_KIND", "image")
    machine = v.get("MACHINE")
    name = subhost_name(ctx.pn)
    base = os.path.join(ctx.workdir, "testimage")
    _stop_stale(name)
    shutil.rmtree(base, ignore_errors=True)
    os.makedirs(os.path.join(base, "root"))
    values = {"NAME": name, "BASE": base, "LOG": os.path.join(ctx.t, f"log.subhost.{os.getpid()}"),
              "RAM_SIZE": v.get("TESTIMAGE_RAM_SIZE", "50M")}
    start = v.words("TEST_START_SERVICES")
    packages = _manifest(v.get("IMAGE_MANIFEST")) | _manifest(
        os.path.join(ctx.deploy_dir_image, f"{v.get('IMAGE_LINK_NAME')}.manifest"))
    if kind in ("sysext", "confext"):
        base_image = v.get("IMAGE_BASE_PKGDB")
        if not base_image:
            raise ctx.fatal(f"testimage of a {kind} boots the image it extends, but IMAGE_BASE_PKGDB is not set",
                            var="IMAGE_BASE_PKGDB")
        values["LOWER"] = _deployed_rootfs(ctx, f"{base_image}-{machine}", f"the base image {base_image}")
        values["EXTENSIONS"] = os.path.join(ctx.deploy_dir_image, v.get("IMAGE_RAW_FILE"))
        packages |= _manifest(os.path.join(ctx.deploy_dir_image, f"{base_image}-{machine}.manifest"))
    elif kind == "portable":
        values["LOWER"] = os.path.join(ctx.deploy_dir_image, v.get("IMAGE_RAW_FILE"))
        units = [word.split(":")[-1].split("/")[-1] for word in v.words("PORTABLE_UNITS")]
        start = [u for u in units if u.endswith(".service")] + start
    else:
        values["LOWER"] = _deployed_rootfs(ctx, v.get("IMAGE_LINK_NAME"), ctx.pn)
    if start:
        values["START"] = " ".join(start)
    cable = v.bool("TESTIMAGE_CABLE", kind == "portable")
    if cable:
        values["CABLES"] = "=02:00:00:00:00:01"
    # an image of another architecture boots with its programs run through qemu-user (binfmt_misc)
    architecture = v.get("SYSTEMD_ARCHITECTURE")
    foreign = bool(architecture) and not qemuuser.is_native(architecture)
    if foreign:
        values["ARCHITECTURE"] = architecture
        problem = qemuuser.binfmt_problem(architecture)
        if problem:
            _skipped(ctx, f"the image is for {architecture} and this host cannot run it: {problem}")
            return
    config = make_config(values, source=ctx.file)
    _dropins(ctx, os.path.join(base, "root"))
    host_address, address = _cable_addresses(name) if cable else (None, None)
    emulation = qemuuser.binfmt(architecture) if foreign else contextlib.nullcontext()
    with emulation, Subhost(config) as host:
        report = _run(ctx, host, kind, packages, address, host_address, architecture if foreign else None)
    _report(ctx, report)


def _skipped(ctx: TaskContext, reason: str) -> None:
    """Every suite skipped with ``reason``, reported as a run would be."""
    report = Report([Outcome(suite, "boot", "skip", 0.0, reason) for suite in ctx.vars.words("TEST_SUITES")])
    atomic_write(ctx.vars.get("TESTIMAGE_REPORT"), junit_xml(report, ctx.pn))
    ctx.result(f"testimage {ctx.pn}: skipped: {reason}")


def _run(ctx: TaskContext, host: Subhost, kind: str, packages: set[str], address: str | None,
         host_address: str | None, emulated: str | None) -> Report:
    v = ctx.vars
    if address is not None:
        name = host.config.name
        ctx.run(["ip", "addr", "add", f"{host_address}/30", "dev", f"{name}0"])
        ctx.run(["ip", "link", "set", f"{name}0", "up"])
        for argv in (["ip", "addr", "add", f"{address}/30", "dev", "eth0"], ["ip", "link", "set", "eth0", "up"],
                     ["ip", "link", "set", "lo", "up"]):
            ctx.run(["ip", "netns", "exec", name, *argv])
    init = host.state.init
    target = Target(host, ctx.pn, kind, frozenset(packages), frozenset(v.words("IMAGE_FEATURES")), address,
                    host_address, {k: v.get(k) for k in ("MACHINE", "DISTRO_VERSION", "DISTRO_ID", "PN", "PV")},
                    root=f"/proc/{init.pid}/root" if init is not None else None, emulated=emulated)
    try:
        return run_suites(v.words("TEST_SUITES"), v.get("BBPATH").split(":"), target)
    except LayerbuildError as exc:
        raise BuildError(exc.message, exc.location or ctx.where("TEST_SUITES"), exc.hint, exc.notes) from None


def _report(ctx: TaskContext, report: Report) -> None:
    v = ctx.vars
    atomic_write(v.get("TESTIMAGE_REPORT"), junit_xml(report, ctx.pn))
    ctx.result(f"testimage {ctx.pn}: {report.summary()} (report: {v.get('TESTIMAGE_REPORT')})")
    for suite, outcomes in report.suites().items():
        ctx.result(f"  {suite}: {outcomes.summary()}")
    if not report.outcomes:
        raise ctx.fatal("testimage: TEST_SUITES ran no test", var="TEST_SUITES")
    if report.failed:
        first = report.failed[0]
        notes = tuple(f"{o.suite}.{o.name}: {o.output.splitlines()[-1] if o.output else o.status}"
                      for o in report.failed)
        raise BuildError(f"testimage {ctx.pn}: {report.summary()}; {first.suite}.{first.name} failed:\n"
                         f"{first.output}", ctx.where("TEST_SUITES"), notes=notes)
