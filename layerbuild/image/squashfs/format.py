"""On-disk structures of squashfs 4.0: superblock, inodes, directory records, metadata blocks.

Everything is little endian. Metadata (inodes, directories, lookup tables) is a stream cut into
8 KiB blocks, each compressed on its own and preceded by a 16-bit size word; a reference to a record
in it is ``(block position relative to the table << 16) | offset in the uncompressed block``.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

MAGIC = 0x73717368
METADATA_SIZE = 8192
SUPERBLOCK_SIZE = 96
INVALID_TABLE = 0xFFFF_FFFF_FFFF_FFFF
INVALID_FRAGMENT = 0xFFFF_FFFF
INVALID_XATTR = 0xFFFF_FFFF
DATA_UNCOMPRESSED = 1 << 24
META_UNCOMPRESSED = 0x8000
DEVICE_BLOCK = 4096
MAX_NAME = 256  # the kernel rejects names longer than this; Linux names stop at 255 anyway
MAX_DIR_RUN = 256

FLAG_UNCOMPRESSED_INODES = 0x0001
FLAG_UNCOMPRESSED_DATA = 0x0002
FLAG_UNCOMPRESSED_FRAGMENTS = 0x0008
FLAG_ALWAYS_FRAGMENTS = 0x0020
FLAG_DUPLICATES = 0x0040
FLAG_EXPORTABLE = 0x0080
FLAG_UNCOMPRESSED_XATTRS = 0x0100
FLAG_NO_XATTRS = 0x0200
FLAG_COMPRESSOR_OPTIONS = 0x0400
FLAG_UNCOMPRESSED_IDS = 0x0800

# Inode types; the extended variant of basic type t is t + 7. Directory entries carry the basic type.
DIR, FILE, SYMLINK, BLOCKDEV, CHARDEV, FIFO, SOCKET = range(1, 8)
EXTENDED = 7

SUPERBLOCK = struct.Struct("<IIIIIHHHHHHQQQQQQQQ")
INODE_HEADER = struct.Struct("<HHHHII")
DIR_INODE = struct.Struct("<IIHHI")  # start_block, nlink, file_size, offset, parent
LDIR_INODE = struct.Struct("<IIIIHHI")  # nlink, file_size, start_block, parent, index_count, offset, xattr
DIR_INDEX = struct.Struct("<III")  # index, start_block, name_size - 1
REG_INODE = struct.Struct("<IIII")  # start_block, fragment, offset, file_size
LREG_INODE = struct.Struct("<QQQIIII")  # start_block, file_size, sparse, nlink, fragment, offset, xattr
DIR_HEADER = struct.Struct("<III")  # count - 1, start_block, inode_number
DIR_ENTRY = struct.Struct("<HhHH")  # offset, inode delta, type, name_size - 1
FRAGMENT_ENTRY = struct.Struct("<QII")
XATTR_ID = struct.Struct("<QII")  # kv reference, count, size
XATTR_TABLE_HEADER = struct.Struct("<QII")


@dataclass
class Superblock:
    inode_count: int = 0
    mkfs_time: int = 0
    block_size: int = 131072
    fragment_count: int = 0
    compression: int = 1
    flags: int = 0
    id_count: int = 0
    root_inode: int = 0
    bytes_used: int = 0
    id_table: int = INVALID_TABLE
    xattr_table: int = INVALID_TABLE
    inode_table: int = INVALID_TABLE
    directory_table: int = INVALID_TABLE
    fragment_table: int = INVALID_TABLE
    export_table: int = INVALID_TABLE

    def pack(self) -> bytes:
        return SUPERBLOCK.pack(
            MAGIC, self.inode_count, self.mkfs_time, self.block_size, self.fragment_count,
            self.compression, self.block_size.bit_length() - 1, self.flags, self.id_count, 4, 0,
            self.root_inode, self.bytes_used, self.id_table, self.xattr_table, self.inode_table,
            self.directory_table, self.fragment_table, self.export_table)


def encode_device(major: int, minor: int) -> int:
    """Linux's "new" 32-bit device encoding, which is what squashfs stores."""
    return (minor & 0xFF) | (major << 8) | ((minor & ~0xFF) << 12)


class MetadataWriter:
    """Accumulates a metadata stream and compresses it 8 KiB at a time.

    Blocks are compressed as soon as they fill, because later records need the compressed position
    of earlier ones (a directory entry stores where its inode's block starts on disk).
    """

    def __init__(self, compress: Callable[[bytes], bytes] | None) -> None:
        self._compress = compress
        self.out = bytearray()
        self._buf = bytearray()
        #: Disk position (relative to the table) of every block written, in order.
        self.block_starts: list[int] = []

    def ref(self) -> int:
        """Reference to the next byte written."""
        return (len(self.out) << 16) | len(self._buf)

    def block(self) -> int:
        """Relative position of the block the next byte goes into."""
        return len(self.out)

    def write(self, data: bytes) -> None:
        self._buf += data
        while len(self._buf) >= METADATA_SIZE:
            self._flush(bytes(self._buf[:METADATA_SIZE]))
            del self._buf[:METADATA_SIZE]

    def _flush(self, chunk: bytes) -> None:
        self.block_starts.append(len(self.out))
        packed = self._compress(chunk) if self._compress is not None else None
        if packed is not None and len(packed) < len(chunk):
            self.out += struct.pack("<H", len(packed)) + packed
        else:
            self.out += struct.pack("<H", len(chunk) | META_UNCOMPRESSED) + chunk

    def finish(self) -> bytes:
        if self._buf:
            self._flush(bytes(self._buf))
            self._buf.clear()
        return bytes(self.out)
