"""PID 1 of a subhost: ``python3 -m layerbuild.boot.nsinit PLAN``, started by the supervisor inside fresh
mount, PID, UTS and IPC namespaces and the subhost's network namespace.

It mounts the subhost (image loop mounts, the overlay on LIVE, extensions, /proc, /dev, /dev/pts, /sys and
the /run tmpfs) in its private mount namespace, sets the host name, chroots into LIVE, starts the services
and then reaps until no child is left; or, when the tree has its own ``lb-init``, hands PID 1 over to it.
The mounts live only in this mount namespace, so they (and their auto-clearing loop devices) go away with
its last process whatever happens to the supervisor.

Everything it needs after the chroot is imported before it: the image has no Python.
It reports to the supervisor on stdout (see :mod:`layerbuild.boot.wire`); its stderr is the subhost's log.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import stat
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from layerbuild.boot import extensions, units, wire
from layerbuild.boot.config import BootConfig
from layerbuild.util import proc
from layerbuild.util.errors import DEBUG_ENV, LayerbuildError, Location
from layerbuild.util.exits import Exit, guard

#: the image's own init, used as PID 1 when present (with /etc/lb-init/rc or /bin/sh for its main command)
LB_INIT = ("/sbin/lb-init", "/usr/sbin/lb-init")
DUMMY_FIFO = "/run/dummy_service"
_PR_SET_NAME = 15
#: device nodes of the subhost's /dev tmpfs: name -> (major, minor)
_DEVICES = {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8), "urandom": (1, 9), "tty": (5, 0)}
_DEV_LINKS = {"ptmx": "pts/ptmx", "fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
              "stderr": "/proc/self/fd/2"}


@dataclass(frozen=True)
class Plan:
    """What the supervisor prepared: the config, the resolved lower layer and upper directory."""

    config: BootConfig
    lower_dir: str | None  # a directory lower layer (given, or a .tar.zst unpacked)
    lower_image: str | None  # a squashfs/erofs image to loop-mount
    upper: str
    mount_dir: str  # where images are mounted (inside the private mount namespace only)
    stop_grace: float = 5.0

    def to_json(self) -> str:
        return json.dumps({"config": self.config.to_json(), "lower_dir": self.lower_dir, "lower_image": self.lower_image,
                           "upper": self.upper, "mount_dir": self.mount_dir, "stop_grace": self.stop_grace},
                          indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        return cls(config=BootConfig.from_json(data["config"]), lower_dir=data["lower_dir"],
                   lower_image=data["lower_image"], upper=data["upper"], mount_dir=data["mount_dir"],
                   stop_grace=float(data["stop_grace"]))


Report = Callable[[bytes], None]


class _Init:
    def __init__(self, plan: Plan, report: Report, log_fd: int) -> None:
        self.plan, self.cfg, self.report, self.log_fd = plan, plan.config, report, log_fd
        self.log = Path(plan.config.log)
        self.root = plan.config.live

    # -- mounting (before the chroot) --

    def mount(self, *args: str) -> None:
        proc.run(["mount", *args], log=self.log)

    def mountpoint(self, rel: str) -> str:
        """``root/rel`` as a directory that is safe to mount on: created if missing, never through a symlink."""
        path = self.root
        for part in rel.strip("/").split("/"):
            path = os.path.join(path, part)
            if os.path.islink(path):
                raise LayerbuildError(f"/{rel} of the subhost is a symlink (at {path}); refusing to mount over it")
            if not os.path.isdir(path):
                if os.path.lexists(path):
                    raise LayerbuildError(f"/{rel} of the subhost is not a directory ({path})")
                try:
                    os.mkdir(path, 0o755)
                except OSError as exc:
                    raise LayerbuildError(f"cannot create the mount point /{rel} of the subhost: {exc.strerror}",
                                          hint="the tree is read-only (LIVE is LOWER); create it in the image") from None
        return path

    def loop_mount(self, image: str, target: str) -> None:
        os.makedirs(target, exist_ok=True)
        self.mount("-o", "loop,ro", image, target)
        device = _mount_source(target)
        if device and device.startswith("/dev/loop"):
            self.report(wire.encode("loop", device=device, backing=image))

    def mount_all(self) -> None:
        cfg, plan = self.cfg, self.plan
        lower = plan.lower_dir
        if plan.lower_image:
            lower = os.path.join(plan.mount_dir, "lower")
            self.loop_mount(plan.lower_image, lower)
        if cfg.overlay:
            assert lower is not None
            self.mount("-t", "overlay", "overlay", "-o", f"lowerdir={lower},upperdir={plan.upper},workdir={cfg.work}",
                       cfg.live)
        host_release = extensions.os_release_of(self.root)
        merged = self.extensions(host_release)
        self.mount("-t", "proc", "-o", "nosuid,nodev,noexec", "proc", self.mountpoint("proc"))
        self.mount("-t", "sysfs", "-o", "nosuid,nodev,noexec", "sysfs", self.mountpoint("sys"))
        dev = self.mountpoint("dev")
        self.mount("-t", "tmpfs", "-o", "nosuid,mode=755,size=4m", "tmpfs", dev)
        for name, (major, minor) in _DEVICES.items():
            os.mknod(os.path.join(dev, name), 0o666 | stat.S_IFCHR, os.makedev(major, minor))
            os.chmod(os.path.join(dev, name), 0o666)
        for name, target in _DEV_LINKS.items():
            os.symlink(target, os.path.join(dev, name))
        os.mkdir(os.path.join(dev, "shm"), 0o1777)
        os.chmod(os.path.join(dev, "shm"), 0o1777)
        os.mkdir(os.path.join(dev, "pts"), 0o755)
        self.mount("-t", "devpts", "-o", "newinstance,ptmxmode=0666,mode=620,nosuid,noexec", "devpts",
                   os.path.join(dev, "pts"))
        if cfg.ram_size is not None:
            self.mount("-t", "tmpfs", "-o", f"size={cfg.ram_size},mode=755,nosuid,nodev", "tmpfs",
                       self.mountpoint("run"))
        for line in merged:
            print(line, file=sys.stderr, flush=True)

    def extensions(self, host_release: dict[str, str]) -> list[str]:
        """Mount and check every extension, then merge each hierarchy with a read-only overlay."""
        layers: dict[str, list[str]] = {}
        merged = []
        for index, path in enumerate(self.cfg.extensions):
            name = extensions.extension_name(path)
            root = path
            if not os.path.isdir(path):
                root = os.path.join(self.plan.mount_dir, f"ext{index}")
                self.loop_mount(path, root)
            for ext in extensions.inspect(name, root):
                try:
                    extensions.check(ext, host_release, self.cfg.architecture)
                except LayerbuildError as exc:
                    raise LayerbuildError(exc.message, self.cfg.where("EXTENSIONS"), exc.hint) from None
                for hierarchy in ext.hierarchies:
                    layers.setdefault(hierarchy, []).append(os.path.join(root, hierarchy))
                merged.append(f"merged {ext.kind} {name} into {', '.join('/' + h for h in ext.hierarchies) or '-'}")
        for hierarchy in sorted(layers):
            target = self.mountpoint(hierarchy)
            stack = [*reversed(layers[hierarchy]), target]  # the last extension named lies on top
            for layer in stack:
                if any(c in layer for c in ",:\\"):
                    raise LayerbuildError(f"extension path {layer} holds ',', ':' or '\\', which overlay cannot carry",
                                          self.cfg.where("EXTENSIONS"))
            kind = "confext" if hierarchy == "etc" else "sysext"
            self.mount("-t", "overlay", kind, "-o", f"ro,lowerdir={':'.join(stack)}", target)
        return merged

    # -- after the chroot --

    def spawn(self, service: units.Service, command: units.Command) -> int:
        exe = units.resolve_executable(command.argv[0])
        if exe is None:
            raise LayerbuildError(f"service {service.name}: {command.argv[0]} is not an executable of the subhost",
                                  Location(service.source))
        argv = [command.argv0 or command.argv[0], *command.argv[1:]]
        env = {"PATH": units.DEFAULT_PATH, **dict(service.environment)}
        return _spawn(exe, argv, env, self.log_fd, service.working_directory,
                      f"service {service.name}: cannot run {exe}", Location(service.source))

    def run_and_wait(self, service: units.Service, command: units.Command) -> None:
        pid = self.spawn(service, command)
        status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        if status != 0 and not command.ignore_failure:
            what = f"exited with status {status}" if status > 0 else f"was killed by signal {-status}"
            raise LayerbuildError(f"service {service.name}: {' '.join(command.argv)} {what}", Location(service.source),
                                  notes=(f"log: {self.cfg.log}",))

    def start(self, service: units.Service) -> None:
        for command in service.pre:
            self.run_and_wait(service, command)
        for command in service.start:
            if service.waits:
                self.run_and_wait(service, command)
            else:
                self.spawn(service, command)
        for command in service.post:
            self.run_and_wait(service, command)
        print(f"started {service.name}", file=sys.stderr, flush=True)


def _spawn(exe: str, argv: list[str], env: dict[str, str], log_fd: int, cwd: str | None, failure: str,
           where: Location) -> int:
    """Fork and exec a service of the subhost; an exec failure comes back as an error.

    A subhost's PID 1 starts its services itself (they outlive the call and are reaped by it), which is why
    this does not go through :func:`layerbuild.util.proc.run`.
    """
    r, w = os.pipe2(os.O_CLOEXEC)
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setsid()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGALRM, signal.SIGCHLD):
                signal.signal(sig, signal.SIG_DFL)
            devnull = os.open("/dev/null", os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            os.closerange(3, w)
            os.closerange(w + 1, 65536)
            os.chdir(cwd or "/")
            os.execve(exe, argv, env)
        except OSError as exc:
            os.write(w, (exc.strerror or str(exc)).encode())
        finally:
            os._exit(127)
    os.close(w)
    with os.fdopen(r, "rb") as fh:
        problem = fh.read()
    if problem:
        os.waitpid(pid, 0)
        raise LayerbuildError(f"{failure}: {problem.decode(errors='replace')}", where)
    return pid


def _mount_source(target: str) -> str | None:
    """The source of the topmost mount on ``target`` in this mount namespace."""
    found = None
    with open("/proc/self/mountinfo", encoding="utf-8") as fh:
        for line in fh:
            fields = line.split()
            mountpoint = fields[4].encode().decode("unicode_escape")
            if mountpoint == target:
                found = fields[fields.index("-") + 2]
    return found


def _set_name(name: bytes) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_NAME, ctypes.c_char_p(name), 0, 0, 0)


def _dummy_service(log_fd: int) -> int:
    """A child that keeps the reaper busy when START is empty, until a signal or a write to /run/dummy_service."""
    if not os.path.exists(DUMMY_FIFO):
        os.mkfifo(DUMMY_FIFO, 0o600)
    pid = os.fork()
    if pid == 0:
        try:
            os.setsid()
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(sig, signal.SIG_DFL)
            _set_name(b"dummy_service")
            devnull = os.open("/dev/null", os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(log_fd, 1)
            os.dup2(log_fd, 2)
            os.closerange(3, 65536)
            fd = os.open(DUMMY_FIFO, os.O_RDONLY)
            os.read(fd, 1)
        finally:
            os._exit(0)
    return pid


def _image_init() -> list[str] | None:
    """The command line to hand PID 1 to the tree's own lb-init, when it has one that fits."""
    for path in LB_INIT:
        if os.path.isfile(path) and os.access(path, os.X_OK):
            if os.access("/etc/lb-init/rc", os.X_OK):
                return [path]
            if os.access("/bin/sh", os.X_OK):
                return [path, "/bin/sh", "-c", ":"]  # lb-init's main command; it reaps the services
    return None


