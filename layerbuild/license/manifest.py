"""An image's licences: INCOMPATIBLE_LICENSE applied to what it installs, and the licence manifest.

The licence of each package comes from its pkgdata (``LICENSE:<pkg>``, else the recipe's ``LICENSE``, as
do_package recorded it). A package whose licences the policy refuses, whichever side of each ``|`` is
taken, stops the image with one error naming every such package; ``INCOMPATIBLE_LICENSE_EXCEPTIONS``
(``pkg:licence``) lets a package in anyway, as in OE. The manifest is OE's ``license.manifest`` format, a
stanza per package, sorted::

    PACKAGE NAME: zlib
    PACKAGE VERSION: 1.2.13
    RECIPE NAME: zlib
    LICENSE: Zlib

"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Protocol

from layerbuild.packaging.split import read_pkgdata
from layerbuild.taskapi import TaskContext
from layerbuild.util import licenses
from layerbuild.util.errors import BuildError
from layerbuild.util.fsutil import atomic_write


class _Package(Protocol):
    @property
    def name(self) -> str: ...


def _records(ctx: TaskContext, packages: Iterable[_Package]) -> list[dict[str, str]]:
    out = []
    for pkg in sorted({p.name for p in packages}):
        try:
            data = read_pkgdata(ctx.pkgdata_dir, pkg)
        except (OSError, ValueError):
            raise ctx.fatal(f"package {pkg} has no pkgdata in {ctx.pkgdata_dir}: its licence is unknown",
                            var="IMAGE_INSTALL", hint=f"build the recipe of {pkg} in this build directory") from None
        out.append({"PKG": pkg, "PN": str(data.get("PN", "")), "PKGV": str(data.get("PKGV", "")),
                    "LICENSE": str(data.get("LICENSE") or "")})
    return out


def _policy(ctx: TaskContext) -> list[str]:
    try:
        return licenses.expand_policy(ctx.vars.words("INCOMPATIBLE_LICENSE"))
    except licenses.LicenseError as exc:
        raise ctx.fatal(f"INCOMPATIBLE_LICENSE: {exc.message}", var="INCOMPATIBLE_LICENSE", hint=exc.hint) from None


def check_and_write(ctx: TaskContext, packages: Iterable[_Package]) -> None:
    """Refuse ``packages`` (what the image ships) that the licence policy refuses; write the manifest."""
    records = _records(ctx, packages)
    refused = _policy(ctx)
    exceptions = ctx.vars.words("INCOMPATIBLE_LICENSE_EXCEPTIONS")
    bad: list[str] = []
    for record in records:
        try:
            found = licenses.incompatible(record["LICENSE"],
                                          licenses.refused_for(record["PKG"], refused, exceptions))
        except licenses.LicenseError as exc:
            raise ctx.fatal(f"package {record['PKG']} (recipe {record['PN']}): LICENSE = \"{record['LICENSE']}\": "
                            f"{exc.message}", var="IMAGE_INSTALL") from None
        if found:
            bad.append(f"{record['PKG']} (recipe {record['PN']}, LICENSE = \"{record['LICENSE']}\"): "
                       f"{' '.join(found)}")
    if bad:
        policy = ctx.vars.location("INCOMPATIBLE_LICENSE")
        notes = bad + [f"INCOMPATIBLE_LICENSE = \"{ctx.vars.get('INCOMPATIBLE_LICENSE')}\""
                       + (f" (set at {policy})" if policy else "")]
        names = ", ".join(entry.split(" ", 1)[0] for entry in bad)
        what = f"packages {names} cannot" if len(bad) > 1 else f"package {names} cannot"
        whose = "their licences" if len(bad) > 1 else "its licence"
        raise BuildError(f"{what} be installed into the image: INCOMPATIBLE_LICENSE refuses {whose}",
                         ctx.recipe_where("IMAGE_INSTALL"),
                         notes=tuple(notes),
                         hint="leave them out of IMAGE_INSTALL (and of what depends on them), or let one in with "
                              'INCOMPATIBLE_LICENSE_EXCEPTIONS = "PACKAGE:LICENCE"')
    manifest = ctx.vars.path("IMAGE_LICENSE_MANIFEST")
    if manifest:
        atomic_write(manifest, "".join(f"PACKAGE NAME: {r['PKG']}\nPACKAGE VERSION: {r['PKGV']}\n"
                                       f"RECIPE NAME: {r['PN']}\nLICENSE: {r['LICENSE']}\n\n" for r in records))
        ctx.note(f"licence manifest: {os.path.basename(manifest)}")
