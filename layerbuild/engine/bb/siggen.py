"""``bb.siggen``: BitBake's signature generator classes, for the layers that subclass them.

OE's ``oe.sstatesig`` derives its generators (``OEBasicHash``, ``OEEquivHash``) from these classes when
it is imported, and replaces ``find_siginfo``. layerbuild computes task signatures itself
(``layerbuild.engine.signatures``, compared with ``layerbuild-diffsigs``), so the classes carry
BitBake's names, bases and bookkeeping, and the methods that would compute or dump a hash say so.
"""

from __future__ import annotations

from typing import Any, NoReturn


def _not_here(what: str) -> NoReturn:
    raise NotImplementedError(f"bb.siggen: {what} is BitBake's signature generator; layerbuild computes task "
                              "signatures itself (compare two with layerbuild-diffsigs)")


class SignatureGenerator:
    """The ``noop`` generator: no hashes, only the bookkeeping its subclasses extend."""

    name = "noop"

    def __init__(self, data: Any = None) -> None:
        self.basehash: dict[str, str] = {}
        self.taskhash: dict[str, str] = {}
        self.unihash: dict[str, str] = {}
        self.runtaskdeps: dict[str, Any] = {}
        self.file_checksum_values: dict[str, Any] = {}
        self.taints: dict[str, str] = {}
        self.unitaskhashes: dict[str, Any] = {}
        self.tidtopn: dict[str, str] = {}
        self.setscenetasks: set[str] = set()

    def finalise(self, fn: str, d: Any, variant: str) -> None:
        return None

    def postparsing_clean_cache(self) -> None:
        return None

    def setup_datacache(self, datacaches: Any) -> None:
        self.datacaches = datacaches

    def get_taskdata(self) -> tuple[Any, ...]:
        return (self.runtaskdeps, self.taskhash, self.unihash, self.file_checksum_values, self.taints,
                self.basehash, self.unitaskhashes, self.tidtopn, self.setscenetasks)

    def set_taskdata(self, data: tuple[Any, ...]) -> None:
        (self.runtaskdeps, self.taskhash, self.unihash, self.file_checksum_values, self.taints, self.basehash,
         self.unitaskhashes, self.tidtopn, self.setscenetasks) = data

    def set_setscene_tasks(self, setscene_tasks: Any) -> None:
        self.setscenetasks = set(setscene_tasks)

    def get_taskhashes(self) -> tuple[Any, ...]:
        return self.taskhash, self.unihash, self.unitaskhashes, self.tidtopn

    def set_taskhashes(self, hashes: tuple[Any, ...]) -> None:
        self.taskhash, self.unihash, self.unitaskhashes, self.tidtopn = hashes

    def reset(self, data: Any) -> None:
        self.__init__(data)  # type: ignore[misc]

    def exit(self) -> None:
        return None

    def get_unihash(self, tid: str) -> str:
        return self.unihash.get(tid) or self.taskhash[tid]

    def get_unihashes(self, tids: Any) -> dict[str, str]:
        return {tid: self.get_unihash(tid) for tid in tids}

    def get_cached_unihash(self, tid: str) -> str | None:
        return None

    def prep_taskhash(self, tid: str, deps: Any, dataCaches: Any) -> None:
        return None

    def get_taskhash(self, tid: str, deps: Any, dataCaches: Any) -> str:
        _not_here("get_taskhash")

    def writeout_file_checksum_cache(self) -> None:
        return None

    def save_unitaskhashes(self) -> None:
        return None

    def stampfile_base(self, mcfn: str) -> str:
        _not_here("stampfile_base")

    def stampfile(self, stampbase: str, file_name: str, taskname: str, extrainfo: str) -> str:
        return f"{stampbase}.{taskname}.{extrainfo}".rstrip(".")

    def stampcleanmask(self, stampbase: str, file_name: str, taskname: str, extrainfo: str) -> str:
        return f"{stampbase}.{taskname}.{extrainfo}".rstrip(".")

    def dump_sigtask(self, mcfn: str, task: str, stampbase: str, runtime: Any) -> None:
        _not_here("dump_sigtask")

    def invalidate_task(self, task: str, mcfn: str) -> None:
        _not_here("invalidate_task")

    def dump_sigs(self, dataCache: Any, options: Any) -> None:
        _not_here("dump_sigs")


class SignatureGeneratorBasic(SignatureGenerator):
    name = "basic"

    def __init__(self, data: Any = None) -> None:
        super().__init__(data)
        self.basehash_ignore_vars = set((data.getVar("BB_BASEHASH_IGNORE_VARS") or "").split()) if data else set()
        self.init_rundepcheck(data)

    def init_rundepcheck(self, data: Any) -> None:
        return None

    def rundep_check(self, fn: str, recipename: str, task: str, dep: str, depname: str, dataCaches: Any) -> bool:
        return True

    def read_taint(self, fn: str, task: str, stampbase: str) -> str | None:
        try:
            with open(f"{stampbase}.{task}.taint") as fh:
                return fh.readline()
        except OSError:
            return None


class SignatureGeneratorBasicHash(SignatureGeneratorBasic):
    name = "basichash"

    def get_stampfile_hash(self, tid: str) -> str:
        return self.taskhash[tid] if tid in self.taskhash else self.basehash[tid]


class SignatureGeneratorUniHashMixIn:
    """Hash equivalence (a server maps task hashes to unified ones); layerbuild keeps its equivalence
    records in ``BB_HASHSERVE`` its own way."""

    def __init__(self, data: Any = None) -> None:
        self.extramethod: dict[str, str] = {}
        super().__init__(data)  # type: ignore[call-arg]

    def report_unihash(self, path: str, task: str, d: Any) -> None:
        _not_here("report_unihash")


class SignatureGeneratorTestEquivHash(SignatureGeneratorUniHashMixIn, SignatureGeneratorBasicHash):
    name = "TestEquivHash"


def init(d: Any) -> SignatureGenerator:
    """The generator ``BB_SIGNATURE_HANDLER`` names among the classes here (layers add theirs to this
    module), or the ``noop`` one."""
    wanted = d.getVar("BB_SIGNATURE_HANDLER") or "noop"
    for obj in list(globals().values()):
        if isinstance(obj, type) and issubclass(obj, SignatureGenerator) and obj.name == wanted:
            return obj(d)
    return SignatureGenerator(d)


def find_siginfo(pn: str, taskname: str, taskhashlist: Any, d: Any) -> dict[str, Any]:
    """BitBake's placeholder, which OE's library replaces: no signature files are known."""
    return {}


find_siginfo_version = 1


def dump_this_task(outfile: str, d: Any) -> None:
    _not_here("dump_this_task")


def compare_sigfiles(a: str, b: str, recursecb: Any = None, color: bool = False, collapsed: bool = False) -> Any:
    _not_here("compare_sigfiles")
