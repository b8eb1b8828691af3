"""BitBake's ``bb`` namespace as metadata and layer libraries use it (layerbuild/engine/bb/).

Each name is exercised from small metadata or a small Python module written for the test, and its
result compared with what BitBake's own implementation gives for the same input (worked out from its
source and documentation); where a real tool can check the result (zstd, a shell sourcing emitted
variables) it does.
"""

from __future__ import annotations

import io
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import Runner, make_build, make_layer

from layerbuild.engine.datastore import DataStore
from layerbuild.engine.evaluate import Evaluator, new_datastore
from layerbuild.engine.recipe import parse_recipe
from layerbuild.util.errors import FatalError, PythonError


def _bb() -> Any:
    return new_datastore().pyglobals["bb"]


def _recipe(tmp_path: Path, text: str, classes: dict[str, str] | None = None) -> DataStore:
    (tmp_path / "classes").mkdir(exist_ok=True)
    (tmp_path / "classes" / "base.bbclass").write_text("")
    for name, body in (classes or {}).items():
        (tmp_path / "classes" / f"{name}.bbclass").write_text(body)
    recipe = tmp_path / "recipe_1.0.bb"
    recipe.write_text(text)
    d = new_datastore()
    d.setVar("BBPATH", str(tmp_path))
    return parse_recipe(d, Evaluator(), str(recipe))


# -- the namespace itself ------------------------------------------------------------------------------


def test_bb_is_the_process_bb_and_a_builtin_with_os(tmp_path: Path) -> None:
    # a layer library imports bb's submodules by name and uses bb and os without importing them
    (tmp_path / "mylib.py").write_text(
        "import bb.utils\nfrom bb.utils import vercmp_string\nfrom bb import multiprocessing\n"
        "def words(d):\n    return bb.utils.contains('A', 'x', os.sep, '-', d) + str(vercmp_string('1', '2'))\n")
    d = new_datastore()
    d.setVar("A", "x y")
    sys.path.insert(0, str(tmp_path))
    try:
        import mylib  # type: ignore[import-not-found]
        assert mylib.words(d) == "/-1"
        assert mylib.bb is d.pyglobals["bb"] and sys.modules["bb.utils"] is d.pyglobals["bb"].utils
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("mylib", None)


def test_version_is_bitbakes_release() -> None:
    assert _bb().__version__ == "2.19.0"


def test_messages_join_their_arguments_as_bitbake(caplog: pytest.LogCaptureFixture) -> None:
    bb = _bb()
    logger = logging.getLogger("layerbuild")
    propagate, logger.propagate = logger.propagate, True  # (a command run earlier in this process set it)
    try:
        with caplog.at_level(logging.INFO, logger="layerbuild.metadata"):
            bb.note("a", "b")
            bb.warnonce("shown once by test_messages")
            bb.warnonce("shown once by test_messages")
    finally:
        logger.propagate = propagate
    assert [r.getMessage() for r in caplog.records] == ["ab", "shown once by test_messages"]
    with pytest.raises(FatalError) as stopped:
        bb.fatal("stop ", "here")
    assert stopped.value.message == "stop here"
    with pytest.raises(FatalError) as stopped:
        bb.msg.fatal("Domain", "why")
    assert stopped.value.message == "why"


# -- bb.data -------------------------------------------------------------------------------------------


def test_inherits_class(tmp_path: Path) -> None:
    d = _recipe(tmp_path, 'inherit foo\nA = "${@bb.data.inherits_class(\'foo\', d)}'
                          ' ${@bb.data.inherits_class(\'fo\', d)} ${@bb.data.inherits_class(\'bar\', d)}"\n',
                {"foo": "", "bar": ""})
    assert d.getVar("A") == "True False False"


def test_emit_var_writes_what_a_shell_reads_back() -> None:
    d = new_datastore()
    d.setVar("PLAIN", 'say "hi" for $5 `now`\nsecond line')
    d.setVarFlag("PLAIN", "export", "1")
    d.setVar("HIDDEN", "not exported")
    d.setVar("greet", "    echo hello from greet\n")
    d.setVarFlag("greet", "func", "1")
    out = io.StringIO()
    bb = _bb()
    assert bb.data.emit_var("PLAIN", out, d) is False
    assert bb.data.emit_var("HIDDEN", out, d) is False
    assert bb.data.emit_var("greet", out, d) is True
    text = out.getvalue()
    assert "HIDDEN" not in text and text.startswith('export PLAIN="say \\"hi\\" for \\$5 \\`now\\` \\\nsecond line"')
    shown = subprocess.run(["sh", "-c", text + '\nprintf "%s|" "$PLAIN"\ngreet'], capture_output=True, text=True,
                           check=True).stdout
    assert shown == 'say "hi" for $5 `now` second line|hello from greet\n'


