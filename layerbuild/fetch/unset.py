"""Downloads whose URL starts with a mirror variable that is not set: ``${DEBIAN_MIRROR}/main/...``.

``DEBIAN_MIRROR`` defaults to the first Debian mirror of the build host's apt sources; on a host whose apt
names none (and whose configuration does not set it) the URL keeps the variable as written. Such a download
can still be used when DL_DIR already holds it with the recipe's checksum (a shared DL_DIR, a download
made on another host); otherwise the fetch fails, naming the variable and where to set it.
"""

from __future__ import annotations

from layerbuild.fetch.errors import UnsetMirror
from layerbuild.fetch.urldata import FetchContext, FetchData, locked
from layerbuild.fetch.web import WebMethod
from layerbuild.util.aptsources import SOURCE_FILES

#: what each mirror variable's default is, for the message when it is missing
_DEFAULTS = {
    "DEBIAN_MIRROR": f"without a setting, DEBIAN_MIRROR is the pool of the first Debian mirror of the host's "
                     f"apt sources ({SOURCE_FILES})",
}
_EXAMPLES = {"DEBIAN_MIRROR": "http://MIRROR/debian/pool"}


class UnsetMirrorMethod(WebMethod):
    def download(self, ud: FetchData, ctx: FetchContext) -> None:
        expected = ud.expected_sha256(ctx)
        if self._verified(ud, ctx, expected):
            return
        with locked(ud.localpath + ".lock"):
            if self._verified(ud, ctx, expected):
                return
        var = ud.unset_variable
        notes = [_DEFAULTS[var]] if var in _DEFAULTS else []
        notes.append(f"not in DL_DIR: {ud.localpath}")
        example = _EXAMPLES.get(var, "URL")
        raise ctx.fail(UnsetMirror, f"cannot fetch {ud.url}: {var} is not set, and DL_DIR does not hold "
                       f"{ud.basename}", notes,
                       hint=f'set {var} in conf/local.conf ({var} = "{example}"), or put {ud.basename} '
                            "into DL_DIR")
