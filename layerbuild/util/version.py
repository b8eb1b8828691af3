"""Version comparison: Debian's ordering (``~`` sorts before everything, digits numerically).

Used for choosing between recipe versions and, later, between package versions, so both agree with
dpkg.
"""

from __future__ import annotations

import re

_PARTS = re.compile(r"(\d+|\D+)")


def _order(ch: str) -> int:
    if ch == "~":
        return -1
    if ch.isdigit():
        return 0
    if ch.isalpha():
        return ord(ch)
    return ord(ch) + 256


def _compare_string(a: str, b: str) -> int:
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) else 0
            bc = _order(b[j]) if j < len(b) else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def split_version(version: str) -> tuple[int, str, str]:
    """``[epoch:]upstream[-revision]`` into its three parts."""
    epoch = 0
    if ":" in version:
        head, version = version.split(":", 1)
        epoch = int(head) if head.isdigit() else 0
    if "-" in version:
        upstream, revision = version.rsplit("-", 1)
    else:
        upstream, revision = version, ""
    return epoch, upstream, revision


def vercmp(a: tuple[int, str, str], b: tuple[int, str, str]) -> int:
    """Compare (epoch, version, revision) triples; negative, zero or positive."""
    if a[0] != b[0]:
        return -1 if a[0] < b[0] else 1
    result = _compare_string(a[1], b[1])
    if result:
        return -1 if result < 0 else 1
    result = _compare_string(a[2], b[2])
    return -1 if result < 0 else (1 if result > 0 else 0)


def vercmp_string(a: str, b: str) -> int:
    return vercmp(split_version(a), split_version(b))
