"""``do_create_image_sbom_spdx``: an image's SBOM, ``${IMAGE_NAME}.spdx.json`` beside its manifest.

What the image installs is its manifest (for an extension, what it ships); each package is read from
the ``.deb`` it was installed from (its control data, every file's sha256, the archive's sha256), its
pkgdata (recipe, ``PACKAGE_ARCH``, licence) and its recipe's record from ``do_create_spdx``
(``${DEPLOY_DIR_SPDX}/${PACKAGE_ARCH}/recipes/${PN}.json``). An extension built against a base
(``IMAGE_BASE_PKGDB``) refers to the base's document, ``IMAGE_BASE_SPDX``, which the base deployed.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from typing import Any
from urllib.parse import quote

from layerbuild import __version__
from layerbuild.image.tasks import rootfs_image_name
from layerbuild.packaging.debread import REGULAR, DebError
from layerbuild.packaging.split import read_pkgdata
from layerbuild.rootfs.feed import Feed, FeedPackage
from layerbuild.rootfs.task import feed_dirs, native_arch
from layerbuild.sbom import document
from layerbuild.sbom.licensing import to_spdx
from layerbuild.sbom.recipe import RECORD_VERSION
from layerbuild.taskapi import TaskContext
from layerbuild.util.errors import BuildError
from layerbuild.util.fsutil import atomic_write, sha256_file
from layerbuild.util.licenses import LicenseError

SUFFIX = ".spdx.json"


def purl(name: str, version: str, arch: str, vendor: str, distro: str) -> str:
    """The package URL of a Debian package of this distro (purl's ``deb`` type: the distro's id as the
    namespace, ``arch`` and ``distro`` qualifiers), as scanners such as osv-scanner match them."""
    return (f"pkg:deb/{quote(vendor, safe='')}/{quote(name, safe='+')}@{quote(version, safe='.+~-_')}"
            f"?arch={quote(arch, safe='')}&distro={quote(distro, safe='.-_')}")


def cpe_ids(products: list[str], version: str) -> tuple[str, ...]:
    """CPE 2.3 names of the upstream software for CVE matching, as OE's ``get_cpe_ids``: each word of
    CVE_PRODUCT is ``product`` or ``vendor:product``, with CVE_VERSION."""
    out = []
    for product in products:
        vendor, _, name = product.rpartition(":")
        out.append(f"cpe:2.3:*:{vendor or '*'}:{name}:{version or '*'}:*:*:*:*:*:*:*")
    return tuple(out)


def _manifest(path: str) -> list[tuple[str, str, str]]:
    entries = []
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            words = line.split()
            if len(words) == 3:
                entries.append((words[0], words[1], words[2]))
    return entries


def _files(pkg: FeedPackage) -> tuple[tuple[str, str], ...]:
    """Every regular file of the package's data archive with its sha256, by path."""
    archive = pkg.archive
    if archive is None:
        raise BuildError(f"{pkg.path}: the package's archive was not read")
    out = []
    with archive.data() as entries:
        for entry in entries:
            if entry.kind != REGULAR:
                continue
            digest = hashlib.sha256()
            for block in iter(lambda: entry.read(1 << 20), b""):  # noqa: B023 - consumed at once
                digest.update(block)
            out.append(("/" + entry.name.lstrip("./"), digest.hexdigest()))
    return tuple(sorted(out))


class _Records:
    """The recipes' records, each read once."""

    def __init__(self, ctx: TaskContext) -> None:
        self.ctx = ctx
        self.top = ctx.vars.path("DEPLOY_DIR_SPDX")
        self.cache: dict[tuple[str, str], dict[str, Any]] = {}

    def get(self, pn: str, arch: str, package: str) -> dict[str, Any]:
        key = (arch, pn)
        if key not in self.cache:
            path = os.path.join(self.top, arch, "recipes", f"{pn}.json")
            try:
                with open(path, encoding="utf-8") as fh:
                    data = json.load(fh)
            except (OSError, ValueError):
                raise self.ctx.fatal(f"package {package} (recipe {pn}) has no SPDX record at {path}",
                                     var="IMAGE_INSTALL",
                                     hint=f"build {pn}:do_create_spdx (create-spdx.bbclass) in this build "
                                          "directory") from None
            if data.get("version") != RECORD_VERSION:
                raise self.ctx.fatal(f"{path} is an SPDX record of another layout (version {data.get('version')}, "
                                     f"not {RECORD_VERSION})", hint=f"build {pn}:do_create_spdx again (-f)")
            self.cache[key] = data
        return self.cache[key]


def _supplier(value: object) -> document.Supplier | None:
    if isinstance(value, dict) and value.get("name"):
        return document.Supplier(str(value["name"]), str(value.get("type") or "organization"))
    return None


