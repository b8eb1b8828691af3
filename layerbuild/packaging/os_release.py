"""The base image's ``/usr/lib/os-release``, written into ``${D}`` by the recipe that ships it (base-files).

Each word of ``OS_RELEASE_FIELDS`` is a field of os-release(5) whose value is ``OS_RELEASE_<field>``;
empty fields are left out, as OE's os-release recipe leaves them out. A value that still holds a
``${...}`` (an unset ``DISTRO_ID``, say) is an error at the line that set it: systemd would read the
text literally, and every extension built against the image would carry it too.
"""

from __future__ import annotations

import os

from layerbuild.taskapi import TaskContext
from layerbuild.util import osrelease
from layerbuild.util.fsutil import atomic_write

#: where os-release(5) says the file of the OS tree is (``/etc/os-release`` links to it)
OS_RELEASE = "usr/lib/os-release"


def os_release_fields(ctx: TaskContext) -> dict[str, str]:
    """The fields ``OS_RELEASE_FIELDS`` names, with their non-empty values, in its order."""
    fields: dict[str, str] = {}
    for field in ctx.vars.words("OS_RELEASE_FIELDS"):
        var = f"OS_RELEASE_{field}"
        value = ctx.vars.get(var)
        if value:
            fields[field] = ctx.expanded(var, value, f"the os-release field {field}")
    return fields


def write_os_release(ctx: TaskContext) -> None:
    """``${D}/usr/lib/os-release`` from ``OS_RELEASE_FIELDS`` (mode 0644)."""
    fields = os_release_fields(ctx)
    try:
        text = osrelease.render(fields)
    except osrelease.OsReleaseError as exc:
        raise ctx.fatal(exc.message, var="OS_RELEASE_FIELDS") from None
    atomic_write(os.path.join(ctx.destdir, OS_RELEASE), text, 0o644)
