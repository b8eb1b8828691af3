"""The license class: LICENSE expressions (checked against Python's own reading of & and |, which is how OE
reads them), LIC_FILES_CHKSUM at do_populate_lic (md5 checked with md5sum and sed), the deployed texts,
the licence manifest beside images (checked against dpkg's database) and INCOMPATIBLE_LICENSE.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import CORE, BuildDir, make_build, make_layer
from hypothesis import given
from hypothesis import strategies as st

from layerbuild.util import licenses
from layerbuild.util.licenses import All, Choice, LicenseError, Name

# -- expressions ---------------------------------------------------------------------------------------


class _Py:
    """A licence expression as Python evaluates ``&`` and ``|`` (OE quotes the names and parses the string
    with ``ast``): the independent reading the parser must agree with."""

    def __init__(self, node: Any) -> None:
        self.node = node

    def __and__(self, other: _Py) -> _Py:
        return _Py(("&", self.node, other.node))

    def __or__(self, other: _Py) -> _Py:
        return _Py(("|", self.node, other.node))


def _binary(node: licenses.Node | None) -> Any:
    """Our tree as nested binary operations, left to right, as Python builds them."""
    assert node is not None
    if isinstance(node, Name):
        return node.name
    op = "&" if isinstance(node, All) else "|"
    out = _binary(node.parts[0])
    for part in node.parts[1:]:
        out = (op, out, _binary(part))
    return out


def _python_reading(text: str) -> Any:
    elements = [e for e in re.split(r"([&|() ])", text) if e.strip()]
    code, names = [], {}
    for pos, element in enumerate(elements):
        if licenses.NAME.match(element):
            if pos and licenses.NAME.match(elements[pos - 1]):
                code.append("&")
            key = f"n{len(names)}"
            names[key] = _Py(element)
            code.append(key)
        else:
            code.append(element)
    return eval(" ".join(code), {"__builtins__": {}}, names).node  # noqa: S307 - names and operators only


LICENCE_NAMES = st.sampled_from(["MIT", "GPL-2.0-only", "BSD-3-Clause", "Zlib", "LGPL-2.1+", "PD", "x_y.z"])


@st.composite
def expressions(draw: st.DrawFn, depth: int = 3) -> str:
    if depth == 0 or draw(st.booleans()):
        return draw(LICENCE_NAMES)
    left, right = draw(expressions(depth - 1)), draw(expressions(depth - 1))
    op = draw(st.sampled_from([" & ", " | ", "&", "|", " "]))
    if op == " " and (left.endswith(")") or right.startswith("(")):
        op = " & "  # Python reads "MIT (Zlib)" as a call: juxtaposition is compared below
    text = f"{left}{op}{right}"
    return f"({text})" if draw(st.booleans()) else text


@given(expressions())
def test_expressions_read_as_python_reads_them(text: str) -> None:
    assert _binary(licenses.parse(text)) == _python_reading(text)


def test_precedence_implicit_and_and_names() -> None:
    assert licenses.parse("GPL-2.0-only | MIT & BSD-3-Clause") == \
        Choice((Name("GPL-2.0-only"), All((Name("MIT"), Name("BSD-3-Clause")))))
    assert licenses.parse("(GPL-2.0-only | MIT) BSD-3-Clause") == \
        All((Choice((Name("GPL-2.0-only"), Name("MIT"))), Name("BSD-3-Clause")))
    # OE reads "MIT (Zlib | PD)" through Python as a call, and its visitors take both as applying: &
    assert licenses.parse("MIT (Zlib | PD) (BSD-3-Clause)") == \
        All((Name("MIT"), Choice((Name("Zlib"), Name("PD"))), Name("BSD-3-Clause")))
    # SPDX's words, as OE's newer recipes write them
    assert licenses.parse("BSD-2-Clause AND MIT OR GPL-2.0-only WITH Linux-syscall-note") == \
        Choice((All((Name("BSD-2-Clause"), Name("MIT"))), Name("GPL-2.0-only", "Linux-syscall-note")))
    assert licenses.names("GPL-2.0-only WITH Linux-syscall-note AND MIT") == ["GPL-2.0-only", "MIT"]
    assert licenses.incompatible("GPL-3.0-or-later WITH GCC-exception-3.1 OR MIT", ["GPL-3.0-or-later"]) == []
    assert licenses.incompatible("GPL-3.0-or-later WITH GCC-exception-3.1", ["GPL-3.0-or-later"]) == \
        ["GPL-3.0-or-later"]
    assert licenses.parse("  ") is None
    assert licenses.names("MIT & (Zlib | MIT) & PD") == ["MIT", "Zlib", "PD"]


@pytest.mark.parametrize(("text", "problem"), [
    ("MIT &", "a licence name is missing at the end"),
    ("MIT & | Zlib", "a licence name is missing before '|'"),
    ("(MIT | Zlib", "'(' is not closed"),
    ("MIT)", "unexpected ')'"),
    ("GPL-2.0-only WITH", "an exception name is missing after 'GPL-2.0-only WITH'"),
    ("MIT AND OR Zlib", "a licence name is missing before '|'"),
    ("GPL-2.0/MIT", "'GPL-2.0/MIT' is not a licence name (letters, digits and . + _ - only)"),
    ("MIT, Zlib", "'MIT,' is not a licence name (letters, digits and . + _ - only)"),
])
def test_malformed_expressions(text: str, problem: str) -> None:
    with pytest.raises(LicenseError) as info:
        licenses.parse(text)
    assert info.value.message == problem


def test_policy_picks_the_side_of_a_choice_it_allows() -> None:
    gpl3 = licenses.expand_policy(["GPL-3.0*"])
    assert sorted(gpl3) == ["GPL-3.0-only", "GPL-3.0-or-later"]
    assert licenses.incompatible("GPL-3.0-only | MIT", gpl3) == []
    assert licenses.incompatible("MIT | GPL-3.0-or-later", gpl3) == []
    assert licenses.incompatible("GPL-3.0-only & MIT", gpl3) == ["GPL-3.0-only"]
    assert licenses.incompatible("(GPL-3.0-only | GPL-3.0-or-later) & MIT", gpl3) == ["GPL-3.0-or-later"]
    assert licenses.refused_for("foo", gpl3, ["foo:GPL-3.0-only", "bar:GPL-3.0-or-later"]) == ["GPL-3.0-or-later"]
    with pytest.raises(LicenseError, match="GPLv3 is an obsolete licence name"):
        licenses.expand_policy(["GPLv3"])
    with pytest.raises(LicenseError, match=r"GPL-2\.0\* is not a licence wildcard OE knows"):
        licenses.expand_policy(["GPL-2.0*"])


# -- do_populate_lic -----------------------------------------------------------------------------------

COPYING = "Permission is hereby granted, free of charge,\nto any person obtaining a copy.\n\nTHE END\n"
README = "# lic\nCopyright (c) the authors\nRedistribution is permitted\nprovided this notice is kept.\n\nUsage: none\n"


def md5sum(path: Path, lines: str | None = None) -> str:
    """md5 as the real tools compute it (sed selects the lines)."""
    if lines is None:
        out = subprocess.run(["md5sum", str(path)], capture_output=True, text=True, check=True).stdout
    else:
        selected = subprocess.run(["sed", "-n", f"{lines}p", str(path)], capture_output=True, check=True).stdout
        out = subprocess.run(["md5sum"], input=selected, capture_output=True, check=True).stdout.decode()
    return out.split()[0]


def lic_layer(tmp_path: Path, lic_files: str, license: str = "MIT & BSD-3-Clause", extra: str = "") -> Path:
    src = tmp_path / "meta-lic/recipes/lic/files/lic-1.0"
    src.mkdir(parents=True)
    (src / "COPYING").write_text(COPYING)
    (src / "README").write_text(README)
    return make_layer(tmp_path, "lic", {
        "recipes/lic/lic_1.0.bb": f'LICENSE = "{license}"\nSRC_URI = "file://lic-1.0"\n'
                                  f'LIC_FILES_CHKSUM = "{lic_files}"\n{extra}',
    })


def test_texts_checked_and_deployed(tmp_path: Path) -> None:
    src = tmp_path / "meta-lic/recipes/lic/files/lic-1.0"
    src.mkdir(parents=True)
    (src / "COPYING").write_text(COPYING)
    (src / "README").write_text(README)
    whole, lines = md5sum(src / "COPYING"), md5sum(src / "README", "2,4")
    layer = lic_layer(tmp_path / "x", f"file://COPYING;md5={whole} file://README;beginline=2;endline=4;md5={lines}")
    build = BuildDir(make_build(tmp_path / "x", [layer]))
    build.run("lic:do_populate_lic")
    deployed = build.top / "tmp/deploy/licenses/lic"
    assert sorted(p.name for p in deployed.iterdir()) == \
        ["COPYING", "README", "generic_BSD-3-Clause", "generic_MIT", "recipeinfo"]
    assert (deployed / "COPYING").read_text() == COPYING
    assert (deployed / "README").read_text() == "".join(README.splitlines(keepends=True)[1:4])
    assert md5sum(deployed / "README") == lines
    assert (deployed / "generic_MIT").read_bytes() == (Path(CORE) / "files/common-licenses/MIT").read_bytes()
    assert (deployed / "recipeinfo").read_text() == "LICENSE: MIT & BSD-3-Clause\nPR: r0\nPV: 1.0\n"


def test_wrong_checksum_names_the_file_and_both_sums(tmp_path: Path) -> None:
    layer = lic_layer(tmp_path, "file://COPYING;md5=" + "0" * 32)
    build = BuildDir(make_build(tmp_path, [layer]))
    result = build.run("lic:do_populate_lic", check=False)
    actual = hashlib.md5(COPYING.encode()).hexdigest()
    assert result.returncode == 1
    assert (f"{layer}/recipes/lic/lic_1.0.bb:3: error: recipe lic: LIC_FILES_CHKSUM: the md5 of COPYING is {actual}, "
            f"but the recipe says md5={'0' * 32}\n") in result.stderr
    assert f"|   file: {build.top}/tmp/work/x86_64/lic/1.0-r0/sources/lic-1.0/COPYING\n" in result.stderr
    assert not (build.top / "tmp/deploy/licenses/lic").exists()


def test_a_link_in_the_sources_never_reads_a_host_file(tmp_path: Path) -> None:
    """A tree whose COPYING leads to a file outside the work directory: the recipe's md5 of that file
    must not match, because the file is never read."""
    canary = tmp_path / "canary"
    canary.write_text("host secret\n")
    secret = hashlib.md5(canary.read_bytes()).hexdigest()
    layer = lic_layer(tmp_path, f"file://LINKED;md5={secret} file://../../../../../../canary;md5={secret}")
    (tmp_path / "meta-lic/recipes/lic/files/lic-1.0/LINKED").symlink_to(canary)
    build = BuildDir(make_build(tmp_path, [layer]))
    result = build.run("lic:do_populate_lic", check=False)
    assert result.returncode == 1
    assert "LIC_FILES_CHKSUM names LINKED, which cannot be read" in result.stderr
    assert "host secret" not in result.stderr
    layer_text = (layer / "recipes/lic/lic_1.0.bb").read_text()
    (layer / "recipes/lic/lic_1.0.bb").write_text(layer_text.replace(f"file://LINKED;md5={secret} ", ""))
    result = build.run("lic:do_populate_lic", check=False)
    assert result.returncode == 1
    assert "LIC_FILES_CHKSUM names ../../../../../../canary, which cannot be read: it is outside" in result.stderr
    assert not any("host secret" in p.read_text() for p in (build.top / "tmp").rglob("*") if p.is_file() and not p.is_symlink()
                   and p.suffix != ".pickle" and "log." not in p.name and "run." not in p.name)


def test_remote_sources_need_lic_files_chksum(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, www = server
    (www / "notes.txt").write_bytes(b"notes\n")
    sha = hashlib.sha256(b"notes\n").hexdigest()
    layer = make_layer(tmp_path, "lic", {
        "recipes/tarball/tarball_1.0.bb": f'LICENSE = "MIT"\nSRC_URI = "{base}/notes.txt"\n'
                                          f'SRC_URI[sha256sum] = "{sha}"\nS = "${{UNPACKDIR}}"\n',
    })
    build = BuildDir(make_build(tmp_path, [layer]))
    result = build.run("tarball:do_populate_lic", check=False)
    assert result.returncode == 1
    assert (f"{layer}/recipes/tarball/tarball_1.0.bb:2: error: recipe tarball fetches sources and has no "
            "LIC_FILES_CHKSUM\n") in result.stderr
    recipe = layer / "recipes/tarball/tarball_1.0.bb"
    recipe.write_text(recipe.read_text().replace('LICENSE = "MIT"', 'LICENSE = "CLOSED"'))
    build.run("tarball:do_populate_lic")
    assert sorted(p.name for p in (build.top / "tmp/deploy/licenses/tarball").iterdir()) == ["recipeinfo"]


# -- images --------------------------------------------------------------------------------------------

APP = """\
LICENSE = "{license}"
SRC_URI = "file://app.c"
S = "${{UNPACKDIR}}"
{extra}
do_compile() {{
    ${{CC}} ${{CFLAGS}} ${{LDFLAGS}} -o {name} ${{S}}/app.c
}}
do_install() {{
    install -d ${{D}}${{bindir}} ${{D}}${{datadir}}/{name}
    install -m 0755 {name} ${{D}}${{bindir}}/{name}
    echo data > ${{D}}${{datadir}}/{name}/data
}}
"""


def _app(name: str, license: str, extra: str = "") -> dict[str, str]:
    return {f"recipes/{name}/{name}_1.0.bb": APP.format(name=name, license=license, extra=extra),
            f"recipes/{name}/files/app.c": "int main(void) { return 0; }\n"}


@pytest.fixture(scope="module")
def image_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("licimage")
    return make_layer(root, "licimage", {
        **_app("gplapp", "GPL-3.0-only"),
        **_app("dual", "GPL-3.0-only | MIT"),
        # one package of the recipe carries another licence
        **_app("mixed", "MIT & GPL-3.0-or-later",
               'PACKAGES =+ "${PN}-data"\nFILES:${PN}-data = "${datadir}/${BPN}"\nLICENSE:${PN} = "MIT"\n'
               'LICENSE:${PN}-data = "GPL-3.0-or-later"'),
        "recipes/images/lic-image.bb": 'inherit core-image\nIMAGE_INSTALL += "dual mixed mixed-data"\n'
                                       'IMAGE_GEN_PKGDBFS = "1"\n',
        "recipes/images/lic-gpl-image.bb": 'inherit core-image\nIMAGE_INSTALL += "gplapp"\n',
        "recipes/images/lic-ext.bb": 'inherit image-sysext\nIMAGE_BASE_PKGDB = "lic-image"\n'
                                     'IMAGE_INSTALL = "greet"\n',
    })


def _manifest(path: Path) -> dict[str, dict[str, str]]:
    out = {}
    for stanza in path.read_text().split("\n\n"):
        if stanza.strip():
            fields = dict(line.split(": ", 1) for line in stanza.splitlines())
            out[fields["PACKAGE NAME"]] = fields
    return out


def test_image_licence_manifest_and_policy(tmp_path: Path, image_layer: Path) -> None:
    top = make_build(tmp_path, [image_layer])
    build = BuildDir(top)
    build.run("lic-image", "lic-ext")
    (manifest,) = [p for p in build.deploy.glob("lic-image-genericx86-64-*.license.manifest") if not p.is_symlink()]
    assert (build.deploy / "lic-image-genericx86-64.license.manifest").resolve() == manifest
    stanzas = _manifest(manifest)
    rootfs = next((top / "tmp/work").glob("genericx86_64/lic-image/*/rootfs"))
    installed = subprocess.run(["dpkg-query", f"--admindir={rootfs}/var/lib/dpkg", "-W", "-f", "${Package} ${Version}\n"],
                               capture_output=True, text=True, check=True).stdout.split("\n")
    assert sorted(stanzas) == sorted(line.split()[0] for line in installed if line)
    assert stanzas["mixed"] == {"PACKAGE NAME": "mixed", "PACKAGE VERSION": "1.0", "RECIPE NAME": "mixed",
                                "LICENSE": "MIT"}
    assert stanzas["mixed-data"]["LICENSE"] == "GPL-3.0-or-later"
    assert stanzas["dual"]["LICENSE"] == "GPL-3.0-only | MIT"
    assert stanzas["libc6"]["LICENSE"] == "LGPL-2.1-or-later"
    # the licence texts of everything the image installs were deployed
    assert (top / "tmp/deploy/licenses/glibc-external/generic_LGPL-2.1-or-later").is_file()
    # an extension's manifest lists what it ships, not what its base has
    ext = _manifest(build.deploy / "lic-ext-genericx86-64.license.manifest")
    assert sorted(ext) == ["greet", "libgreet"]

    # the policy: a package with a refused licence stops the image, naming it; a choice it allows is taken
    local = top / "conf/local.conf"
    local.write_text(local.read_text() + 'INCOMPATIBLE_LICENSE = "GPL-3.0*"\n')
    result = build.run("lic-image", check=False)
    assert result.returncode == 1
    recipe = image_layer / "recipes/images/lic-image.bb"
    assert (f"{recipe}:2: error: package mixed-data cannot be installed into the image: INCOMPATIBLE_LICENSE "
            "refuses its licence\n") in result.stderr
    assert '|   mixed-data (recipe mixed, LICENSE = "GPL-3.0-or-later"): GPL-3.0-or-later\n' in result.stderr
    assert f'|   INCOMPATIBLE_LICENSE = "GPL-3.0*" (set at {local}:3)\n' in result.stderr
    # dual's "GPL-3.0-only | MIT" is taken as MIT
    assert not any(line.startswith("|   dual") for line in result.stderr.splitlines())
    # every package of gplapp is refused: the recipe is skipped, and the image that wants it says so
    result = build.run("lic-gpl-image", check=False)
    assert result.returncode == 1
    assert "gplapp was skipped: it has incompatible license(s): GPL-3.0-only" in result.stderr
    # an exception lets one package in
    local.write_text(local.read_text() + 'INCOMPATIBLE_LICENSE_EXCEPTIONS = "mixed-data:GPL-3.0-or-later"\n')
    build.run("lic-image")
