"""Command-line entry points: each command runs under :func:`layerbuild.util.exits.guard`, where errors
become messages and exit codes as in every process of a build.

Exit status: 0 success, 1 build or user error (one clear message, no traceback unless ``--debug``),
2 usage error, 128 + the signal's number when stopped by one (130 Ctrl-C, 143 SIGTERM, 129 SIGHUP).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, TextIO

from layerbuild import __version__
from layerbuild.util.errors import DEBUG_ENV, UsageError
from layerbuild.util.exits import Exit, guard, tell_console

if TYPE_CHECKING:
    from layerbuild.engine.eventstream import EventStream


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.ERROR:
            return f"ERROR: {record.getMessage()}"
        if record.levelno >= logging.WARNING:
            return f"WARNING: {record.getMessage()}"
        if record.levelno <= logging.DEBUG:
            return f"DEBUG: {record.getMessage()}"
        return f"NOTE: {record.getMessage()}"


def _setup_logging(debug: bool, knotty: bool = False) -> None:
    """Messages on stderr; with ``knotty`` (the ``bitbake`` command) as BitBake's console prints them: errors
    on stderr, the rest on stdout (kas, for one, tells a build's errors from its notes by the stream)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    handlers: list[logging.Handler] = [handler]
    if knotty:
        handler.setLevel(logging.ERROR)
        notes = logging.StreamHandler(sys.stdout)
        notes.setFormatter(_Formatter())
        notes.addFilter(lambda record: record.levelno < logging.ERROR)
        handlers.append(notes)
    root = logging.getLogger("layerbuild")
    root.handlers[:] = handlers
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False


class _Events:
    """Where a command's events go: the console (the default), or a JSON event stream on stdout or in a
    file (``--log-format json``, ``--log-file PATH``), which then also hears the error that ends it."""

    def __init__(self) -> None:
        self.stream: EventStream | None = None
        self.console = True
        self._file: TextIO | None = None

    def open(self, args: argparse.Namespace, debug: bool) -> None:
        if getattr(args, "log_format", "console") != "json":
            if getattr(args, "log_file", None):
                raise UsageError("--log-file needs --log-format json")
            return
        from layerbuild.engine.eventstream import EventLogHandler, EventStream
        if args.log_file:
            try:
                self._file = open(args.log_file, "w", encoding="utf-8")  # closed by close()
            except OSError as exc:
                raise UsageError(f"cannot write the log file {args.log_file}: {exc.strerror}") from exc
        self.console = self._file is not None
        self.stream = EventStream(self._file or sys.stdout)
        handler = EventLogHandler(self.stream)
        root = logging.getLogger("layerbuild")
        root.handlers[:] = [*root.handlers, handler] if self.console else [handler]
        root.setLevel(logging.DEBUG if debug else logging.INFO)

    def tell(self, end: Exit) -> None:
        if self.stream is not None:
            self.stream.error(end.error, end.message)
        tell_console(end)

    def close(self, status: int) -> None:
        if self.stream is not None:
            self.stream.exit(status)
        if self._file is not None:
            self._file.close()


def _guard(prog: str, parse: Callable[[], argparse.Namespace], func: Callable[[argparse.Namespace], int],
           debug: bool, events: _Events | None = None) -> int:
    """Run a command: every error becomes a message and an exit status here (:func:`guard`), and nowhere else."""
    _setup_logging(debug, knotty=prog == "bitbake")
    # task workers are other processes: they learn of --debug (a full traceback in the task log) from here
    saved = os.environ.get(DEBUG_ENV)
    if debug:
        os.environ[DEBUG_ENV] = "1"

    def body() -> int:
        args = parse()
        if events is not None:
            events.open(args, debug)
        return func(args)

    status = 1
    try:
        status = guard(body, debug=debug, prog=prog, tell=events.tell if events is not None else tell_console)
        return status
    finally:
        if events is not None:
            events.close(status)
        if debug and saved is None:
            os.environ.pop(DEBUG_ENV, None)


def _debug_flag(argv: Sequence[str] | None) -> bool:
    return "--debug" in (sys.argv[1:] if argv is None else argv)


def _build_parser(prog: str = "layerbuild") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Build recipes and images from BitBake-style layers.")
    p.add_argument("targets", nargs="*", metavar="TARGET", help="recipe or recipe:do_task")
    p.add_argument("-c", "--cmd", metavar="TASK", help="run TASK instead of the default (do_build)")
    p.add_argument("-f", "--force", action="store_true", help="run the task even if it is up to date")
    p.add_argument("-k", "--continue", dest="keep_going", action="store_true",
                   help="continue with independent tasks after a failure")
    p.add_argument("-n", "--dry-run", action="store_true", help="show what would run, run nothing")
    p.add_argument("-e", "--environment", action="store_true",
                   help="print the final datastore of TARGET (or the global configuration) with history")
    p.add_argument("-g", "--graphviz", action="store_true", help="write task-depends.dot and pn-buildlist")
    p.add_argument("-p", "--parse-only", action="store_true", help="parse every recipe and stop")
    p.add_argument("-S", "--dump-signatures", action="store_true",
                   help="explain why the target's tasks' signatures changed since the previous build")
    p.add_argument("-j", "--jobs", type=int, metavar="N", help="run up to N tasks at once (BB_NUMBER_THREADS)")
    p.add_argument("-B", "--build-dir", metavar="DIR", help="build directory (default: the current one or ./build)")
    p.add_argument("--log-format", choices=("console", "json"), default="console",
                   help="console: progress and messages for people (the default); json: one JSON object a line "
                        "for every event (docs/events.md)")
    p.add_argument("--log-file", metavar="PATH", help="write the JSON events to PATH instead of stdout")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks")
    p.add_argument("--version", action="version", version=f"layerbuild {__version__}")
    p.set_defaults(prog=prog)
    return p


def _topdir(args: argparse.Namespace) -> str:
    from layerbuild.session import find_build_dir, prepare_build_dir
    topdir = find_build_dir(args.build_dir, os.getcwd())
    if prepare_build_dir(topdir):
        print(f"Created build directory {topdir}", file=sys.stderr)
    return topdir


def _run(args: argparse.Namespace, events: _Events) -> int:
    from layerbuild.session import Request, run
    request = Request(targets=tuple(args.targets), cmd=args.cmd, force=args.force, keep_going=args.keep_going,
                      dry_run=args.dry_run, environment=args.environment, graphviz=args.graphviz,
                      parse_only=args.parse_only, dump_signatures=args.dump_signatures, jobs=args.jobs)
    if events.stream is None:
        # the bitbake command's task progress goes where BitBake's goes, to stdout (_setup_logging)
        return run(request, _topdir(args), err=sys.stdout if args.prog == "bitbake" else None)
    # the events on stdout keep it for themselves: what a command prints there otherwise goes to stderr
    out = sys.stdout if events.console else sys.stderr
    return run(request, _topdir(args), out=out, reporter=events.stream, console=events.console)


def main(argv: Sequence[str] | None = None) -> int:
    """``layerbuild``."""
    events = _Events()
    return _guard("layerbuild", lambda: _build_parser().parse_args(argv), lambda args: _run(args, events),
                  _debug_flag(argv), events)


def bitbake_main(argv: Sequence[str] | None = None) -> int:
    """``bitbake``: layerbuild under BitBake's name, for the tools and habits that call it (kas)."""
    events = _Events()
    return _guard("bitbake", lambda: _build_parser("bitbake").parse_args(argv), lambda args: _run(args, events),
                  _debug_flag(argv), events)


def _layers_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Show and edit the layers of a build.")
    p.add_argument("-B", "--build-dir", metavar="DIR", help="build directory (default: the current one or ./build)")
    p.add_argument("-F", "--force", action="store_true",
                   help="add-layer: add without reading the configuration with the new layer")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks")
    p.set_defaults(prog=prog)
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("show-layers", help="list the configured layers and their priorities")
    recipes = sub.add_parser("show-recipes", help="list the available recipes and the layers that provide them")
    recipes.add_argument("pnspec", nargs="*", help="only recipes whose name matches one of these (fnmatch patterns)")
    recipes.add_argument("--show-variants", action="store_true",
                         help="also list the BBCLASSEXTEND variants of recipes that are listed (zlib-native...)")
    sub.add_parser("show-appends", help="list the .bbappend files and the recipes they apply to")
    overlayed = sub.add_parser("show-overlayed", help="list the recipes and classes more than one layer provides")
    overlayed.add_argument("-f", "--filenames", action="store_true", help="show full file paths instead of layers")
    overlayed.add_argument("-s", "--same-version", action="store_true",
                           help="only list recipes whose versions are the same in every layer")
    add = sub.add_parser("add-layer", help="add one or more layers to bblayers.conf")
    add.add_argument("layerdir", nargs="+", help="layer directory to add")
    remove = sub.add_parser("remove-layer", help="remove one or more layers from bblayers.conf")
    remove.add_argument("layerdir", nargs="+", help="layer directory or name to remove (a * pattern matches)")
    create = sub.add_parser("create-layer", help="create a layer: conf/layer.conf and an example recipe")
    create.add_argument("layerdir", help="layer directory to create")
    create.add_argument("-a", "--add-layer", action="store_true", help="add the layer to bblayers.conf after creation")
    create.add_argument("-i", "--layerid", help="layer id for BBFILE_COLLECTIONS (default: the directory's name)")
    create.add_argument("-p", "--priority", type=int, default=6, help="priority of the layer's recipes (default 6)")
    create.add_argument("-e", "--example-recipe-name", dest="examplerecipe", default="example",
                        help="name of the example recipe (default example)")
    create.add_argument("-v", "--example-recipe-version", dest="version", default="0.1",
                        help="version of the example recipe (default 0.1)")
    return p


def _layers(args: argparse.Namespace) -> int:
    from layerbuild.layeredit import add_layer, create_layer, remove_layer
    from layerbuild.layertool import show_appends, show_layers, show_overlayed, show_recipes
    topdir = _topdir(args)
    commands = {"show-layers": show_layers, "show-recipes": show_recipes, "show-appends": show_appends,
                "show-overlayed": show_overlayed, "add-layer": add_layer, "remove-layer": remove_layer,
                "create-layer": create_layer}
    return commands[args.command](topdir, args, sys.stdout)


def layers_main(argv: Sequence[str] | None = None) -> int:
    """``layerbuild-layers``."""
    return _guard("layerbuild-layers", lambda: _layers_parser("layerbuild-layers").parse_args(argv), _layers,
                  _debug_flag(argv))


def bitbake_layers_main(argv: Sequence[str] | None = None) -> int:
    """``bitbake-layers``: ``layerbuild-layers`` under BitBake's name."""
    return _guard("bitbake-layers", lambda: _layers_parser("bitbake-layers").parse_args(argv), _layers,
                  _debug_flag(argv))


def _diffsigs_parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog,
                                description="Explain the difference between two task signatures (sigdata files).")
    p.add_argument("a", metavar="A", help="the older sigdata file")
    p.add_argument("b", metavar="B", help="the newer sigdata file")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks")
    return p