def test_emit_func_writes_the_function_and_the_shell_functions_it_calls() -> None:
    d = new_datastore()
    for name, body in (("outer", "    inner\n"), ("inner", "    echo inner $X\n"), ("unused", "    exit 1\n")):
        d.setVar(name, body)
        d.setVarFlag(name, "func", "1")
    d.setVar("X", "exported")
    d.setVarFlag("X", "export", "1")
    out = io.StringIO()
    _bb().data.emit_func("outer", out, d)
    assert "unused" not in out.getvalue()
    ran = subprocess.run(["sh", "-c", out.getvalue() + "\nouter"], capture_output=True, text=True, check=True)
    assert ran.stdout == "inner exported\n"


# -- bb.utils ------------------------------------------------------------------------------------------


def test_filter_string_and_filter() -> None:
    bb = _bb()
    assert bb.utils.filter_string("c a b a", "a c z") == "a c"
    assert bb.utils.filter_string("", "a") == ""
    assert bb.utils.filter_string("a b", ["b"]) == "b"
    d = new_datastore()
    d.setVar("FEATURES", "x11 wayland opengl")
    assert bb.utils.filter("FEATURES", "opengl x11 vulkan", d) == "opengl x11"


def test_explode_deps_drops_versions() -> None:
    assert _bb().utils.explode_deps("a (>= 1.0) b c (< 2) (= 3)") == ["a", "b", "c"]


def test_explode_dep_versions2() -> None:
    bb = _bb()
    deps = bb.utils.explode_dep_versions2("zlib (>= 1.2) busybox (<< 2:1.0-r0) zlib (< 2) libc, base")
    assert list(deps.items()) == [("base", []), ("busybox", ["<< 2:1.0-r0"]), ("libc", []),
                                  ("zlib", [">= 1.2", "< 2"])]
    unsorted = bb.utils.explode_dep_versions2("b a (= 1)", sort=False)
    assert list(unsorted) == ["b", "a"]
    assert bb.utils.explode_dep_versions2("a ( >= 1.0 )") == {"a": [">= 1.0"]}
    with pytest.raises(bb.utils.VersionStringException, match="missing operator"):
        bb.utils.explode_dep_versions2("rtld (GNU_HASH)")


def test_join_deps_writes_back_what_explode_read() -> None:
    bb = _bb()
    text = "a (>= 1.0) b c (= 2) c (< 3)"
    deps = bb.utils.explode_dep_versions2(text, sort=False)
    assert bb.utils.join_deps(deps) == "a (>= 1.0), b, c (= 2), c (< 3)"
    assert bb.utils.join_deps(deps, commasep=False) == text
    assert bb.utils.join_deps(bb.utils.explode_dep_versions("x (= 1) y")) == "x (= 1), y"


@pytest.mark.parametrize(("a", "op", "b", "expected"), [
    ("1.0", "<", "1.0a", True), ("1.0~rc1", "<", "1.0", True), ("1:0.1", ">", "2.0", True),
    ("1.0-r1", ">>", "1.0-r0", True), ("1.0", "=", "1.0", True), ("1.0", "==", "1.00", True),
    ("1.2", "<=", "1.10", True), ("1.2", "!=", "1.2", False), ("1.10", "<<", "1.9", False),
])
def test_vercmp_string_op(a: str, op: str, b: str, expected: bool) -> None:
    assert _bb().utils.vercmp_string_op(a, b, op) is expected


def test_vercmp_string_op_refuses_an_unknown_operator() -> None:
    bb = _bb()
    with pytest.raises(bb.utils.VersionStringException, match='Unsupported comparison operator "~="'):
        bb.utils.vercmp_string_op("1", "2", "~=")


