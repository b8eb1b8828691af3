"""SPDX SBOMs (create-spdx): LICENSE as SPDX expressions, package URLs and CPE names, the warning for an
unknown licence, and :func:`check_image_sbom`, which reads an image's deployed document back with
spdx-python-model's deserializer and checks every element and relationship against what the image
installed, as dpkg-deb reads the packages. test_images.py runs it on the demo images."""

from __future__ import annotations

import hashlib
import io
import re
import subprocess
import tarfile
from collections import Counter
from pathlib import Path

import pytest
from conftest import CORE, Runner, make_build, make_layer
from spdx_python_model import v3_0_1 as spdx

from layerbuild.sbom.image import cpe_ids, purl
from layerbuild.sbom.licensing import to_spdx
from layerbuild.util.licenses import LicenseError


@pytest.mark.parametrize(("license", "expression"), [
    ("MIT & (GPL-2.0-only | BSD-3-Clause)", "MIT AND (GPL-2.0-only OR BSD-3-Clause)"),
    ("GPL-2.0-only | MIT & BSD-3-Clause", "GPL-2.0-only OR (MIT AND BSD-3-Clause)"),
    ("MIT BSD-2-Clause", "MIT AND BSD-2-Clause"),
    ("GPL-2.0-only WITH Linux-syscall-note", "GPL-2.0-only WITH Linux-syscall-note"),
    ("MIT AND PD", "MIT AND LicenseRef-PD"),
    ("Foo_Bar+", "LicenseRef-Foo-Bar-"),
    ("CLOSED", "LicenseRef-CLOSED"),
    ("", "NOASSERTION"),
])
def test_license_expressions(license: str, expression: str) -> None:
    assert to_spdx(license).expression == expression


def test_a_malformed_license_is_refused() -> None:
    with pytest.raises(LicenseError):
        to_spdx("MIT & (BSD-3-Clause")


def test_purl_and_cpe() -> None:
    assert purl("libc6", "1:2.36-r0", "amd64", "lbdistro", "lbdistro-1.0") == \
        "pkg:deb/lbdistro/libc6@1%3A2.36-r0?arch=amd64&distro=lbdistro-1.0"
    assert cpe_ids(["zlib", "gnu:zlib"], "1.2.13") == ("cpe:2.3:*:*:zlib:1.2.13:*:*:*:*:*:*:*",
                                                       "cpe:2.3:*:gnu:zlib:1.2.13:*:*:*:*:*:*:*")


def test_an_unknown_license_is_a_warning_naming_the_recipe(tmp_path: Path, lb: Runner) -> None:
    recipes = {"recipes/odd/odd_1.0.bb": 'LICENSE = "MIT & Acme-Proprietary"\nLICENSE:odd-doc = "PD"\n'
                                         'INHIBIT_DEFAULT_DEPS = "1"\n'}
    build = make_build(tmp_path, [make_layer(tmp_path, "odd", recipes)])
    status, _out, err = lb("-B", str(build), "-p")
    assert status == 0, err
    warnings = [line for line in err.splitlines() if line.startswith("WARNING:")]
    assert warnings == ["WARNING: odd: LICENSE names Acme-Proprietary, which is neither an SPDX licence identifier nor a "
                        "licence text in COMMON_LICENSE_DIR or LICENSE_PATH; the SBOM gives it as "
                        "LicenseRef-Acme-Proprietary"], err  # PD has a licence text in the core layer


# -- the oracle ----------------------------------------------------------------------------------------

def _deb_field(deb: Path, name: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True).stdout.strip()


def _deb_files(deb: Path) -> dict[str, str]:
    """path -> sha256 of every regular file of ``deb``, as dpkg-deb and tarfile read it."""
    data = subprocess.run(["dpkg-deb", "--fsys-tarfile", str(deb)], capture_output=True, check=True).stdout
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar:
            if member.isreg():
                fh = tar.extractfile(member)
                assert fh is not None
                out["/" + member.name.removeprefix("./")] = hashlib.sha256(fh.read()).hexdigest()
    return out


