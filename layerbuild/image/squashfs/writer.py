"""The squashfs writer: a manifest in, a squashfs 4.0 image out, with no host tool.

Two passes. The data pass reads every regular file in image order, drops duplicates, cuts the rest
into blocks and tail ends (packed into fragment blocks), and compresses them in a thread pool; results
are written strictly in submission order, so the image never depends on thread count or timing. The
metadata pass then writes inodes bottom-up (a directory's listing needs the on-disk position of its
children's inodes, and its own inode the position of its listing), followed by the lookup tables.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import struct
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from layerbuild.image.squashfs import format as fmt
from layerbuild.image.squashfs.compressors import Compressor, make_compressor
from layerbuild.util.errors import SquashfsError
from layerbuild.util.fstree import MAX_MTIME, Entry, EntryType, Manifest
from layerbuild.util.fsutil import atomic_output

MIN_BLOCK_SIZE = 4096
MAX_BLOCK_SIZE = 1024 * 1024
DEFAULT_BLOCK_SIZE = 128 * 1024
MAX_SYMLINK = 4095  # PATH_MAX - 1; the kernel refuses longer targets
XATTR_PREFIXES = {"user.": 0, "trusted.": 1, "security.": 2}
_BASIC_TYPES = {
    EntryType.DIR: fmt.DIR, EntryType.FILE: fmt.FILE, EntryType.SYMLINK: fmt.SYMLINK,
    EntryType.BLOCKDEV: fmt.BLOCKDEV, EntryType.CHARDEV: fmt.CHARDEV, EntryType.FIFO: fmt.FIFO,
    EntryType.SOCKET: fmt.SOCKET,
}


@dataclass(frozen=True)
class SquashfsOptions:
    """How to write an image. ``level=None`` means the compressor's default (zstd 15, xz 6, gzip 9);
    ``mkfs_time=None`` means the newest mtime in the manifest, so the image is a function of its
    inputs; ``processors=None`` means one compression thread per CPU."""

    compression: str = "zstd"
    level: int | None = None
    block_size: int = DEFAULT_BLOCK_SIZE
    mkfs_time: int | None = None
    processors: int | None = None
    exportable: bool = True
    #: Pack the tail ends of files larger than a block into fragments too (mksquashfs -tailends).
    tail_ends: bool = True

    def check(self) -> None:
        bs = self.block_size
        if not MIN_BLOCK_SIZE <= bs <= MAX_BLOCK_SIZE or bs & (bs - 1):
            raise SquashfsError(f"block size {bs} must be a power of two from 4096 to 1048576")
        if self.mkfs_time is not None and not 0 <= self.mkfs_time <= MAX_MTIME:
            raise SquashfsError(f"mkfs time {self.mkfs_time} out of range (0 to {MAX_MTIME})")
        if self.processors is not None and self.processors < 1:
            raise SquashfsError("processors must be at least 1")


@dataclass(frozen=True)
class ImageInfo:
    """What was written: useful for logs and tests."""

    path: Path
    size: int
    bytes_used: int
    inodes: int
    files: int
    duplicates: int
    fragments: int


@dataclass(slots=True, eq=False)
class _FileData:
    size: int
    digest: bytes = b""
    start: int = 0
    blocks: list[int] = field(default_factory=list)
    fragment: int = fmt.INVALID_FRAGMENT
    frag_offset: int = 0
    sparse: int = 0
    #: The source has holes on disk; mksquashfs then records the sparse bytes in an extended inode.
    holes: bool = False


def write_squashfs(manifest: Manifest, output: str | os.PathLike[str],
                   options: SquashfsOptions | None = None) -> ImageInfo:
    """Write ``manifest`` as a squashfs image at ``output``.

    The image appears under its final name only when complete; on any error nothing is left there.
    """
    options = options or SquashfsOptions()
    options.check()
    compressor = make_compressor(options.compression, options.level, options.block_size)
    _check_manifest(manifest)
    out_path = check_output(output)
    try:
        with atomic_output(out_path) as tmp, open(tmp, "wb") as fh:
            info = _Writer(manifest, options, compressor, fh).write()
            fh.flush()
            size = fh.tell()
    except OSError as exc:
        # Source files report their own errors; what is left comes from the image being written.
        raise SquashfsError(f"{out_path}: {_strerror(exc)}") from exc
    return ImageInfo(out_path, size, *info)


def check_output(output: str | os.PathLike[str]) -> Path:
    """The path the image is renamed to: ``output``, or the file a symlink there points to.

    The image is written beside it and renamed over it, so only a regular file (or nothing) may be
    there: renaming over a device, a FIFO or a socket would replace the node itself.
    """
    path = Path(output)
    if path.is_symlink():
        path = Path(os.path.realpath(path))
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return path
    except OSError as exc:
        raise SquashfsError(f"{output}: {exc.strerror}") from exc
    if not stat.S_ISREG(st.st_mode):
        raise SquashfsError(f"{output}: is {_KINDS.get(stat.S_IFMT(st.st_mode), 'not a regular file')}; "
                            "the image can only replace a regular file")
    return path


_KINDS = {stat.S_IFDIR: "a directory", stat.S_IFCHR: "a character device", stat.S_IFBLK: "a block device",
          stat.S_IFIFO: "a FIFO", stat.S_IFSOCK: "a socket"}


def _strerror(exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return "no space left on device while writing the image"
    return exc.strerror or str(exc)


def _check_manifest(manifest: Manifest) -> None:
    """Limits of the format, reported before any work is done."""
    for entry in manifest:
        where = entry.path or "/"
        if len(os.fsencode(entry.name)) > 255:
            raise SquashfsError(f"{where}: name longer than 255 bytes")
        if entry.type is EntryType.HARDLINK:
            continue
        if not 0 <= entry.mtime <= MAX_MTIME:
            raise SquashfsError(f"{where}: mtime {entry.mtime} cannot be stored (0 to {MAX_MTIME})")
        if entry.type not in _BASIC_TYPES:
            raise SquashfsError(f"{where}: unsupported entry type {entry.type.value}")
        if entry.type is EntryType.SYMLINK:
            assert entry.target is not None
            if len(os.fsencode(entry.target)) > MAX_SYMLINK:
                raise SquashfsError(f"{where}: symlink target longer than {MAX_SYMLINK} bytes")
        for name, value in entry.xattrs:
            if not name.startswith(tuple(XATTR_PREFIXES)):
                raise SquashfsError(f"{where}: xattr {name} cannot be stored in squashfs "
                                    "(only user., trusted. and security.)")
            if len(value) > 65535 or len(name.encode()) > 255:
                raise SquashfsError(f"{where}: xattr {name} too large")


class _Content:
    """A regular file's content, from a path or from bytes, read block by block."""

    def __init__(self, entry: Entry) -> None:
        self.entry = entry
        self._fh: BinaryIO | None = None
        source = entry.source
        if isinstance(source, bytes | bytearray | memoryview):
            self._data: bytes | None = bytes(source)
            self.size = len(self._data)
            self.holes = False
            return
        assert source is not None
        self._data = None
        self.path = Path(source)
        try:
            fh = open(self.path, "rb", buffering=0)
        except FileNotFoundError as exc:
            raise SquashfsError(f"{self.path}: file vanished before it could be read") from exc
        except OSError as exc:
            raise SquashfsError(f"{self.path}: {exc.strerror}") from exc
        self._fh = fh  # type: ignore[assignment]
        st = os.fstat(fh.fileno())
        if not stat.S_ISREG(st.st_mode):
            fh.close()
            raise SquashfsError(f"{self.path}: not a regular file any more")
        self.size = st.st_size
        self.holes = st.st_blocks * 512 < st.st_size

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()

    def __enter__(self) -> _Content:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def chunks(self, size: int) -> Iterator[bytes]:
        if self._data is not None:
            data = self._data
            for pos in range(0, len(data), size):
                yield data[pos:pos + size]
            return
        fh = self._fh
        assert fh is not None
        try:
            fh.seek(0)
            left = self.size
            while left:
                want = min(size, left)
                chunk = fh.read(want)
                while len(chunk) < want:
                    more = fh.read(want - len(chunk))
                    if not more:
                        raise SquashfsError(f"{self.path}: file shrank while it was being read")
                    chunk += more
                left -= want
                yield chunk
            if fh.read(1):
                raise SquashfsError(f"{self.path}: file grew while it was being read")
        except OSError as exc:
            raise SquashfsError(f"{self.path}: read error: {exc.strerror}") from exc

    def digest(self) -> bytes:
        h = hashlib.sha256()
        for chunk in self.chunks(1 << 20):
            h.update(chunk)
        return h.digest()