def reap(grace: float) -> int:
    """Wait for children until none is left; a SIGTERM, SIGINT or SIGHUP stops every process of the subhost."""
    def stop(signum: int, frame: object) -> None:
        _signal_all(signal.SIGTERM)
        signal.alarm(max(1, int(grace)))

    def kill(signum: int, frame: object) -> None:
        _signal_all(signal.SIGKILL)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    signal.signal(signal.SIGALRM, kill)
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue


def _signal_all(sig: int) -> None:
    try:
        os.kill(-1, sig)  # from PID 1: every other process of the PID namespace
    except ProcessLookupError:
        pass


def main(argv: list[str]) -> int:
    """The init's life: report to the supervisor, set the subhost up, then reap (or hand PID 1 over).

    Whatever ends it early is an error message to the supervisor (:func:`layerbuild.util.exits.guard`),
    and in the subhost's log.
    """
    channel = [os.dup(1)]
    debug = bool(os.environ.get(DEBUG_ENV))  # read before the chroot empties the environment

    def report(message: bytes) -> None:
        if channel:  # closed once the subhost is up
            os.write(channel[0], message)

    def done() -> None:
        os.close(channel.pop())

    def failed(end: Exit) -> None:
        print(end.text, end="", file=sys.stderr, flush=True)
        report(wire.encode_exit(end, "subhost init"))

    status = guard(lambda: _run(argv, report, done), debug=debug, tell=failed)
    sys.stdout.flush()
    return status


