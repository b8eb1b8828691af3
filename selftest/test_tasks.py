"""The task engine on a mini layer whose tasks append ``recipe:task`` to a log.

Order and parallelism, cross-recipe flags, -c/-f/-k/-n/-g, signatures deciding exactly what reruns,
sstate restore into a fresh TMPDIR, corrupt sstate objects, and the build directory lock.
"""

from __future__ import annotations

import fcntl
import os
import select
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import CORE, Runner, make_build, make_layer, processes_in

LOGTASKS = r'''
INHIBIT_DEFAULT_DEPS = "1"
deltask do_prepare_recipe_sysroot
TASKLOG = "${TOPDIR}/tasks.log"
TASKLOG[doc] = "where the mini layer's tasks record themselves"
B = "${WORKDIR}/build"
SSTATETASKS += "do_populate_sysroot do_package_write_deb"

logtask() {
    ( flock 9; echo "${PN}:$1 start $(date +%s.%N)" >> ${TASKLOG} ) 9>>${TASKLOG}.lock
    sleep ${TASK_SLEEP}
    ( flock 9; echo "${PN}:$1 end $(date +%s.%N)" >> ${TASKLOG} ) 9>>${TASKLOG}.lock
}
TASK_SLEEP ?= "0"
logtask[vardepsexclude] = "TASK_SLEEP"

do_fetch() {
    logtask do_fetch
}
do_unpack() {
    logtask do_unpack
}
do_patch() {
    logtask do_patch
}
do_configure() {
    logtask do_configure
}
do_compile() {
    logtask do_compile
    echo "${MSG}" > ${B}/out.txt
}
do_install() {
    logtask do_install
    mkdir -p ${D}/usr/share/${PN}
    cp ${B}/out.txt ${D}/usr/share/${PN}/
}
do_populate_sysroot() {
    logtask do_populate_sysroot
    rm -rf ${SYSROOT_DESTDIR}
    mkdir -p ${SYSROOT_DESTDIR}
    cp -a ${D}/. ${SYSROOT_DESTDIR}/
}
do_package() {
    logtask do_package
}
do_package_write_deb() {
    logtask do_package_write_deb
    mkdir -p ${WORKDIR}/deploy-debs
    echo "${PN} ${MSG}" > ${WORKDIR}/deploy-debs/${PN}.txt
}
do_compile[dirs] = "${B}"
do_install[cleandirs] = "${D}"
do_package_write_deb[cleandirs] = "${WORKDIR}/deploy-debs"
do_populate_sysroot[sstate-inputdirs] = "${SYSROOT_DESTDIR}"
do_populate_sysroot[sstate-outputdirs] = "${TMPDIR}/sysroots-components/${PN}"
do_package_write_deb[sstate-inputdirs] = "${WORKDIR}/deploy-debs"
do_package_write_deb[sstate-outputdirs] = "${DEPLOY_DIR}/fake-debs"
do_configure[deptask] = "do_populate_sysroot"
do_package_write_deb[rdeptask] = "do_package"
'''


def _layer(tmp_path: Path, recipes: dict[str, str], cls: str = LOGTASKS) -> Path:
    files = {"classes/logtasks.bbclass": cls}
    files.update(recipes)
    layer = make_layer(tmp_path, "tasks", files)
    return make_build(tmp_path, [layer])


def _chain(tmp_path: Path, n: int = 3, extra: str = "") -> Path:
    recipes = {}
    for i in range(n):
        dep = f'DEPENDS = "r{i - 1}"\n' if i else ""
        recipes[f"recipes/r{i}/r{i}_1.0.bb"] = f'inherit logtasks\n{dep}MSG = "hello {i}"\n{extra}'
    return _layer(tmp_path, recipes)


def _log(build: Path) -> list[tuple[str, str, float]]:
    path = build / "tasks.log"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        label, what, when = line.split()
        out.append((label, what, float(when)))
    return out


def _ran(build: Path) -> list[str]:
    return [label for label, what, _ in _log(build) if what == "end"]


def _reset_log(build: Path) -> None:
    (build / "tasks.log").unlink(missing_ok=True)


