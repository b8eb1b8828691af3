"""``layerbuild-boot``: boot a subhost (``CONF``), run a command in one (``--exec NAME -- CMD...``), stop one
(``--stop NAME``) or list them (``--list``).

The command line and the command; :func:`layerbuild.cli.boot_main` turns errors into exit statuses as
for every layerbuild command (0 success, 1 user error, 2 usage error, 130 interrupted); ``--exec``
returns the command's own status.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from layerbuild import __version__
from layerbuild.boot import state as records
from layerbuild.util.errors import UsageError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message)


def parser() -> argparse.ArgumentParser:
    p = _Parser(prog="layerbuild-boot", description="Boot an image rootfs as an overlay-boot subhost, and manage "
                "running subhosts.")
    p.add_argument("conf", nargs="?", metavar="CONF", help="subhost config file to boot")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--exec", metavar="NAME", dest="exec_name", help="run CMD... (after --) in subhost NAME")
    what.add_argument("--stop", metavar="NAME", help="stop subhost NAME and tear it down")
    what.add_argument("--list", action="store_true", help="list the subhosts set up on this machine")
    p.add_argument("-d", "--detach", action="store_true", help="return once the subhost is up (it keeps running)")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks")
    p.add_argument("--version", action="version", version=f"layerbuild-boot {__version__}")
    return p


def run(args: argparse.Namespace) -> int:
    from layerbuild.boot import supervisor
    from layerbuild.boot.config import load_config
    from layerbuild.boot.daemon import start_detached
    from layerbuild.boot.subhost import exec_in

    if args.list:
        print(f"{'NAME':12}  {'STATE':8}  {'PID':>7}  LIVE")
        for record in records.running():
            pid = record.init.pid if record.init else "-"
            print(f"{record.name:12}  {record.status():8}  {pid:>7}  {record.live}")
        return 0
    if args.stop:
        supervisor.stop(records.find(args.stop))
        return 0
    if args.exec_name:
        return exec_in(args.exec_name, args.command)
    if not args.conf:
        raise UsageError("give a CONF to boot, or --exec, --stop or --list")
    if args.command:
        raise UsageError(f"unexpected arguments: {' '.join(args.command)}")
    config = load_config(args.conf)
    if args.detach:
        state = start_detached(config)
        pid = state.supervisor.pid if state.supervisor else "?"
        print(f"subhost {config.name} is up (boot process {pid}, log {config.log})")
        return 0

    def ready(state: records.State) -> None:
        print(f"subhost {config.name} is up (log {config.log}); stop it with layerbuild-boot --stop {config.name}",
              flush=True)

    return supervisor.boot(config, on_ready=ready)


def parse(argv: Sequence[str]) -> argparse.Namespace:
    """The options before ``--``; what follows it is ``args.command`` (for ``--exec``)."""
    argv = list(argv)
    command: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, command = argv[:cut], argv[cut + 1:]
    args = parser().parse_args(argv)
    args.command = command
    return args
