"""``do_create_spdx``: what a recipe's SBOM entries need that its packages do not carry.

The record is JSON (``${DEPLOY_DIR_SPDX}/${PACKAGE_ARCH}/recipes/${PN}.json``, published through the
shared state) that the image's SBOM task reads for every package the image installs: the recipe's
version, licence, supplier, upstream name and version for CVE matching (``CVE_PRODUCT``,
``CVE_VERSION``) and its sources, each with where it comes from and the sha256 of what was fetched
(the commit for a git source, which has no file to hash; every file of a ``file://`` directory).
"""

from __future__ import annotations

import json
import os

from layerbuild.fetch.errors import MalformedUrl
from layerbuild.fetch.fetcher import Fetch
from layerbuild.fetch.url import decodeurl, encodeurl
from layerbuild.taskapi import TaskContext
from layerbuild.util.fsutil import atomic_write, relative_paths, sha256_file

#: the layout of the record; the image task refuses another
RECORD_VERSION = 1


def _plain_url(url: str) -> str:
    """``url`` without its BitBake parameters (``;name=...;subdir=...``) or password: where it downloads
    from (an entry that starts with a variable that is not set, ``${DEBIAN_MIRROR}/...``, as written)."""
    try:
        kind, host, path, user, _password, _params = decodeurl(url)
    except MalformedUrl:
        return url.split(";", 1)[0]
    return encodeurl((kind, host, path, user, "", {}))


def _sources(ctx: TaskContext) -> list[dict[str, str]]:
    urls = ctx.vars.words("SRC_URI")
    if not urls:
        return []
    fetcher = Fetch(urls, ctx.vars)
    out: list[dict[str, str]] = []
    for url in urls:
        ud = fetcher.ud[url]
        location = _plain_url(ud.url)
        if ud.type == "git":
            out.append({"url": url, "location": location, "name": os.path.basename(ud.path.rstrip("/")) or ud.host,
                        "sha1": ud.revision})
        elif os.path.isdir(ud.localpath):
            for rel in relative_paths(ud.localpath):
                full = os.path.join(ud.localpath, rel)
                if os.path.isfile(full) and not os.path.islink(full):
                    out.append({"url": url, "location": f"{location.rstrip('/')}/{rel}",
                                "name": f"{os.path.basename(ud.localpath)}/{rel}", "sha256": sha256_file(full)})
        else:
            out.append({"url": url, "location": location, "name": os.path.basename(ud.localpath),
                        "sha256": sha256_file(ud.localpath)})
    return out


def record(ctx: TaskContext) -> dict[str, object]:
    """The recipe's record (see the module's description)."""
    v = ctx.vars
    sources = _sources(ctx)
    remote = [s["location"] for s in sources if not s["location"].startswith("file:")]
    supplier = v.get("SPDX_PACKAGE_SUPPLIER_name")
    return {
        "version": RECORD_VERSION, "PN": ctx.pn, "PV": v.get("PV"), "PR": v.get("PR"),
        "LICENSE": " ".join(v.get("LICENSE").split()), "SUMMARY": v.get("SUMMARY"), "HOMEPAGE": v.get("HOMEPAGE"),
        "CVE_PRODUCT": v.words("CVE_PRODUCT"), "CVE_VERSION": v.get("CVE_VERSION"),
        "supplier": {"name": supplier, "type": v.get("SPDX_PACKAGE_SUPPLIER_type") or "organization"}
        if supplier else None,
        "download_location": remote[0] if remote else None,
        "sources": sources,
    }


def create_spdx(ctx: TaskContext) -> None:
    """The whole of ``do_create_spdx``: the record, into ``SPDXDIR`` for the shared state to publish."""
    out = os.path.join(ctx.vars.path("SPDXDIR"), "recipes", f"{ctx.pn}.json")
    atomic_write(out, json.dumps(record(ctx), indent=1, sort_keys=True) + "\n")