def test_which_and_file_layer(tmp_path: Path) -> None:
    bb = _bb()
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "tool").write_text("")
    path = f"{tmp_path}/a:{tmp_path}/b"
    assert bb.utils.which(path, "tool") == f"{tmp_path}/b/tool"
    assert bb.utils.which(path, "tool", executable=True) == ""
    assert bb.utils.which(path, "tool", history=True) == (f"{tmp_path}/b/tool", [f"{tmp_path}/a/tool",
                                                                                 f"{tmp_path}/b/tool"])
    d = new_datastore()
    d.setVar("BBFILE_COLLECTIONS", "outer inner")
    d.setVar("BBFILE_PATTERN_outer", f"^{tmp_path}/")
    d.setVar("BBFILE_PATTERN_inner", f"^{tmp_path}/b/")
    assert bb.utils.get_file_layer(f"{tmp_path}/b/conf/x.conf", d) == "inner"
    assert bb.utils.get_file_layer(f"{tmp_path}/a/x.conf", d) == "outer"
    assert bb.utils.get_file_layer("/elsewhere", d) is None


# -- bb.parse ------------------------------------------------------------------------------------------


def test_vardeps_decorators_mark_the_function() -> None:
    bb = _bb()

    @bb.parse.vardepsexclude("A", "B")
    @bb.parse.vardeps("C")
    def f() -> None:
        pass

    assert f.bb_vardepsexclude == {"A", "B"} and f.bb_vardeps == {"C"}  # type: ignore[attr-defined]


def test_mark_dependency_makes_the_parse_depend_on_the_file(tmp_path: Path) -> None:
    extra = tmp_path / "extra.txt"
    d = _recipe(tmp_path, f'python () {{\n    bb.parse.mark_dependency(d, "{extra}")\n}}\n')
    assert str(extra) in d.file_depends and bb_parse_depends(d, str(extra))


def bb_parse_depends(d: DataStore, path: str) -> bool:
    return bool(d.pyglobals["bb"].parse.check_dependency(d, path))


def test_a_file_marked_as_a_dependency_parses_the_recipe_again_when_it_changes(tmp_path: Path) -> None:
    extra = tmp_path / "settings.txt"
    extra.write_text("one\n")
    recipe = (f'python () {{\n    bb.parse.mark_dependency(d, "{extra}")\n'
              f'    d.setVar("SETTING", open("{extra}").read().strip())\n}}\n')
    build = make_build(tmp_path, [make_layer(tmp_path, "marked", {"recipes/foo/foo_1.0.bb": recipe})])

    def parse() -> str:
        return subprocess.run([sys.executable, "-m", "layerbuild.cli", "-B", str(build), "-p"], check=True,
                              capture_output=True, text=True).stdout

    assert "(0 cached," in parse()
    assert " 0 parsed)" in parse()
    extra.write_text("two\n")
    assert " 1 parsed)" in parse()  # the recipe that marked it, and no other


# -- bb.build ------------------------------------------------------------------------------------------


def test_tasksbetween_follows_the_dependency_chains(tmp_path: Path) -> None:
    d = _recipe(tmp_path, "addtask unpack\naddtask patch after do_unpack\naddtask prepare after do_unpack\n"
                          "addtask configure after do_patch do_prepare\naddtask install after do_unpack\n"
                          "addtask compile after do_configure\n"
                          "python () {\n    d.setVar('BETWEEN', ' '.join(bb.build.tasksbetween('do_unpack', "
                          "'do_configure', d)))\n"
                          "    d.setVar('BEFORE', ' '.join(sorted(bb.build.preceedtask('do_configure', False, d))))\n"
                          "}\n")
    assert d.getVar("BETWEEN").split() == ["do_unpack", "do_patch", "do_configure", "do_prepare"]
    assert d.getVar("BEFORE") == "do_patch do_prepare"


# -- bb.event ------------------------------------------------------------------------------------------


