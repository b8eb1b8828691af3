"""kas drives layerbuild: ``oe-init-build-env`` sourced in bash and dash, and the real kas (``shell``,
``checkout``, ``dump``, ``for-all-repos``, ``build``) on ``kas/extending-image.yml`` in a fresh git repository
holding this tree's layer, with layerbuild's console scripts installed beside kas, as ``pip install`` puts
them (local repositories only, no network)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from conftest import device_with_extension, make_build, sysext_merge

from layerbuild.cli import bitbake_main

ROOT = Path(__file__).resolve().parents[1]
#: what the layer repository holds: the default layer (setup.py's LAYER_DIRS), the init script, the kas files
REPO_CONTENT = ("conf", "classes", "recipes", "lib", "files", "oe-init-build-env", "kas")
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"


@pytest.fixture(scope="module")
def bindir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This tree's console scripts (pyproject.toml's, written as pip writes them, importing this tree) and kas's,
    in one directory: an environment with layerbuild and kas installed."""
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    bindir = tmp_path_factory.mktemp("bin")
    for name, entry in {**scripts, "kas": "kas.kas:main"}.items():
        module, func = entry.split(":")
        (bindir / name).write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(ROOT)!r})\n"
                                   f"from {module} import {func}\nsys.exit({func}())\n")
        (bindir / name).chmod(0o755)
    return bindir


def test_bitbake_prints_notes_on_stdout_and_errors_on_stderr(tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """As BitBake's console: kas tells a build's errors from its notes by the stream."""
    build = make_build(tmp_path, [], local='DISTRO = "mystery"\n')
    assert bitbake_main(["-B", str(build), "-e"]) == 0
    out, err = capsys.readouterr()
    assert "conf/local.conf:3: DISTRO 'mystery' not" in out and err == ""  # the rest of stdout is the dump
    assert bitbake_main(["-B", str(build), "-e", "nosuch", "other"]) == 2
    assert capsys.readouterr() == ("", "bitbake: error: -e takes at most one TARGET\n")


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@localhost", *args],
                   check=True, capture_output=True)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository of this tree's layer, and a fresh clone of it: what `git clone` gives a kas user."""
    origin = tmp_path_factory.mktemp("origin") / "layerbuild"
    origin.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in REPO_CONTENT:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, origin / name, ignore=ignore)
        else:
            shutil.copy2(source, origin / name)
    _git(origin, "init", "-q", "-b", "main")
    _git(origin, "add", "-A")
    _git(origin, "commit", "-q", "-m", "layer")
    clone = origin.parent / "clone"
    subprocess.run(["git", "clone", "-q", str(origin), str(clone)], check=True)
    return clone


