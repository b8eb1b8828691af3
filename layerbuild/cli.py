"""Command-line entry points: the only place errors become messages and exit codes.

Exit status: 0 success, 1 build or user error (one clear message, no traceback unless ``--debug``),
2 usage error, 130 interrupted.
"""

from __future__ import annotations

import argparse
import io
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence

from . import __version__
from .errors import LayerbuildError, UsageError


class _Formatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        if record.levelno >= logging.ERROR:
            return f"ERROR: {record.getMessage()}"
        if record.levelno >= logging.WARNING:
            return f"WARNING: {record.getMessage()}"
        if record.levelno <= logging.DEBUG:
            return f"DEBUG: {record.getMessage()}"
        return f"NOTE: {record.getMessage()}"


def _setup_logging(debug: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    root = logging.getLogger("layerbuild")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    root.propagate = False


def _guard(func: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    debug = getattr(args, "debug", False)
    _setup_logging(debug)
    try:
        return func(args)
    except UsageError as exc:
        print(f"layerbuild: {exc.format()}", file=sys.stderr)
        return 2
    except LayerbuildError as exc:
        if debug:
            traceback.print_exc()
        print(exc.format(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:
        if debug:
            traceback.print_exc()
        else:
            print(f"error: internal error: {type(exc).__name__}: {exc} (run with --debug for a traceback)",
                  file=sys.stderr)
        return 1


def _build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="layerbuild", description="Build recipes and images from BitBake-style layers.")
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
    p.add_argument("--debug", action="store_true", help="show Python tracebacks")
    p.add_argument("--version", action="version", version=f"layerbuild {__version__}")
    return p


def _topdir(args: argparse.Namespace) -> str:
    from .session import find_build_dir, prepare_build_dir
    topdir = find_build_dir(args.build_dir, os.getcwd())
    if prepare_build_dir(topdir):
        print(f"Created build directory {topdir}", file=sys.stderr)
    return topdir


def _run(args: argparse.Namespace) -> int:
    from .session import parse_recipes, start_configuration
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("-j needs a number of at least 1")
    topdir = _topdir(args)
    if args.environment:
        return _environment(args, topdir)
    if args.parse_only:
        config = start_configuration(topdir)
        result = parse_recipes(config, jobs=args.jobs)
        total = len(result.files.recipes)
        print(f"Parsing of {total} .bb files complete ({result.cached} cached, {result.parsed} parsed). "
              f"{total - result.skipped} targets, {result.skipped} skipped, {len(result.files.masked)} masked, "
              "0 errors.")
        return 0
    if not args.targets:
        raise UsageError("nothing to do: give a TARGET, -p or -e")
    from .build import build
    return build(args, topdir)


def _environment(args: argparse.Namespace, topdir: str) -> int:
    from .config import configuration_view
    from .envdump import emit_env
    from .session import parse_recipes, parse_target_recipe, start_configuration
    out = io.StringIO()
    if len(args.targets) > 1:
        raise UsageError("-e takes at most one TARGET")
    if args.targets:
        target = args.targets[0].split(":", 1)[0]
        config = start_configuration(topdir)
        result = parse_recipes(config, jobs=args.jobs)
        fn = result.recipes.resolve(target)
        info = result.recipes.infos[fn]
        d = parse_target_recipe(topdir, fn, info.appends, tracking=True)
    else:
        config = start_configuration(topdir, tracking=True)
        d = configuration_view(config.d)
    emit_env(d, out)
    sys.stdout.write(out.getvalue())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = _build_parser().parse_args(argv)
    return _guard(_run, args)


def _layers_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="layerbuild-layers", description="Show the layers, recipes and appends of a build.")
    p.add_argument("-B", "--build-dir", metavar="DIR", help="build directory (default: the current one or ./build)")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("show-layers", help="list the configured layers and their priorities")
    recipes = sub.add_parser("show-recipes", help="list the available recipes and the layers that provide them")
    recipes.add_argument("pnspec", nargs="*", help="only recipes whose name matches one of these (fnmatch patterns)")
    sub.add_parser("show-appends", help="list the .bbappend files and the recipes they apply to")
    return p


def _layers(args: argparse.Namespace) -> int:
    from .layertool import show_appends, show_layers, show_recipes
    topdir = _topdir(args)
    commands = {"show-layers": show_layers, "show-recipes": show_recipes, "show-appends": show_appends}
    return commands[args.command](topdir, args, sys.stdout)


def layers_main(argv: Sequence[str] | None = None) -> int:
    args = _layers_parser().parse_args(argv)
    return _guard(_layers, args)


if __name__ == "__main__":
    sys.exit(main())