class _DataStream:
    """Compresses blocks in a pool and writes the results in submission order.

    At most ``limit`` blocks are in flight, which bounds memory whatever the image size.
    """

    def __init__(self, fh: BinaryIO, pos: int, compressor: Compressor, pool: ThreadPoolExecutor,
                 limit: int) -> None:
        self._fh = fh
        self.pos = pos
        self._compress = compressor.compress
        self._pool = pool
        self._limit = limit
        self._pending: deque[tuple[Future[tuple[bytes, int]] | None, Callable[[int, int], None]]] = deque()

    def _job(self, data: bytes) -> tuple[bytes, int]:
        if self._compress is not None:
            packed = self._compress(data)
            if len(packed) < len(data):
                return packed, len(packed)
        return data, len(data) | fmt.DATA_UNCOMPRESSED

    def mark(self, done: Callable[[int, int], None]) -> None:
        """Call ``done(position, 0)`` once everything submitted so far is written."""
        self._pending.append((None, done))

    def submit(self, data: bytes, done: Callable[[int, int], None]) -> None:
        """Compress ``data``; ``done(position, size word)`` runs when it has been written."""
        self._pending.append((self._pool.submit(self._job, data), done))
        while len(self._pending) > self._limit:
            self._retire()

    def _retire(self) -> None:
        future, done = self._pending.popleft()
        if future is None:
            done(self.pos, 0)
            return
        payload, word = future.result()
        self._fh.write(payload)
        done(self.pos, word)
        self.pos += len(payload)

    def drain(self) -> None:
        while self._pending:
            self._retire()

    def cancel(self) -> None:
        for future, _ in self._pending:
            if future is not None:
                future.cancel()
        self._pending.clear()


