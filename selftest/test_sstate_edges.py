"""Shared-state edge cases: what a shared cache may hold besides good objects is a warning and a rebuild,
never a stopped build, and never a write outside the build's directories.

Two build directories share one SSTATE_DIR, as CI machines share a cache: the first publishes, the
objects are then damaged or replaced by checksum-consistent hostile ones, and the second restores.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import zstandard
from conftest import Runner, make_build, make_layer
from test_tasks import LOGTASKS, _ran

from layerbuild.engine.sstate import Sstate, install_tree
from layerbuild.util.errors import LayerbuildError
from layerbuild.util.fsutil import sha256_file

RECIPES = {
    "classes/logtasks.bbclass": LOGTASKS,
    "recipes/a/a_1.0.bb": 'inherit logtasks\nMSG = "from a"\n',
    # b deploys a subdirectory of the shared deploy directory
    "recipes/b/b_1.0.bb": 'inherit logtasks\nMSG = "from b"\ndo_package_write_deb:append() {\n'
                          '    mkdir -p ${WORKDIR}/deploy-debs/sub\n    echo b > ${WORKDIR}/deploy-debs/sub/b.txt\n}\n',
}


def _builds(tmp_path: Path) -> tuple[Path, Path, Path]:
    """Two build directories over the same layer, sharing one SSTATE_DIR; the first has built a and b."""
    layer = make_layer(tmp_path, "edges", RECIPES)
    shared = tmp_path / "shared-sstate"
    first = make_build(tmp_path / "one", [layer], local=f'SSTATE_DIR = "{shared}"\n')
    second = make_build(tmp_path / "two", [layer], local=f'SSTATE_DIR = "{shared}"\n')
    return first, second, shared


def _object(shared: Path, pn: str, task: str = "package_write_deb") -> Path:
    found = [p for p in shared.rglob(f"sstate:{pn}:*_{task}.tar.zst")]
    assert len(found) == 1, found
    return found[0]


def _replace(shared: Path, obj: Path, tree: Path) -> None:
    """Replace ``obj`` by an archive of ``tree`` with a matching siginfo: consistent, but hostile."""
    cache = Sstate(str(shared))
    name = str(obj.relative_to(shared))
    obj.unlink()
    Path(str(obj) + ".siginfo").unlink()
    cache.store(name, [str(tree)], {})


@pytest.fixture
def built(tmp_path: Path, lb: Runner) -> tuple[Path, Path, Path]:
    first, second, shared = _builds(tmp_path)
    status, _out, err = lb("-B", str(first), "a", "b")
    assert status == 0, err
    return first, second, shared


def _no_temporaries(*roots: Path) -> None:
    left = [p for root in roots for p in root.rglob("*") if p.name.endswith(".tmp") or p.parent.name == "staging"]
    assert left == []


def test_a_checksum_consistent_object_that_does_not_unpack_is_rebuilt(built: tuple[Path, Path, Path],
                                                                      lb: Runner) -> None:
    _first, second, shared = built
    obj = _object(shared, "a")
    obj.write_bytes(zstandard.ZstdCompressor().compress(b"this is no tar archive" * 100))
    Path(str(obj) + ".siginfo").write_text(json.dumps({"sha256": sha256_file(obj)}))
    status, _out, err = lb("-B", str(second), "a")
    assert status == 0, err
    assert f"WARNING: a:do_package_write_deb: sstate object {obj} cannot be unpacked" in err
    assert "running the task instead" in err
    assert "a:do_package_write_deb" in _ran(second)
    assert (second / "tmp/deploy/fake-debs/a.txt").read_text() == "a from a\n"
    _no_temporaries(second, shared)


@pytest.mark.parametrize("which", ["object", "siginfo"])
def test_an_object_or_siginfo_replaced_by_a_directory_is_rebuilt(built: tuple[Path, Path, Path], lb: Runner,
                                                                 which: str) -> None:
    _first, second, shared = built
    obj = _object(shared, "a")
    victim = obj if which == "object" else Path(str(obj) + ".siginfo")
    victim.unlink()
    victim.mkdir()
    (victim / "inside").write_text("x")
    status, _out, err = lb("-B", str(second), "a")
    assert status == 0, err
    assert f"sstate {victim} is not a regular file" in err
    assert "a:do_package_write_deb" in _ran(second)
    assert (second / "tmp/deploy/fake-debs/a.txt").read_text() == "a from a\n"
    assert victim.is_dir()  # someone else's directory in a shared cache is left alone
    status, _out, err = lb("-B", str(second), "a")
    assert status == 0 and "Traceback" not in err


def _plant_link(tmp_path: Path, shared: Path, target: Callable[[Path], str]) -> Path:
    """Replace a's object by one whose ``sub`` is a link to ``target(outside)``; returns ``outside``."""
    outside = tmp_path / "outside"
    outside.mkdir()
    hostile = tmp_path / "hostile"
    hostile.mkdir()
    (hostile / "a.txt").write_text("a from a\n")
    os.symlink(target(outside), hostile / "sub")
    _replace(shared, _object(shared, "a"), hostile)
    return outside


