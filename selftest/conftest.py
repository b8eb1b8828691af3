"""Shared fixtures: build directories over the core layer plus small test layers."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from layerbuild.cli import buildhistory_diff_main, layers_main, main
from layerbuild.engine.config import DEFAULT_LAYER

CORE = DEFAULT_LAYER
#: recipes the core layer itself brings to every test build
CORE_RECIPES = len(list(Path(CORE).glob("recipes/recipes-*/*/*.bb")))
#: the recipes (targets) they give: each file's own and its BBCLASSEXTEND variants (greet-gen-native)
CORE_TARGETS = CORE_RECIPES + sum(len(line.split("=", 1)[1].strip(' "\n').split())
                                  for path in Path(CORE).glob("recipes/recipes-*/*/*.bb")
                                  for line in path.read_text().splitlines() if line.startswith("BBCLASSEXTEND"))

LAYER_CONF = """BBPATH .= ":${{LAYERDIR}}"
BBFILES += "${{LAYERDIR}}/recipes/*/*.bb ${{LAYERDIR}}/recipes/*/*.bbappend"
BBFILE_COLLECTIONS += "{name}"
BBFILE_PATTERN_{name} = "^${{LAYERDIR}}/"
BBFILE_PRIORITY_{name} = "{priority}"
LAYERSERIES_COMPAT_{name} = "alder"
"""


class BuildDir:
    """A build directory driven through the ``layerbuild`` command, as a user runs it."""

    def __init__(self, top: Path, machine: str = "genericx86-64") -> None:
        self.top = top
        self.deploy = top / "tmp" / "deploy" / "images" / machine

    def run(self, *args: str, check: bool = True, timeout: float | None = None) -> subprocess.CompletedProcess[str]:
        """``layerbuild -B TOP ARGS``; with ``check``, a failure fails the test with its output."""
        result = subprocess.run([sys.executable, "-m", "layerbuild.cli", "-B", str(self.top), *args],
                                capture_output=True, text=True, cwd=self.top.parent, timeout=timeout)
        if check and result.returncode != 0:
            raise AssertionError(f"layerbuild {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
        return result


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """An http server on 127.0.0.1 serving a directory: (base URL, directory)."""
    root = tmp_path_factory.mktemp("www")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()


NGINX_CONF = """daemon off;
master_process off;
pid {state}/nginx.pid;
error_log {state}/error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {state}/body;
    proxy_temp_path {state}/proxy;
    fastcgi_temp_path {state}/fastcgi;
    uwsgi_temp_path {state}/uwsgi;
    scgi_temp_path {state}/scgi;
    server {{
        listen 127.0.0.1:{port};
        root {root};
{extra}    }}
}}
"""

#: what a WebDAV mirror adds: uploads (PUT to a temporary name, then MOVE), deletion, and a JSON index
#: for pruning
NGINX_DAV = """        client_max_body_size 0;
        dav_methods PUT DELETE MOVE;
        create_full_put_path on;
        dav_access user:rw group:r all:r;
        autoindex on;
        autoindex_format json;
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_nginx(root: Path, state: Path, dav: bool = False) -> Iterator[str]:
    """nginx on 127.0.0.1 serving ``root`` (with WebDAV uploads when ``dav``) until the generator closes;
    yields the base URL."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if binary is None:
        pytest.skip("nginx is not installed (Debian package nginx-light)")
    for attempt in range(5):
        port = _free_port()
        (state / "nginx.conf").write_text(NGINX_CONF.format(state=state, port=port, root=root,
                                                            extra=NGINX_DAV if dav else ""))
        with open(state / "stderr", "wb") as stderr:
            proc = subprocess.Popen([binary, "-c", str(state / "nginx.conf"), "-p", str(state)],
                                    stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.05)
        if proc.poll() is None:
            break
        if attempt == 4:
            pytest.fail(f"nginx did not start: {(state / 'stderr').read_text()}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def nginx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """nginx on 127.0.0.1 serving a directory, as a real web server (a mirror) does: (base URL, directory)."""
    root = tmp_path_factory.mktemp("mirror")
    for url in start_nginx(root, tmp_path_factory.mktemp("nginx")):
        yield url, root


@pytest.fixture(scope="module")
def nginx_dav(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """nginx on 127.0.0.1 with WebDAV uploads (PUT, MOVE, DELETE) into a directory: (base URL, directory)."""
    root = tmp_path_factory.mktemp("dav")
    for url in start_nginx(root, tmp_path_factory.mktemp("nginx-dav"), dav=True):
        yield url, root


def start_moto(state: Path) -> Iterator[str]:
    """moto's standalone S3 server on 127.0.0.1 until the generator closes, with the environment boto3 reads
    pointing at it (restored afterwards) and a bucket ``mirror``: yields the endpoint URL."""
    import boto3
    binary = shutil.which("moto_server")
    command = [binary] if binary else [sys.executable, "-m", "moto.server"]
    port = _free_port()
    with open(state / "moto.log", "wb") as out:
        proc = subprocess.Popen([*command, "-H", "127.0.0.1", "-p", str(port)], stdout=out, stderr=out)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                break
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"moto_server did not start: {(state / 'moto.log').read_text()}")
        time.sleep(0.05)
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": endpoint}
    saved = {name: os.environ.get(name) for name in [*env, "AWS_PROFILE", "AWS_SESSION_TOKEN"]}
    os.environ.update(env)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        os.environ.pop(name, None)
    try:
        boto3.client("s3").create_bucket(Bucket="mirror")
        yield endpoint
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 (:func:`start_moto`): yields the endpoint URL."""
    pytest.importorskip("boto3")
    pytest.importorskip("moto")
    yield from start_moto(tmp_path_factory.mktemp("moto"))


