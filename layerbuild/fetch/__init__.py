"""Fetching, unpacking and patching sources: SRC_URI as OE reads it, with BitBake's ``bb.fetch2`` names."""

from layerbuild.fetch.errors import (
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
    UnsetMirror,
)
from layerbuild.fetch.fetcher import METHODS, Fetch, get_checksum_file_list
from layerbuild.fetch.url import decodeurl, encodeurl
from layerbuild.fetch.urldata import FetchData

__all__ = ["METHODS", "ChecksumError", "Fetch", "FetchData", "FetchError", "LocalFileNotFound", "MalformedUrl",
           "NetworkAccess", "NoChecksumError", "ParameterError", "PatchError", "UnpackError", "UnreachableError",
           "UnsetMirror", "decodeurl", "encodeurl", "get_checksum_file_list"]