def _license_manifest(path: Path) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for stanza in path.read_text().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line)
        if fields:
            out[fields["PACKAGE NAME"]] = fields
    return out


def _sha256(element: spdx.Element) -> str:
    (digest,) = [h.hashValue for h in element.verifiedUsing if h.algorithm == spdx.HashAlgorithm.sha256]
    return str(digest)


def check_image_sbom(deploy: Path, link_name: str, debs: Path, base: str | None = None) -> None:
    """Read ``deploy/<link_name>.spdx.json`` back and check it against the image's manifest, its licence
    manifest and the ``.deb`` files under ``debs``: every element and relationship is accounted for."""
    path = deploy / f"{link_name}.spdx.json"
    assert path.is_symlink() and re.fullmatch(rf"{re.escape(link_name)}-\d{{14}}\.spdx\.json", str(path.readlink()))
    objects = spdx.SHACLObjectSet()
    with path.open("rb") as fh:
        spdx.JSONLDDeserializer().read(fh, objects)
    manifest = [line.split() for line in (deploy / f"{link_name}.manifest").read_text().splitlines()]
    licenses = _license_manifest(deploy / f"{link_name}.license.manifest")
    (document,) = objects.foreach_type(spdx.SpdxDocument)
    (sbom,) = document.rootElement
    assert isinstance(sbom, spdx.software_Sbom) and spdx.software_SbomType.build in sbom.software_sbomType
    (image,) = sbom.rootElement
    assert image.software_primaryPurpose == spdx.software_SoftwarePurpose.filesystemImage
    assert document.creationInfo.specVersion == "3.0.1"
    # reproducible: the creation time is SOURCE_DATE_EPOCH (the sample configuration's 2020-01-01)
    assert document.creationInfo.created.isoformat() == "2020-01-01T00:00:00+00:00"
    ns = str(document._id).removesuffix("/document")
    relationships = list(objects.foreach_type(spdx.Relationship))
    related: Counter[tuple[str, str, str]] = Counter()
    for rel in relationships:
        for to in rel.to:
            related[(str(rel.from_._id if isinstance(rel.from_, spdx.Element) else rel.from_),
                     str(rel.relationshipType).rsplit("/", 1)[-1], str(to._id if isinstance(to, spdx.Element) else to))] += 1
    assert all(count == 1 for count in related.values())
    expected: set[tuple[str, str, str]] = set()
    packages = {p.name: p for p in objects.foreach_type(spdx.software_Package)
                if p.software_primaryPurpose == spdx.software_SoftwarePurpose.install}
    assert sorted(packages) == sorted(name for name, _arch, _version in manifest)
    files_seen: set[str] = set()
    sources_seen: set[str] = set()
    base_doc: dict[str, str] = {}
    sourceless: set[str] = set()
    if base is not None:
        base_bytes = (deploy / f"{base}.spdx.json").read_bytes()
        base_objects = spdx.SHACLObjectSet()
        spdx.JSONLDDeserializer().read(io.BytesIO(base_bytes), base_objects)
        base_doc = {p.name: str(p._id) for p in base_objects.foreach_type(spdx.software_Package)
                    if p.software_primaryPurpose == spdx.software_SoftwarePurpose.install}
        (base_image,) = [p for p in base_objects.foreach_type(spdx.software_Package)
                         if p.software_primaryPurpose == spdx.software_SoftwarePurpose.filesystemImage]
        imports = {str(m.externalSpdxId): m for m in document.import_}
        for spdx_id, entry in imports.items():
            assert spdx_id in {*base_doc.values(), str(base_image._id)} and _sha256(entry) == hashlib.sha256(base_bytes).hexdigest()
            assert entry.locationHint == str((deploy / f"{base}.spdx.json").readlink())
        expected.add((str(image._id), "dependsOn", str(base_image._id)))
    else:
        assert not document.import_
    for name, arch, version in manifest:
        pkg = packages[name]
        pid = str(pkg._id)
        (deb,) = debs.rglob(f"{name}_*_{arch}.deb")
        assert _deb_field(deb, "Version") == version == pkg.software_packageVersion
        assert pkg.software_packageUrl == f"pkg:deb/lbdistro/{name}@{version.replace(':', '%3A')}?arch={arch}" \
                                          f"&distro=lbdistro-1.0"
        assert _sha256(pkg) == hashlib.sha256(deb.read_bytes()).hexdigest()
        assert pkg.suppliedBy is not None and pkg.suppliedBy.name == "Layerbuild Reference Distro"
        record = licenses[name]
        cpes = [i.identifier for i in pkg.externalIdentifier if i.externalIdentifierType == spdx.ExternalIdentifierType.cpe23]
        assert cpes == [f"cpe:2.3:*:*:{record['RECIPE NAME']}:{record['PACKAGE VERSION']}:*:*:*:*:*:*:*"], (name, cpes)
        expected.add((str(image._id), "contains", pid))
        # the licence: LICENSE's operators as SPDX's
        spdx_license = record["LICENSE"].replace("&", "AND").replace("|", "OR")
        (lic,) = [r for r in relationships if r.from_ is pkg and r.relationshipType == spdx.RelationshipType.hasDeclaredLicense]
        (expression,) = lic.to
        assert re.sub(r"LicenseRef-", "", expression.simplelicensing_licenseExpression) == spdx_license
        expected.add((pid, "hasDeclaredLicense", str(expression._id)))
        # every file with its checksum, as dpkg-deb reads the package
        want = _deb_files(deb)
        for rel in relationships:
            if rel.from_ is pkg and rel.relationshipType == spdx.RelationshipType.contains:
                got = {f.name: _sha256(f) for f in rel.to}
                assert got == want, name
                for f in rel.to:
                    expected.add((pid, "contains", str(f._id)))
                    files_seen.add(str(f._id))
        # what the package depends on, where the image (or its base) has it
        for group in filter(None, (_deb_field(deb, "Depends") + "," + _deb_field(deb, "Pre-Depends")).split(",")):
            for alternative in group.split("|"):
                dep = alternative.split("(")[0].strip()
                if dep in packages:
                    expected.add((pid, "dependsOn", str(packages[dep]._id)))
                    break
                if dep in base_doc:
                    expected.add((pid, "dependsOn", base_doc[dep]))
                    break
        # the recipe's sources generate it: each one with where it comes from and its checksum
        sources = [r.from_ for r in relationships
                   if r.relationshipType == spdx.RelationshipType.generates and pkg in r.to]
        if not sources:
            sourceless.add(record["RECIPE NAME"])
        for source in sources:
            assert source.software_primaryPurpose == spdx.software_SoftwarePurpose.source
            if isinstance(source, spdx.software_File):
                local = [p for p in Path(CORE, "recipes").rglob(Path(source.name).name)
                         if hashlib.sha256(p.read_bytes()).hexdigest() == _sha256(source)]
                assert local, f"{name}: source {source.name} with sha256 {_sha256(source)} is no file of the layer"
            else:
                assert source.software_downloadLocation and _sha256(source)
            expected.add((str(source._id), "generates", pid))
            sources_seen.add(str(source._id))
    # only the recipes that write their files themselves have no SRC_URI
    assert sourceless <= {"base-files", "glibc-external"}, sourceless
    assert set(related) == expected
    # and nothing else: every element is the document, the SBOM, the image, a package, a file, a source,
    # a licence, the tool or the supplier
    accounted = {str(document._id), str(sbom._id), str(image._id), *(str(p._id) for p in packages.values()),
                 *files_seen, *sources_seen, *(str(r._id) for r in relationships)}
    for element in objects.foreach_type(spdx.Element):
        if isinstance(element, (spdx.simplelicensing_LicenseExpression, spdx.Tool, spdx.Organization)):
            continue
        assert str(element._id) in accounted, element
        assert str(element._id).startswith(ns + "/")
