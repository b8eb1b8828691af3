"""ELF facts packaging needs: is it ELF, its SONAME, its DT_NEEDED entries, its interpreter, the
architecture it is for (the check against the package's is :func:`arch_problem`)."""

from __future__ import annotations

from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile

from layerbuild.util import arch

ELF_MAGIC = b"\x7fELF"


@dataclass(frozen=True, slots=True)
class ElfInfo:
    path: str
    soname: str | None
    needed: tuple[str, ...]
    interpreter: str | None
    kind: str  # "exec", "dyn" (shared object or PIE), "rel" (object file)
    has_debug: bool
    runpath: tuple[str, ...] = ()  # DT_RUNPATH (or DT_RPATH) entries, split at ':'
    machine: str = ""  # e_machine as pyelftools names it (EM_X86_64)
    bits: int = 0  # ELF class: 32 or 64
    little_endian: bool = True


def arch_problem(info: ElfInfo, target_arch: str, allarch: bool) -> str | None:
    """Why an ELF file cannot ship in a package for ``target_arch`` (any architecture when ``allarch``):
    it is compiled code of another machine, or an allarch package holds compiled code at all.

    eBPF objects run in the kernel's virtual machine on every architecture and are left alone, as OE does.
    """
    if info.machine == "EM_BPF":
        return None
    found = arch.of_elf(info.machine, info.bits, info.little_endian)
    if allarch:
        return f"is an ELF file for {found}, and an allarch package (PACKAGE_ARCH = \"all\") holds no compiled code"
    want = arch.find(target_arch)
    if want is None:
        return (f"is an ELF file for {found}, and layerbuild does not know the ELF machine of TARGET_ARCH "
                f"\"{target_arch}\" to check it against")
    if (want.elf_machine, want.bits, want.little_endian) != (info.machine, info.bits, info.little_endian):
        return f"is an ELF file for {found}, but the package is for {want.name} (TARGET_ARCH)"
    return None


def is_elf(path: str) -> bool:
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == ELF_MAGIC
    except OSError:
        return False


def inspect(path: str) -> ElfInfo | None:
    """Dynamic-linking facts of an ELF file, or None if it is not one pyelftools can read."""
    try:
        with open(path, "rb") as fh:
            if fh.read(4) != ELF_MAGIC:
                return None
            fh.seek(0)
            elf = ELFFile(fh)
            soname = None
            needed: list[str] = []
            interp = None
            runpath: list[str] = []
            for segment in elf.iter_segments():
                if segment["p_type"] == "PT_INTERP":
                    interp = segment.get_interp_name()  # type: ignore[attr-defined]
            for section in elf.iter_sections():
                if isinstance(section, DynamicSection):
                    for tag in section.iter_tags():
                        if tag.entry.d_tag == "DT_SONAME":
                            soname = tag.soname  # type: ignore[attr-defined]
                        elif tag.entry.d_tag == "DT_NEEDED":
                            needed.append(tag.needed)  # type: ignore[attr-defined]
                        elif tag.entry.d_tag in ("DT_RUNPATH", "DT_RPATH"):
                            value = tag.runpath if tag.entry.d_tag == "DT_RUNPATH" else tag.rpath  # type: ignore[attr-defined]
                            runpath.extend(p for p in value.split(":") if p)
            kind = {"ET_EXEC": "exec", "ET_DYN": "dyn", "ET_REL": "rel"}.get(elf["e_type"], "other")
            has_debug = elf.get_section_by_name(".debug_info") is not None
            return ElfInfo(path, soname, tuple(needed), interp, kind, has_debug, tuple(runpath),
                           str(elf["e_machine"]), elf.elfclass, elf.little_endian)
    except (ELFError, OSError, ValueError):
        return None
