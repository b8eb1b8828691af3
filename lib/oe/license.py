"""``oe.license``: LICENSE expressions as OE reads them (``&`` binding tighter than ``|``, parentheses),
and the INCOMPATIBLE_LICENSE policy, over layerbuild's own reader (``layerbuild.util.licenses``)."""

from __future__ import annotations

from layerbuild.util import licenses
from layerbuild.util.licenses import LicenseError, license_ok
from layerbuild.util.licenses import flattened as flattened_licenses
from layerbuild.util.licenses import refused_for as apply_pkg_license_exception

LicenseSyntaxError = LicenseError
InvalidLicense = LicenseError

__all__ = ["InvalidLicense", "LicenseError", "LicenseSyntaxError", "apply_pkg_license_exception",
           "expand_wildcard_licenses", "flattened_licenses", "is_included", "license_ok", "list_licenses"]


def list_licenses(licensestr: str) -> set[str]:
    """Every licence name the expression mentions."""
    return set(licenses.names(licensestr))


def expand_wildcard_licenses(d: object, wildcard_licenses: list[str]) -> list[str]:
    """The licence names an INCOMPATIBLE_LICENSE list means, its wildcards (``GPL-3.0*``) expanded."""
    return licenses.expand_policy(wildcard_licenses)


def is_included(licensestr: str, include_licenses: list[str] | None = None,
                exclude_licenses: list[str] | None = None) -> tuple[bool, list[str]]:
    """(True, the included licences) or (False, the excluded ones), each ``|`` decided for the side with
    the most included and no excluded licences."""
    include = include_licenses or ["*"]
    exclude = exclude_licenses or []

    def weight(lics: list[str]) -> int:
        return (sum(1 for lic in lics if not license_ok(lic, include))
                - 1000 * any(not license_ok(lic, exclude) for lic in lics))

    chosen = flattened_licenses(licensestr, lambda a, b: a if weight(a) >= weight(b) else b)
    excluded = [lic for lic in chosen if not license_ok(lic, exclude)]
    if excluded:
        return False, excluded
    return True, [lic for lic in chosen if not license_ok(lic, include)]
