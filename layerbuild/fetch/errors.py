"""Typed fetch errors, with BitBake's ``bb.fetch2`` names where BitBake has one.

Every message names the recipe and the URL; notes carry the details (directories searched, the
mirrors tried, the output of a failing patch).
"""

from __future__ import annotations

from layerbuild.util.errors import LayerbuildError


class FetchError(LayerbuildError):
    """A source could not be fetched, unpacked or patched."""


class MalformedUrl(FetchError):
    """A SRC_URI entry that cannot be read, or that names a scheme no fetcher handles."""


class ParameterError(FetchError):
    """A SRC_URI entry with a missing or invalid parameter (SRCREV, striplevel=, ...)."""


class LocalFileNotFound(FetchError):
    """A ``file://`` source found in none of the directories searched."""


class ChecksumError(FetchError):
    """A download whose sha256 differs from the recipe's ``SRC_URI[sha256sum]``."""


class NoChecksumError(FetchError):
    """A remote source without a checksum in the recipe."""


class NetworkAccess(FetchError):
    """A fetch that needs the network while ``BB_NO_NETWORK`` is set."""


class UnsetMirror(FetchError):
    """A source whose URL starts with a mirror variable that is not set (``${DEBIAN_MIRROR}/...``), and that
    DL_DIR does not hold."""


class UnreachableError(FetchError):
    """A source that neither its upstream nor any mirror could deliver."""


class UnpackError(FetchError):
    """An archive that cannot be unpacked, or an entry that would land outside the unpack directory."""


class PatchError(FetchError):
    """A patch that does not apply."""
