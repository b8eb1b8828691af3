"""Signature soundness over the sample layer: whenever a change of metadata changes what a task writes,
the task's hash changes too, so neither a stamp nor a shared-state object can stand in for the output of
other metadata.

For every variable the signatures of hello's do_package and do_package_write_deb list, and for the
variables users change most (SUMMARY, DESCRIPTION, FILES, PACKAGES, ALLOW_EMPTY, pkg_postinst,
RDEPENDS), the variable is changed, hello is built in a fresh build directory with an empty shared
state, and its outputs and task hashes are compared with an unchanged build's.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import LAYER_CONF, make_build

pytestmark = pytest.mark.slow

TASKS = ("do_package", "do_package_write_deb")
#: how to change a variable (the default: append a word)
CHANGES = {
    "SOURCE_DATE_EPOCH": 'SOURCE_DATE_EPOCH = "1600000000"',
    "PACKAGES": 'PACKAGES:append = " hello-extra"\nALLOW_EMPTY:hello-extra = "1"',
    "ALLOW_EMPTY": 'ALLOW_EMPTY = "1"',
    "FILES:hello": 'FILES:hello:append = " /usr/share/soundness"',
    "RDEPENDS:hello": 'RDEPENDS:hello:append = " base-files"',
    "pkg_postinst:hello": 'pkg_postinst:hello = "echo soundness"',
    "INHIBIT_PACKAGE_STRIP": 'INHIBIT_PACKAGE_STRIP = "1"',
    "PKGR": 'PKGR = "r7"',
    "PE": 'PE = "2"',
    "DPKG_ARCH": 'DPKG_ARCH = "arm64"',
    # the toolchain's programs: the same tools under the host triplet's names (a word appended names none)
    "TARGET_PREFIX": 'TARGET_PREFIX = "x86_64-linux-gnu-"',
    "HOST_PREFIX": 'HOST_PREFIX = "x86_64-linux-gnu-"',
    "STRIP": 'STRIP = "x86_64-linux-gnu-strip"',
    "OBJCOPY": 'OBJCOPY = "x86_64-linux-gnu-objcopy"',
}
#: the variables users change most, besides what the signatures list
COMMON = {"SUMMARY", "DESCRIPTION", "MAINTAINER", "SECTION", "HOMEPAGE", "SHLIB_ALLOWLIST", "CONFFILES:hello",
          "RRECOMMENDS:hello", "RPROVIDES:hello", "RCONFLICTS:hello", "RREPLACES:hello"}
#: layout, not content: installation directories, architectures and the version parts select where and
#: under which name a package goes (a word appended to them is no valid metadata)
LAYOUT = re.compile(r"(dir|prefix|baselib|ARCH|^EXTEND|^PKGV$|^PN$|^PV$|^PR$|^FILE$|^D$|^T$)")


def _build(root: Path, change: str) -> Path | None:
    """hello built with ``change`` in a fresh build directory; None when the change is not valid metadata."""
    layer = root / "meta-sound"
    (layer / "conf").mkdir(parents=True)
    (layer / "conf" / "layer.conf").write_text(LAYER_CONF.format(name="sound", priority=7).replace(
        "recipes/*/*.bb ", "recipes/*/*.bb ${LAYERDIR}/recipes/*/*.bbappend "))
    (layer / "recipes" / "hello").mkdir(parents=True)
    (layer / "recipes" / "hello" / "hello_%.bbappend").write_text(change + "\n")
    top = make_build(root, [layer])
    result = subprocess.run([sys.executable, "-m", "layerbuild.cli", "-B", str(top), "hello:do_package_write_deb"],
                            capture_output=True, text=True)
    return top if result.returncode == 0 else None


def _tree_digest(top: Path) -> str:
    h = hashlib.sha256()
    if top.exists():
        for path in sorted(top.rglob("*")):
            h.update(str(path.relative_to(top)).encode())
            if path.is_symlink():
                h.update(b"->" + str(path.readlink()).encode())
            elif path.is_file():
                h.update(path.read_bytes())
    return h.hexdigest()


def _state(top: Path) -> dict[str, tuple[str, str]]:
    """task -> (its hash, a digest of what it wrote)."""
    tmp = top / "tmp"
    stamps = next((tmp / "stamps").glob("*/hello"))
    work = next((tmp / "work").glob("*/hello/*"))
    out = {}
    for task in TASKS:
        stamp = next(p for p in stamps.glob(f"*.{task}.*") if ".sigdata." not in p.name)
        written = _tree_digest(work / "packages-split") + _tree_digest(tmp / "pkgdata") if task == "do_package" \
            else _tree_digest(tmp / "deploy" / "deb")
        out[task] = (stamp.name.rsplit(".", 1)[1], written)
    return out


def _signature_variables(top: Path) -> set[str]:
    stamps = next((top / "tmp" / "stamps").glob("*/hello"))
    names: set[str] = set()
    for task in TASKS:
        sig = next(stamps.glob(f"*.{task}.sigdata.*"))
        values = json.loads(sig.read_text())["values"]
        names |= {k for k, v in values.items() if not (isinstance(v, str) and "\n" in v) and not k.startswith("do_")}
    return names


def test_a_changed_output_always_comes_with_a_changed_hash(tmp_path: Path) -> None:
    reference = _build(tmp_path / "reference", "# unchanged")
    assert reference is not None
    base = _state(reference)
    variables = {v for v in _signature_variables(reference) if not LAYOUT.search(v)} | set(CHANGES) | COMMON
    unsound = []
    changed_outputs = 0
    invalid = []
    for var in sorted(variables):
        default = f'{var}:append = " base-files"' if var.startswith("R") and ":" in var else \
            f'{var}:append = " soundness"'
        change = CHANGES.get(var, default)
        top = _build(tmp_path / var.replace(":", "_"), change)
        if top is None:
            invalid.append(var)  # e.g. a word appended to a version: the build refuses it, nothing to compare
            continue
        state = _state(top)
        for task in TASKS:
            (h0, out0), (h1, out1) = base[task], state[task]
            if out1 != out0:
                changed_outputs += 1
                if h1 == h0:
                    unsound.append(f"{var}: {task} wrote something else with the same hash ({change!r})")
    assert changed_outputs >= len(CHANGES), "the changes did not change enough outputs to test anything"
    assert len(invalid) <= 3, f"too many changes were refused to test anything: {invalid}"
    assert not unsound, "\n".join(unsound)