def _kas(bindir: Path, repo: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAS_", "PYTHON"))}
    result = subprocess.run([str(bindir / "kas"), *args], cwd=repo, env=env, capture_output=True, text=True,
                            timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def _source(shell: str, repo: Path, script: str, path: str) -> subprocess.CompletedProcess[str]:
    """``script`` run by ``shell`` (found on ``path``) in ``repo``, its parent a shell with nothing installed
    beside it."""
    return subprocess.run(["/bin/sh", "-c", f"{shell} -c {shlex.quote(script)}; exit $?"], cwd=repo,
                          env={"PATH": path, "HOME": str(repo.parent)}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("shell", ["bash", "dash"])
def test_init_build_env_creates_and_enters_the_build_dir(shell: str, repo: Path, bindir: Path,
                                                        tmp_path: Path) -> None:
    build = tmp_path / f"b-{shell}"
    path = f"{bindir}:{SYSTEM_PATH}"
    show = "pwd; echo BUILDDIR=$BUILDDIR; for c in bitbake bitbake-layers bitbake-getvar layerbuild-getvar; do " \
           "command -v $c; done"
    # dash passes no arguments to a sourced file: the build directory is set as the shell's own, as for OE's
    result = _source(shell, repo, f"set -- {build}; . ./oe-init-build-env && {show}", path)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-6:] == [str(build), f"BUILDDIR={build}", *(f"{bindir}/{name}" for name in
                          ("bitbake", "bitbake-layers", "bitbake-getvar", "layerbuild-getvar"))]
    assert f"created for you from {repo}/conf/templates/local.conf.sample" in result.stdout
    assert "Common targets are:\n    extending-image\n" in result.stdout
    assert (build / "conf/local.conf").read_text() == (repo / "conf/templates/local.conf.sample").read_text()
    assert (build / "conf/bblayers.conf").read_text() == \
        (repo / "conf/templates/bblayers.conf.sample").read_text().replace("##COREBASE##", str(repo))
    # once more: it enters the directory, keeps its configuration, and still shows the targets
    (build / "conf/local.conf").write_text('MACHINE = "mine"\n')
    again = _source(shell, repo, f"set -- {build}; . ./oe-init-build-env && pwd", path)
    assert again.returncode == 0, again.stderr
    assert "You had no" not in again.stdout and "Common targets are:" in again.stdout
    assert again.stdout.splitlines()[-1] == str(build)
    assert (build / "conf/local.conf").read_text() == 'MACHINE = "mine"\n'


def test_init_build_env_templateconf_and_errors(repo: Path, bindir: Path, tmp_path: Path) -> None:
    path = f"{bindir}:{SYSTEM_PATH}"
    templates = tmp_path / "meta-mine/conf/templates"
    templates.mkdir(parents=True)
    (templates / "local.conf.sample").write_text('MACHINE ?= "mine"\n')
    (templates / "bblayers.conf.sample").write_text('BBLAYERS ?= "##OEROOT## /meta-mine"\n')
    build = tmp_path / "b"
    result = _source("bash", repo, f"TEMPLATECONF={templates} . ./oe-init-build-env {build}", path)
    assert result.returncode == 0, result.stderr
    assert (build / "conf/local.conf").read_text() == 'MACHINE ?= "mine"\n'
    assert (build / "conf/bblayers.conf").read_text() == f'BBLAYERS ?= "{repo} /meta-mine"\n'
    assert (build / "conf/templateconf.cfg").read_text() == f"{templates}\n"

    result = _source("bash", repo, f"TEMPLATECONF=conf/nowhere . ./oe-init-build-env {tmp_path / 'c'} "
                                   "|| echo still-here", path)
    assert result.stdout == "still-here\n"
    assert result.stderr == ("Error: TEMPLATECONF value (which is conf/nowhere) must point to a directory holding "
                             "bblayers.conf.sample and local.conf.sample\n")
    assert not (tmp_path / "c").exists()

    # not installed: says how to install, and the shell that sourced it goes on
    result = _source("dash", repo, f"set -- {tmp_path / 'd'}; . ./oe-init-build-env || echo still-here", SYSTEM_PATH)
    assert result.stdout == "still-here\n"
    assert result.stderr.splitlines()[1] == f"Install this checkout with:  python3 -m pip install -e {repo}"
    assert not (tmp_path / "d").exists()
    result = subprocess.run(["bash", "oe-init-build-env"], cwd=repo, capture_output=True, text=True)
    assert (result.returncode, result.stderr) == (1, "Error: This script needs to be sourced. Please run as "
                                                     "'. oe-init-build-env'\n")


def test_kas_shell_runs_the_commands_in_the_build_environment(repo: Path, bindir: Path) -> None:
    """kas sources the script with PATH cut down to the system's directories: the commands are found
    beside kas; kas's bblayers.conf and local.conf are what layerbuild reads."""
    result = _kas(bindir, repo, "shell", "kas/extending-image.yml", "-c",
                  "pwd; command -v bitbake; bitbake -e | grep -E '^(MACHINE|DISTRO|BBLAYERS)='")
    build = repo / "build"
    assert result.stdout.splitlines() == [str(build), f"{bindir}/bitbake", f'BBLAYERS="     {build}/.."',
                                          'DISTRO="lbdistro"', 'MACHINE="genericx86-64"']
    assert (build / "conf/bblayers.conf").read_text().startswith('BBLAYERS ?= " \\\n    ${TOPDIR}/.."\n')
    assert "To start the default build, run: bitbake -c build extending-image" in result.stderr


@pytest.mark.slow
def test_kas_builds_the_headline(repo: Path, bindir: Path, tmp_path: Path) -> None:
    """``kas build kas/extending-image.yml`` from the fresh clone: the base image and the extension, which
    merges onto it; ``dump``, ``checkout`` and ``for-all-repos`` as kas users run them."""
    dumped = _kas(bindir, repo, "dump", "kas/extending-image.yml")
    assert "target: extending-image" in dumped.stdout and "machine: genericx86-64" in dumped.stdout
    _kas(bindir, repo, "checkout", "kas/extending-image.yml")
    assert 'MACHINE ??= "genericx86-64"' in (repo / "build/conf/local.conf").read_text()
    each = _kas(bindir, repo, "for-all-repos", "kas/extending-image.yml", "echo $KAS_REPO_NAME $(pwd)")
    assert f"layerbuild {repo}" in each.stdout

    result = _kas(bindir, repo, "build", "kas/extending-image.yml", timeout=1800)
    out = result.stdout + result.stderr
    assert "Build succeeded:" in out and "ERROR" not in out, out  # notes on stdout, as BitBake's
    deploy = repo / "build/tmp/deploy/images/genericx86-64"
    raw = deploy / "extending-image.raw"
    listing = subprocess.run(["unsquashfs", "-l", "-d", "", str(raw)], capture_output=True, text=True,
                             check=True).stdout.split()
    assert "/usr/bin/greet" in listing
    assert "/usr/lib/extension-release.d/extension-release.extending-image" in listing
    assert not any("libc.so" in name for name in listing)  # the base image has the C runtime
    root = tmp_path / "device"
    device_with_extension(root, deploy / "some-core-image-genericx86-64.rootfs.tar.zst", raw)
    assert not (root / "usr/bin/greet").exists()
    mounts, output = sysext_merge(root, f"chroot {root} /usr/bin/greet kas")
    assert "overlay" in mounts, output
    assert "Hello, kas! (libgreet 1.0)" in output, output

    # a layer created and added in kas's shell builds its example recipe there
    made = _kas(bindir, repo, "shell", "kas/extending-image.yml", "-c",
                "bitbake-layers create-layer -a ../meta-new && bitbake example", timeout=600)
    assert f"Layer added {repo / 'meta-new'}" in made.stdout
    assert "Build succeeded:" in made.stdout, made.stdout + made.stderr
    log = next((repo / "build/tmp/work").glob("*/example/0.1-r0/temp/log.do_display_banner"))
    assert "*  Example recipe created by bitbake-layers   *" in log.read_text()