def test_an_object_cannot_plant_a_link_that_redirects_a_later_deploy(built: tuple[Path, Path, Path], lb: Runner,
                                                                      tmp_path: Path) -> None:
    """a's object, checksum-consistent, holds ``sub`` -> a directory outside through ``..``; b deploys ``sub/``."""
    _first, second, shared = built
    deploy = second / "tmp/deploy/fake-debs"
    outside = _plant_link(tmp_path, shared, lambda outside: os.path.relpath(outside, deploy))
    status, _out, err = lb("-B", str(second), "a", "b")
    assert os.listdir(outside) == []  # b's deploy did not land outside
    assert status == 0, err
    assert "points outside its tree" in err and "running the task instead" in err
    assert (deploy / "sub").is_dir() and not (deploy / "sub").is_symlink()
    assert (deploy / "sub/b.txt").read_text() == "b\n"


def test_an_absolute_link_in_an_object_is_never_written_through(built: tuple[Path, Path, Path], lb: Runner,
                                                                 tmp_path: Path) -> None:
    """Absolute targets are kept (packaged trees name paths of the target system), but no install follows one."""
    _first, second, shared = built
    outside = _plant_link(tmp_path, shared, str)
    status, _out, err = lb("-B", str(second), "a")
    assert status == 0, err
    status, _out, err = lb("-B", str(second), "b")
    assert os.listdir(outside) == []
    # b's restore refuses to install through the link; b runs and its own output takes the link's place
    assert status == 0, err
    assert f"a symbolic link to {outside} is there, which this task did not install; running the task instead" in err
    deploy = second / "tmp/deploy/fake-debs"
    assert not (deploy / "sub").is_symlink() and (deploy / "sub/b.txt").read_text() == "b\n"
    assert "Traceback" not in err and "internal error" not in err


# -- the same, one function at a time --------------------------------------------------------------

def test_unpack_refuses_links_that_leave_their_tree(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    (tree / "d").mkdir(parents=True)
    os.symlink("../../../etc", tree / "d" / "up")
    cache = Sstate(str(tmp_path / "sstate"))
    obj = cache.store("ab/cd/sstate:x:all:1:r0:abcd_deploy.tar.zst", [str(tree)], {})
    assert obj is not None and cache.verify(obj)
    with pytest.raises(LayerbuildError, match=r"symbolic link 'dir0/d/up' -> '../../../etc' points outside its tree"):
        cache.unpack(obj, str(tmp_path / "staging"))
    assert os.listdir(tmp_path / "staging") == []


def test_install_tree_never_writes_through_a_link_it_did_not_install(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "deploy"
    dest.mkdir()
    os.symlink(outside, dest / "images")
    source = tmp_path / "src"
    (source / "images").mkdir(parents=True)
    (source / "images" / "x.img").write_text("image")
    with pytest.raises(LayerbuildError, match="which this task did not install"):
        install_tree(str(source), str(dest), str(tmp_path / "manifest"))
    shutil.rmtree(source / "images")
    (source / "images").symlink_to(outside)
    # a link below a directory leading out (a path's parent through a link) is refused just the same
    nested = tmp_path / "nested"
    (nested / "images").mkdir(parents=True)
    (nested / "images" / "y").write_text("y")
    os.unlink(dest / "images")
    os.symlink(outside, dest / "images")
    with pytest.raises(LayerbuildError):
        install_tree(str(nested), str(dest), str(tmp_path / "manifest2"))
    assert os.listdir(outside) == []