class _Fragments:
    """Packs small files and tail ends into block-sized fragment blocks."""

    def __init__(self, stream: _DataStream, block_size: int) -> None:
        self._stream = stream
        self._block_size = block_size
        self._buf = bytearray()
        self.table: list[tuple[int, int]] = []

    def add(self, tail: bytes) -> tuple[int, int]:
        if len(self._buf) + len(tail) > self._block_size:
            self.flush()
        offset = len(self._buf)
        self._buf += tail
        return len(self.table), offset

    def flush(self) -> None:
        if not self._buf:
            return
        index = len(self.table)
        self.table.append((0, 0))

        def done(pos: int, word: int) -> None:
            self.table[index] = (pos, word)

        self._stream.submit(bytes(self._buf), done)
        self._buf = bytearray()


class _Writer:
    def __init__(self, manifest: Manifest, options: SquashfsOptions, compressor: Compressor,
                 fh: BinaryIO) -> None:
        self.manifest = manifest
        self.options = options
        self.compressor = compressor
        self.fh = fh
        self.block_size = options.block_size
        self.files: dict[str, _FileData] = {}
        self.same_size: dict[int, list[_FileData]] = {}
        self.zero = bytes(options.block_size)
        self.duplicates = 0

    def write(self) -> tuple[int, int, int, int, int]:
        comp = self.compressor
        header_size = fmt.SUPERBLOCK_SIZE
        self.fh.write(bytes(header_size))
        if comp.options is not None:
            self.fh.write(struct.pack("<H", len(comp.options) | fmt.META_UNCOMPRESSED) + comp.options)
        threads = self.options.processors or os.cpu_count() or 1
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="squashfs") as pool:
            stream = _DataStream(self.fh, self.fh.tell(), comp, pool, limit=4 * threads)
            fragments = _Fragments(stream, self.block_size)
            try:
                for entry in self.manifest:
                    if entry.type is EntryType.FILE:
                        self._add_file(entry, stream, fragments)
                fragments.flush()
                stream.drain()
            except BaseException:
                stream.cancel()
                raise
        meta = _Metadata(self.manifest, self.files, comp, self.options)
        sb = meta.write(self.fh, stream.pos, fragments.table)
        sb.mkfs_time = self.options.mkfs_time if self.options.mkfs_time is not None else \
            self.manifest.newest_mtime()
        sb.block_size = self.block_size
        sb.compression = comp.id
        sb.fragment_count = len(fragments.table)
        flags = fmt.FLAG_DUPLICATES
        if comp.compress is None:
            flags |= (fmt.FLAG_UNCOMPRESSED_INODES | fmt.FLAG_UNCOMPRESSED_DATA | fmt.FLAG_UNCOMPRESSED_FRAGMENTS
                      | fmt.FLAG_UNCOMPRESSED_XATTRS | fmt.FLAG_UNCOMPRESSED_IDS)
        if self.options.tail_ends:
            flags |= fmt.FLAG_ALWAYS_FRAGMENTS
        if self.options.exportable:
            flags |= fmt.FLAG_EXPORTABLE
        if sb.xattr_table == fmt.INVALID_TABLE:
            flags |= fmt.FLAG_NO_XATTRS
        if comp.options is not None:
            flags |= fmt.FLAG_COMPRESSOR_OPTIONS
        sb.flags = flags
        end = self.fh.tell()
        sb.bytes_used = end
        padded = -end % fmt.DEVICE_BLOCK
        self.fh.write(bytes(padded))
        self.fh.seek(0)
        self.fh.write(sb.pack())
        self.fh.seek(end + padded)
        files = sum(1 for e in self.manifest if e.type is EntryType.FILE)
        return end, sb.inode_count, files, self.duplicates, len(fragments.table)

    def _add_file(self, entry: Entry, stream: _DataStream, fragments: _Fragments) -> None:
        bs = self.block_size
        with _Content(entry) as content:
            size = content.size
            if size == 0:
                self.files[entry.path] = _FileData(0)
                return
            # Only files of the same size can be duplicates. Hashing costs a tenth of a second per
            # 100 MB; for a size seen before it runs first, so duplicates are never compressed.
            same = self.same_size.get(size)
            digest = b""
            if same:
                digest = content.digest()
                for other in same:
                    if other.digest == digest:
                        self.files[entry.path] = other
                        self.duplicates += 1
                        return
            nfull, tail = divmod(size, bs)
            use_fragment = tail != 0 and (self.options.tail_ends or nfull == 0)
            data = _FileData(size, holes=content.holes)
            zero = self.zero
            hasher = None if digest else hashlib.sha256()

            def start_done(pos: int, word: int) -> None:
                data.start = pos

            def block_done(index: int) -> Callable[[int, int], None]:
                def done(pos: int, word: int) -> None:
                    data.blocks[index] = word
                return done

            stream.mark(start_done)
            for index, chunk in enumerate(content.chunks(bs)):
                if hasher is not None:
                    hasher.update(chunk)
                # Zero blocks become holes, as mksquashfs makes them: a zero tail end too, which then
                # ends the block list instead of going into a fragment.
                if chunk == (zero if len(chunk) == bs else bytes(len(chunk))):
                    data.blocks.append(0)
                    data.sparse += len(chunk)
                elif index == nfull and use_fragment:
                    data.fragment, data.frag_offset = fragments.add(chunk)
                else:
                    data.blocks.append(0)
                    stream.submit(chunk, block_done(index))
            data.digest = hasher.digest() if hasher is not None else digest
            self.same_size.setdefault(size, []).append(data)
            self.files[entry.path] = data