def _run(argv: list[str], report: Report, done: Callable[[], None]) -> int:
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the subhost reads nothing from the terminal of whoever booted it
    os.close(devnull)
    plan = Plan.from_json(Path(argv[1]).read_text())
    cfg = plan.config
    log_fd = os.open(cfg.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    os.dup2(log_fd, 1)
    os.set_inheritable(log_fd, False)
    # /proc is still the host's here: /proc/self names this process by its pid on the host
    report(wire.encode("pid", pid=int(os.readlink("/proc/self")), pidns=os.readlink("/proc/self/ns/pid"),
                       mntns=os.readlink("/proc/self/ns/mnt")))
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda signum, frame: os._exit(128 + signum))  # nothing to stop yet
    init = _Init(plan, report, log_fd)
    init.mount_all()
    socket.sethostname(cfg.name)
    _set_name(b"lb-reaper")
    os.chroot(cfg.live)
    os.chdir("/")
    os.environ.clear()
    os.environ.update({"PATH": units.DEFAULT_PATH})
    services = [units.find_service("/", name) for name in cfg.start]
    for service in services:
        init.start(service)
    if not services:
        _dummy_service(log_fd)
    handover = _image_init()
    print(f"subhost {cfg.name} is up" + (f", handing over to {handover[0]}" if handover else ""), file=sys.stderr,
          flush=True)
    report(wire.encode("ready", init=handover[0] if handover else "lb-reaper"))
    done()
    if handover:
        try:
            os.execv(handover[0], handover)
        except OSError as exc:
            print(f"cannot run {handover[0]}: {exc.strerror}; reaping here instead", file=sys.stderr, flush=True)
    return reap(plan.stop_grace)


if __name__ == "__main__":
    os._exit(main(sys.argv))
