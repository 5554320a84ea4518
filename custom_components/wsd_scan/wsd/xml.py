"""Hardened XML reading and Windows-shaped SOAP envelope writing.

Reading: no DTDs, no entity expansion, no network, a size cap; namespace-aware but
prefix-agnostic; the pre-release WS-Scan namespace (2006/01) and `https://` spellings of the
wire namespaces are rewritten to their canonical form, so the rest of the library looks up
one namespace per concept.

Writing: SOAP 1.2 with the prefixes Windows uses (soap, wsa, sca, …) all declared on the
Envelope, compact, UTF-8 — some firmware parses requests with string matching.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final
import uuid

from lxml import etree

from .exceptions import ErrorKind, WsdError, WsdFault

type Element = etree._Element  # noqa: SLF001 - lxml exports its element type only by this name

SOAP: Final = "http://www.w3.org/2003/05/soap-envelope"
SOAP11: Final = "http://schemas.xmlsoap.org/soap/envelope/"
WSA: Final = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD: Final = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
WSDP: Final = "http://schemas.xmlsoap.org/ws/2006/02/devprof"
MEX: Final = "http://schemas.xmlsoap.org/ws/2004/09/mex"
WXF: Final = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
WSE: Final = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
SCAN: Final = "http://schemas.microsoft.com/windows/2006/08/wdp/scan"
PNPX: Final = "http://schemas.microsoft.com/windows/pnpx/2005/10"
XOP: Final = "http://www.w3.org/2004/08/xop/include"
DSP: Final = (
    "http://schemas.microsoft.com/windows/2008/12/wdp/distributedscan/processing"
)
PSP: Final = "http://schemas.microsoft.com/windows/2008/02/imaging/postscan/psp"

ANONYMOUS: Final = f"{WSA}/role/anonymous"
DISCOVERY_URN: Final = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"

#: Prefixes as Windows' WSDAPI writes them; used for every request and for lookups.
NSMAP: Final[dict[str, str]] = {
    "soap": SOAP,
    "wsa": WSA,
    "wsd": WSD,
    "wsdp": WSDP,
    "mex": MEX,
    "wxf": WXF,
    "wse": WSE,
    "sca": SCAN,
    "pnpx": PNPX,
    "xop": XOP,
    "dsp": DSP,
    "psp": PSP,
}

_SCAN_2006_01: Final = "http://schemas.microsoft.com/windows/2006/01/wdp/scan"
_ALIASES: Final[dict[str, str]] = {
    _SCAN_2006_01: SCAN,
    # The DDK examples use the 2003/03 addressing draft for some operations.
    "http://schemas.xmlsoap.org/ws/2003/03/addressing": WSA,
    # ... and the 2003/12 XOP draft for xop:Include (gaps A15).
    "http://www.w3.org/2003/12/xop/include": XOP,
} | {
    canonical.replace("http://", "https://", 1): canonical
    for canonical in (*NSMAP.values(), _SCAN_2006_01)
}

#: Default cap of one SOAP message; real responses are a few kilobytes, the largest
#: (metadata, scanner elements of big MFPs) stay well under 256 KiB.
MAX_MESSAGE_SIZE: Final = 1024 * 1024

_PARSER: Final = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def parse(data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> Element:
    """Parse untrusted XML; raise `WsdError(PROTOCOL)` for anything unsafe or malformed."""
    if len(data) > max_size:
        raise WsdError(
            ErrorKind.PROTOCOL, f"XML message of {len(data)} bytes exceeds {max_size}"
        )
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as err:
        raise WsdError(ErrorKind.PROTOCOL, f"malformed XML: {err}") from err
    if root is None:
        raise WsdError(ErrorKind.PROTOCOL, "empty XML message")
    if root.getroottree().docinfo.doctype:
        raise WsdError(ErrorKind.PROTOCOL, "XML with a document type declaration")
    _canonicalize(root)
    return root


def _canonicalize(root: Element) -> None:
    """Rename elements and attributes in alias namespaces to the canonical namespace."""
    for node in root.iter(etree.Element):
        qname = etree.QName(node)
        if qname.namespace in _ALIASES:
            node.tag = f"{{{_ALIASES[qname.namespace]}}}{qname.localname}"
        for name in list(node.attrib):
            attribute = etree.QName(name)
            if attribute.namespace in _ALIASES:
                canonical = f"{{{_ALIASES[attribute.namespace]}}}{attribute.localname}"
                node.attrib[canonical] = node.attrib.pop(name)


def find(element: Element, path: str) -> Element | None:
    """Find the first match of an ElementPath written with the `NSMAP` prefixes."""
    return element.find(path, NSMAP)


def findall(element: Element, path: str) -> list[Element]:
    """Find every match of an ElementPath written with the `NSMAP` prefixes."""
    return element.findall(path, NSMAP)


def text(element: Element | None, path: str = ".") -> str | None:
    """Return the stripped text at `path`, or None when absent or empty."""
    if element is None:
        return None
    found = element if path == "." else element.find(path, NSMAP)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def local_name(qname: str) -> str:
    """Return the local part of a QName written in text (`wscn:Foo` → `Foo`)."""
    return qname.strip().rpartition(":")[2]


def qname_values(element: Element, path: str) -> set[tuple[str, str]]:
    """Resolve a whitespace-separated QName list (e.g. wsd:Types) to (namespace, local)."""
    found = element.find(path, NSMAP)
    if found is None or not found.text:
        return set()
    resolved = set()
    for qname in found.text.split():
        prefix, _, local = qname.rpartition(":")
        namespace = found.nsmap.get(prefix or None, "")
        resolved.add((_ALIASES.get(namespace, namespace), local))
    return resolved


def new_message_id() -> str:
    """Return a fresh `urn:uuid:` message identifier."""
    return f"urn:uuid:{uuid.uuid4()}"


def element(tag: str, text_value: str | None = None, **attributes: str) -> Element:
    """Create an element from a prefixed tag (`sca:JobId`), optionally with text."""
    prefix, _, local = tag.partition(":")
    created = etree.Element(f"{{{NSMAP[prefix]}}}{local}", attributes)
    if text_value is not None:
        created.text = text_value
    return created


def sub(parent: Element, tag: str, text_value: str | None = None) -> Element:
    """Append a child created like `element` and return it."""
    child = element(tag, text_value)
    parent.append(child)
    return child


@dataclass(frozen=True, slots=True)
class Envelope:
    """A parsed SOAP envelope."""

    root: Element
    header: Element | None
    body: Element

    @property
    def action(self) -> str | None:
        """The wsa:Action header."""
        return text(self.header, "wsa:Action")

    @property
    def message_id(self) -> str | None:
        """The wsa:MessageID header."""
        return text(self.header, "wsa:MessageID")

    @property
    def relates_to(self) -> str | None:
        """The wsa:RelatesTo header."""
        return text(self.header, "wsa:RelatesTo")

    @property
    def payload(self) -> Element | None:
        """The first element of the body."""
        return next(iter(self.body.iterchildren(etree.Element)), None)

    def fault(self) -> WsdFault | None:
        """Decode a SOAP 1.2 or 1.1 fault, matched by local name in any namespace."""
        fault = next(
            (child for child in self.body if etree.QName(child).localname == "Fault"),
            None,
        )
        if fault is None:
            return None
        values = [
            local_name(node.text)
            for node in fault.iter()
            if etree.QName(node).localname in {"Value", "faultcode"} and node.text
        ]
        reason = next(
            (
                (node.text or "").strip()
                for node in fault.iter()
                if etree.QName(node).localname in {"Text", "faultstring"}
            ),
            "",
        )
        detail_node = next(
            (
                node
                for node in fault
                if etree.QName(node).localname in {"Detail", "detail"}
            ),
            None,
        )
        detail = (
            " ".join(t.strip() for t in detail_node.itertext() if t.strip())
            if detail_node is not None
            else ""
        )
        return WsdFault(
            values[-1] if values else "",
            reason,
            code=values[0] if values else "",
            detail=detail,
        )


def parse_envelope(data: bytes, *, max_size: int = MAX_MESSAGE_SIZE) -> Envelope:
    """Parse a SOAP envelope (1.2, or 1.1 from sloppy firmware) from untrusted bytes."""
    root = parse(data, max_size=max_size)
    if etree.QName(root).localname != "Envelope":
        raise WsdError(ErrorKind.PROTOCOL, "the XML message is not a SOAP envelope")
    children = {
        etree.QName(child).localname: child
        for child in root.iterchildren(etree.Element)
    }
    body = children.get("Body")
    if body is None:
        raise WsdError(ErrorKind.PROTOCOL, "SOAP envelope without a body")
    return Envelope(root=root, header=children.get("Header"), body=body)


def build_envelope(
    action: str,
    to: str,
    body: Element | None = None,
    *,
    message_id: str | None = None,
    reply_to: str | None = ANONYMOUS,
    headers: Iterable[Element] = (),
    nsmap: Mapping[str, str] = NSMAP,
) -> bytes:
    """Serialise a SOAP 1.2 request shaped like Windows' WSDAPI sends it."""
    envelope = etree.Element(f"{{{SOAP}}}Envelope", nsmap=dict(nsmap))
    header = etree.SubElement(envelope, f"{{{SOAP}}}Header")
    sub(header, "wsa:To", to)
    sub(header, "wsa:Action", action)
    sub(header, "wsa:MessageID", message_id or new_message_id())
    if reply_to is not None:
        sub(sub(header, "wsa:ReplyTo"), "wsa:Address", reply_to)
    for extra in headers:
        header.append(extra)
    body_element = etree.SubElement(envelope, f"{{{SOAP}}}Body")
    if body is not None:
        body_element.append(body)
    # Declarations all on the Envelope; soap/wsa/sca always (as Windows writes them),
    # the others only where used: in a tag, or in QName-valued text (`wsdp:Device` in a
    # Probe's wsd:Types), which lxml cannot see as a use.
    in_text = {
        token.partition(":")[0]
        for node in envelope.iter(etree.Element)
        if node.text
        for token in node.text.split()
    }
    etree.cleanup_namespaces(
        envelope,
        top_nsmap=dict(nsmap),
        keep_ns_prefixes=["soap", "wsa", "sca", *(in_text & set(nsmap))],
    )
    return etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
