"""The subhost's network: a named network namespace (``ip netns``) and veth cables into it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from layerbuild.boot.config import Cable
from layerbuild.util import proc
from layerbuild.util.errors import LayerbuildError, Location

NETNS_DIR = "/run/netns"


def netns_path(name: str) -> str:
    return os.path.join(NETNS_DIR, name)


def netns_exists(name: str) -> bool:
    return os.path.exists(netns_path(name))


def link_exists(ifname: str) -> bool:
    return os.path.exists(f"/sys/class/net/{ifname}")


def add_netns(name: str, log: Path) -> None:
    proc.run(["ip", "netns", "add", name], log=log)
    proc.run(["ip", "-n", name, "link", "set", "lo", "up"], log=log)


def delete_netns(name: str, log: Path) -> None:
    if netns_exists(name):
        proc.run(["ip", "netns", "delete", name], log=log)


def check_cable(name: str, cable: Cable, where: Location) -> None:
    """Raise unless ``cable`` can be laid: its bridge exists and its host end's name is free."""
    host = cable.host_end(name)
    if cable.bridge and not link_exists(cable.bridge):
        raise LayerbuildError(f"CABLES: bridge {cable.bridge} does not exist", where,
                              hint=f"create it first (ip link add {cable.bridge} type bridge), or leave the bridge "
                                   "part empty")
    if cable.bridge and not os.path.isdir(f"/sys/class/net/{cable.bridge}/bridge"):
        raise LayerbuildError(f"CABLES: {cable.bridge} is not a bridge", where)
    if link_exists(host):
        raise LayerbuildError(f"CABLES: the host already has an interface {host}", where)


def add_cable(name: str, cable: Cable, log: Path) -> None:
    """Create the veth pair of ``cable``: host end on its bridge (or up on its own), subhost end in netns ``name``."""
    host = cable.host_end(name)
    peer = ["peer", "name", cable.guest_end] + (["address", cable.mac] if cable.mac else []) + ["netns", name]
    proc.run(["ip", "link", "add", host, "type", "veth", *peer], log=log)
    if cable.bridge:
        proc.run(["ip", "link", "set", host, "master", cable.bridge], log=log)
    proc.run(["ip", "link", "set", host, "up"], log=log)
    proc.run(["ip", "-n", name, "link", "set", cable.guest_end, "up"], log=log)
    ifup = shutil.which("ifup")
    if not cable.bridge and ifup:
        proc.run([ifup, host], log=log, check=False)  # as overlay-boot does; most hosts have no stanza for it


def delete_link(ifname: str, log: Path) -> None:
    if link_exists(ifname):
        proc.run(["ip", "link", "delete", ifname], log=log)
