"""``git://`` sources: a bare mirror in ``${DL_DIR}/git2/``, checked out at ``SRCREV`` when unpacking.

``protocol=`` picks how the repository is reached (``git``, ``https``, ``ssh``, ``file``; ``file``
when the URL has no host, as in ``git:///srv/repo.git``). ``branch=`` (default ``master``) must
contain the commit unless ``nobranch=1``. ``SRCREV`` (``SRCREV_<name>`` with ``name=``) must be a full
commit id: a build always takes one fixed commit, so ``AUTOREV`` is refused.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil

from layerbuild.fetch.errors import FetchError, ParameterError, UnpackError
from layerbuild.fetch.mirrors import TransferFailed, try_sources
from layerbuild.fetch.url import decodeurl
from layerbuild.fetch.urldata import FetchContext, FetchData, clean_download, locked
from layerbuild.util.fsutil import PathEscape, join_under
from layerbuild.util.proc import CommandError, run

_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?")


class GitFailed(Exception):
    """A git command failed; ``output`` holds what it printed (stdout and stderr, in order)."""

    def __init__(self, command: str, output: str) -> None:
        super().__init__(command)
        self.command = command
        self.output = output


def _git(args: list[str], cwd: str | None = None, check: bool = True) -> tuple[int, str]:
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    argv = ["git", *args]
    try:
        result = run(argv, cwd=cwd, env=env, merged=True, check=False)
    except CommandError as exc:  # git could not start
        raise FetchError(exc.message, hint="install git (apt-get install git)") from None
    output = "\n".join(result.stdout.decode("utf-8", "replace").splitlines())
    if check and result.returncode != 0:
        raise GitFailed(f"command failed with exit status {result.returncode}: {shlex.join(argv)}", output)
    return result.returncode, output


def mangled_name(host: str, path: str) -> str:
    """The directory name of a repository's mirror under ``${DL_DIR}/git2``, as OE spells it."""
    name = host.replace(":", ".") + path.replace("/", ".").replace("*", ".").replace(" ", "_")
    name = name.replace("(", "_").replace(")", "_")
    return name[1:] if name.startswith(".") else name


def remote_url(url: str) -> str:
    """What ``git clone`` gets for a ``git://`` URL (its ``protocol=`` decides)."""
    _kind, host, path, user, _pswd, params = decodeurl(url)
    proto = params.get("protocol") or ("git" if host else "file")
    if proto == "file" or not host:
        return path
    return f"{proto}://{user + '@' if user else ''}{host}{path}"


def needs_network(url: str) -> bool:
    _kind, host, _path, _user, _pswd, params = decodeurl(url)
    return bool(host) and (params.get("protocol") or "git") != "file"


