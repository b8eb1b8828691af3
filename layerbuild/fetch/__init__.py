"""Fetching, unpacking and patching sources: SRC_URI as OE reads it, with BitBake's ``bb.fetch2`` names."""

from .errors import (
    ChecksumError,
    FetchError,
    LocalFileNotFound,
    MalformedUrl,
    NetworkAccess,
    NoChecksumError,
    ParameterError,
    PatchError,
    UnpackError,
    UnreachableError,
)
from .fetcher import METHODS, Fetch, get_checksum_file_list
from .url import decodeurl, encodeurl
from .urldata import FetchData

__all__ = ["METHODS", "ChecksumError", "Fetch", "FetchData", "FetchError", "LocalFileNotFound", "MalformedUrl",
           "NetworkAccess", "NoChecksumError", "ParameterError", "PatchError", "UnpackError", "UnreachableError",
           "decodeurl", "encodeurl", "get_checksum_file_list"]