def test_event_classes_have_bitbakes_constructors_and_fire_reaches_masked_handlers(tmp_path: Path) -> None:
    handler = ("python on_check() {\n    if isinstance(e, bb.event.SanityCheck):\n"
               "        d.setVar('SEEN', 'check %s %s' % (e.generateevents, e.data is d))\n"
               "    elif isinstance(e, bb.event.MultiConfigParsed):\n"
               "        d.setVar('SEEN', 'mc ' + ' '.join(sorted(e.mcdata)))\n}\n"
               "on_check[eventmask] = 'bb.event.SanityCheck bb.event.MultiConfigParsed'\naddhandler on_check\n")
    d = _recipe(tmp_path, handler + "python () {\n    bb.event.fire(bb.event.SanityCheck(False), d)\n}\n")
    assert d.getVar("SEEN") == "check False True"
    bb = d.pyglobals["bb"]
    bb.event.fire(bb.event.MultiConfigParsed({"b": d, "a": d}), d)
    assert d.getVar("SEEN") == "mc a b"
    # a class outside the mask does not reach it
    bb.event.fire(bb.event.SanityCheckFailed("no"), d)
    assert d.getVar("SEEN") == "mc a b"
    assert bb.event.getName(bb.event.SanityCheckFailed("x")) == "SanityCheckFailed"
    assert isinstance(bb.build.TaskSucceeded("do_x", "f.bb", None, d), bb.event.Event)


# -- bb.fetch2 -----------------------------------------------------------------------------------------


def test_uri_reads_and_writes_bitbakes_urls() -> None:
    fetch2 = _bb().fetch2
    uri = fetch2.URI("https://user:secret@example.com:8443/dl/my%20file.tar.gz?a=1&b;name=src;subdir=x")
    assert (uri.scheme, uri.username, uri.password, uri.hostname, uri.port) == ("https", "user", "secret",
                                                                               "example.com", 8443)
    assert (uri.hostport, uri.path, uri.relative) == ("example.com:8443", "/dl/my file.tar.gz", False)
    assert uri.params == {"name": "src", "subdir": "x"} and uri.query == {"a": "1", "b": None}
    assert str(uri) == "https://user:secret@example.com:8443/dl/my%20file.tar.gz?a=1&b;name=src;subdir=x"
    local = fetch2.URI("file://patches/fix.patch;striplevel=2")
    assert (local.scheme, local.hostname, local.path, local.relative) == ("file", "", "patches/fix.patch", True)
    assert str(local) == "file:patches/fix.patch;striplevel=2"
    assert fetch2.URI("git:///srv/repo.git").path == "/srv/repo.git"
    built = fetch2.URI()
    built.scheme, built.hostname, built.path = "http", "h", "/p"
    built.params = {"name": "n"}
    assert str(built) == "http://h/p;name=n"
    assert fetch2.decodeurl("git://host/path;branch=main") == ("git", "host", "/path", "", "", {"branch": "main"})
    assert fetch2.encodeurl(("file", "", "a//b.patch", "", "", {})) == "file://a/b.patch"
    assert _bb().fetch is fetch2


def test_get_autorev_marks_the_recipe_uncacheable(tmp_path: Path) -> None:
    d = _recipe(tmp_path, 'AUTOREV = "${@bb.fetch2.get_autorev(d)}"\nSRCREV = "${AUTOREV}"\n'
                          'python () {\n    d.setVar("REV", d.getVar("SRCREV"))\n}\n')
    assert d.getVar("REV") == "AUTOINC" and d.getVar("BB_DONT_CACHE") == "1"
    assert d.getVar("__BBAUTOREV_SEEN", False) is True
    cached = _recipe(tmp_path, 'BB_SRCREV_POLICY = "cache"\nREV = "${@bb.fetch2.get_autorev(d)}"\n')
    assert cached.getVar("REV") == "AUTOINC" and cached.getVar("BB_DONT_CACHE") is None


# -- bb.process, bb.siggen, bb.compress.zstd, bb.multiprocessing ---------------------------------------


def test_process_run_returns_output_and_raises_bitbakes_errors(tmp_path: Path) -> None:
    process = _bb().process
    assert process.run(["sh", "-c", "echo out; echo err >&2"]) == ("out\n", "err\n")
    assert process.run("echo $((1+2)); pwd", cwd=str(tmp_path)) == (f"3\n{tmp_path}\n", "")
    assert process.run(["sh", "-c", "echo a; echo b >&2"], stderr=subprocess.STDOUT) == ("a\nb\n", None)
    assert process.run(["cat"], input="fed") == ("fed", "")
    with pytest.raises(process.ExecutionError) as failed:
        process.run(["sh", "-c", "echo bad >&2; exit 3"])
    assert failed.value.exitcode == 3 and failed.value.stderr == "bad\n"
    assert str(failed.value) == "Execution of 'sh -c 'echo bad >&2; exit 3'' failed with exit code 3:\nbad\n"
    with pytest.raises(process.NotFoundError, match="command not found"):
        process.run(["/nonexistent/tool"])


