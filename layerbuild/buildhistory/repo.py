"""The buildhistory git repository: one commit per build, and what a commit recorded.

Git runs through :func:`layerbuild.util.proc.run`. The author is ``BUILDHISTORY_COMMIT_AUTHOR``; the
dates are ``GIT_AUTHOR_DATE`` and ``GIT_COMMITTER_DATE`` from the environment when set, else
``SOURCE_DATE_EPOCH``, so the same builds give the same commits; no git configuration of the user is
needed or read for it.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping

from layerbuild.util.errors import LayerbuildError
from layerbuild.util.proc import run

_AUTHOR = re.compile(r"\s*(?P<name>[^<]*?)\s*<(?P<email>[^>]*)>\s*")


class HistoryError(LayerbuildError):
    """A buildhistory repository or revision that cannot be read."""


def _git(directory: str, *args: str, env: Mapping[str, str] | None = None) -> str:
    result = run(["git", "-C", directory, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    return result.stdout.decode("utf-8", "surrogateescape")


def commit(directory: str, message: str, author: str, epoch: int) -> str | None:
    """Commit everything in ``directory`` (a repository is made on first use); returns the commit, or None
    when there is no record yet (no image was built with buildhistory)."""
    if not os.path.isdir(directory):
        return None
    match = _AUTHOR.fullmatch(author)
    if match is None:
        raise HistoryError(f"BUILDHISTORY_COMMIT_AUTHOR = \"{author}\" is not of the form 'Name <email>'")
    env = dict(os.environ)
    env.update({"GIT_AUTHOR_NAME": match["name"], "GIT_AUTHOR_EMAIL": match["email"],
                "GIT_COMMITTER_NAME": match["name"], "GIT_COMMITTER_EMAIL": match["email"],
                "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull})
    date = f"@{epoch} +0000"
    env.setdefault("GIT_AUTHOR_DATE", date)
    env.setdefault("GIT_COMMITTER_DATE", date)
    if not os.path.isdir(os.path.join(directory, ".git")):
        _git(directory, "init", "-q", "-b", "main", env=env)
    _git(directory, "add", "-A", ".", env=env)
    _git(directory, "commit", "-q", "--no-gpg-sign", "--allow-empty", "-m", message, env=env)
    return _git(directory, "rev-parse", "HEAD", env=env).strip()


def resolve(directory: str, rev: str) -> str:
    """The commit ``rev`` names, or an error saying so."""
    if not os.path.isdir(os.path.join(directory, ".git")):
        raise HistoryError(f"{directory} is no buildhistory repository",
                           hint='INHERIT += "buildhistory" records each image build there')
    result = run(["git", "-C", directory, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}"],
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    if result.returncode != 0:
        raise HistoryError(f"{directory}: no revision {rev}",
                           hint="the history has fewer builds than that, or the name is wrong (git log lists them)")
    return result.stdout.decode().strip()


def files(directory: str, rev: str) -> dict[str, str]:
    """Every file of the images' records in the commit ``rev``, by path, with its content."""
    out: dict[str, str] = {}
    listing = _git(directory, "ls-tree", "-r", "-z", "--name-only", rev, "--", "images")
    for path in filter(None, listing.split("\0")):
        out[path] = _git(directory, "show", f"{rev}:{path}")
    return out
