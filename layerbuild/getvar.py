"""``bitbake-getvar`` (``layerbuild-getvar``): one variable of the global configuration or of a recipe, with
its history as ``-e`` prints it, or only its value (``--value``), as BitBake's ``bitbake-getvar`` prints it.
"""

from __future__ import annotations

import argparse
import logging
from typing import TextIO

from layerbuild.engine.config import configuration_view
from layerbuild.engine.envdump import emit_var
from layerbuild.session import environment_target, parse_recipes, parse_target_recipe, start_configuration
from layerbuild.util.errors import ErrorList, LayerbuildError, UsageError, VariableError


def parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Show a variable's value and history, as bitbake -e does.")
    p.add_argument("variable", help="variable name to query")
    p.add_argument("-r", "--recipe", help="recipe name to query (default: the global configuration)")
    p.add_argument("-u", "--unexpand", action="store_true", help="do not expand the value (with --value)")
    p.add_argument("-f", "--flag", help="a variable flag to query (with --value)")
    p.add_argument("--value", action="store_true", help="only report the value, no history and no variable name")
    p.add_argument("-q", "--quiet", action="store_true", help="only warnings and errors on stderr")
    p.add_argument("--ignore-undefined", action="store_true",
                   help="print an empty value rather than fail when the variable (or flag) is not defined")
    p.add_argument("-B", "--build-dir", metavar="DIR", help="build directory (default: the current one or ./build)")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks")
    return p


def getvar(topdir: str, args: argparse.Namespace, out: TextIO) -> int:
    if not args.value and args.unexpand:
        raise UsageError("--unexpand only makes sense with --value")
    if not args.value and args.flag:
        raise UsageError("--flag only makes sense with --value")
    if args.quiet or args.value:
        logging.getLogger("layerbuild").setLevel(logging.WARNING)
    config = start_configuration(topdir, tracking=True)
    errors: tuple[LayerbuildError, ...] = ()
    if args.recipe:
        parsed = parse_recipes(config)
        fn = environment_target(parsed, args.recipe)
        d = parse_target_recipe(config, fn, parsed.recipes.infos[fn].appends)
        errors = parsed.errors
    else:
        # keys expanded and the configuration's anonymous Python run: what -e prints without a target
        d = configuration_view(config.d)
    if args.flag:
        value = d.getVarFlag(args.variable, args.flag, not args.unexpand)
        if value is None and not args.ignore_undefined:
            raise VariableError(f"The flag '{args.flag}' is not defined for variable '{args.variable}'")
    else:
        value = d.getVar(args.variable, not args.unexpand)
        if value is None and not args.ignore_undefined:
            raise VariableError(f"The variable '{args.variable}' is not defined")
    if args.value:
        out.write(f"{value if value is not None else ''}\n")
    else:
        emit_var(d, args.variable, out, True)
    if errors:  # other recipes that failed to parse: reported after the answer, as -e does
        raise ErrorList(errors)
    return 0