class _Metadata:
    """Inodes, directory listings and the lookup tables that follow the data."""

    def __init__(self, manifest: Manifest, files: dict[str, _FileData], compressor: Compressor,
                 options: SquashfsOptions) -> None:
        self.manifest = manifest
        self.files = files
        self.options = options
        compress = compressor.compress
        self.inodes = fmt.MetadataWriter(compress)
        self.dirs = fmt.MetadataWriter(compress)
        self.xattr_kv = fmt.MetadataWriter(compress)
        self.compress = compress
        self.ids: dict[int, int] = {}
        self.xattr_ids: dict[tuple[tuple[str, bytes], ...], int] = {}
        self.xattr_entries: list[tuple[int, int, int]] = []
        self.children: dict[str, list[Entry]] = {}
        for entry in manifest:
            if entry.path:
                self.children.setdefault(entry.parent, []).append(entry)
        self.numbers: dict[str, int] = {}
        self.links: dict[str, int] = {}
        self.refs: dict[str, int] = {}

    def _number(self) -> None:
        """Give the children of each directory consecutive numbers, so listings need few headers."""
        resolve = self.manifest.resolve
        numbers = self.numbers
        numbers[""] = 1
        stack = [""]
        while stack:
            parent = stack.pop()
            subdirs = []
            for child in self.children.get(parent, ()):
                owner = resolve(child)
                self.links[owner.path] = self.links.get(owner.path, 0) + 1
                if owner.path not in numbers:
                    numbers[owner.path] = len(numbers) + 1
                if child.type is EntryType.DIR:
                    subdirs.append(child.path)
            stack.extend(reversed(subdirs))

    def _id(self, value: int) -> int:
        index = self.ids.get(value)
        if index is None:
            if len(self.ids) >= 65535:
                raise SquashfsError("more than 65535 distinct uids and gids")
            index = self.ids[value] = len(self.ids)
        return index

    def _xattr(self, entry: Entry) -> int:
        if not entry.xattrs:
            return fmt.INVALID_XATTR
        key = tuple(sorted(entry.xattrs))
        index = self.xattr_ids.get(key)
        if index is None:
            ref = self.xattr_kv.ref()
            blob = bytearray()
            for name, value in key:
                prefix = next(p for p in XATTR_PREFIXES if name.startswith(p))
                rest = name[len(prefix):].encode()
                blob += struct.pack("<HH", XATTR_PREFIXES[prefix], len(rest)) + rest
                blob += struct.pack("<I", len(value)) + value
            self.xattr_kv.write(bytes(blob))
            index = self.xattr_ids[key] = len(self.xattr_entries)
            self.xattr_entries.append((ref, len(key), len(blob)))
        return index

    def _header(self, entry: Entry, kind: int) -> bytes:
        return fmt.INODE_HEADER.pack(kind, entry.mode, self._id(entry.uid), self._id(entry.gid), entry.mtime,
                                     self.numbers[entry.path])

    def _write_inode(self, entry: Entry) -> int:
        ref = self.inodes.ref()
        xattr = self._xattr(entry)
        nlink = self.links.get(entry.path, 1)
        kind = _BASIC_TYPES[entry.type]
        ext = xattr != fmt.INVALID_XATTR
        if entry.type is EntryType.FILE:
            data = self.files[entry.path]
            blocks = struct.pack(f"<{len(data.blocks)}I", *data.blocks)
            if (ext or nlink > 1 or (data.sparse and data.holes) or data.start > 0xFFFF_FFFF
                    or data.size > 0xFFFF_FFFF):
                body = fmt.LREG_INODE.pack(data.start, data.size, data.sparse, nlink, data.fragment,
                                           data.frag_offset, xattr)
                ext = True
            else:
                body = fmt.REG_INODE.pack(data.start, data.fragment, data.frag_offset, data.size)
            body += blocks
        elif entry.type is EntryType.SYMLINK:
            assert entry.target is not None
            target = os.fsencode(entry.target)
            body = struct.pack("<II", nlink, len(target)) + target
            if ext:
                body += struct.pack("<I", xattr)
        elif entry.type in (EntryType.CHARDEV, EntryType.BLOCKDEV):
            body = struct.pack("<II", nlink, fmt.encode_device(entry.major, entry.minor))
            if ext:
                body += struct.pack("<I", xattr)
        else:
            body = struct.pack("<I", nlink)
            if ext:
                body += struct.pack("<I", xattr)
        self.inodes.write(self._header(entry, kind + fmt.EXTENDED if ext else kind) + body)
        return ref

    def _write_directory(self, entry: Entry) -> int:
        resolve = self.manifest.resolve
        listing_ref = self.dirs.ref()
        records: list[tuple[bytes, int, int, int]] = []
        subdirs = 0
        for child in self.children.get(entry.path, ()):
            owner = resolve(child)
            if owner.path not in self.refs:
                self.refs[owner.path] = self._write_inode(owner)
            if owner.type is EntryType.DIR:
                subdirs += 1
            records.append((os.fsencode(child.name), self.refs[owner.path], self.numbers[owner.path],
                            _BASIC_TYPES[owner.type]))
        size, index = self._write_listing(records)
        number = self.numbers[entry.path]
        parent = self.numbers[entry.parent] if entry.path else len(self.numbers) + 1
        xattr = self._xattr(entry)
        nlink = subdirs + 2
        ref = self.inodes.ref()
        block, offset = listing_ref >> 16, listing_ref & 0xFFFF
        if index or size + 3 > 0xFFFF or xattr != fmt.INVALID_XATTR:
            body = fmt.LDIR_INODE.pack(nlink, size + 3, block, parent, len(index), offset, xattr)
            for pos, start, name in index:
                body += fmt.DIR_INDEX.pack(pos, start, len(name) - 1) + name
            kind = fmt.DIR + fmt.EXTENDED
        else:
            body = fmt.DIR_INODE.pack(block, nlink, size + 3, offset, parent)
            kind = fmt.DIR
        self.inodes.write(fmt.INODE_HEADER.pack(kind, entry.mode, self._id(entry.uid), self._id(entry.gid),
                                                entry.mtime, number) + body)
        return ref

    def _write_listing(self, records: list[tuple[bytes, int, int, int]]) -> tuple[int, list[tuple[int, int, bytes]]]:
        """Write a directory's entries as runs under headers; return its size and its index.

        A run ends after 256 entries, when the inodes move to another metadata block, when inode
        numbers drift beyond 16 bits, or when the listing since the last indexed run would pass 8 KiB:
        those runs are indexed, so a lookup in a large directory reads about one metadata block.
        """
        index: list[tuple[int, int, bytes]] = []
        written = 0
        anchor = 0
        run: list[bytes] = []
        run_len = 0
        run_block = run_base = 0
        run_indexed = False

        def close_run() -> None:
            nonlocal written
            if not run:
                return
            if run_indexed:
                index.append((written, self.dirs.block(), run_name))
            head = fmt.DIR_HEADER.pack(len(run) - 1, run_block, run_base)
            self.dirs.write(head + b"".join(run))
            written += len(head) + run_len

        run_name = b""
        for name, ref, number, kind in records:
            block, offset = ref >> 16, ref & 0xFFFF
            size = fmt.DIR_ENTRY.size + len(name)
            new_index = bool(run) and written + fmt.DIR_HEADER.size + run_len + size - anchor > fmt.METADATA_SIZE
            if (not run or len(run) == fmt.MAX_DIR_RUN or block != run_block
                    or not -32768 <= number - run_base <= 32767 or new_index):
                close_run()
                run, run_len = [], 0
                run_block, run_base, run_name = block, number, name
                run_indexed = new_index
                if new_index:
                    anchor = written
            run.append(fmt.DIR_ENTRY.pack(offset, number - run_base, kind, len(name) - 1) + name)
            run_len += size
        close_run()
        return written, index

    def _write_tree(self) -> int:
        """Write every inode, children before parents; return the root's reference."""
        stack: list[tuple[Entry, bool]] = [(self.manifest.entries[0], False)]
        while stack:
            entry, expanded = stack.pop()
            if expanded:
                self.refs[entry.path] = self._write_directory(entry)
                continue
            stack.append((entry, True))
            subdirs = [c for c in self.children.get(entry.path, ()) if c.type is EntryType.DIR]
            stack.extend((d, False) for d in reversed(subdirs))
        return self.refs[""]

    def _table(self, fh: BinaryIO, records: bytes) -> int:
        """Write a lookup table (metadata blocks, then their positions); return where the positions start."""
        writer = fmt.MetadataWriter(self.compress)
        writer.write(records)
        base = fh.tell()
        fh.write(writer.finish())
        start = fh.tell()
        fh.write(struct.pack(f"<{len(writer.block_starts)}Q", *(base + b for b in writer.block_starts)))
        return start

    def write(self, fh: BinaryIO, pos: int, fragments: list[tuple[int, int]]) -> fmt.Superblock:
        self._number()
        root = self._write_tree()
        sb = fmt.Superblock(inode_count=len(self.numbers), root_inode=root)
        fh.seek(pos)
        sb.inode_table = pos
        fh.write(self.inodes.finish())
        sb.directory_table = fh.tell()
        fh.write(self.dirs.finish())
        if fragments:
            sb.fragment_table = self._table(
                fh, b"".join(fmt.FRAGMENT_ENTRY.pack(start, word, 0) for start, word in fragments))
        else:
            sb.fragment_table = fh.tell()
        if self.options.exportable:
            by_number = sorted((n, self.refs[p]) for p, n in self.numbers.items())
            sb.export_table = self._table(fh, struct.pack(f"<{len(by_number)}Q", *(r for _, r in by_number)))
        ids = sorted(self.ids, key=self.ids.__getitem__)
        sb.id_table = self._table(fh, struct.pack(f"<{len(ids)}I", *ids))
        sb.id_count = len(ids)
        if self.xattr_entries:
            kv_start = fh.tell()
            fh.write(self.xattr_kv.finish())
            writer = fmt.MetadataWriter(self.compress)
            writer.write(b"".join(fmt.XATTR_ID.pack(*e) for e in self.xattr_entries))
            base = fh.tell()
            fh.write(writer.finish())
            sb.xattr_table = fh.tell()
            fh.write(fmt.XATTR_TABLE_HEADER.pack(kv_start, len(self.xattr_entries), 0))
            fh.write(struct.pack(f"<{len(writer.block_starts)}Q", *(base + b for b in writer.block_starts)))
        return sb
