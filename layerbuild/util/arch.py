"""Target architectures: what ``TARGET_ARCH`` names, which compilers build for it, and the ELF header
its binaries carry.

One table serves the check before a build (does the compiler build for the machine's architecture?)
and the one after ``do_install`` (is every ELF file of a package for the package's architecture?), so
both stay right when cross compilers arrive. The ELF columns are OE's (``oe.elf.machine_dict``, Linux).
"""

from __future__ import annotations


class Arch:
    """A ``TARGET_ARCH`` and the ELF header of the code built for it."""

    # a plain class: a build imports this module for its check before any task, a dataclass costs more
    __slots__ = ("name", "elf_machine", "bits", "little_endian")

    def __init__(self, name: str, elf_machine: str, bits: int, little_endian: bool) -> None:
        self.name = name
        #: ``e_machine`` as pyelftools names it
        self.elf_machine = elf_machine
        #: ELF class: 32 or 64
        self.bits = bits
        self.little_endian = little_endian

    def __repr__(self) -> str:
        return f"Arch({self.name!r})"


ARCHES: tuple[Arch, ...] = tuple(Arch(*row) for row in (
    ("x86_64", "EM_X86_64", 64, True),
    ("i686", "EM_386", 32, True),
    ("aarch64", "EM_AARCH64", 64, True),
    ("aarch64_be", "EM_AARCH64", 64, False),
    ("arm", "EM_ARM", 32, True),
    ("armeb", "EM_ARM", 32, False),
    ("riscv64", "EM_RISCV", 64, True),
    ("riscv32", "EM_RISCV", 32, True),
    ("powerpc", "EM_PPC", 32, False),
    ("powerpc64", "EM_PPC64", 64, False),
    ("powerpc64le", "EM_PPC64", 64, True),
    ("mips", "EM_MIPS", 32, False),
    ("mipsel", "EM_MIPS", 32, True),
    ("mips64", "EM_MIPS", 64, False),
    ("mips64el", "EM_MIPS", 64, True),
    ("loongarch64", "EM_LOONGARCH", 64, True),
    ("s390x", "EM_S390", 64, False),
))

#: other names of the same architecture: OE's TARGET_ARCH spellings and the CPUs of GNU triplets
_ALIASES = {"i386": "i686", "i486": "i686", "i586": "i686"}
_BY_NAME = {arch.name: arch for arch in ARCHES}


def find(name: str) -> Arch | None:
    """The architecture a ``TARGET_ARCH`` value or a GNU triplet's CPU (``gcc -dumpmachine``) names, if the
    table has it."""
    name = _ALIASES.get(name, name)
    if name.startswith("armv") and name[4:5].isdigit():
        # GNU's ARM CPU names carry the architecture version: armv7l, armv5tel, armv7b (big-endian)
        name = "armeb" if name.endswith("b") else "arm"
    return _BY_NAME.get(name)


def of_elf(machine: str, bits: int, little_endian: bool) -> str:
    """A name for the architecture of an ELF header: the table's, else pyelftools' ``e_machine``."""
    for arch in ARCHES:
        if (arch.elf_machine, arch.bits, arch.little_endian) == (machine, bits, little_endian):
            return arch.name
    return f"{machine.removeprefix('EM_').lower()} ({bits}-bit, {'little' if little_endian else 'big'}-endian)"