def _diffsigs(args: argparse.Namespace) -> int:
    from layerbuild.build import diffsigs
    return diffsigs(args.a, args.b, sys.stdout)


def diffsigs_main(argv: Sequence[str] | None = None) -> int:
    """``layerbuild-diffsigs A B``."""
    return _guard("layerbuild-diffsigs", lambda: _diffsigs_parser("layerbuild-diffsigs").parse_args(argv),
                  _diffsigs, _debug_flag(argv))


def bitbake_diffsigs_main(argv: Sequence[str] | None = None) -> int:
    """``bitbake-diffsigs A B``: ``layerbuild-diffsigs`` under BitBake's name."""
    return _guard("bitbake-diffsigs", lambda: _diffsigs_parser("bitbake-diffsigs").parse_args(argv),
                  _diffsigs, _debug_flag(argv))


def _getvar(args: argparse.Namespace) -> int:
    from layerbuild.getvar import getvar
    return getvar(_topdir(args), args, sys.stdout)


def getvar_main(argv: Sequence[str] | None = None) -> int:
    """``layerbuild-getvar [-r RECIPE] [--value [-f FLAG] [-u]] VAR``."""
    from layerbuild.getvar import parser
    return _guard("layerbuild-getvar", lambda: parser("layerbuild-getvar").parse_args(argv), _getvar,
                  _debug_flag(argv))


