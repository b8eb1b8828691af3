"""The pipeline, top to bottom: build directory -> configuration -> recipes -> providers -> one task
graph -> signatures -> plan -> run.

:func:`run` is the whole of a ``layerbuild`` command (``-p``, ``-e``, ``-g``, ``-S``, ``-n`` and a build
stop at different steps of the same list). Each step is a function returning a value the next one
reads. Parsing runs recipes through the parse cache and parses the rest in worker processes (forked
after the configuration is read, so each worker starts with it and with every class already parsed
once).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import pickle
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TextIO

from layerbuild.builtins import HOOKS
from layerbuild.engine.cache import FileState, ParseCache, config_key, pickled_entry
from layerbuild.engine.config import DEFAULT_LAYER, Configuration, load_configuration
from layerbuild.engine.datastore import DataStore
from layerbuild.engine.layers import RecipeFiles, appends_for, collect_files, dangling_appends
from layerbuild.engine.providers import Recipes, choose
from layerbuild.engine.recipe import RecipeInfo, WarningKeeper, parse_recipe, parse_variants, recipe_info
from layerbuild.engine.signatures import Signatures, TaskSignature, task_signatures
from layerbuild.engine.variants import split_virtual, virtual_fn
from layerbuild.taskapi import task_name
from layerbuild.util.aptsources import debian_mirror
from layerbuild.util.errors import ErrorList, LayerbuildError, LayerError, Location, TargetError, UsageError
from layerbuild.util.fsutil import atomic_write, directory_error, directory_problem, disk_full
from layerbuild.util.values import Typed

if TYPE_CHECKING:  # the scheduler's modules (and networkx) are imported only by the steps that need a graph
    from layerbuild.engine.events import Event
    from layerbuild.engine.hashequiv import Equivalence
    from layerbuild.engine.taskgraph import TaskGraph

logger = logging.getLogger("layerbuild.parse")

TEMPLATE_MARK = "##COREBASE##"


def find_build_dir(build_dir: str | None, cwd: str) -> str:
    """``--build-dir`` when given, else the current directory if it is one, else ``./build``."""
    if build_dir:
        return os.path.abspath(build_dir)
    if os.path.isfile(os.path.join(cwd, "conf", "bblayers.conf")):
        return os.path.abspath(cwd)
    return os.path.abspath(os.path.join(cwd, "build"))


def prepare_build_dir(topdir: str, templates: str | None = None) -> bool:
    """Create ``topdir/conf`` from the default layer's templates if it has no configuration yet.

    Returns True when the directory was created.
    """
    conf = os.path.join(topdir, "conf")
    if os.path.isfile(os.path.join(conf, "bblayers.conf")):
        return False
    templates = templates or os.path.join(DEFAULT_LAYER, "conf", "templates")
    if not os.path.isdir(templates):
        raise LayerError(f"no configuration in {topdir} and no templates at {templates} to create one")
    os.makedirs(conf, exist_ok=True)
    for name in sorted(os.listdir(templates)):
        if not name.endswith(".sample"):
            continue
        target = os.path.join(conf, name[: -len(".sample")])
        if os.path.exists(target):
            continue
        with open(os.path.join(templates, name), encoding="utf-8") as fh:
            text = fh.read().replace(TEMPLATE_MARK, DEFAULT_LAYER)
        atomic_write(target, text)
    return True


#: what boto3 reads for s3:// mirrors (credentials, region, endpoint), passed through as BitBake passes
#: BB_ENV_PASSTHROUGH_ADDITIONS: tasks that fetch from or publish to the same store see them too
AWS_PASSTHROUGH = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                   "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
                   "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_CA_BUNDLE")

#: Environment variables a build sees: BitBake's preserved environment (bb.utils.preserved_envvars), then
#: what layerbuild's own builds read from it (the reproducible time stamp, download and shared-state
#: directories, proxies and the SSH agent for fetching). BB_ENV_PASSTHROUGH replaces the list,
#: BB_ENV_PASSTHROUGH_ADDITIONS adds to it, BB_PRESERVE_ENV keeps the whole environment, as in BitBake.
ENV_PASSTHROUGH = ("BBPATH", "BB_PRESERVE_ENV", "BB_ENV_PASSTHROUGH_ADDITIONS", "BB_TASKHASH", "HOME", "LOGNAME",
                   "PATH", "PWD", "SHELL", "USER", "LC_ALL", "BBSERVER",
                   "SOURCE_DATE_EPOCH", "DL_DIR", "SSTATE_DIR", "TMPDIR", "http_proxy", "https_proxy", "no_proxy",
                   "SSH_AUTH_SOCK", *AWS_PASSTHROUGH)


def approved_variables(environ: Mapping[str, str]) -> list[str]:
    """The names of ``environ`` a build takes in (BitBake's ``bb.utils.approved_variables``)."""
    if "BB_PRESERVE_ENV" in environ:
        return list(environ)
    if "BB_ENV_PASSTHROUGH" in environ:
        names = [*environ["BB_ENV_PASSTHROUGH"].split(), "BB_ENV_PASSTHROUGH"]
    else:
        names = list(ENV_PASSTHROUGH)
    if "BB_ENV_PASSTHROUGH_ADDITIONS" in environ:
        names += [*environ["BB_ENV_PASSTHROUGH_ADDITIONS"].split(), "BB_ENV_PASSTHROUGH_ADDITIONS"]
    return names


#: environment variables of the build that do not key the parse cache: the directory the command was
#: typed in (BitBake's configuration hash leaves PWD out too, through BB_HASHCONFIG_IGNORE_VARS)
NOT_CACHE_KEYS = frozenset({"PWD"})


def environment_settings() -> dict[str, str]:
    return {name: os.environ[name] for name in dict.fromkeys(approved_variables(os.environ)) if name in os.environ}


def host_defaults() -> dict[str, tuple[str, Location]]:
    """Configuration defaults read from the build host, each with the file and line it came from:
    ``DEBIAN_MIRROR`` is the pool of the first Debian mirror of the host's apt sources."""
    mirror = debian_mirror()
    return {"DEBIAN_MIRROR": (mirror.pool, mirror.location)} if mirror is not None else {}


def start_configuration(topdir: str, *, tracking: bool = False, mc: str = "") -> Configuration:
    config = load_configuration(topdir, tracking=tracking, extra=environment_settings(), hooks=HOOKS,
                                origenv=os.environ, host_defaults=host_defaults(), mc=mc)
    return config


@dataclass(frozen=True)
class ParseResult:
    recipes: Recipes
    files: RecipeFiles
    parsed: int
    cached: int
    cache: ParseCache | None
    #: the recipes that failed to parse, each error naming its recipe and line (in file order)
    errors: tuple[LayerbuildError, ...] = ()

    @property
    def skipped(self) -> int:
        return sum(1 for info in self.recipes.infos.values() if info.skipped)


# Worker processes are forked after the configuration is loaded; this holds it in each worker.
_WORKER: dict[str, Any] = {}


def _init_worker(config: Configuration) -> None:
    _WORKER["config"] = config
    _WORKER["keeper"] = WarningKeeper()
    _WORKER["files"] = FileState()


#: (recipe file, its appends, its layer's collection, and for a parse for task signatures the recipes (variants,
#: "" for the file's own recipe) whose signatures to compute: it repeats an earlier parse, which summarised the
#: file's recipes and looked for names nothing reads; None for that first parse)
Job = tuple[str, tuple[str, ...], str, tuple[str, ...] | None]
#: what a parse gives: the file's recipes (its own first, then its variants; from a worker, as the parse cache
#: keeps them: cache.pickled_entry), or the task signatures of those asked for by recipe key, or why it failed
Outcome = tuple[RecipeInfo, ...] | bytes | dict[str, tuple[TaskSignature, ...]] | LayerbuildError


def _parse_in_worker(job: Job) -> tuple[str, Outcome, list[str]]:
    fn, outcome, depends = _parse_collected(_WORKER["config"], job, _WORKER["keeper"])
    if isinstance(outcome, tuple):
        # pickled here, in parallel, once: the parse cache saves these bytes as they are
        return fn, pickled_entry(job[1], depends, outcome, _WORKER["files"]), depends
    return fn, outcome, depends


def _parse_collected(config: Configuration, job: Job, keeper: WarningKeeper) -> tuple[str, Outcome, list[str]]:
    """:func:`_parse_one`, then a collection of the youngest generation: with the cyclic garbage collector
    off while files are parsed (:func:`_run_parse`), what a file's recipes left in reference cycles goes
    here, once per file, instead of the collector going through each recipe's live variables again and
    again while it is parsed."""
    try:
        return _parse_one(config, job, keeper)
    finally:
        gc.collect(0)


def _parse_one(config: Configuration, job: Job, keeper: WarningKeeper) -> tuple[str, Outcome, list[str]]:
    fn, appends, layername, signed = job
    warnings: list[str] = []
    stores: dict[str, DataStore] = {}
    try:
        with keeper as warnings:
            # the file is read once; its variants are copies of that parse (BitBake's multi_finalize)
            stores = parse_variants(config.d, config.evaluator, fn, appends, layername, only=signed)
            depends = [path for d in stores.values() for path in d.file_depends] if len(stores) > 1 \
                else stores[""].file_depends
            if signed is not None:
                sigs = {virtual_fn(fn, variant): _task_signatures(d) for variant, d in stores.items()
                        if variant in signed}
                # files in [file-checksums] are inputs of the cached signatures too
                return fn, sigs, depends + [path for found in sigs.values() for sig in found
                                            for path, _digest in sig.files]
            infos = [recipe_info(d, virtual_fn(fn, variant), appends) for variant, d in stores.items()]
            if not infos[0].skipped:
                found = config.evaluator.names.recipe(stores[""], config.d.file_depends)
                for variant, d in stores.items():
                    if found and variant and not d.getVar("__SKIPPED", False):
                        # a name that only a variant's class reads is no typo
                        again = set(config.evaluator.names.recipe(d, config.d.file_depends))
                        found = [warning for warning in found if warning in again]
                warnings.extend(found)
        if warnings:
            infos[0] = replace(infos[0], warnings=tuple(warnings))
        return fn, tuple(infos), depends
    except LayerbuildError as exc:
        _show_warnings(warnings)
        return fn, exc, []
    except RecursionError:
        _show_warnings(warnings)
        return fn, LayerbuildError("recursion too deep while parsing (a variable or include refers to itself)",
                                   Location(fn)), []
    finally:
        # each recipe's Python functions and the globals they are defined in refer to each other: emptied,
        # the recipe's variables are freed as soon as the parse drops them, not by the cyclic collector
        for d in stores.values():
            d.pyglobals.clear()


def _show_warnings(messages: Iterable[str], shown: set[str] | None = None) -> None:
    """Log parse warnings, each text once (a class line many recipes share gives one warning)."""
    shown = set() if shown is None else shown
    for message in messages:
        if message not in shown:
            shown.add(message)
            logger.warning("%s", message)


def cache_dir(config: Configuration) -> str:
    """Where the build keeps what it learned (the parse cache, the host checks)."""
    return config.d.getVar("CACHE") or os.path.join(config.d.getVar("TMPDIR") or config.topdir, "cache")


def parse_recipes(config: Configuration, *, jobs: int | None = None, use_cache: bool = True,
                  state: FileState | None = None, shown: set[str] | None = None) -> ParseResult:
    """Parse every recipe of the configuration, from the cache where it is still valid. ``state``: what
    is known of the files (each is looked at once per command, whichever configuration reads it);
    ``shown``: the warnings already shown (a line every configuration reads warns once)."""
    shown = set() if shown is None else shown
    files = collect_files(config.d, config.layerset)
    dangling = dangling_appends(files.recipes, files.appends)
    if dangling:
        if not Typed(config.d).bool("BB_DANGLINGAPPENDS_WARNONLY"):
            raise LayerError(f"no recipe matches {os.path.basename(dangling[0])}", Location(dangling[0]),
                             hint="remove or rename the .bbappend, or add the layer with its recipe "
                                  '(BB_DANGLINGAPPENDS_WARNONLY = "1" makes this a warning)')
        for append in dangling:
            logger.warning("%s: no recipe matches this .bbappend", append)
    state = state or FileState()
    cachedir = cache_dir(config)
    key = config_key(config.files, state, tuple(f"{k}={v}" for k, v in sorted(environment_settings().items())
                                                if k not in NOT_CACHE_KEYS)
                     + tuple(f"host {k}={v}" for k, v in sorted(config.host_defaults.items())))
    cache = ParseCache(cachedir, key, state, config.mc) if use_cache else None
    if cache is not None and cache.config_warnings is not None:
        _show_warnings(cache.config_warnings, shown)
    else:
        typos = config.evaluator.names.configuration_typos(config.d, config.files, config.topdir)
        _show_warnings(typos, shown)
        if cache is not None:
            cache.config_warnings = tuple(typos)
            cache.dirty = True
    infos: dict[str, RecipeInfo] = {}
    todo: list[Job] = []
    for fn in files.recipes:
        appends = appends_for(fn, files.appends)
        found = cache.lookup(fn, appends) if cache is not None else None
        if found is not None:
            for info in found:
                infos[info.fn] = info
        else:
            todo.append((fn, appends, config.layerset.layer_name(fn), None))
    if todo:
        # what the engine and the configuration know, worked out once here rather than in every worker
        config.evaluator.names.prepare(config.d.file_depends)
    parsed_files, errors = _parse_all(config, todo, jobs, cache)
    for _fn, parsed, _depends in parsed_files:
        assert isinstance(parsed, tuple)
        for info in parsed:
            infos[info.fn] = info
    for fn in files.recipes:
        # a file's warnings are kept with its own recipe (a file that failed has none)
        if fn in infos and infos[fn].warnings:
            _show_warnings(infos[fn].warnings, shown)
    if cache is not None:
        cache.prune(set(files.recipes))
        _save(cache)
    layerset = config.layerset
    recipes = choose(infos, layerset.priority_of, config.d.getVar, config.d.location)
    return ParseResult(recipes, files, parsed=len(todo), cached=len(files.recipes) - len(todo), cache=cache,
                       errors=errors)


def _save(cache: ParseCache) -> None:
    """Save the parse cache; a full disk only costs the next build a parse (the build itself reports it)."""
    try:
        cache.save()
    except OSError as exc:
        if not disk_full(exc):
            raise
        logger.warning("the parse cache was not saved: no space left on device for %s", cache.path)


def signatures_of(config: Configuration, result: ParseResult, fns: Iterable[str],
                  jobs: int | None = None) -> Signatures:
    """The task signatures of the recipes ``fns`` (the task graph's; a variant by its virtual file name):
    from the parse cache, else from a parse of each recipe file again, once for all of its recipes that
    need them, whose signatures the cache then keeps with the file's recipes."""
    cache = result.cache
    infos = result.recipes.infos
    found: dict[str, tuple[TaskSignature, ...]] = {}
    wanted: dict[str, list[str]] = {}
    for vfn in sorted(set(fns)):
        sigs = cache.signatures(vfn) if cache is not None else None
        if sigs is not None:
            found[vfn] = sigs
        else:
            fn, variant = split_virtual(vfn)
            wanted.setdefault(fn, []).append(variant)
    if wanted:
        todo: list[Job] = [(fn, infos[fn].appends, config.layerset.layer_name(fn), tuple(variants))
                           for fn, variants in wanted.items()]
        done, errors = _parse_all(config, todo, jobs)
        if errors:
            raise ErrorList(errors)
        for fn, parsed, depends in done:
            assert isinstance(parsed, dict)
            found.update(parsed)
            if cache is not None:
                cache.add_signatures(fn, depends, parsed)
        if cache is not None:
            _save(cache)
    return Signatures({fn: {sig.task: sig for sig in sigs} for fn, sigs in found.items()})


def _task_signatures(d: DataStore) -> tuple[TaskSignature, ...]:
    tasks = [] if d.getVar("__SKIPPED", False) else d.getVar("__BBTASKS", False) or []
    return tuple(task_signatures(d, tasks).values())


def _parse_all(config: Configuration, todo: list[Job], jobs: int | None, cache: ParseCache | None = None
               ) -> tuple[list[tuple[str, Outcome, list[str]]], tuple[LayerbuildError, ...]]:
    """Parse ``todo``: (recipe file, outcome, the files it read) of each file that parsed, in the order the
    parses finished, and the errors of the files that failed, by file name (as BitBake's parse, one
    failing recipe does not stop the others from being read). The recipes each file gave go into
    ``cache`` as they arrive."""
    done: list[tuple[str, Outcome, list[str]]] = []
    errors: list[tuple[str, LayerbuildError]] = []
    for fn, outcome, depends in _run_parse(config, todo, jobs):
        if isinstance(outcome, bytes):
            # a worker's summary, pickled as the cache keeps it: read while the workers go on
            outcome = cache.store_pickled(fn, outcome) if cache is not None else pickle.loads(outcome).infos
        elif isinstance(outcome, tuple) and cache is not None:
            cache.store(fn, outcome[0].appends, depends, outcome)
        if isinstance(outcome, LayerbuildError):
            if outcome.location is None:  # among several, each error names its recipe
                outcome.location = Location(fn)
            errors.append((fn, outcome))
        else:
            done.append((fn, outcome, depends))
    errors.sort(key=lambda item: item[0])
    return done, tuple(error for _fn, error in errors)


def _run_parse(config: Configuration, todo: list[Job], jobs: int | None) -> Iterable[tuple[str, Outcome, list[str]]]:
    threads = jobs or Typed(config.d).int("BB_NUMBER_PARSE_THREADS") or os.cpu_count() or 1
    threads = max(1, min(threads, len(todo)))
    # The configuration (every recipe's store is a copy of it) lives as long as the parse: the cyclic
    # garbage collector would go through all of it in every full collection, and in a forked worker
    # touch, and so copy, every page of it. While files are parsed the collector is off (each file's
    # cycles are collected after it: _parse_collected); workers forked now start with it off.
    enabled = gc.isenabled()
    gc.freeze()
    gc.disable()
    try:
        if threads == 1 or len(todo) < 16:
            keeper = WarningKeeper()
            for job in todo:
                yield _parse_collected(config, job, keeper)
            return
        ctx = multiprocessing.get_context("fork")
        # small chunks: OE-core's recipes differ in cost by a factor of fifty (its images are the dearest,
        # and sit together in the list), and a worker left with a large chunk keeps the other waiting
        chunk = max(1, min(8, len(todo) // (threads * 8)))
        with ctx.Pool(threads, initializer=_init_worker, initargs=(config,)) as pool:
            yield from pool.imap_unordered(_parse_in_worker, todo, chunksize=chunk)
    finally:
        # what the parse made and keeps (the recipe summaries) goes with the configuration to the oldest
        # generation, without the young collection that would otherwise go through all of it at once
        gc.freeze()
        gc.unfreeze()
        if enabled:
            gc.enable()


def check_configuration_paths(config: Configuration) -> None:
    """The directories the parse writes below (its cache: CACHE, else TMPDIR, else TOPDIR), each absolute,
    non-empty and not ``/``, else an error at the line that set it. What only tasks write below (DL_DIR,
    SSTATE_DIR, DEPLOY_DIR) is checked when such a task is to run (:func:`runqueue.check_task_paths`): a
    configuration need not set them to be read (BitBake's neither)."""
    d = config.d
    local = os.path.join(config.topdir, "conf", "local.conf")
    for var in ("TOPDIR", "TMPDIR", "CACHE"):
        value = d.getVar(var)
        problem = directory_problem(value) if value is not None or var == "TOPDIR" else None
        if problem:
            raise directory_error(var, problem, d.location(var) or Location(local))


def parse_all(configs: Mapping[str, Configuration], jobs: int | None) -> dict[str, ParseResult]:
    """Parse the recipes of each configuration (the default one first, then each multiconfig), each file
    looked at once for all of them."""
    state = FileState()
    shown: set[str] = set()
    return {mc: parse_recipes(config, jobs=jobs, state=state, shown=shown) for mc, config in configs.items()}


#: the BBCLASSEXTEND variants a build makes: native ones (a sysroot of their own, no packages)
BUILT_VARIANTS = frozenset({"native"})


def check_variants(tg: TaskGraph) -> None:
    """A BBCLASSEXTEND variant is parsed like any recipe; of the variants only ``native`` is built. Any
    other (nativesdk, multilib:lib32 ...) has no SDK or multilib sysroot to be staged in, and building it as
    a target recipe would give packages under its name that are not what its class means: a build that
    needs one is refused before any task runs."""
    variants = sorted(tid for tid in tg.graph.nodes if tg.info(tid).variant
                      and tg.info(tid).variant.split(":", 1)[0] not in BUILT_VARIANTS)
    if variants:
        info = tg.info(variants[0])
        kind = info.variant.split(":", 1)[0]
        base = tg.recipes_of(variants[0].mc).infos.get(info.realfn)
        users = sorted((tg.info(other).pn, tid.task) for tid in variants if tid.fn == variants[0].fn
                       for other in tg.graph.successors(tid) if other.fn != tid.fn)
        where = info.location("BBCLASSEXTEND")
        raise TargetError(f"{info.pn} is the {info.variant} variant of {base.pn if base else info.realfn} "
                          f"(BBCLASSEXTEND), and layerbuild builds native variants only, not {kind} ones yet"
                          + (f" ({users[0][0]} needs its {users[0][1]})" if users else ""),
                          Location(*where) if where else Location(info.realfn),
                          hint="-e, -g and -S show a variant; build the recipe itself or its native variant, "
                               "or take the tool from the build host")


def environment_target(parsed: ParseResult, target: str) -> str:
    """The recipe file ``-e TARGET`` shows. Recipes that failed to parse do not stop it unless one may be
    the target (its file name gives TARGET's name, or no parsed recipe provides TARGET): then the errors,
    with the target's own, are the answer."""
    from layerbuild.engine.bb.parse import vars_from_file

    name = target.split(":", 1)[0]
    failed = [error for error in parsed.errors if error.location is not None
              and vars_from_file(error.location.path)[0] == name]
    if failed:
        raise ErrorList(parsed.errors)
    try:
        return parsed.recipes.resolve(name)
    except TargetError as exc:
        if parsed.errors:
            raise ErrorList((*parsed.errors, exc)) from None
        raise


def parse_target_recipe(config: Configuration, fn: str, appends: tuple[str, ...]) -> DataStore:
    """Parse one recipe afresh (with history when the configuration tracks it) and return its datastore."""
    return parse_recipe(config.d, config.evaluator, fn, appends, config.layerset.layer_name(fn))


@dataclass(frozen=True)
class Request:
    """What one ``layerbuild`` command asks for (the command line, parsed)."""

    targets: tuple[str, ...] = ()
    cmd: str | None = None
    force: bool = False
    keep_going: bool = False
    dry_run: bool = False
    environment: bool = False
    graphviz: bool = False
    parse_only: bool = False
    dump_signatures: bool = False
    jobs: int | None = None


def split_multiconfig(target: str) -> tuple[str, str]:
    """``mc:NAME:rest`` -> (NAME, rest), ``mc:NAME`` -> (NAME, ""); any other target -> ("", target) (the
    default configuration)."""
    if not target.startswith("mc:"):
        return "", target
    parts = target.split(":", 2)
    if len(parts) == 2 and parts[1]:
        return parts[1], ""
    if len(parts) < 3 or not parts[1] or not parts[2]:
        raise UsageError(f"target '{target}' is not of the form mc:NAME:recipe or mc:NAME:recipe:do_task")
    return parts[1], parts[2]


def target_tasks(request: Request, default_task: str) -> list[tuple[str, str, str]]:
    """``recipe`` or ``recipe:do_task`` (``recipe:task``), each maybe after ``mc:NAME:`` ->
    (multiconfig, recipe, do_task), ``""`` the default configuration."""
    targets = []
    for whole in request.targets:
        mc, target = split_multiconfig(whole)
        if not target:
            raise UsageError(f"target '{whole}' names no recipe: give mc:{mc}:recipe")
        if ":" in target:
            name, task = target.split(":", 1)
            if not name or not task:
                raise UsageError(f"target '{whole}' is not of the form recipe or recipe:do_task")
        else:
            name, task = target, request.cmd or default_task
        targets.append((mc, name, task_name(task)))
    return targets


def check_multiconfig(mc: str, config: Configuration, names: tuple[str, ...]) -> None:
    """A target's ``mc:NAME:`` names a multiconfig of BBMULTICONFIG, else an error at the line setting it."""
    if mc and mc not in names:
        where = config.d.location("BBMULTICONFIG") or Location(os.path.join(config.topdir, "conf", "local.conf"))
        raise TargetError(f"mc:{mc}: names multiconfig '{mc}', which BBMULTICONFIG does not enable", where,
                          hint=f"the enabled multiconfigs are: {' '.join(names)}" if names
                          else f"add it to BBMULTICONFIG, with conf/multiconfig/{mc}.conf")


def run(request: Request, topdir: str, out: TextIO | None = None, err: TextIO | None = None,
        reporter: Callable[[Event], None] | None = None, console: bool = True) -> int:
    """One ``layerbuild`` command, as a list of steps; returns the exit status.

    ``reporter`` hears the scheduler's events besides the console's reporter (``console``) or instead of
    it (the JSON event stream)."""
    out = out or sys.stdout
    err = err or sys.stderr
    from layerbuild.engine.envdump import emit_env

    if request.jobs is not None and request.jobs < 1:
        raise UsageError("-j needs a number of at least 1")
    if request.environment and len(request.targets) > 1:
        raise UsageError("-e takes at most one TARGET")
    if not (request.targets or request.parse_only or request.environment):
        raise UsageError("nothing to do: give a TARGET, -p or -e")

    from layerbuild.engine.config import multiconfig_names
    # -e mc:NAME[:recipe] shows a multiconfig's: only its configuration keeps the history
    env_mc, env_target = split_multiconfig(request.targets[0]) if request.environment and request.targets \
        else ("", "")
    config = start_configuration(topdir, tracking=request.environment and not env_mc)
    names = multiconfig_names(config)
    if request.environment:
        check_multiconfig(env_mc, config, names)
        if env_mc:
            config = start_configuration(topdir, tracking=True, mc=env_mc)
        if not env_target:
            from layerbuild.engine.config import configuration_view
            emit_env(configuration_view(config.d), out)
            return 0
        check_configuration_paths(config)
        parsed = parse_recipes(config, jobs=request.jobs)
        fn = environment_target(parsed, env_target)
        emit_env(parse_target_recipe(config, fn, parsed.recipes.infos[fn].appends), out)
        if parsed.errors:
            raise ErrorList(parsed.errors)
        return 0
    configs = {"": config}
    for mc in names:
        configs[mc] = start_configuration(topdir, mc=mc)
    for each in configs.values():
        check_configuration_paths(each)
    results = parse_all(configs, request.jobs)
    parsed = results[""]
    errors = tuple(error for result in results.values() for error in result.errors)
    if request.parse_only:
        # as BitBake counts them: every recipe of every configuration, each variant and each skipped one
        # included (a file that failed gives none)
        total = sum(len(result.files.recipes) for result in results.values())
        out.write(f"Parsing of {total} .bb files complete ({sum(r.cached for r in results.values())} cached, "
                  f"{sum(r.parsed for r in results.values())} parsed). "
                  f"{sum(len(r.recipes.infos) for r in results.values())} targets, "
                  f"{sum(r.skipped for r in results.values())} skipped, "
                  f"{sum(len(r.files.masked) for r in results.values())} masked, {len(errors)} errors.\n")
        if errors:
            raise ErrorList(errors)
        return 0
    if errors:
        raise ErrorList(errors)

    # the scheduler's modules (and networkx) only for the steps that need a task graph
    from layerbuild.build import build_lock, commit_buildhistory, dump_signatures, print_plan, reap_orphans
    from layerbuild.engine.plan import make_plan, share_identical, stamp_base
    from layerbuild.engine.reporters import make_reporter, reporters
    from layerbuild.engine.runqueue import RunQueue, check_task_paths
    from layerbuild.engine.sstatemirror import reset as reset_mirrors
    from layerbuild.engine.taskgraph import build_graph, write_dot

    with build_lock(topdir, err):
        targets = target_tasks(request, config.d.getVar("BB_DEFAULT_TASK") or "do_build")
        for mc, _name, _task in targets:
            check_multiconfig(mc, config, names)
        tg = build_graph(parsed.recipes, targets, {mc: results[mc].recipes for mc in names})
        if request.graphviz:  # the graph needs no task signature: no recipe is parsed again for it
            dot, buildlist = write_dot(tg, os.getcwd())
            out.write(f"PN dependencies saved to '{buildlist}'\nTask dependencies saved to '{dot}'\n")
            return 0
        signatures = graph_signatures(configs, results, tg, request.jobs)
        share_identical(tg, signatures)
        equivalence = hash_equivalence(config)
        if request.dump_signatures:
            return dump_signatures(tg, signatures, out, equivalence)
        check_variants(tg)
        force = set(tg.targets) if request.force else set()
        if request.dry_run:
            reset_mirrors()
            print_plan(tg, make_plan(tg, signatures, force, equivalence=equivalence), out)
            return 0
        from layerbuild.engine.sanity import check_host
        check_host(config.d, cache_dir(config))
        check_task_paths(tg, sorted(force), topdir)
        for tid in force:
            atomic_write(stamp_base(tg, tid) + ".taint", os.urandom(16).hex() + "\n")
        reap_orphans(topdir)
        jobs = request.jobs or Typed(config.d).int("BB_NUMBER_THREADS") or os.cpu_count() or 1
        reset_mirrors()
        plan = make_plan(tg, signatures, force, jobs=jobs, equivalence=equivalence)
        check_task_paths(tg, [tid for tid in plan.order if tid in plan.run or tid in plan.setscene
                              or tid in plan.deferred], topdir)
        queue = RunQueue(tg, plan, config, jobs, reporters(make_reporter(err) if console else None, reporter),
                         keep_going=request.keep_going, multiconfigs={mc: configs[mc] for mc in names})
        ok = queue.execute()
        commit_buildhistory(config.d, request.targets, err)
        if not ok:
            return 1
        print_summaries(tg, out, task_name(config.d.getVar("BB_DEFAULT_TASK") or "do_build"))
        return 0


def graph_signatures(configs: Mapping[str, Configuration], results: Mapping[str, ParseResult], tg: TaskGraph,
                     jobs: int | None) -> Signatures:
    """The task signatures of the graph's tasks, each from its own configuration's recipes."""
    found = {mc: signatures_of(configs[mc], results[mc], {tid.fn for tid in tg.graph.nodes if tid.mc == mc}, jobs)
             for mc in sorted({tid.mc for tid in tg.graph.nodes} | {""})}
    default = found.pop("")
    return Signatures(default.recipes, {mc: sigs.recipes for mc, sigs in found.items()})


def hash_equivalence(config: Configuration) -> Equivalence:
    """The build's hash equivalence, in the records store ``BB_HASHSERVE`` names (none for ``""``); a value
    that names no store is an error at the line that set it."""
    from layerbuild.engine.hashequiv import Equivalence
    from layerbuild.util.recordstore import UnknownStore, open_store
    d = config.d
    try:
        store = open_store(d.getVar("BB_HASHSERVE") or "", config.topdir)
    except UnknownStore as exc:
        raise LayerbuildError(f"BB_HASHSERVE: {exc}",
                              d.location("BB_HASHSERVE") or Location(os.path.join(config.topdir, "conf", "local.conf")),
                              hint='set BB_HASHSERVE = "auto", a file://, s3:// or http(s):// URL, or "" to build '
                                   "without hash equivalence") from None
    return Equivalence(store)


def print_summaries(tg: TaskGraph, out: TextIO, default_task: str) -> None:
    """What a target recipe's ``BUILD_SUMMARY`` says after it was built (where its output is, what next)."""
    shown: set[tuple[str, str]] = set()
    for tid in tg.targets:
        if tid.task != default_task:
            continue
        text = tg.info(tid).var("BUILD_SUMMARY")
        if text and (tid.mc, tid.fn) not in shown:
            shown.add((tid.mc, tid.fn))
            out.write(text.replace("\\n", "\n").rstrip("\n") + "\n")