@pytest.fixture(params=["file", "http", pytest.param("s3", marks=pytest.mark.slow)])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store of each kind, empty: a directory, WebDAV on nginx, S3 on moto (slow: moto starts)."""
    from layerbuild.util.objectstore import forget_stores
    forget_stores()
    if request.param == "file":
        yield f"file://{tmp_path}/store"
    elif request.param == "http":
        base, _root = request.getfixturevalue("nginx_dav")
        yield f"{base}/{tmp_path.name}"
    else:
        request.getfixturevalue("s3_server")
        yield f"s3://mirror/{tmp_path.name}"
    forget_stores()


@pytest.fixture
def no_aws_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An environment in which boto3 finds no credentials: no AWS variables, no files, no instance role."""
    pytest.importorskip("boto3")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(name, str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def write_tree(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text) if text else "")


def make_layer(root: Path, name: str, files: dict[str, str] | None = None, priority: int = 6,
               layer_conf: str | None = None) -> Path:
    layer = root / f"meta-{name}"
    (layer / "conf").mkdir(parents=True, exist_ok=True)
    conf = layer_conf if layer_conf is not None else LAYER_CONF.format(name=name, priority=priority)
    (layer / "conf" / "layer.conf").write_text(conf)
    write_tree(layer, files or {})
    return layer


def make_build(root: Path, layers: list[Path], local: str = "", core: bool = True) -> Path:
    build = root / "build"
    (build / "conf").mkdir(parents=True, exist_ok=True)
    all_layers = ([CORE] if core else []) + [str(p) for p in layers]
    (build / "conf" / "bblayers.conf").write_text(
        'BBPATH = "${TOPDIR}"\nBBFILES ?= ""\nBBLAYERS = "' + " ".join(all_layers) + '"\n')
    (build / "conf" / "local.conf").write_text('MACHINE ??= "genericx86-64"\nDISTRO ?= "lbdistro"\n' + local)
    return build


def device_with_extension(root: Path, rootfs: Path, raw: Path) -> None:
    """A device tree at ``root``: a base image's rootfs tarball unpacked, the extension ``raw`` in
    /var/lib/extensions."""
    root.mkdir()
    subprocess.run(["tar", "-C", str(root), "--zstd", "-xf", str(rootfs)], check=True)
    (root / "var/lib/extensions").mkdir(parents=True, exist_ok=True)
    shutil.copy(raw, root / "var/lib/extensions" / raw.name)


def merged_run(root: Path, after: str) -> subprocess.CompletedProcess[str]:
    """``systemd-sysext --root=ROOT merge`` in a private mount namespace, then ``echo MOUNTS``, the mounts
    of ROOT/usr, ``echo END`` and the shell commands ``after``; systemd 252 exits 0 even when nothing
    merged, so callers check the mounts."""
    # private first, so nothing mounted here can reach the host's mounts, then shared as systemd-sysext wants
    script = (f"mount --make-rprivate / && mount --make-rshared / && mount -t tmpfs tmpfs /run && "
              f"systemd-sysext --root={root} merge; echo MOUNTS; grep ' {root}/usr ' /proc/self/mountinfo; "
              f"echo END; {after}")
    argv = ["unshare", "-m", "--propagation", "shared", "sh", "-c", script]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if "(sd-sysext) terminated by signal KILL" in result.stderr:
        # on a loaded machine, systemd 252's merge child has been seen killed by SIGKILL with nothing mounted
        # (once in a full run of the suite; never on a quiet machine): one more try, in a new namespace
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    return result


def sysext_merge(root: Path, after: str) -> tuple[str, str]:
    """:func:`merged_run`: the mounts of ROOT/usr after the merge, and the output of the whole."""
    result = merged_run(root, after)
    out = result.stdout + result.stderr
    return out.split("MOUNTS\n", 1)[1].split("END\n", 1)[0] if "MOUNTS\n" in out else "", out


def processes_in(directory: Path) -> list[str]:
    """PIDs of processes whose working directory is below ``directory`` (leftovers of a build)."""
    top = os.path.realpath(directory) + os.sep
    found = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                if os.path.realpath(f"/proc/{pid}/cwd").startswith(top):
                    found.append(pid)
            except OSError:
                pass
    return found


Runner = Callable[..., tuple[int, str, str]]


@pytest.fixture
def lb(capsys: pytest.CaptureFixture[str]) -> Runner:
    """Run ``layerbuild ARGS`` in-process; returns (exit status, stdout, stderr)."""

    def run(*args: str, tool: str = "layerbuild") -> tuple[int, str, str]:
        capsys.readouterr()
        entry = {"layerbuild": main, "buildhistory-diff": buildhistory_diff_main}.get(tool, layers_main)
        try:
            status = entry(list(args))
        except SystemExit as exc:  # argparse usage errors
            status = int(exc.code or 0)
        out, err = capsys.readouterr()
        return status, out, err

    return run
