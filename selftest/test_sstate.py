"""sstate: objects named by taskhash, stored atomically with a checksummed siginfo, found locally or on a
mirror, verified before use; install_tree keeps a manifest so shared output directories stay consistent."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from layerbuild.engine.sstate import Publication, Sstate, SstateObject, install_tree, object_name
from layerbuild.engine.sstatemirror import MirrorSettings, mirrors_for
from layerbuild.util.errors import LayerbuildError
from layerbuild.util.fsutil import sha256_file

HASH = "ab12" + "0" * 60


def test_object_name_is_sharded_by_taskhash() -> None:
    assert object_name("zlib", "x86_64", "1.3", "r0", HASH, "populate_sysroot") == \
        f"ab/12/sstate:zlib:x86_64:1.3:r0:{HASH}_populate_sysroot.tar.zst"


def _outputs(tmp_path: Path, name: str = "out") -> list[str]:
    first, second = tmp_path / name / "image", tmp_path / name / "deploy"
    (first / "usr/lib").mkdir(parents=True)
    (first / "usr/lib/libz.so.1").write_text("lib")
    (first / "usr/lib/libz.so").symlink_to("libz.so.1")
    second.mkdir()
    (second / "zlib.deb").write_text("deb")
    return [str(first), str(second)]


def test_store_find_verify_unpack_round_trip(tmp_path: Path) -> None:
    cache = Sstate(str(tmp_path / "sstate"))
    name = object_name("zlib", "x86_64", "1.3", "r0", HASH, "package")
    assert cache.find(name) is None
    obj = cache.store(name, _outputs(tmp_path), {"task": "do_package", "taskhash": HASH})
    assert obj.path == str(tmp_path / "sstate" / name) and obj.siginfo == obj.path + ".siginfo"
    info = json.loads(Path(obj.siginfo).read_text())
    assert info == {"task": "do_package", "taskhash": HASH, "sha256": sha256_file(obj.path)}
    assert sorted(os.listdir(tmp_path / "sstate/ab/12")) == [os.path.basename(obj.path), os.path.basename(obj.siginfo)]

    found = cache.find(name)
    assert found == obj and cache.verify(found)
    dirs = cache.unpack(found, str(tmp_path / "work"))
    assert [os.path.basename(d) for d in dirs] == ["dir0", "dir1"]
    assert Path(dirs[0], "usr/lib/libz.so.1").read_text() == "lib"
    assert os.readlink(Path(dirs[0], "usr/lib/libz.so")) == "libz.so.1"
    assert Path(dirs[1], "zlib.deb").read_text() == "deb"


def test_an_object_without_its_siginfo_or_with_a_bad_one_is_not_used(tmp_path: Path) -> None:
    cache = Sstate(str(tmp_path / "sstate"))
    name = object_name("a", "all", "1", "r0", HASH, "deploy")
    obj = cache.store(name, _outputs(tmp_path), {})
    os.unlink(obj.siginfo)
    assert cache.find(name) is None  # the siginfo is written last: an object without one is unfinished
    Path(obj.siginfo).write_text("{not json")
    assert cache.find(name) is None


def test_a_corrupt_object_fails_verification_and_cannot_be_unpacked(tmp_path: Path) -> None:
    cache = Sstate(str(tmp_path / "sstate"))
    name = object_name("a", "all", "1", "r0", HASH, "deploy")
    obj = cache.store(name, _outputs(tmp_path), {})
    data = Path(obj.path).read_bytes()
    Path(obj.path).write_bytes(data[: len(data) // 2])
    assert not cache.verify(obj)
    with pytest.raises(LayerbuildError, match="cannot be unpacked"):
        cache.unpack(obj, str(tmp_path / "work"))
    assert os.listdir(tmp_path / "work") == []  # the half-extracted staging directory is gone
    os.unlink(obj.path)
    assert not cache.verify(obj)


def test_file_mirrors_are_looked_up_and_fetched_into_the_local_directory(tmp_path: Path) -> None:
    mirror = Sstate(str(tmp_path / "mirror"))
    name = object_name("a", "all", "1", "r0", HASH, "deploy")
    published = mirror.store(name, _outputs(tmp_path), {})
    assert published is not None
    settings = MirrorSettings(f"file://.* file://{tmp_path / 'mirror'}/PATH \\n nomatch://.* file:///nonexistent")
    local = Sstate(str(tmp_path / "local"), settings)
    assert local.find(name) is None
    remote = mirrors_for(settings).lookup([name, name.replace(HASH, "f" * 64)], 2)
    assert list(remote) == [name] and remote[name].sha256 == published.sha256
    path = str(tmp_path / "local" / name)
    assert local.fetch(SstateObject(path, path + ".siginfo", published.sha256, remote[name])) == \
        os.path.getsize(published.path)
    assert local.find(name) == SstateObject(path, path + ".siginfo", published.sha256)
    own = local.store(name, _outputs(tmp_path, "again"), {})
    assert local.find(name) == own


def test_a_publication_archives_the_inputs_then_installs_each_into_its_output(tmp_path: Path) -> None:
    """What a worker publishes after its task: the object (tar reads it) and its siginfo, then each input
    directory installed into the output directory of the same place, with its manifest."""
    inputs = _outputs(tmp_path, "task")
    outputs = (str(tmp_path / "sysroot"), str(tmp_path / "deploy"))
    manifests = (str(tmp_path / "control" / "m.0"), str(tmp_path / "control" / "m.1"))
    name = object_name("zlib", "x86_64", "1.3", "r0", HASH, "populate_sysroot")
    Publication(str(tmp_path / "sstate"), MirrorSettings(), name, tuple(inputs), outputs, manifests,
                {"task": "do_populate_sysroot"}).publish()
    obj = tmp_path / "sstate" / name
    listed = subprocess.run(["tar", "--zstd", "-tf", str(obj)], check=True, capture_output=True, text=True)
    assert {"dir0/usr/lib/libz.so.1", "dir0/usr/lib/libz.so", "dir1/zlib.deb"} <= {
        line.removeprefix("./").rstrip("/") for line in listed.stdout.splitlines()}
    assert json.loads(Path(f"{obj}.siginfo").read_text()) == {"task": "do_populate_sysroot", "sha256": sha256_file(str(obj))}
    assert Path(outputs[0], "usr/lib/libz.so.1").read_text() == "lib"
    assert os.readlink(Path(outputs[0], "usr/lib/libz.so")) == "libz.so.1"
    assert Path(outputs[1], "zlib.deb").read_text() == "deb"
    assert sorted(Path(manifests[0]).read_text().splitlines()) == ["usr", "usr/lib", "usr/lib/libz.so", "usr/lib/libz.so.1"]
    assert Path(manifests[1]).read_text().splitlines() == ["zlib.deb"]


def test_install_tree_replaces_what_the_task_installed_last_time(tmp_path: Path) -> None:
    dest, manifest = tmp_path / "deploy", tmp_path / "manifests" / "a.deploy"
    dest.mkdir()
    (dest / "other-recipe.deb").write_text("not ours")
    first = tmp_path / "first"
    (first / "sub").mkdir(parents=True)
    (first / "sub" / "a_1.deb").write_text("1")
    (first / "link").symlink_to("sub/a_1.deb")
    install_tree(str(first), str(dest), str(manifest))
    assert sorted(manifest.read_text().splitlines()) == ["link", "sub", "sub/a_1.deb"]
    assert os.readlink(dest / "link") == "sub/a_1.deb" and (dest / "sub/a_1.deb").read_text() == "1"

    second = tmp_path / "second"
    second.mkdir()
    (second / "a_2.deb").write_text("2")
    install_tree(str(second), str(dest), str(manifest))
    assert sorted(os.listdir(dest)) == ["a_2.deb", "other-recipe.deb"]
    assert manifest.read_text().splitlines() == ["a_2.deb"]


def test_install_tree_in_place_is_a_no_op(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "f").write_text("x")
    install_tree(str(out), str(out), str(tmp_path / "manifest"))
    assert (out / "f").read_text() == "x" and not (tmp_path / "manifest").exists()


def test_install_tree_publishes_each_file_whole(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import layerbuild.engine.sstate as sstate_mod
    dest, manifest = tmp_path / "deploy", tmp_path / "manifests" / "a.deploy"
    first = tmp_path / "first"
    first.mkdir()
    (first / "a.deb").write_text("old")
    install_tree(str(first), str(dest), str(manifest))
    second = tmp_path / "second"
    second.mkdir()
    (second / "a.deb").write_text("new " * 1000)
    (second / "b.deb").write_text("b")

    def half_copy(src: str, dst: str, **kw: object) -> None:
        with open(dst, "w") as fh:
            fh.write("new")  # part of the file, then the disk is full
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sstate_mod.shutil, "copyfile", half_copy)
    with pytest.raises(OSError, match="No space"):
        install_tree(str(second), str(dest), str(manifest))
    # the final name still holds the whole old file; nothing half-written is left; the manifest already
    # covers what the new install may leave behind
    assert (dest / "a.deb").read_text() == "old" and sorted(os.listdir(dest)) == ["a.deb"]
    assert manifest.read_text().splitlines() == ["a.deb", "b.deb"]
    monkeypatch.undo()
    install_tree(str(second), str(dest), str(manifest))
    assert (dest / "a.deb").read_text() == "new " * 1000 and (dest / "b.deb").read_text() == "b"
    assert manifest.read_text().splitlines() == ["a.deb", "b.deb"]


def test_install_tree_follows_a_path_changing_its_type(tmp_path: Path) -> None:
    dest, manifest = tmp_path / "out", tmp_path / "manifest"
    first = tmp_path / "first"
    (first / "x").mkdir(parents=True)
    (first / "x" / "inner").write_text("1")
    (first / "y").write_text("file")
    install_tree(str(first), str(dest), str(manifest))
    second = tmp_path / "second"
    second.mkdir()
    (second / "x").symlink_to("y")  # a directory last time, a link now
    (second / "y").mkdir()  # a file last time, a directory now
    install_tree(str(second), str(dest), str(manifest))
    assert os.readlink(dest / "x") == "y" and (dest / "y").is_dir()
    assert manifest.read_text().splitlines() == ["x", "y"]


def test_uninstall_tree_removes_what_the_manifest_lists_and_nothing_through_a_link(tmp_path: Path) -> None:
    from layerbuild.engine.sstate import uninstall_tree

    dest, manifest, canary = tmp_path / "deploy", tmp_path / "manifests/a.deploy.0", tmp_path / "canary"
    source = tmp_path / "out"
    (source / "deb/all").mkdir(parents=True)
    (source / "deb/all/a_1.deb").write_text("1")
    (source / "deb/a.link").symlink_to("all/a_1.deb")
    (source / "sub").mkdir()
    (source / "sub/x").write_text("x")
    install_tree(str(source), str(dest), str(manifest))
    (dest / "deb/all/other_1.deb").write_text("another recipe's")
    canary.mkdir()
    (canary / "x").write_text("host file")
    # someone replaced an installed directory with a link out of the deploy directory
    for path in ((dest / "sub/x"), (dest / "sub")):
        os.unlink(path) if path.is_file() else os.rmdir(path)
    (dest / "sub").symlink_to(canary)
    assert uninstall_tree(str(dest), str(manifest)) == ["sub/x"]
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == ["deb", "deb/all", "deb/all/other_1.deb"]
    assert (canary / "x").read_text() == "host file" and not manifest.exists()
    assert uninstall_tree(str(dest), str(manifest)) == []  # no manifest: nothing was installed


def test_remove_objects_takes_one_recipe_versions_task_and_nothing_else(tmp_path: Path) -> None:
    cache = Sstate(str(tmp_path / "sstate"))
    other_hash = "cd34" + "1" * 60
    keep = [object_name("zlib", "x86_64", "1.3", "r0", HASH, "package_write_deb"),
            object_name("zlib", "x86_64", "1.4", "r0", HASH, "package"),
            object_name("zlib", "armv8a", "1.3", "r0", HASH, "package"),
            object_name("zlib-native", "x86_64", "1.3", "r0", HASH, "package")]
    gone = [object_name("zlib", "x86_64", "1.3", "r0", h, "package") for h in (HASH, other_hash)]
    for name in keep + gone:
        cache.store(name, _outputs(tmp_path, name.replace("/", "_").replace(":", "_")), {})
    removed = cache.remove_objects("zlib", "x86_64", "1.3", "r0", "package")
    assert sorted(removed) == sorted(str(tmp_path / "sstate" / n) + s for n in gone for s in ("", ".siginfo"))
    assert all(cache.find(n) is not None for n in keep) and all(cache.find(n) is None for n in gone)
    # a shard directory that is a link out of SSTATE_DIR is not cleaned
    canary = tmp_path / "canary/34"
    canary.mkdir(parents=True)
    planted = canary / os.path.basename(gone[0]).replace(HASH, other_hash)
    planted.write_text("host file")
    (tmp_path / "sstate/cd").rename(tmp_path / "old-cd")
    (tmp_path / "sstate/cd").symlink_to(tmp_path / "canary")
    assert cache.remove_objects("zlib", "x86_64", "1.3", "r0", "package") == []
    assert planted.read_text() == "host file"
