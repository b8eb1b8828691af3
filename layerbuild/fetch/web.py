"""``http://`` and ``https://`` sources: single files downloaded into DL_DIR.

A download goes to a temporary name beside its final one, is checked against the recipe's sha256 and
only then renamed into place, with a ``.done`` marker (holding the sha256) beside it, so DL_DIR never
holds a partial or unverified file under a name a later build would trust.

PREMIRRORS and MIRRORS may name any store of :mod:`layerbuild.util.objectstore` besides http(s) and
file (``s3://bucket/downloads``), and ``DL_UPLOAD = "URL"`` publishes each verified download there under
its file name, if it is not there already; a store that fails is a warning, never a failed fetch.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from pathlib import Path
from typing import IO, Any

from layerbuild.fetch.errors import (
    ChecksumError,
    FetchError,
    MalformedUrl,
    NoChecksumError,
    ParameterError,
    UnpackError,
)
from layerbuild.fetch.mirrors import TransferFailed, try_sources
from layerbuild.fetch.unpack import ArchiveProblem, unpack_dir, unpack_file
from layerbuild.fetch.url import decodeurl, encodeurl
from layerbuild.fetch.urldata import FetchContext, FetchData, clean_download, locked
from layerbuild.util.fsutil import atomic_output, atomic_write, disk_full, sha256_file
from layerbuild.util.objectstore import DEFAULT_TIMEOUT, StoreError, open_store

NETWORK_TYPES = ("http", "https", "s3")
logger = logging.getLogger("layerbuild.fetch")
USER_AGENT = "layerbuild"


class WebMethod:
    def setup(self, ud: FetchData, ctx: FetchContext) -> None:
        name = ud.parm.get("downloadfilename") or os.path.basename(ud.path)
        if not name or name in (".", "..") or "/" in name:
            raise ctx.fail(MalformedUrl, f"{ud.url}: the URL names no file to download into DL_DIR",
                           hint="add ;downloadfilename=NAME")
        if not ctx.dl_dir:
            raise ctx.fail(ParameterError, f"{ud.url}: DL_DIR is not set")
        ud.basename = name
        ud.localpath = os.path.join(ctx.dl_dir, name)

    def download(self, ud: FetchData, ctx: FetchContext) -> None:
        expected = ud.expected_sha256(ctx)
        if not self._verified(ud, ctx, expected):
            with locked(ud.localpath + ".lock"):
                if not self._verified(ud, ctx, expected):
                    try_sources(ud, ctx, ud.basename, lambda source: self._fetch_from(ud, ctx, source, expected),
                                network=lambda source: decodeurl(source)[0] in NETWORK_TYPES,
                                usable=lambda source: decodeurl(source)[0] in ("file", *NETWORK_TYPES))
        if ctx.upload and not ctx.no_network:
            _publish(ud, ctx)

    def _verified(self, ud: FetchData, ctx: FetchContext, expected: str | None) -> bool:
        """Whether DL_DIR already holds the right file; a wrong one is removed."""
        done = ud.localpath + ".done"
        if not os.path.isfile(ud.localpath):
            return False
        with contextlib.suppress(OSError):
            if expected is not None and Path(done).read_text().strip() == expected:
                return True
        actual = sha256_file(ud.localpath)
        self._check(ud, ctx, ud.url, expected, actual)  # raises without a checksum in the recipe
        if actual == expected:
            atomic_write(done, actual + "\n")
            return True
        for stale in (done, ud.localpath):  # verified once, but not what the recipe asks for now
            with contextlib.suppress(FileNotFoundError):
                os.unlink(stale)
        return False

    def _fetch_from(self, ud: FetchData, ctx: FetchContext, source: str, expected: str | None) -> None:
        try:
            with atomic_output(ud.localpath) as tmp:
                actual = _transfer(source, tmp, ctx.timeout)
                self._check(ud, ctx, source, expected, actual)
            atomic_write(ud.localpath + ".done", actual + "\n")
        except OSError as exc:
            if not disk_full(exc):
                raise
            # the download directory is full: no other mirror can help, and nothing partial is kept
            why = os.strerror(exc.errno).lower() if exc.errno else "no space left on device"
            raise ctx.fail(FetchError, f"{why} in DL_DIR: cannot write {ud.localpath} "
                           f"(downloading {source})",
                           hint=f"free space on the file system of {ctx.dl_dir}, then build again") from None

    @staticmethod
    def _check(ud: FetchData, ctx: FetchContext, source: str, expected: str | None, actual: str) -> None:
        flag = ud.checksum_flag()
        if expected is None:
            raise ctx.fail(NoChecksumError, f"{ud.url} has no checksum: SRC_URI[{flag}] is not set",
                           [f"the download from {source} has sha256 {actual}"],
                           hint=f'after checking the download is the right one, add SRC_URI[{flag}] = "{actual}"')
        if actual != expected:
            via = f" (downloaded from {source})" if source != ud.url else ""
            raise ctx.fail(ChecksumError, f"sha256 mismatch for {ud.url}{via}: expected {expected}, got {actual}",
                           [f"expected SRC_URI[{flag}] = \"{expected}\"", f"actual   sha256 = \"{actual}\""],
                           hint="if the new file is right, update SRC_URI[" + flag + "]; nothing was kept in DL_DIR")

    def clean(self, ud: FetchData, ctx: FetchContext) -> None:
        with locked(ud.localpath + ".lock"):
            for path in (ud.localpath, ud.localpath + ".done"):
                clean_download(ud, ctx, path)

    def unpack(self, ud: FetchData, root: str, ctx: FetchContext) -> None:
        if not os.path.isfile(ud.localpath + ".done"):
            # gone since do_fetch ran (do_cleanall of another recipe with the same download, a pruned DL_DIR):
            # fetched again, to the same checksum
            self.download(ud, ctx)
        try:
            dest = unpack_dir(root, ud.parm.get("subdir", ""))
            unpack_file(ud.localpath, dest, ud.basename, ud.bool_param("unpack", True, ctx),
                        ud.int_param("striplevel", 0, ctx))
        except ArchiveProblem as exc:
            raise ctx.fail(UnpackError, f"cannot unpack {ud.url} ({ud.localpath}): {exc}") from None


def _publish(ud: FetchData, ctx: FetchContext) -> None:
    """DL_UPLOAD: put the verified download into the store under its file name unless it is there."""
    try:
        if open_store(ctx.upload, min(ctx.timeout, DEFAULT_TIMEOUT)).put(ud.localpath, ud.basename):
            logger.info("published %s to %s", ud.basename, ctx.upload)
    except StoreError as exc:
        logger.warning("DL_UPLOAD %s: %s; %s is not published", ctx.upload, exc.message, ud.basename)


def _from_store(source: str, target: Path, timeout: float) -> str:
    """Fetch a store URL (``s3://bucket/dir/file``) into ``target``; returns the sha256."""
    directory, name = source.rsplit("/", 1)
    try:
        found = open_store(directory, timeout).get(name, str(target))
    except StoreError as exc:
        raise TransferFailed(exc.message) from None
    if not found:
        raise TransferFailed("not found")
    return sha256_file(target)


def _transfer(source: str, target: Path, timeout: float) -> str:
    """Copy ``source`` (http, https, a file:// mirror or a store) to ``target``; returns the sha256."""
    kind, host, path, user, pswd, _params = decodeurl(source)
    if kind not in ("file", "http", "https"):
        return _from_store(encodeurl((kind, host, path, user, pswd, {})), target, timeout)
    h = hashlib.sha256()
    with open(target, "wb") as out:
        if kind == "file":
            try:
                with open(path, "rb") as src:
                    _copy(src, out, h)
            except OSError as exc:
                if disk_full(exc):
                    raise  # writing the download failed, not the source
                raise TransferFailed(exc.strerror or str(exc)) from None
            return h.hexdigest()
        import urllib.error
        import urllib.request
        url = encodeurl((kind, host, path, user, pswd, {}))
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                _copy(response, out, h)
        except urllib.error.HTTPError as exc:
            raise TransferFailed(f"HTTP {exc.code} {exc.reason}") from None
        except urllib.error.URLError as exc:
            raise TransferFailed(str(exc.reason)) from None
        except (OSError, ValueError) as exc:
            if disk_full(exc):
                raise
            raise TransferFailed(str(exc) or type(exc).__name__) from None
    return h.hexdigest()


def _copy(src: Any, out: IO[bytes], h: Any) -> None:
    while block := src.read(1 << 20):
        h.update(block)
        out.write(block)

