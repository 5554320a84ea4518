"""SOAP 1.2 / WS-Addressing plumbing shared by every simulated endpoint.

Requests are read by local name, in any prefix and namespace generation (a device must
accept what real clients send); responses are written with the prefixes of the emulated
device's firmware, so clients meet realistic, not textbook, XML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
import uuid

from lxml import etree

SOAP = "http://www.w3.org/2003/05/soap-envelope"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
WSDP = "http://schemas.xmlsoap.org/ws/2006/02/devprof"
MEX = "http://schemas.xmlsoap.org/ws/2004/09/mex"
WXF = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
WSE = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
SCAN = "http://schemas.microsoft.com/windows/2006/08/wdp/scan"
SCAN_2006_01 = "http://schemas.microsoft.com/windows/2006/01/wdp/scan"
PRINT = "http://schemas.microsoft.com/windows/2006/08/wdp/print"
PNPX = "http://schemas.microsoft.com/windows/pnpx/2005/10"
XOP = "http://www.w3.org/2004/08/xop/include"
XOP_2003 = "http://www.w3.org/2003/12/xop/include"
DSP = "http://schemas.microsoft.com/windows/2008/12/wdp/distributedscan/processing"
XML_NS = "http://www.w3.org/XML/1998/namespace"

ANONYMOUS = f"{WSA}/role/anonymous"
DISCOVERY_URN = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"
FAULT_ACTION = f"{WSA}/fault"

# The prefixes Windows (WSDAPI) writes; picky firmware insists on them in requests.
WINDOWS_PREFIXES: Mapping[str, str] = {
    "soap": SOAP,
    "wsa": WSA,
    "wsd": WSD,
    "wsdp": WSDP,
    "wsx": MEX,
    "wse": WSE,
    "wscn": SCAN,
    "wprt": PRINT,
    "pnpx": PNPX,
    "xop": XOP,
}

# The prefixes of the Kyocera ECOSYS M2040dn captures (../shared/captures/KYOCERA-*).
KYOCERA_PREFIXES: Mapping[str, str] = {
    "SOAP-ENV": SOAP,
    "addressing": WSA,
    "discovery": WSD,
    "devprof": WSDP,
    "metadata": MEX,
    "eventing": WSE,
    "scan": SCAN,
    "print": PRINT,
    "pnpx": PNPX,
    "xop": XOP,
}

MAX_REQUEST_BYTES = 1024 * 1024
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
)


def new_message_id() -> str:
    """Return a fresh `urn:uuid:` message id."""
    return f"urn:uuid:{uuid.uuid4()}"


def qname(namespace: str, local: str) -> str:
    """Return the Clark notation `{namespace}local`."""
    return f"{{{namespace}}}{local}"


def local_name(element: etree._Element) -> str:
    """Return the local part of an element's tag."""
    return etree.QName(element).localname


def namespace_of(element: etree._Element) -> str:
    """Return the namespace URI of an element's tag ('' when unqualified)."""
    return etree.QName(element).namespace or ""


def child(parent: etree._Element | None, *path: str) -> etree._Element | None:
    """Return the first descendant along `path`, matching each step by local name."""
    node = parent
    for step in path:
        if node is None:
            return None
        node = next((c for c in children(node, step)), None)
    return node


def children(parent: etree._Element, local: str) -> list[etree._Element]:
    """Return the element children of `parent` whose local name is `local`."""
    return [c for c in parent if isinstance(c.tag, str) and local_name(c) == local]


def text(parent: etree._Element | None, *path: str) -> str | None:
    """Return the stripped text at `path` (by local names), or None when absent."""
    node = child(parent, *path) if path else parent
    if node is None:
        return None
    return (node.text or "").strip()


def parse_xml(data: bytes) -> etree._Element:
    """Parse untrusted XML without DTDs, entities or network access."""
    if len(data) > MAX_REQUEST_BYTES:
        raise SoapFault.sender(WSE, "InvalidMessage", "request too large")
    try:
        return etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as err:
        raise SoapFault.sender(WSE, "InvalidMessage", f"malformed XML: {err}") from err


class SoapFault(Exception):
    """A SOAP fault to send back; subcode compared by clients by local name."""

    def __init__(
        self,
        code: str,
        subcode_namespace: str,
        subcode: str,
        reason: str,
        detail: str | None = None,
    ) -> None:
        """Describe the fault: code is `Sender` or `Receiver`."""
        super().__init__(f"{subcode}: {reason}")
        self.code = code
        self.subcode_namespace = subcode_namespace
        self.subcode = subcode
        self.reason = reason
        self.detail = detail

    @classmethod
    def sender(
        cls, namespace: str, subcode: str, reason: str, detail: str | None = None
    ) -> SoapFault:
        """Return a fault blaming the request."""
        return cls("Sender", namespace, subcode, reason, detail)

    @classmethod
    def receiver(
        cls, namespace: str, subcode: str, reason: str, detail: str | None = None
    ) -> SoapFault:
        """Return a fault blaming the device."""
        return cls("Receiver", namespace, subcode, reason, detail)

    @property
    def http_status(self) -> int:
        """HTTP status a conforming device uses for this fault."""
        return 400 if self.code == "Sender" else 500


