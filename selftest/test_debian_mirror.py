"""DEBIAN_MIRROR: read from the host's apt sources, in both of apt's formats."""

from __future__ import annotations

from pathlib import Path

from conftest import write_tree

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