def test_order_follows_the_graph(tmp_path: Path, lb: Runner) -> None:
    build = _chain(tmp_path)
    status, out, err = lb("-B", str(build), "r2")
    assert status == 0, err
    events = _log(build)
    start = {label: t for label, what, t in events if what == "start"}
    end = {label: t for label, what, t in events if what == "end"}
    chain = ["do_fetch", "do_unpack", "do_patch", "do_configure", "do_compile", "do_install", "do_populate_sysroot"]
    for pn in ("r0", "r1", "r2"):
        for a, b in zip(chain, chain[1:], strict=False):
            assert end[f"{pn}:{a}"] <= start[f"{pn}:{b}"], (pn, a, b)
    # [deptask] over DEPENDS: r1 configures only after r0's sysroot is populated
    assert end["r0:do_populate_sysroot"] <= start["r1:do_configure"]
    assert end["r1:do_populate_sysroot"] <= start["r2:do_configure"]
    assert (build / "tmp/sysroots-components/r1/usr/share/r1/out.txt").read_text() == "hello 1\n"
    assert "Build succeeded" in err


def test_independent_tasks_run_in_parallel(tmp_path: Path, lb: Runner) -> None:
    recipes = {f"recipes/p{i}/p{i}_1.0.bb": 'inherit logtasks\nMSG = "x"\nTASK_SLEEP = "0.6"\n' for i in range(2)}
    build = _layer(tmp_path, recipes)
    status, _, err = lb("-B", str(build), "-j", "2", "p0:do_fetch", "p1:do_fetch")
    assert status == 0, err
    events = {(label, what): t for label, what, t in _log(build)}
    assert events[("p0:do_fetch", "start")] < events[("p1:do_fetch", "end")]
    assert events[("p1:do_fetch", "start")] < events[("p0:do_fetch", "end")]
    _reset_log(build)
    status, _, err = lb("-B", str(build), "-j", "1", "-f", "p0:do_fetch", "p1:do_fetch")
    assert status == 0, err
    events = {(label, what): t for label, what, t in _log(build)}
    first, second = sorted(["p0:do_fetch", "p1:do_fetch"], key=lambda k: events[(k, "start")])
    assert events[(first, "end")] <= events[(second, "start")]


def test_unchanged_rebuild_runs_nothing_and_changed_variable_reruns_exactly_its_dependents(
        tmp_path: Path, lb: Runner) -> None:
    build = _chain(tmp_path)
    assert lb("-B", str(build), "r2")[0] == 0
    _reset_log(build)
    status, _, err = lb("-B", str(build), "r2")
    assert status == 0 and _ran(build) == []
    assert "0 tasks run" in err
    # MSG is read by do_compile (and do_package_write_deb): r1 rebuilds from do_compile, r2 from do_configure;
    # building r2 writes the packages of its whole closure, so r1's packages are written again too. r2's
    # do_package gives the output it gave before (hash equivalence): r2's package archive keeps its hash
    recipe = build.parent / "meta-tasks/recipes/r1/r1_1.0.bb"
    recipe.write_text(recipe.read_text().replace('"hello 1"', '"changed"'))
    status, _, err = lb("-B", str(build), "r2")
    assert status == 0, err
    assert sorted(_ran(build)) == sorted([
        "r1:do_compile", "r1:do_install", "r1:do_populate_sysroot", "r1:do_package", "r1:do_package_write_deb",
        "r2:do_configure", "r2:do_compile", "r2:do_install", "r2:do_populate_sysroot", "r2:do_package"])
    assert "r2:do_package: unihash" in err
    assert (build / "tmp/sysroots-components/r1/usr/share/r1/out.txt").read_text() == "changed\n"


def test_ignored_and_excluded_variables_rerun_nothing(tmp_path: Path, lb: Runner) -> None:
    build = _chain(tmp_path, extra='IGNORED_THING = "1"\n')
    local = build / "conf/local.conf"
    local.write_text(local.read_text() + 'BB_BASEHASH_IGNORE_VARS:append = " IGNORED_THING"\n')
    assert lb("-B", str(build), "r2")[0] == 0
    for recipe in (build.parent / "meta-tasks/recipes").glob("*/*.bb"):
        recipe.write_text(recipe.read_text().replace('IGNORED_THING = "1"', 'IGNORED_THING = "2"\nTASK_SLEEP = "0"'))
    _reset_log(build)
    status, _, err = lb("-B", str(build), "r2")
    assert status == 0 and _ran(build) == [], err