class GitMethod:
    def setup(self, ud: FetchData, ctx: FetchContext) -> None:
        if not ctx.dl_dir:
            raise ctx.fail(ParameterError, f"{ud.url}: DL_DIR is not set")
        ud.proto = ud.parm.get("protocol") or ("git" if ud.host else "file")
        ud.branch = ud.parm.get("branch", "master")
        ud.nobranch = ud.bool_param("nobranch", False, ctx)
        ud.destsuffix = ud.parm.get("destsuffix", "git/")
        name = ud.parm.get("name")
        var = f"SRCREV_{name}" if name else "SRCREV"
        revision = (ctx.variables.getVar(var) or "").strip()
        if ud.parm.get("rev"):
            if revision and revision not in ("INVALID", ud.parm["rev"]):
                raise ctx.fail(ParameterError, f"{ud.url}: rev={ud.parm['rev']} and {var} = \"{revision}\" differ")
            revision = ud.parm["rev"]
        if revision in ("AUTOINC", "${AUTOREV}") or "AUTOREV" in revision:
            raise ctx.fail(ParameterError, f"{ud.url}: {var} is AUTOREV, which layerbuild does not support",
                           hint=f"set {var} to the full id of the commit to build")
        if not revision or revision == "INVALID":
            raise ctx.fail(ParameterError, f"{ud.url}: {var} is not set",
                           hint=f"set {var} = \"<full commit id>\" in the recipe")
        if not _COMMIT.fullmatch(revision):
            raise ctx.fail(ParameterError, f"{ud.url}: {var} = \"{revision}\" is not a full commit id",
                           hint="branch and tag names move; name the commit by its full hexadecimal id")
        ud.revision = revision
        ud.basename = mangled_name(ud.host, ud.path)
        ud.localpath = os.path.join(ctx.dl_dir, "git2", ud.basename)

    def _has_revision(self, ud: FetchData) -> bool:
        if not os.path.isdir(ud.localpath):
            return False
        status, _ = _git(["cat-file", "-e", f"{ud.revision}^{{commit}}"], cwd=ud.localpath, check=False)
        return status == 0

    def download(self, ud: FetchData, ctx: FetchContext) -> None:
        if not self._has_revision(ud):
            with locked(ud.localpath + ".lock"):
                if not self._has_revision(ud):
                    try_sources(ud, ctx, None, lambda source: self._fetch_from(ud, source),
                                network=needs_network, usable=lambda source: decodeurl(source)[0] == "git")
        if not ud.nobranch:
            _, output = _git(["branch", "--contains", ud.revision, "--list", ud.branch], cwd=ud.localpath)
            if not output.strip():
                raise ctx.fail(ParameterError, f"{ud.url}: commit {ud.revision} is not on branch {ud.branch!r}",
                               hint="set branch= to a branch that contains it, or nobranch=1")

    def _fetch_from(self, ud: FetchData, source: str) -> None:
        remote = remote_url(source)
        try:
            if os.path.isdir(ud.localpath):
                _git(["fetch", "--force", "--prune", remote, "+refs/*:refs/*"], cwd=ud.localpath)
            else:
                # clone beside the final name and rename: a killed clone never looks like a mirror
                tmp = f"{ud.localpath}.tmp-{os.getpid()}"
                shutil.rmtree(tmp, ignore_errors=True)
                os.makedirs(os.path.dirname(tmp), exist_ok=True)
                try:
                    _git(["clone", "--bare", "--mirror", "--quiet", remote, tmp])
                    os.rename(tmp, ud.localpath)
                finally:
                    shutil.rmtree(tmp, ignore_errors=True)
        except GitFailed as exc:
            lines = [line for line in exc.output.splitlines() if line.strip()]
            raise TransferFailed(lines[-1] if lines else exc.command) from None
        if not self._has_revision(ud):
            raise TransferFailed(f"the repository has no commit {ud.revision}")

    def clean(self, ud: FetchData, ctx: FetchContext) -> None:
        with locked(ud.localpath + ".lock"):
            clean_download(ud, ctx, ud.localpath)

    def unpack(self, ud: FetchData, root: str, ctx: FetchContext) -> None:
        if not self._has_revision(ud):
            self.download(ud, ctx)  # gone since do_fetch ran (do_cleanall of another recipe with this mirror)
        try:
            dest = join_under(root, ud.destsuffix, what="destsuffix")
        except PathEscape as exc:
            raise ctx.fail(UnpackError, f"{ud.url}: {exc.message}",
                           hint="destsuffix names a directory below the unpack directory, such as git/") from None
        shutil.rmtree(dest, ignore_errors=True)
        try:
            _git(["clone", "--shared", "--no-checkout", "--quiet", ud.localpath, dest])
            _git(["remote", "set-url", "origin", remote_url(ud.url)], cwd=dest)
            if ud.nobranch:
                _git(["-c", "advice.detachedHead=false", "checkout", "--quiet", ud.revision], cwd=dest)
            else:
                _git(["checkout", "--quiet", "-B", ud.branch, ud.revision], cwd=dest)
        except GitFailed as exc:
            raise ctx.fail(UnpackError, f"cannot check out {ud.url} at {ud.revision}: {exc.command}",
                           exc.output.splitlines()[-5:]) from None

