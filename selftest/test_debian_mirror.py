"""DEBIAN_MIRROR: read from the host's apt sources (both of apt's formats), used by real builds that fetch
from a Debian pool served by nginx on 127.0.0.1, and the error when there is none and DL_DIR lacks the file.
"""

from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import pytest
from conftest import Runner, make_build, make_layer, write_tree

from layerbuild.util import aptsources
from layerbuild.util.aptsources import debian_mirror, read_sources
from layerbuild.util.errors import Location

ONE_LINE = """\
# the host's main sources
deb [arch=amd64 signed-by=/usr/share/keyrings/x.gpg] http://ubuntu-mirror.invalid/ubuntu jammy main
deb-src http://first.invalid/debian bookworm main contrib # a comment after the entry
    deb http://second.invalid/debian bookworm main
"""

DEB822 = """\
Types: deb
URIs: http://security.invalid/debian-security
Suites: bookworm-security
Components: main

# a disabled stanza is not a source
Enabled: no
Types: deb
URIs: http://disabled.invalid/debian
Suites: bookworm
Components: main

Types: deb deb-src
# comments may stand between the fields
URIs:
 http://snapshot.invalid/archive/debian/20250520T000000Z
 http://third.invalid/debian
Suites: bookworm bookworm-updates
Components: main
"""


def write_apt(root: Path, files: dict[str, str]) -> str:
    write_tree(root / "etc/apt", files)
    return str(root / "etc/apt")


def test_both_formats_in_apt_order(tmp_path: Path) -> None:
    etc = write_apt(tmp_path, {
        "sources.list": ONE_LINE,
        "sources.list.d/20-debian.sources": DEB822,
        "sources.list.d/10-extra.list": "deb https://extra.invalid/debian sid main\n",
        # names apt ignores: a wrong extension, a character apt does not accept
        "sources.list.d/30-old.list.disabled": "deb http://ignored.invalid/debian bookworm main\n",
        "sources.list.d/40 space.list": "deb http://ignored.invalid/debian bookworm main\n",
    })
    found = [(s.kind, s.uri, s.suites, s.location) for s in read_sources(etc)]
    main, extra, deb822 = f"{etc}/sources.list", f"{etc}/sources.list.d/10-extra.list", \
        f"{etc}/sources.list.d/20-debian.sources"
    assert found == [
        ("deb", "http://ubuntu-mirror.invalid/ubuntu", ("jammy",), Location(main, 2)),
        ("deb-src", "http://first.invalid/debian", ("bookworm",), Location(main, 3)),
        ("deb", "http://second.invalid/debian", ("bookworm",), Location(main, 4)),
        ("deb", "https://extra.invalid/debian", ("sid",), Location(extra, 1)),
        ("deb", "http://security.invalid/debian-security", ("bookworm-security",), Location(deb822, 2)),
        ("deb", "http://snapshot.invalid/archive/debian/20250520T000000Z", ("bookworm", "bookworm-updates"),
         Location(deb822, 16)),
        ("deb", "http://third.invalid/debian", ("bookworm", "bookworm-updates"), Location(deb822, 17)),
        ("deb-src", "http://snapshot.invalid/archive/debian/20250520T000000Z", ("bookworm", "bookworm-updates"),
         Location(deb822, 16)),
        ("deb-src", "http://third.invalid/debian", ("bookworm", "bookworm-updates"), Location(deb822, 17)),
    ]
    # the Ubuntu archive is not Debian's; the first Debian one wins, whatever its type
    mirror = debian_mirror(etc, str(tmp_path / "lists"))
    assert mirror is not None and mirror.uri == "http://first.invalid/debian"
    assert mirror.pool == "http://first.invalid/debian/pool"


def test_deb822_only_and_the_security_archive_skipped(tmp_path: Path) -> None:
    etc = write_apt(tmp_path, {"sources.list.d/debian.sources": DEB822})
    mirror = debian_mirror(etc, str(tmp_path / "lists"))
    assert mirror is not None
    assert mirror.pool == "http://snapshot.invalid/archive/debian/20250520T000000Z/pool"
    assert mirror.location == Location(f"{etc}/sources.list.d/debian.sources", 16)


def test_a_mirror_under_another_name_is_known_by_its_release_file(tmp_path: Path) -> None:
    """A proxy such as http://proxy.invalid/repo/deb-remote is Debian's archive when the Release apt
    downloaded for it says so; the security archive, by its label, is not."""
    etc = write_apt(tmp_path, {"sources.list": "deb http://proxy.invalid:8081/repo/sec-remote bookworm-security main\n"
                                               "deb http://proxy.invalid:8081/repo/deb_remote bookworm main\n"})
    lists = tmp_path / "lists"
    assert debian_mirror(etc, str(lists)) is None
    write_tree(lists, {
        "proxy.invalid:8081_repo_sec-remote_dists_bookworm-security_InRelease":
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Debian\nLabel: Debian-Security\n",
        # apt's file name quotes '_' in the URI
        "proxy.invalid:8081_repo_deb%5fremote_dists_bookworm_InRelease":
            "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Debian\nLabel: Debian\nSuite: stable\n",
    })
    mirror = debian_mirror(etc, str(lists))
    assert mirror is not None and mirror.pool == "http://proxy.invalid:8081/repo/deb_remote/pool"