def test_sstate_restores_into_fresh_tmpdir_with_no_task_run(tmp_path: Path, lb: Runner) -> None:
    build = _chain(tmp_path)
    assert lb("-B", str(build), "r2")[0] == 0
    deployed = (build / "tmp/deploy/fake-debs/r2.txt").read_text()
    shutil.rmtree(build / "tmp")
    _reset_log(build)
    status, _, err = lb("-B", str(build), "r2")
    assert status == 0, err
    assert _ran(build) == []
    assert "restored from sstate" in err and "Restored r2:do_package_write_deb from sstate" in err
    assert (build / "tmp/deploy/fake-debs/r2.txt").read_text() == deployed
    assert (build / "tmp/sysroots-components/r2/usr/share/r2/out.txt").read_text() == "hello 2\n"
    # what the target did not need is not restored
    assert not (build / "tmp/sysroots-components/r0").exists()


def test_corrupt_sstate_object_is_rebuilt(tmp_path: Path, lb: Runner) -> None:
    build = _chain(tmp_path, n=1)
    assert lb("-B", str(build), "r0")[0] == 0
    objects = sorted((build / "sstate-cache").rglob("*do_populate_sysroot.tar.zst"))
    assert len(objects) == 1
    data = objects[0].read_bytes()
    objects[0].write_bytes(data[: len(data) // 2])
    shutil.rmtree(build / "tmp")
    _reset_log(build)
    status, _, err = lb("-B", str(build), "r0")
    assert status == 0, err
    assert "is corrupt (checksum mismatch)" in err
    assert "r0:do_populate_sysroot" in _ran(build)
    assert (build / "tmp/sysroots-components/r0/usr/share/r0/out.txt").read_text() == "hello 0\n"
    # the rebuilt object replaced the corrupt one
    shutil.rmtree(build / "tmp")
    _reset_log(build)
    assert lb("-B", str(build), "r0")[0] == 0 and _ran(build) == []


def test_sstate_mirror_is_used(tmp_path: Path, lb: Runner) -> None:
    build = _chain(tmp_path, n=1)
    assert lb("-B", str(build), "r0")[0] == 0
    mirror = tmp_path / "mirror"
    shutil.move(str(build / "sstate-cache"), mirror)
    shutil.rmtree(build / "tmp")
    local = build / "conf/local.conf"
    local.write_text(local.read_text() + f'SSTATE_MIRRORS = "file://.* file://{mirror}/PATH"\n')
    _reset_log(build)
    status, _, err = lb("-B", str(build), "r0")
    assert status == 0 and _ran(build) == [], err


def test_c_f_n_and_recipe_task_targets(tmp_path: Path, lb: Runner) -> None:
    build = _chain(tmp_path, n=2)
    status, _, err = lb("-B", str(build), "-c", "compile", "r1")
    assert status == 0, err
    assert "r1:do_compile" in _ran(build) and "r1:do_install" not in _ran(build)
    _reset_log(build)
    status, out, _ = lb("-B", str(build), "-n", "r1:do_install")
    assert status == 0 and _ran(build) == []
    assert out.splitlines() == ["Dry run: 1 tasks would run, 0 would be restored from sstate, 1 are up to date.",
                                "  run      r1:do_install"]
    status, _, err = lb("-B", str(build), "-f", "-c", "compile", "r1")
    assert status == 0 and _ran(build) == ["r1:do_compile"], err
    _reset_log(build)
    # -f taints the task: what depends on it runs again
    status, _, err = lb("-B", str(build), "r1:do_install")
    assert status == 0 and _ran(build) == ["r1:do_install"], err


def test_task_override_and_nostamp_tasks_leave_no_stamp(tmp_path: Path, lb: Runner) -> None:
    extra = textwrap.dedent('''\
        WHO = "any task"
        WHO:task-compile = "the compile task"
        WHO:task-say-it = "say_it"
        T:task-say-it = "${TOPDIR}/say-logs"
        do_compile:append() {
            echo "${WHO}" > ${TOPDIR}/compile.who
        }
        python do_say_it() {
            bb.note("WHO=" + d.getVar("WHO"))
        }
        do_say_it[nostamp] = "1"
        addtask say_it
        ''')
    build = _chain(tmp_path, n=1, extra=extra)
    status, _, err = lb("-B", str(build), "r0:do_compile", "r0:do_say_it")
    assert status == 0, err
    # BitBake's task-<name> override applies while that task runs, and only then
    assert (build / "compile.who").read_text() == "the compile task\n"
    assert "WHO=say_it" in (build / "say-logs/log.do_say_it").read_text()
    stamps = os.listdir(build / "tmp/stamps/x86_64/r0")
    assert any(".do_compile." in name for name in stamps)
    assert not [name for name in stamps if "do_say_it" in name]  # nostamp: neither stamp nor sigdata


def test_k_continues_with_independent_tasks(tmp_path: Path, lb: Runner) -> None:
    recipes = {
        "recipes/bad/bad_1.0.bb": 'inherit logtasks\nMSG = "x"\ndo_compile:append() {\n    echo "compiler says no" >&2\n    false\n}\n',
        "recipes/good/good_1.0.bb": 'inherit logtasks\nMSG = "y"\nTASK_SLEEP = "0.3"\n',
    }
    build = _layer(tmp_path, recipes)
    status, _, err = lb("-B", str(build), "-k", "bad", "good")
    assert status == 1
    assert "ERROR: Task bad:do_compile failed" in err and "| compiler says no" in err
    assert f"Logfile of failure stored in: {build}/tmp/work/x86_64/bad/1.0-r0/temp/log.do_compile." in err
    assert "good:do_populate_sysroot" in _ran(build)
    assert "bad:do_install" not in _ran(build)
    assert "Build failed" in err
    _reset_log(build)
    shutil.rmtree(build / "tmp")
    status, _, err = lb("-B", str(build), "bad", "good")
    assert status == 1
    assert "good:do_populate_sysroot" not in _ran(build)
    temp = build / "tmp/work/x86_64/bad/1.0-r0/temp"
    assert (temp / "log.do_compile").is_symlink() and (temp / "run.do_compile").is_symlink()
    rerun = subprocess.run(["/bin/sh", str(temp / "run.do_compile")], capture_output=True, text=True)
    assert rerun.returncode != 0 and "compiler says no" in rerun.stderr


def test_graphviz_output(tmp_path: Path, lb: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    build = _chain(tmp_path, n=2)
    monkeypatch.chdir(tmp_path)
    status, out, err = lb("-B", str(build), "-g", "r1")
    assert status == 0, err
    dot = (tmp_path / "task-depends.dot").read_text()
    assert '"r1.do_configure" -> "r0.do_populate_sysroot"' in dot
    assert '"r1.do_compile" -> "r1.do_configure"' in dot
    assert (tmp_path / "pn-buildlist").read_text() == "r0\nr1\n"
    assert _ran(build) == []


def test_cross_recipe_flags(tmp_path: Path, lb: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    recipes = {
        "recipes/lib/lib_1.0.bb": 'inherit logtasks\nMSG = "lib"\nPACKAGES = "lib lib-extra"\nRPROVIDES:lib = "virtual-lib"\n',
        "recipes/tool/tool_1.0.bb": 'inherit logtasks\nMSG = "tool"\n',
        "recipes/app/app_1.0.bb": ('inherit logtasks\nMSG = "app"\nPACKAGES = "app"\nRDEPENDS:app = "virtual-lib"\n'
                                   'do_compile[depends] += "tool:do_install"\n'
                                   'addtask collect after do_install before do_build\n'
                                   'do_collect() {\n    logtask do_collect\n}\n'
                                   'do_collect[recrdeptask] = "do_package"\n'),
    }
    build = _layer(tmp_path, recipes)
    monkeypatch.chdir(tmp_path)
    assert lb("-B", str(build), "-g", "app")[0] == 0
    dot = (tmp_path / "task-depends.dot").read_text()
    assert '"app.do_compile" -> "tool.do_install"' in dot  # [depends]
    assert '"app.do_package_write_deb" -> "lib.do_package"' in dot  # [rdeptask] through RPROVIDES
    assert '"app.do_collect" -> "lib.do_package"' in dot  # [recrdeptask] over runtime deps
    assert '"app.do_collect" -> "app.do_package"' in dot
    status, _, err = lb("-B", str(build), "app")
    assert status == 0, err
    ran = _ran(build)
    assert ran.index("tool:do_install") < ran.index("app:do_compile")
    assert ran.index("lib:do_package") < ran.index("app:do_collect")


def test_build_lock_makes_a_second_build_wait(tmp_path: Path) -> None:
    build = _chain(tmp_path, n=1)
    env = dict(os.environ, PYTHONPATH=CORE)
    with open(build / "layerbuild.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        fh.write("4242\n")
        fh.flush()
        proc = subprocess.Popen([sys.executable, "-m", "layerbuild.cli", "-B", str(build), "r0"],
                                stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
        # however long the second build takes to start (a loaded machine), it says it waits, and does
        assert proc.stderr is not None
        said = ""
        deadline = time.monotonic() + 120
        while "waiting" not in said and time.monotonic() < deadline:
            ready, _, _ = select.select([proc.stderr], [], [], max(0.0, deadline - time.monotonic()))
            line = proc.stderr.readline() if ready else ""
            if not line:
                break
            said += line
        assert "Another layerbuild (pid 4242)" in said and "waiting" in said, said
        time.sleep(0.2)
        assert proc.poll() is None, "the second build did not wait for the lock"
        assert not (build / "tasks.log").exists()
        fcntl.flock(fh, fcntl.LOCK_UN)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, said + err
    assert "r0:do_compile" in _ran(build)


def test_signature_flags(tmp_path: Path, lb: Runner) -> None:
    recipe = ('inherit logtasks\nMSG = "m"\nMYVARS = "FOO"\nFOO = "1"\nBAR = "1"\n'
              'VALUE = "keep-${BAR}"\nVALUE[vardepvalue] = "fixed"\n'
              'do_hello() {\n    logtask do_hello\n    echo ${VALUE}\n}\n'
              'do_hello[vardeps] = "${MYVARS}"\n'
              'do_hello[file-checksums] = "${THISDIR}/files/input.txt:True"\n'
              'addtask hello\n')
    build = _layer(tmp_path, {"recipes/s/s_1.0.bb": recipe, "recipes/s/files/input.txt": "one\n"})
    path = build.parent / "meta-tasks/recipes/s/s_1.0.bb"
    assert lb("-B", str(build), "s:do_hello")[0] == 0
    # [vardeps] is expanded: FOO, named through MYVARS, is a dependency
    path.write_text(path.read_text().replace('FOO = "1"', 'FOO = "2"'))
    _reset_log(build)
    assert lb("-B", str(build), "s:do_hello")[0] == 0 and _ran(build) == ["s:do_hello"]
    # [vardepvalue] stands for the value: what the real value references does not count
    path.write_text(path.read_text().replace('BAR = "1"', 'BAR = "2"'))
    _reset_log(build)
    assert lb("-B", str(build), "s:do_hello")[0] == 0 and _ran(build) == []
    # a [file-checksums] file changing reruns the task, although no metadata file changed
    (build.parent / "meta-tasks/recipes/s/files/input.txt").write_text("two\n")
    _reset_log(build)
    status, _, err = lb("-B", str(build), "s:do_hello")
    assert status == 0 and _ran(build) == ["s:do_hello"], err
    status, out, _ = lb("-B", str(build), "-n", "-f", "s:do_hello")
    assert status == 0 and "run      s:do_hello" in out
    # a dry run changes nothing
    assert not list((build / "tmp/stamps").rglob("*.taint"))
    _reset_log(build)
    assert lb("-B", str(build), "s:do_hello")[0] == 0 and _ran(build) == []


def test_prefuncs_postfuncs_lockfiles_and_diffsigs(tmp_path: Path, lb: Runner) -> None:
    recipe = ('inherit logtasks\nMSG = "m"\n'
              'pre_step() {\n    logtask pre_step\n}\n'
              'post_step() {\n    logtask post_step\n}\n'
              'do_compile[prefuncs] += "pre_step"\ndo_compile[postfuncs] += "post_step"\n'
              'do_compile[lockfiles] = "${TOPDIR}/compile.lock"\n')
    build = _layer(tmp_path, {"recipes/f/f_1.0.bb": recipe})
    status, _, err = lb("-B", str(build), "f:do_compile")
    assert status == 0, err
    ran = _ran(build)
    assert ran.index("f:pre_step") < ran.index("f:do_compile") < ran.index("f:post_step")
    assert (build / "compile.lock").exists()
    # why did it rebuild? -S explains, down to the variable
    path = build.parent / "meta-tasks/recipes/f/f_1.0.bb"
    path.write_text(path.read_text().replace('MSG = "m"', 'MSG = "changed"'))
    status, out, err = lb("-B", str(build), "-S", "f:do_compile")
    assert status == 0, err
    assert "variable MSG changed: 'm' -> 'changed'" in out
    old = sorted((build / "tmp/stamps").rglob("*.do_compile.sigdata.*"))
    assert lb("-B", str(build), "f:do_compile")[0] == 0
    new = sorted((build / "tmp/stamps").rglob("*.do_compile.sigdata.*"))
    first, second = old[0], next(p for p in new if p not in old)
    r = subprocess.run([sys.executable, "-c", "import sys; from layerbuild.cli import diffsigs_main; sys.exit(diffsigs_main())",
                        str(first), str(second)], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=CORE))
    assert r.returncode == 0 and "variable MSG changed: 'm' -> 'changed'" in r.stdout, r.stderr


def test_ctrl_c_stops_running_tasks_and_exits_130(tmp_path: Path) -> None:
    import signal
    recipe = 'inherit logtasks\nMSG = "m"\ndo_compile:append() {\n    sleep 30\n}\n'
    build = _layer(tmp_path, {"recipes/c/c_1.0.bb": recipe})
    env = dict(os.environ, PYTHONPATH=CORE)
    proc = subprocess.Popen([sys.executable, "-m", "layerbuild.cli", "-B", str(build), "c"],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "c:do_compile start" not in (
            (build / "tasks.log").read_text() if (build / "tasks.log").exists() else ""):
        time.sleep(0.1)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "Build interrupted" in err
    assert not list((build / "tmp/stamps").rglob("*.do_compile.*[0-9a-f]")), "an interrupted task was stamped"
    assert not processes_in(build), "task processes were left running"


def test_rich_progress_on_a_terminal(tmp_path: Path) -> None:
    import pty
    build = _chain(tmp_path, n=1)
    env = dict(os.environ, PYTHONPATH=CORE, TERM="xterm", COLUMNS="120")
    main, child = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "layerbuild.cli", "-B", str(build), "r0"], stdin=child,
                            stdout=child, stderr=child, env=env, close_fds=True)
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(main)
    text = b"".join(chunks).decode("utf-8", "replace")
    assert proc.returncode == 0, text
    assert "Tasks" in text and "Build succeeded" in text
    assert "NOTE: Running task" not in text  # the plain reporter is for pipes and logs


def test_dump_signatures_follows_a_changed_dependency_to_its_variable(tmp_path: Path, lb: Runner) -> None:
    build = _chain(tmp_path, n=2)
    assert lb("-B", str(build), "r1")[0] == 0
    recipe = build.parent / "meta-tasks/recipes/r0/r0_1.0.bb"
    recipe.write_text(recipe.read_text().replace('"hello 0"', '"changed"'))
    status, out, err = lb("-B", str(build), "-S", "r1:do_configure")
    assert status == 0, err
    lines = out.splitlines()
    first = next(i for i, line in enumerate(lines) if "task dependency r0:do_populate_sysroot changed its hash" in line)
    below = lines[first + 1:]
    assert any(line.startswith("    ") and "variable MSG changed: 'hello 0' -> 'changed'" in line for line in below), out


def _sig(values: dict[str, str], deps: list[tuple[str, str, str]], taskhash: str = "t" * 64,
         files: tuple[tuple[str, str | None], ...] = ()) -> dict[str, object]:
    from layerbuild.engine.signatures import DepHash, TaskSignature
    from layerbuild.engine.taskgraph import TaskId
    sig = TaskSignature("do_compile", "b" * 64, tuple(sorted(values.items())), (), files)
    return sig.sigdata("foo", taskhash, [DepHash(TaskId(fn, task), fn.rsplit("/", 1)[-1][:-3], h)
                                         for fn, task, h in deps])


def test_diff_sigdata_gives_typed_differences_and_one_renderer_words_them() -> None:
    from layerbuild.engine.sigdiff import (
        DependencyAdded,
        DependencyChanged,
        DependencyRemoved,
        FileChanged,
        TaskCodeChanged,
        VariableAdded,
        VariableChanged,
        VariableRemoved,
        describe,
        diff_sigdata,
    )
    from layerbuild.engine.taskgraph import TaskId
    old = _sig({"do_compile": "make", "CC": "gcc", "GONE": "x"},
               [("/l/zlib.bb", "do_populate_sysroot", "1" * 64), ("/l/old.bb", "do_populate_sysroot", "2" * 64)],
               files=(("/l/files/a", "f" * 64),))
    new = _sig({"do_compile": "make -j4", "CC": "clang", "NEW": "y"},
               [("/l/zlib.bb", "do_populate_sysroot", "3" * 64), ("/l/new.bb", "do_populate_sysroot", "4" * 64)],
               files=(("/l/files/a", "e" * 64),))
    diffs = diff_sigdata(old, new)
    assert [type(d) for d in diffs] == [TaskCodeChanged, VariableChanged, VariableRemoved, VariableAdded, FileChanged,
                                        DependencyAdded, DependencyRemoved, DependencyChanged]
    changed = diffs[-1]
    assert isinstance(changed, DependencyChanged)
    assert (changed.tid, changed.old, changed.new) == (TaskId("/l/zlib.bb", "do_populate_sysroot"), "1" * 64, "3" * 64)
    assert [describe(d) for d in diffs] == [
        "task code of do_compile changed: 'make' -> 'make -j4'",
        "variable CC changed: 'gcc' -> 'clang'",
        "dependency on variable GONE removed (value was 'x')",
        "dependency on variable NEW added (value 'y')",
        "file /l/files/a changed",
        "task dependency new:do_populate_sysroot added",
        "task dependency old:do_populate_sysroot removed",
        f"task dependency zlib:do_populate_sysroot changed its hash ({'1' * 12} -> {'3' * 12})",
    ]
    assert [describe(d) for d in diff_sigdata(new, dict(new, taskhash="u" * 64))] == [
        "the task was forced or tainted (-f), which changes its hash"]
    assert [describe(d) for d in diff_sigdata(new, new)] == ["the signatures are identical"]


def test_sigdata_of_the_earlier_layout_is_still_compared() -> None:
    from layerbuild.engine.sigdiff import DependencyChanged, describe, diff_sigdata
    from layerbuild.engine.taskgraph import TaskId
    new = _sig({"do_compile": "make"}, [("/l/zlib.bb", "do_populate_sysroot", "3" * 64)])
    old = {k: v for k, v in new.items() if k != "format"}
    old["runtaskhashes"] = {"zlib:do_populate_sysroot": "1" * 64}  # layout 1: "pn:do_task" keys
    diffs = diff_sigdata(old, new)
    assert diffs == [DependencyChanged(TaskId("/l/zlib.bb", "do_populate_sysroot"), "zlib:do_populate_sysroot",
                                       "1" * 64, "3" * 64)]
    assert describe(diffs[0]) == f"task dependency zlib:do_populate_sysroot changed its hash ({'1' * 12} -> {'3' * 12})"


def test_worker_results_are_typed_messages() -> None:
    from layerbuild.engine.tasks import WorkerResult, read_results
    data = WorkerResult(log="/t/log.do_compile.1").encode() + WorkerResult(error="boom").encode()
    assert read_results(data) == WorkerResult("/t/log.do_compile.1", "boom")
    # a worker killed while writing leaves a partial line: what came before still counts
    assert read_results(WorkerResult(log="/t/log").encode() + b'{"error": "cut') == WorkerResult("/t/log", None)
    assert read_results(b"") == WorkerResult()
    # lines for the build's summary add up over the messages, in order
    data = WorkerResult(log="/t/log", results=("a",)).encode() + WorkerResult(results=("b", "c")).encode()
    assert read_results(data) == WorkerResult("/t/log", None, ("a", "b", "c"))


def test_log_excerpt_starts_at_a_line_boundary(tmp_path: Path) -> None:
    from layerbuild.engine.tasks import TAIL_BYTES, tail
    log = tmp_path / "log.do_x.1"
    # the read window starts inside a long line: that piece is not shown as a line of its own
    lines = [f"line {i} " + "x" * 997 for i in range(3 * TAIL_BYTES // 1000)]
    log.write_text("\n".join(lines) + "\nlast\n")
    got = tail(str(log), 100)
    assert got[-1] == "last"
    assert all(line in lines for line in got[:-1]), got[0][:40]
    assert len(got) > 5