def bitbake_getvar_main(argv: Sequence[str] | None = None) -> int:
    """``bitbake-getvar``: ``layerbuild-getvar`` under BitBake's name."""
    from layerbuild.getvar import parser
    return _guard("bitbake-getvar", lambda: parser("bitbake-getvar").parse_args(argv), _getvar, _debug_flag(argv))


def _buildhistory_diff_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="layerbuild-buildhistory-diff",
                                description="Say what changed in the images between two builds recorded by "
                                            "buildhistory (INHERIT += \"buildhistory\").")
    p.add_argument("rev", nargs="?", default="HEAD^", metavar="REV", help="the older build (default HEAD^)")
    p.add_argument("rev2", nargs="?", default="HEAD", metavar="REV2", help="the newer build (default HEAD)")
    p.add_argument("-p", "--buildhistory-dir", default="buildhistory", metavar="DIR",
                   help="the buildhistory repository (default ./buildhistory)")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks")
    return p


def _buildhistory_diff(args: argparse.Namespace) -> int:
    from layerbuild.buildhistory.diff import buildhistory_diff
    return buildhistory_diff(os.path.abspath(args.buildhistory_dir), args.rev, args.rev2, sys.stdout)


def buildhistory_diff_main(argv: Sequence[str] | None = None) -> int:
    """``layerbuild-buildhistory-diff [REV [REV2]]``."""
    return _guard("layerbuild-buildhistory-diff", lambda: _buildhistory_diff_parser().parse_args(argv),
                  _buildhistory_diff, _debug_flag(argv))