def test_no_debian_mirror(tmp_path: Path) -> None:
    assert debian_mirror(str(tmp_path / "nothing"), str(tmp_path)) is None
    etc = write_apt(tmp_path, {
        "sources.list": "deb cdrom:[Debian 12]/ bookworm main\ndeb file:/srv/debian bookworm main\n",
        "sources.list.d/node.sources": "Types: deb\nURIs: https://nodesource.invalid/node_20.x\n"
                                       "Suites: nodistro\nComponents: main\n",
    })
    assert len(read_sources(etc)) == 3
    assert debian_mirror(etc, str(tmp_path)) is None


# -- builds against a pool served by nginx -------------------------------------------------------------

def orig_tarball(path: Path, top: str, text: str) -> str:
    data = text.encode()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo(f"{top}/data.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return hashlib.sha256(buffer.getvalue()).hexdigest()


RECIPE = """\
LICENSE = "MIT"
INHIBIT_DEFAULT_DEPS = "1"
SRC_URI = "${{DEBIAN_MIRROR}}/main/{initial}/{pn}/{pn}_${{PV}}.orig.tar.gz"
SRC_URI[sha256sum] = "{sha}"
"""


@pytest.fixture
def host_apt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The build host's apt configuration, as the test writes it."""
    etc = tmp_path / "host/etc/apt"
    etc.mkdir(parents=True)
    monkeypatch.setattr(aptsources, "ETC_APT", str(etc))
    monkeypatch.setattr(aptsources, "APT_LISTS", str(tmp_path / "host/var/lib/apt/lists"))
    return etc


def test_debian_mirror_from_apt_in_a_build(tmp_path: Path, nginx: tuple[str, Path], host_apt: Path,
                                           lb: Runner) -> None:
    base, www = nginx
    foo_sha = orig_tarball(www / "debian/pool/main/f/foo/foo_1.0.orig.tar.gz", "foo-1.0", "from the pool\n")
    bar_sha = orig_tarball(www / "debian/pool/main/b/bar/bar_2.0.orig.tar.gz", "bar-2.0", "bar\n")
    (host_apt / "sources.list.d").mkdir()
    (host_apt / "sources.list.d/debian.sources").write_text(
        f"Types: deb\nURIs: {base}/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        f"Types: deb\nURIs: {base}/debian\nSuites: bookworm\nComponents: main\n")
    layer = make_layer(tmp_path, "mirror", {
        "recipes/foo/foo_1.0.bb": RECIPE.format(initial="f", pn="foo", sha=foo_sha),
        "recipes/bar/bar_2.0.bb": RECIPE.format(initial="b", pn="bar", sha=bar_sha),
    })
    build = make_build(tmp_path, [layer])

    status, out, err = lb("-B", str(build), "-e", "foo")
    assert status == 0, err
    assert f'\nDEBIAN_MIRROR="{base}/debian/pool"\n' in out
    assert f"#   set {host_apt}/sources.list.d/debian.sources:7\n" in out
    assert f'\nSRC_URI="{base}/debian/pool/main/f/foo/foo_1.0.orig.tar.gz"\n' in out

    status, _, err = lb("-B", str(build), "-c", "unpack", "foo")
    assert status == 0, err
    work = next((build / "tmp/work").glob("*/foo/1.0-r0"))
    assert (work / "sources/foo-1.0/data.txt").read_text() == "from the pool\n"
    assert hashlib.sha256((build / "downloads/foo_1.0.orig.tar.gz").read_bytes()).hexdigest() == foo_sha

    # the mirror is not part of any signature: another host's mirror rebuilds nothing
    (host_apt / "sources.list.d/debian.sources").write_text(
        f"Types: deb\nURIs: {base}/elsewhere/debian\nSuites: bookworm\nComponents: main\n")
    status, out, err = lb("-B", str(build), "-n", "-c", "unpack", "foo")
    assert status == 0, err
    assert "Dry run: 0 tasks would run, 0 would be restored from sstate" in out, out

    # a host whose apt names no Debian mirror: what DL_DIR holds is still used, the rest is an error
    (host_apt / "sources.list.d/debian.sources").write_text(
        f"Types: deb\nURIs: {base}/debian-security\nSuites: bookworm-security\nComponents: main\n")
    status, _, err = lb("-B", str(build), "-f", "-c", "unpack", "foo")
    assert status == 0, err
    status, _, err = lb("-B", str(build), "-c", "fetch", "bar")
    assert status == 1
    recipe = layer / "recipes/bar/bar_2.0.bb"
    assert (f"{recipe}:3: error: recipe bar: cannot fetch ${{DEBIAN_MIRROR}}/main/b/bar/bar_2.0.orig.tar.gz: "
            "DEBIAN_MIRROR is not set, and DL_DIR does not hold bar_2.0.orig.tar.gz\n") in err
    assert f"  not in DL_DIR: {build}/downloads/bar_2.0.orig.tar.gz\n" in err
    assert not (build / "downloads/bar_2.0.orig.tar.gz").exists()

    # a configuration file's setting wins over the host's
    (build / "conf/local.conf").write_text((build / "conf/local.conf").read_text()
                                           + f'DEBIAN_MIRROR ?= "{base}/debian/pool"\n')
    status, _, err = lb("-B", str(build), "-c", "fetch", "bar")
    assert status == 0, err
    assert hashlib.sha256((build / "downloads/bar_2.0.orig.tar.gz").read_bytes()).hexdigest() == bar_sha
