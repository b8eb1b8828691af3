"""Metadata BitBake accepts is accepted: what only our packaging needs is a warning at the line when a
recipe is read, and an error only where a package that cannot be written is written (OE-core holds each
of these constructs)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import Runner, make_build, make_layer

from layerbuild.packaging.deps import deb_provides_field, format_depends, metadata_depends
from layerbuild.util.relations import Entry, entry_problem, metadata_entries

#: a recipe body that installs one file, so its main package is written
_INSTALL = ('LICENSE = "MIT"\nINHIBIT_DEFAULT_DEPS = "1"\n'
            'do_install() {\n    install -d ${D}${datadir}/${BPN}\n    echo x > ${D}${datadir}/${BPN}/x\n}\n')


def _lines(text: str, start: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(start)]


def test_addtask_after_a_task_the_recipe_lacks(tmp_path: Path, lb: Runner) -> None:
    # a class that is not inherited, a task deleted: BitBake leaves the ordering out, silently; a name one
    # letter from a task of the recipe is likely a typo, and warned about
    layer = make_layer(tmp_path, "ok", {
        "recipes/tasks/tasks_1.0.bb": 'SUMMARY = "t"\ndo_x() {\n    touch ${WORKDIR}/x-ran\n}\n'
                                      'addtask do_x after do_populate_lic before do_build\n'
                                      'do_y() {\n    :\n}\naddtask do_y after do_complie\n'})
    build = make_build(tmp_path, [layer])
    status, _out, err = lb("-B", str(build), "tasks:do_x")
    assert status == 0, err
    assert _lines(err, "WARNING: ") == [
        f"WARNING: {layer}/recipes/tasks/tasks_1.0.bb:9: do_y is to run after do_complie, which is not a task of "
        "this recipe (the ordering is left out); did you mean do_compile?"]
    assert next((build / "tmp" / "work").glob("*/tasks/1.0-r0/x-ran")).is_file()


# -- reading relationship variables as BitBake does ------------------------------------------------

def test_metadata_entries_follow_bitbakes_words() -> None:
    # bb.utils.explode_deps: a word that starts with "(" opens a constraint; "rtld(GNU_HASH)" is a name
    assert metadata_entries("rtld(GNU_HASH) /bin/sh") == [Entry("rtld(GNU_HASH)"), Entry("/bin/sh")]
    assert metadata_entries("rtld (GNU_HASH)") == [Entry("rtld", "GNU_HASH")]
    assert metadata_entries("a (>= 1.0), b,c") == [Entry("a", ">= 1.0"), Entry("b"), Entry("c")]
    assert metadata_entries("a (>= 1) (<< 2)") == [Entry("a", ">= 1"), Entry("a", "<< 2")]
    assert metadata_entries("a (>= 1.0 b") == [Entry("a", ">= 1.0 b", closed=False)]
    assert metadata_entries("(>= 1) a") == [Entry("", ">= 1"), Entry("a")]


def test_entry_problems_are_dpkgs() -> None:
    assert entry_problem(Entry("a", ">=1.0")) is None
    assert entry_problem(Entry("rtld", "GNU_HASH")) == \
        "the version constraint '(GNU_HASH)' of rtld has no operator (one of << <= = >= >>)"
    assert "contains '_'" in (entry_problem(Entry("foo_bar")) or "")
    assert entry_problem(Entry("a", ">= 1.0 b", closed=False)) == \
        "the version constraint of a is not closed: '(>= 1.0 b' needs a ')'"
    assert entry_problem(Entry("", ">= 1")) == "'(>= 1)' is a version constraint that follows no package name"
    assert "only =" in (entry_problem(Entry("a", ">= 1"), ("=",)) or "")


def test_package_time_reading_keeps_what_it_cannot_read() -> None:
    # do_package never refuses a value: the writer refuses it, if it writes that package
    assert metadata_depends("a (< 1) b (GNU_HASH) rtld(GNU_HASH)") == \
        [("a", "<<", "1"), ("b", None, "GNU_HASH"), ("rtld(GNU_HASH)", None, None)]
    assert format_depends(metadata_depends("a (< 1) b (GNU_HASH)")) == "a (<< 1), b (GNU_HASH)"
    # OE's package_deb leaves file names out of Provides; names dpkg does not allow are left out too
    assert deb_provides_field("/bin/sh, rtld(GNU_HASH), sh-provider, virtual/x, v (= 1.0)") == \
        "sh-provider, v (= 1.0)"


# -- reading recipes ---------------------------------------------------------------------------------

RECIPES = {
    "recipes/names/names_1.0.bb": 'SUMMARY = "n"\nPACKAGES =+ "${PN}_utils ${PN}-Tools ${PN}/x"\n',
    "recipes/provides/provides_1.0.bb": 'SUMMARY = "p"\nRPROVIDES:${PN} = "/bin/sh rtld(GNU_HASH) sh-provider"\n'
                                        'RPROVIDES:${PN}-dev = "virtual/greeter"\n',
    "recipes/rtld/rtld_1.0.bb": 'SUMMARY = "r"\nRDEPENDS:${PN} = "rtld (GNU_HASH)"\n',
    "recipes/gitver/gitver_git.bb": 'SUMMARY = "g"\n',
    "recipes/dup/dup_1.0.bb": 'SUMMARY = "d"\nPACKAGES = "${PN} ${PN}-doc ${PN}"\n',
    "recipes/fields/fields_1.0.bb": (
        'SUMMARY = "f"\n'
        'RDEPENDS:${PN} = "a (>= x:1.0) Libgreet b (>= 1.0 beta) c (= 1.0-) d (>> ) e (=> 1) ${NOT_SET}"\n'
        'RRECOMMENDS:${PN}-doc = "f (>= v1.0)"\n'
        'RCONFLICTS:${PN} = "g (<< )"\n'
        'RREPLACES:${PN} = "h (<<1.0"\n'
        'RDEPENDS = "whole ()"\n'),
}


def test_what_bitbake_accepts_parses_with_warnings_at_the_lines(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "ok", RECIPES)
    build = make_build(tmp_path, [layer])
    status, out, err = lb("-B", str(build), "-p")
    assert status == 0, err
    assert "0 errors" in out and "Traceback" not in err
    r = f"{layer}/recipes"
    fails = "(do_package_write_deb fails if it writes package {})"
    name_rule = "a package name may hold only lower-case letters, digits and '+', '-', '.'"
    expected = {
        f"{r}/names/names_1.0.bb:2: PACKAGES: 'names_utils' contains '_': {name_rule} {fails.format('names_utils')}",
        f"{r}/names/names_1.0.bb:2: PACKAGES: 'names-Tools' contains 'T': {name_rule} {fails.format('names-Tools')}",
        f"{r}/names/names_1.0.bb:2: PACKAGES: 'names/x' contains '/': {name_rule} {fails.format('names/x')}",
        f"{r}/provides/provides_1.0.bb:2: RPROVIDES:provides: 'rtld(GNU_HASH)' is not a name dpkg allows (lower-case "
        "letters, digits and '+', '-', '.'): it is left out of the package's Provides",
        f"{r}/provides/provides_1.0.bb:3: RPROVIDES:provides-dev: 'virtual/greeter' is not a name dpkg allows "
        "(lower-case letters, digits and '+', '-', '.'): it is left out of the package's Provides",
        f"{r}/rtld/rtld_1.0.bb:2: RDEPENDS:rtld: the version constraint '(GNU_HASH)' of rtld has no operator (one of "
        f"<< <= = >= >>) {fails.format('rtld')}",
        # PV from the file name: one warning for the version, none for the -dev/-staticdev constraints on it
        f"{r}/gitver/gitver_git.bb: the version of the packages: version 'git-r0' does not start with a digit "
        "(do_package_write_deb fails if it writes any)",
        f"{r}/dup/dup_1.0.bb:2: PACKAGES lists dup twice (do_package fails if it runs)",
        f"{r}/fields/fields_1.0.bb:2: RDEPENDS:fields: the epoch 'x' of version 'x:1.0' is not a number (in the "
        f"constraint of a) {fails.format('fields')}",
        f"{r}/fields/fields_1.0.bb:2: RDEPENDS:fields: 'Libgreet' contains 'L': {name_rule} {fails.format('fields')}",
        f"{r}/fields/fields_1.0.bb:2: RDEPENDS:fields: version '1.0 beta' contains a space (in the constraint of b) "
        f"{fails.format('fields')}",
        f"{r}/fields/fields_1.0.bb:2: RDEPENDS:fields: version '1.0-' ends with '-' (an empty revision) (in the "
        f"constraint of c) {fails.format('fields')}",
        f"{r}/fields/fields_1.0.bb:2: RDEPENDS:fields: the version constraint '(>>)' of d has an operator but no "
        f"version {fails.format('fields')}",
        f"{r}/fields/fields_1.0.bb:2: RDEPENDS:fields: '=>' in '(=> 1)' of e is not a version operator; did you "
        f"mean '>='? {fails.format('fields')}",
        f"{r}/fields/fields_1.0.bb:2: RDEPENDS:fields: '${{NOT_SET}}' holds a reference to a variable that is not "
        f"set {fails.format('fields')}",
        f"{r}/fields/fields_1.0.bb:3: RRECOMMENDS:fields-doc: version 'v1.0' does not start with a digit (in the "
        f"constraint of f) {fails.format('fields-doc')}",
        f"{r}/fields/fields_1.0.bb:4: RCONFLICTS:fields: the version constraint '(<<)' of g has an operator but no "
        f"version {fails.format('fields')}",
        f"{r}/fields/fields_1.0.bb:5: RREPLACES:fields: the version constraint of h is not closed: '(<<1.0' needs "
        f"a ')' {fails.format('fields')}",
    }
    got = {line[len("WARNING: "):] for line in _lines(err, "WARNING: ")}
    assert got == expected
    # from the parse cache: the same warnings, and still no error
    status, _out, again = lb("-B", str(build), "-p")
    assert status == 0 and {line[len("WARNING: "):] for line in _lines(again, "WARNING: ")} == expected


# -- building: the error is where a package is written ------------------------------------------------

def test_packages_are_written_without_what_a_deb_cannot_carry(tmp_path: Path, lb: Runner) -> None:
    layer = make_layer(tmp_path, "ok", {
        # paths and names dpkg refuses left out of Provides; an empty package with a bad name is not written
        "recipes/provides/provides_1.0.bb": 'SUMMARY = "p"\nRPROVIDES:${PN} = "/bin/sh rtld(GNU_HASH) sh-provider"\n'
                                            'PACKAGES =+ "${PN}_empty"\n' + _INSTALL,
        # the version from the file name: BitBake parses it, and its packages cannot be written
        "recipes/gitver/gitver_git.bb": 'SUMMARY = "g"\n' + _INSTALL,
        "recipes/rtld/rtld_1.0.bb": 'SUMMARY = "r"\nRDEPENDS:${PN} = "rtld (GNU_HASH)"\n' + _INSTALL,
        # OE's packaging refuses it too (QA packages-list)
        "recipes/dup/dup_1.0.bb": 'SUMMARY = "d"\nPACKAGES = "${PN} ${PN}-doc ${PN}"\n' + _INSTALL,
    })
    build = make_build(tmp_path, [layer])
    status, _out, err = lb("-B", str(build), "-k", "provides", "gitver", "rtld", "dup")
    assert status == 1
    r = f"{layer}/recipes"
    assert f"ERROR: Task gitver:do_package_write_deb failed: {r}/gitver/gitver_git.bb: error: cannot write package " \
        "gitver: version 'git-r0' does not start with a digit" in err
    assert f"ERROR: Task rtld:do_package_write_deb failed: {r}/rtld/rtld_1.0.bb:2: error: cannot write package " \
        "rtld: RDEPENDS:rtld: the version constraint '(GNU_HASH)' of rtld has no operator (one of << <= = >= >>)" \
        in err
    assert f"ERROR: Task dup:do_package failed: {r}/dup/dup_1.0.bb:2: error: dup: PACKAGES lists dup twice, and a " \
        "package is split and written once" in err
    assert "Traceback" not in err
    feed = build / "tmp" / "deploy" / "deb" / "x86_64"
    assert sorted(p.name for p in feed.glob("*.deb") if not p.name.startswith("libc")) == ["provides_1.0-r0_amd64.deb"]
    deb = feed / "provides_1.0-r0_amd64.deb"
    provides = subprocess.run(["dpkg-deb", "--field", str(deb), "Provides"], capture_output=True, text=True, check=True)
    assert provides.stdout.strip() == "sh-provider"


def test_addtask_with_several_task_names(tmp_path: Path, lb: Runner, monkeypatch: pytest.MonkeyPatch) -> None:
    # BitBake adds each word before 'before' and 'after' as a task: do_x, do_sideways and do_compile here;
    # a word close to a keyword is likely a typo, and warned about
    layer = make_layer(tmp_path, "ok", {
        "recipes/tasks/tasks_1.0.bb": 'SUMMARY = "t"\ndo_x() {\n    :\n}\ndo_sideways() {\n    :\n}\n'
                                      'addtask do_x sideways do_compile\naddtask gather aftr\n'})
    build = make_build(tmp_path, [layer])
    monkeypatch.chdir(tmp_path)
    status, out, err = lb("-B", str(build), "-g", *(f"tasks:{t}" for t in ("x", "sideways", "compile", "gather", "aftr")))
    assert status == 0, err
    nodes = {line.split('"')[1] for line in (tmp_path / "task-depends.dot").read_text().splitlines() if "label=" in line}
    assert {"tasks.do_x", "tasks.do_sideways", "tasks.do_compile", "tasks.do_gather", "tasks.do_aftr"} <= nodes
    loc = f"{layer}/recipes/tasks/tasks_1.0.bb"
    assert _lines(err, "WARNING: ") == [
        f"WARNING: {loc}:8: addtask: 'sideways' is not 'before' or 'after': it adds the task do_sideways "
        "(addtask knows only 'before' and 'after')",
        f"WARNING: {loc}:9: addtask: 'gather' is not 'before' or 'after': it adds the task do_gather "
        "(did you mean 'after'?)",
        f"WARNING: {loc}:9: addtask: 'aftr' is not 'before' or 'after': it adds the task do_aftr "
        "(did you mean 'after'?)"]