@dataclass(frozen=True)
class SoapRequest:
    """A parsed incoming SOAP envelope."""

    root: etree._Element
    header: etree._Element | None
    body: etree._Element
    action: str
    message_id: str | None
    to: str | None

    @property
    def payload(self) -> etree._Element | None:
        """The first element child of the Body, if any."""
        return next((c for c in self.body if isinstance(c.tag, str)), None)

    def header_value(self, local: str) -> str | None:
        """Return the text of a header block by local name."""
        return text(self.header, local) if self.header is not None else None


def parse_request(data: bytes) -> SoapRequest:
    """Parse a SOAP 1.2 (or 1.1) request envelope."""
    root = parse_xml(data)
    if local_name(root) != "Envelope" or namespace_of(root) not in (SOAP, SOAP11):
        raise SoapFault.sender(WSE, "InvalidMessage", "not a SOAP envelope")
    header = child(root, "Header")
    body = child(root, "Body")
    if body is None:
        raise SoapFault.sender(WSE, "InvalidMessage", "SOAP envelope without Body")
    return SoapRequest(
        root=root,
        header=header,
        body=body,
        action=text(header, "Action") or "" if header is not None else "",
        message_id=text(header, "MessageID") if header is not None else None,
        to=text(header, "To") if header is not None else None,
    )


class Writer:
    """Builds response XML with one device's namespace prefixes."""

    def __init__(self, prefixes: Mapping[str, str]) -> None:
        """Use `prefixes` (prefix -> namespace) on every envelope written."""
        self.prefixes = dict(prefixes)
        self._prefix_of = {ns: prefix for prefix, ns in self.prefixes.items()}

    def prefix(self, namespace: str) -> str:
        """Return the prefix this device uses for `namespace`."""
        return self._prefix_of[namespace]

    def qname_text(self, namespace: str, local: str) -> str:
        """Return `prefix:local`, for QName-valued text and attributes."""
        return f"{self.prefix(namespace)}:{local}"

    def envelope(
        self,
        action: str,
        *,
        to: str = ANONYMOUS,
        relates_to: str | None = None,
        message_id: str | None = None,
        extra_headers: Iterable[etree._Element] = (),
        extra_namespaces: Mapping[str, str] | None = None,
    ) -> tuple[etree._Element, etree._Element, etree._Element]:
        """Return (envelope, header, body) with the WS-Addressing headers filled in."""
        nsmap = {**self.prefixes, **(extra_namespaces or {})}
        root = etree.Element(qname(SOAP, "Envelope"), nsmap=nsmap)
        header = sub(root, SOAP, "Header")
        sub(header, WSA, "To", to)
        sub(header, WSA, "Action", action)
        sub(header, WSA, "MessageID", message_id or new_message_id())
        if relates_to is not None:
            sub(header, WSA, "RelatesTo", relates_to)
        for block in extra_headers:
            header.append(block)
        body = sub(root, SOAP, "Body")
        return root, header, body

    def fault(self, fault: SoapFault, relates_to: str | None) -> etree._Element:
        """Return a complete fault envelope."""
        extra = {}
        if fault.subcode_namespace not in self._prefix_of:
            extra["fns"] = fault.subcode_namespace
        root, _header, body = self.envelope(
            FAULT_ACTION, relates_to=relates_to, extra_namespaces=extra
        )
        subcode_prefix = self._prefix_of.get(fault.subcode_namespace, "fns")
        node = sub(body, SOAP, "Fault")
        code = sub(node, SOAP, "Code")
        sub(code, SOAP, "Value", f"{self.prefix(SOAP)}:{fault.code}")
        subcode = sub(code, SOAP, "Subcode")
        sub(subcode, SOAP, "Value", f"{subcode_prefix}:{fault.subcode}")
        reason = sub(node, SOAP, "Reason")
        reason_text = sub(reason, SOAP, "Text", fault.reason)
        reason_text.set(qname(XML_NS, "lang"), "en")
        if fault.detail is not None:
            sub(node, SOAP, "Detail", fault.detail)
        return root


def sub(
    parent: etree._Element, namespace: str, local: str, value: str | int | None = None
) -> etree._Element:
    """Append a child element, with text when `value` is given."""
    node = etree.SubElement(parent, qname(namespace, local))
    if value is not None:
        node.text = str(value)
    return node


def serialize(root: etree._Element) -> bytes:
    """Serialise compactly with an XML declaration, as device firmware does."""
    return etree.tostring(root, xml_declaration=True, encoding="utf-8")


def normalize_uuid(address: str) -> str:
    """Return the bare lower-case UUID of `urn:uuid:…`, `uuid:…` or a bare UUID."""
    value = address.strip().lower()
    for prefix in ("urn:uuid:", "uuid:"):
        if value.startswith(prefix):
            return value[len(prefix) :]
    return value