def _sstate_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="layerbuild-sstate", description="Maintain shared state (sstate) caches.")
    p.add_argument("-B", "--build-dir", metavar="DIR", help="build directory (default: the current one or ./build)")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks")
    sub = p.add_subparsers(dest="command", required=True)
    prune = sub.add_parser("prune", help="remove objects not used for a number of days")
    prune.add_argument("--older-than", type=float, required=True, metavar="DAYS",
                       help="remove objects last used more than DAYS days ago (fractions allowed)")
    prune.add_argument("--dry-run", action="store_true", help="say what would be removed; remove nothing")
    prune.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per request to a store")
    prune.add_argument("locations", nargs="*", metavar="LOCATION",
                       help="directories or store URLs (file://, http(s)://, s3://); default: the build "
                            "directory's SSTATE_DIR and SSTATE_UPLOAD")
    return p


def _sstate(args: argparse.Namespace) -> int:
    from layerbuild.sstatetool import prune_command
    return prune_command(args, None if args.locations else _topdir(args), sys.stdout)


def sstate_main(argv: Sequence[str] | None = None) -> int:
    """``layerbuild-sstate prune --older-than DAYS [--dry-run] [LOCATION...]``."""
    return _guard("layerbuild-sstate", lambda: _sstate_parser().parse_args(argv), _sstate, _debug_flag(argv))


def boot_main(argv: Sequence[str] | None = None) -> int:
    """``layerbuild-boot CONF | --exec NAME -- CMD... | --stop NAME | --list``."""
    from layerbuild.boot.cli import parse, run
    args = sys.argv[1:] if argv is None else argv
    return _guard("layerbuild-boot", lambda: parse(args), run, _debug_flag(argv))


def mksquashfs_main(argv: Sequence[str] | None = None) -> int:
    """``layerbuild-mksquashfs SOURCE_DIR OUTPUT``."""
    from layerbuild.image.mksquashfs_cli import mksquashfs, parser
    return _guard("layerbuild-mksquashfs", lambda: parser().parse_args(argv), mksquashfs, _debug_flag(argv))


if __name__ == "__main__":
    sys.exit(main())
