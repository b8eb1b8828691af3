"""The base configuration: bblayers.conf, layer.conf files, layerbuild.conf, then base and INHERIT.

This mirrors BitBake's cooker: ``TOPDIR`` is the build directory, layers are read in ``BBLAYERS``
order, ``conf/layerbuild.conf`` (or, in a tree that has none, BitBake's ``conf/bitbake.conf``) is
found through ``BBPATH`` and pulls in ``local.conf``, the machine and the distro, and finally ``base``
and every class in ``INHERIT`` are inherited into the configuration, so each recipe starts from a copy
that already has them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from layerbuild.engine.bb.parse import get_file_depends
from layerbuild.engine.datastore import DataStore
from layerbuild.engine.evaluate import Evaluator, expand_keys, fire_event, new_datastore, run_anonymous
from layerbuild.engine.layers import LayerSet, read_layers
from layerbuild.taskapi import NO_HOOKS, Hooks
from layerbuild.util.errors import LayerError, Location, ParseError
from layerbuild.util.values import check_configuration


def _default_layer() -> str:
    """A checkout is itself the default layer; an installed package carries a copy as ``layer/``."""
    here = Path(__file__).resolve().parents[1]  # the layerbuild package
    if (here.parent / "conf" / "layer.conf").is_file():
        return str(here.parent)
    return str(here / "layer")


#: The layer every build directory made from the templates starts with (conf/, classes/, recipes/).
DEFAULT_LAYER = _default_layer()
CONFIG_INHERITS = "configuration INHERITs"


@dataclass
class Configuration:
    d: DataStore
    layerset: LayerSet
    evaluator: Evaluator
    topdir: str
    #: the weak defaults the host gave (name -> value), part of what the parse cache is valid for
    host_defaults: Mapping[str, str] = field(default_factory=dict)
    #: the multiconfig this is (``BB_CURRENT_MC``): ``""`` for the default configuration
    mc: str = ""

    @property
    def files(self) -> tuple[str, ...]:
        """Every file the configuration read or looked for."""
        return tuple(dict.fromkeys(self.d.file_depends))


#: where -e says a variable taken from the environment comes from
ENVIRONMENT = "<environment>"
#: the environment variables BitBake exports from the datastore when it takes them from the environment
EXPORTED_FROM_ENVIRONMENT = frozenset({"BB_TASKHASH", "HOME", "LOGNAME", "PATH", "PWD", "SHELL", "USER", "LC_ALL",
                                       "BBSERVER"})

#: the base configuration file's names, in the order they are looked for along BBPATH: layerbuild's own,
#: then BitBake's (a tree such as OE-core's, which has no layerbuild.conf)
BASE_CONFIGURATIONS = ("layerbuild.conf", "bitbake.conf")


def find_base_configuration(d: DataStore, bbpath: list[str]) -> str | None:
    """The first ``conf/layerbuild.conf`` along BBPATH, else the first ``conf/bitbake.conf``."""
    for name in BASE_CONFIGURATIONS:
        for directory in bbpath:
            candidate = os.path.abspath(os.path.join(directory, "conf", name))
            if os.path.isfile(candidate):
                return candidate
            d.file_depends.append(candidate)
        if name == BASE_CONFIGURATIONS[0]:
            # what BitBake, reading bitbake.conf, would not have looked for (BBINCLUDED)
            d.setVar("__lb_lookups", d.file_depends[-len(bbpath):])
    return None


def inherit_global_classes(d: DataStore, evaluator: Evaluator) -> None:
    """Inherit ``base`` and each class in ``INHERIT`` into the configuration."""
    d.setVar("__bbclasstype", "global")
    evaluator.inherit(d, "base", Location(CONFIG_INHERITS, 0))
    for cls in (d.getVar("INHERIT") or "").split():
        evaluator.inherit(d, cls, _origin(d, "INHERIT", cls))
    d.setVar("BBINCLUDED", get_file_depends(d))
    fire_event(d, "ConfigParsed")
    d.setVar("__bbclasstype", "recipe")


def _origin(d: DataStore, var: str, word: str) -> Location:
    """The line that put ``word`` into the list ``var``: known from the history when the datastore keeps one
    (else the line that last set ``var``)."""
    if d.history is not None:
        for event in reversed(d.history.events(var)):
            if event.flag is None and word in event.detail.split():
                return Location(event.file, event.line)
    return d.location(var) or Location(CONFIG_INHERITS, 0)


def configuration_view(d: DataStore) -> DataStore:
    """The configuration as ``layerbuild -e`` shows it: keys expanded, anonymous Python run."""
    view = d.createCopy()
    expand_keys(view)
    run_anonymous(view)
    return view


def load_configuration(topdir: str, *, tracking: bool = False, evaluator: Evaluator | None = None,
                       extra: dict[str, str] | None = None, hooks: Hooks = NO_HOOKS,
                       origenv: Mapping[str, str] | None = None,
                       host_defaults: Mapping[str, tuple[str, Location]] | None = None,
                       mc: str = "") -> Configuration:
    """Read the configuration of the build directory ``topdir``.

    ``hooks`` is what metadata Python may reach of the artifact side (builtin tasks, ``bb.fetch2``);
    every recipe's datastore is a copy of this one and inherits them. ``extra`` are the environment
    variables the build sees; ``origenv`` the whole environment, which metadata reads as BB_ORIGENV.
    ``host_defaults`` are values read from the build host (``DEBIAN_MIRROR`` from its apt sources), each
    with the place it was read from: they are weak defaults set before any file is read, so any
    assignment in a configuration file wins. ``mc`` names a multiconfig of ``BBMULTICONFIG``: the same
    files are read with ``BB_CURRENT_MC`` set to it, and the base configuration file reads
    ``conf/multiconfig/${BB_CURRENT_MC}.conf`` after ``local.conf`` (BitBake's cooker, OE's bitbake.conf).
    """
    evaluator = evaluator or Evaluator()
    bblayers = os.path.join(topdir, "conf", "bblayers.conf")
    if not os.path.isfile(bblayers):
        raise LayerError(f"{bblayers} does not exist", hint="run layerbuild from a build directory, or pass -B DIR")
    d = new_datastore(tracking=tracking, hooks=hooks)
    environment = DataStore()
    for name, value in (origenv or {}).items():
        environment.setVar(name, value)
    d.setVar("BB_ORIGENV", environment)
    d.setVar("TOPDIR", topdir)
    d.setVar("BB_CURRENT_MC", mc)
    for name, value in (extra or {}).items():
        d.setVar(name, value, op="from env", file=ENVIRONMENT)
        if name in EXPORTED_FROM_ENVIRONMENT:
            d.setVarFlag(name, "export", True, op="auto env export", file=ENVIRONMENT)
    for name, (value, where) in (host_defaults or {}).items():
        d.setVarFlag(name, "_defaultval", value, op="set", file=where.path, line=where.line)
    layerset = read_layers(d, evaluator, bblayers)
    if not d.getVar("BB_CACHEDIR"):
        d.setVar("BB_CACHEDIR", "${TOPDIR}/cache")
    bbpath = [p for p in (d.getVar("BBPATH") or "").split(":") if p]
    if not bbpath:
        raise LayerError("BBPATH is not set by any layer", Location(bblayers),
                         hint='each layer.conf should do BBPATH .= ":${LAYERDIR}"')
    base = find_base_configuration(d, bbpath)
    if base is None:
        raise LayerError("neither conf/layerbuild.conf nor conf/bitbake.conf was found in BBPATH ("
                         + ":".join(bbpath) + ")", Location(bblayers),
                         hint="add the core layer (which provides it) to BBLAYERS")
    evaluator.eval_file(d, base, include=True, baseconfig=True)
    try:
        inherit_global_classes(d, evaluator)
    except ParseError:
        if tracking:
            raise
        # without a history the error can only name the line that last set INHERIT; read the configuration
        # again with one, so that it names the line that added the class (the same error, or this one)
        load_configuration(topdir, tracking=True, extra=extra, hooks=hooks, origenv=origenv,
                           host_defaults=host_defaults)
        raise
    check_configuration(d, extra)
    return Configuration(d, layerset, evaluator, topdir,
                         {name: value for name, (value, _where) in (host_defaults or {}).items()}, mc)


def multiconfig_names(config: Configuration) -> tuple[str, ...]:
    """The multiconfigs ``BBMULTICONFIG`` of the default configuration enables, each checked as BitBake
    does (a name may not start with a digit; layerbuild's names are a target's ``mc:NAME:`` too, so no
    ``:`` either) and with its ``conf/multiconfig/NAME.conf`` found along BBPATH, else an error at the
    line that set BBMULTICONFIG."""
    d = config.d
    names = tuple(dict.fromkeys((d.getVar("BBMULTICONFIG") or "").split()))
    if not names:
        return ()
    where = d.location("BBMULTICONFIG") or Location(os.path.join(config.topdir, "conf", "local.conf"))
    bbpath = [p for p in (d.getVar("BBPATH") or "").split(":") if p]
    for name in names:
        if name[0].isdigit() or ":" in name:
            raise LayerError(f"multiconfig name '{name}' is invalid: a name may not start with a digit nor hold ':'",
                             where)
        if not any(os.path.isfile(os.path.join(p, "conf", "multiconfig", f"{name}.conf")) for p in bbpath):
            raise LayerError(f"BBMULTICONFIG names '{name}', but no conf/multiconfig/{name}.conf is in BBPATH",
                             where, hint=f"create {os.path.join(config.topdir, 'conf', 'multiconfig', name)}.conf "
                                         "(the build directory's conf/ is searched first), or remove the name")
    return names