def test_siggen_classes_take_oes_subclasses() -> None:
    bb = _bb()

    class Locked:
        def get_taskdata(self) -> Any:
            return ("locked",) + super().get_taskdata()  # type: ignore[misc]

    class Generator(Locked, bb.siggen.SignatureGeneratorUniHashMixIn, bb.siggen.SignatureGeneratorBasicHash):
        name = "TestGenerator"

    bb.siggen.TestGenerator = Generator
    try:
        d = new_datastore()
        d.setVar("BB_SIGNATURE_HANDLER", "TestGenerator")
        generator = bb.siggen.init(d)
        assert isinstance(generator, Generator) and generator.get_taskdata()[0] == "locked"
        d.setVar("BB_SIGNATURE_HANDLER", "unknown")
        assert type(bb.siggen.init(d)) is bb.siggen.SignatureGenerator
    finally:
        del bb.siggen.TestGenerator
    with pytest.raises(NotImplementedError, match="layerbuild computes task signatures itself"):
        generator.get_taskhash("f.bb:do_x", [], None)
    assert getattr(bb.parse.siggen, "report_unihash", None) is None


def test_compress_zstd_writes_what_zstd_reads(tmp_path: Path) -> None:
    zstd = _bb().compress.zstd
    target = tmp_path / "data.json.zst"
    with zstd.open(target, "wt", encoding="utf-8", num_threads=2) as fh:
        fh.write('{"ü": 1}\n')
    assert subprocess.run(["zstd", "-dc", str(target)], capture_output=True, check=True).stdout.decode() == \
        '{"ü": 1}\n'
    with zstd.open(target, "rt", encoding="utf-8") as fh:
        assert fh.read() == '{"ü": 1}\n'
    with zstd.open(target) as fh:  # binary unless "t"
        assert fh.read() == '{"ü": 1}\n'.encode()


def test_multiprocessing_forks() -> None:
    multiprocessing = _bb().multiprocessing
    assert multiprocessing.get_start_method() == "fork"
    seen = []

    def child(queue: Any) -> None:
        queue.put(len(seen) + 41)  # a closure: only a forked child can run it

    seen.append(1)
    queue = multiprocessing.Queue()
    proc = multiprocessing.Process(target=child, args=(queue,))
    proc.start()
    assert queue.get(timeout=30) == 42
    proc.join()
    with pytest.raises(AttributeError):
        multiprocessing.Pool = None


def test_a_task_time_name_says_so_when_called_while_parsing(tmp_path: Path) -> None:
    with pytest.raises(PythonError, match="write_taint: a task is forced to run again with layerbuild -f"):
        _recipe(tmp_path, "python () {\n    bb.build.write_taint('do_compile', d)\n}\n")


def test_fetch_with_no_urls_takes_src_uri(tmp_path: Path, lb: Runner) -> None:
    # BitBake's Fetch([], d) is the recipe's whole SRC_URI (OE's src_patches relies on it)
    recipe = ('SRC_URI = "file://a.cfg file://fix.patch;striplevel=0"\n'
              "CFGS = \"${@' '.join(os.path.basename(bb.fetch2.Fetch([], d).localpath(u)) "
              "for u in bb.fetch2.Fetch([], d).urls)}\"\n")
    layer = make_layer(tmp_path, "fetchall", {"recipes/foo/foo_1.0.bb": recipe, "recipes/foo/files/a.cfg": "",
                                              "recipes/foo/files/fix.patch": ""})
    status, out, err = lb("-B", str(make_build(tmp_path, [layer])), "-e", "foo")
    assert status == 0, err
    assert 'CFGS="a.cfg fix.patch"' in out.splitlines()


@pytest.mark.parametrize("name", ["md5", "sha1", "sha256", "sha384", "sha512"])
def test_file_digests_match_coreutils(tmp_path: Path, name: str) -> None:
    target = tmp_path / "data"
    target.write_bytes(b"\x00payload\n" * 10000)
    expected = subprocess.run([f"{name}sum", str(target)], capture_output=True, text=True, check=True).stdout.split()[0]
    assert getattr(_bb().utils, f"{name}_file")(str(target)) == expected