def _package(ctx: TaskContext, pkg: FeedPackage, installed: dict[str, FeedPackage], base: set[str],
             records: _Records) -> document.Package:
    name = pkg.name
    try:
        data = read_pkgdata(ctx.pkgdata_dir, name)
    except (OSError, ValueError):
        raise ctx.fatal(f"package {name} has no pkgdata in {ctx.pkgdata_dir}", var="IMAGE_INSTALL",
                        hint=f"build the recipe of {name} in this build directory") from None
    pn = str(data.get("PN") or "")
    record = records.get(pn, str(data.get("PACKAGE_ARCH") or ""), name)
    license = str(data.get("LICENSE") or record.get("LICENSE") or "")
    try:
        spdx_license = to_spdx(license)
    except LicenseError as exc:
        raise ctx.fatal(f"package {name} (recipe {pn}): LICENSE = \"{license}\": {exc.message}",
                        var="IMAGE_INSTALL") from None
    depends = []
    for alternatives in pkg.info.depends:
        for rel in alternatives:
            found = [other.name for other in installed.values() if other.info.satisfies(rel)]
            if found:
                depends.append(sorted(found)[0])
                break
            if rel.name in base:
                depends.append(rel.name)
                break
    v = ctx.vars
    sources = tuple(document.Source(str(s["name"]), str(s["location"]), s.get("sha256"), s.get("sha1"))
                    for s in record.get("sources") or ())
    products = [str(p) for p in record.get("CVE_PRODUCT") or ()]
    try:
        files = _files(pkg)
    except DebError as exc:
        raise BuildError(f"cannot read package {pkg.path}: {exc.message}") from None
    return document.Package(
        name=name, version=pkg.info.version, arch=pkg.info.arch, recipe=pn, license=spdx_license.expression,
        purl=purl(name, pkg.info.version, pkg.info.arch, v.get("DISTRO"),
                  f"{v.get('DISTRO')}-{v.get('DISTRO_VERSION')}"),
        deb_sha256=sha256_file(pkg.path), files=files, sources=sources, depends=tuple(depends),
        cpe=cpe_ids(products, str(record.get("CVE_VERSION") or "")), supplier=_supplier(record.get("supplier")),
        download_location=str(record["download_location"]) if record.get("download_location") else None,
        summary=str(record.get("SUMMARY") or ""), homepage=str(record.get("HOMEPAGE") or ""))


def _base(ctx: TaskContext) -> document.BaseDocument | None:
    """The base image's document (an extension built against one), as the extension refers to it."""
    if not ctx.vars.get("IMAGE_BASE_PKGDB"):
        return None
    path = ctx.vars.path("IMAGE_BASE_SPDX")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        objects = document.read(data)
    except (OSError, ValueError) as exc:
        raise ctx.fatal(f"IMAGE_BASE_PKGDB = \"{ctx.vars.get('IMAGE_BASE_PKGDB')}\": cannot read the base image's "
                        f"SBOM {path}: {exc}", var="IMAGE_BASE_PKGDB",
                        hint="build the base image with create-spdx inherited (INHERIT += \"create-spdx\")") from None
    from spdx_python_model import v3_0_1 as spdx
    purpose = spdx.software_SoftwarePurpose
    images = [o for o in objects.foreach_type(spdx.software_Package) if o.software_primaryPurpose == purpose.filesystemImage]
    if len(images) != 1:
        raise ctx.fatal(f"{path} describes {len(images)} images, not one", var="IMAGE_BASE_PKGDB")
    packages = {str(o.name): str(o._id) for o in objects.foreach_type(spdx.software_Package)  # type: ignore[attr-defined]
                if o.software_primaryPurpose == purpose.install}
    return document.BaseDocument(os.path.basename(os.path.realpath(path)), hashlib.sha256(data).hexdigest(),
                                 str(images[0]._id), packages)  # type: ignore[attr-defined]


def image_sbom(ctx: TaskContext) -> None:
    """The whole of ``do_create_image_sbom_spdx``."""
    v = ctx.vars
    deploy = v.path("IMGDEPLOYDIR")
    image_name = rootfs_image_name(deploy, v.get("IMAGE_NAME"))
    manifest = os.path.join(deploy, f"{image_name}.manifest")
    entries = _manifest(manifest)
    feed = Feed.scan(feed_dirs(ctx), native_arch(ctx))
    installed: dict[str, FeedPackage] = {}
    for name, arch, version in entries:
        found = feed.best(name)
        if found is None or found.info.version != version or found.info.arch != arch:
            have = f"{found.info.version} ({found.info.arch})" if found else "nothing"
            raise ctx.fatal(f"the image's manifest {manifest} names {name} {version} ({arch}), but the package feed "
                            f"holds {have}", var="IMAGE_INSTALL", hint="build the image again")
        installed[name] = found
    base = _base(ctx)
    records = _Records(ctx)
    packages = tuple(_package(ctx, pkg, installed, set(base.packages) if base else set(), records)
                     for pkg in installed.values())
    name = v.get("IMAGE_BASENAME")
    # the namespace names the image and what it holds: the same packages give the same ids
    content = hashlib.sha256("".join(f"{p.name} {p.version} {p.arch} {p.deb_sha256}\n"
                                     for p in sorted(packages, key=lambda p: p.name)).encode()).hexdigest()
    unique = uuid.uuid5(uuid.NAMESPACE_URL, f"{v.get('SPDX_UUID_NAMESPACE')}/{name}/{content}")
    namespace = (f"{v.get('SPDX_NAMESPACE_PREFIX').rstrip('/')}/{quote(v.get('DISTRO'), safe='')}/"
                 f"{quote(v.get('MACHINE'), safe='')}/{quote(name, safe='')}-{unique}")
    supplier = v.get("SPDX_IMAGE_SUPPLIER_name")
    image = document.Image(
        name=name, version=v.get("DISTRO_VERSION"), namespace=namespace, created=v.epoch("SOURCE_DATE_EPOCH"),
        packages=packages, base=base, tool=f"layerbuild {__version__}",
        supplier=document.Supplier(supplier, v.get("SPDX_IMAGE_SUPPLIER_type") or "organization") if supplier else None)
    out = os.path.join(deploy, image_name + SUFFIX)
    atomic_write(out, document.serialize(document.build(image)))
    ctx.note(f"SBOM: {os.path.basename(out)} ({len(packages)} packages)")
