"""The ``Fetch`` class metadata uses (``bb.fetch2.Fetch``): download, unpack and locate SRC_URI entries."""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from layerbuild.fetch.git import GitMethod
from layerbuild.fetch.local import LocalMethod
from layerbuild.fetch.unset import UnsetMirrorMethod
from layerbuild.fetch.urldata import FetchContext, FetchData, Method
from layerbuild.fetch.web import WebMethod

#: URL type -> fetcher; the one table that says which SRC_URI schemes exist
METHODS: Mapping[str, Method] = MappingProxyType({
    "file": LocalMethod(),
    "http": WebMethod(),
    "https": WebMethod(),
    "git": GitMethod(),
})
#: the fetcher of an entry that starts with a mirror variable that is not set (``${DEBIAN_MIRROR}/...``)
UNSET_MIRROR: Method = UnsetMirrorMethod()


class Fetch:
    """The SRC_URI entries ``urls`` of the recipe ``d`` (all of SRC_URI when ``urls`` is None or empty,
    as in BitBake).

    ``localonly`` keeps only ``file://`` entries, so a signature can list local files without needing
    SRCREV or DL_DIR.
    """

    def __init__(self, urls: list[str] | None, d: Any, cache: bool = True, localonly: bool = False) -> None:
        self.d = d
        self.ctx = FetchContext.from_variables(d)
        if not urls:
            urls = (d.getVar("SRC_URI") or "").split()
        if localonly:
            urls = [url for url in urls if url.startswith("file://")]
        self.urls = list(urls)
        self.ud: dict[str, FetchData] = {url: FetchData(url, self.ctx, METHODS, UNSET_MIRROR) for url in self.urls}

    def _selected(self, urls: list[str] | None) -> list[FetchData]:
        return [self.ud[url] for url in (self.urls if urls is None else urls)]

    def localpath(self, url: str) -> str:
        """Where ``url`` is on disk once fetched (a file, a directory or a bare git mirror)."""
        return self.ud[url].localpath

    def localpaths(self) -> list[str]:
        return [ud.localpath for ud in self.ud.values()]

    def download(self, urls: list[str] | None = None) -> None:
        """Fetch into DL_DIR (and check that ``file://`` entries exist), verifying checksums."""
        for ud in self._selected(urls):
            ud.method.download(ud, self.ctx)

    def unpack(self, root: str, urls: list[str] | None = None) -> None:
        """Unpack every entry into ``root`` (normally ``${UNPACKDIR}``), in SRC_URI order."""
        os.makedirs(root, exist_ok=True)
        for ud in self._selected(urls):
            ud.method.unpack(ud, root, self.ctx)

    def clean(self, urls: list[str] | None = None) -> None:
        """Remove what :meth:`download` put into DL_DIR for these entries (``do_cleanall``): a file with its
        ``.done`` marker, a git mirror. ``file://`` sources are the layer's and stay."""
        for ud in self._selected(urls):
            ud.method.clean(ud, self.ctx)

    def checksum_files(self) -> list[str]:
        """The local ``file://`` paths whose content a ``do_fetch`` signature depends on.

        A missing file is listed where it would be found first, so adding it changes the signature.
        """
        out: list[str] = []
        for ud in self.ud.values():
            if isinstance(ud.method, LocalMethod):
                path = ud.method.expected_path(ud)
                if path not in out:
                    out.append(path)
        return out

    def checksum_file_list(self) -> str:
        """:meth:`checksum_files` as ``[file-checksums]`` takes it: ``path:True`` / ``path:False``."""
        return " ".join(f"{path}:{os.path.exists(path)}" for path in self.checksum_files())


def get_checksum_file_list(d: Any) -> str:
    """The ``file://`` sources of SRC_URI for ``do_fetch[file-checksums]`` (BitBake's name)."""
    return Fetch(None, d, localonly=True).checksum_file_list()
