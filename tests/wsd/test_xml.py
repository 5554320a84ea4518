"""Hardened XML reading and Windows-shaped envelope writing (wsd/xml.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
import time
import uuid

from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree
import pytest

from custom_components.wsd_scan.wsd.exceptions import ErrorKind, WsdError, WsdFault
from custom_components.wsd_scan.wsd.xml import (
    ANONYMOUS,
    NSMAP,
    SCAN,
    SOAP,
    WSA,
    WSD,
    WSDP,
    build_envelope,
    element,
    find,
    local_name,
    new_message_id,
    parse,
    parse_envelope,
    qname_values,
    sub,
    text,
)

from .conftest import CAPTURES

SOAP_HTTPS = SOAP.replace("http://", "https://")
WSA_HTTPS = WSA.replace("http://", "https://")
SCAN_2006_01 = "http://schemas.microsoft.com/windows/2006/01/wdp/scan"


def envelope(body: str, header: str = "", **namespaces: str) -> bytes:
    """Write a SOAP 1.2 envelope with `s`/`a` prefixes plus extra declarations."""
    declarations = "".join(f' xmlns:{p}="{ns}"' for p, ns in namespaces.items())
    return (
        f'<s:Envelope xmlns:s="{SOAP}" xmlns:a="{WSA}"{declarations}>'
        f"<s:Header>{header}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


# --- hostile input ------------------------------------------------------------------------


def test_external_entity_is_never_read(tmp_path: Path) -> None:
    """XXE: an entity naming a local file must neither be expanded nor leak."""
    secret = f"secret-{uuid.uuid4()}"
    target = tmp_path / "secret.txt"
    target.write_text(secret)
    for doctype in (
        f'<!DOCTYPE s:Envelope [<!ENTITY x SYSTEM "file://{target}">]>',
        f'<!DOCTYPE s:Envelope [<!ENTITY % x SYSTEM "file://{target}"> %x;]>',
        f'<!DOCTYPE s:Envelope SYSTEM "file://{target}">',
    ):
        data = (
            f'<?xml version="1.0"?>{doctype}<s:Envelope xmlns:s="{SOAP}">'
            f"<s:Body><b>&x;</b></s:Body></s:Envelope>"
        ).encode()
        with pytest.raises(WsdError) as caught:
            parse_envelope(data)
        assert caught.value.kind is ErrorKind.PROTOCOL
        assert secret not in str(caught.value)


def test_external_entity_without_reference_is_rejected(tmp_path: Path) -> None:
    """Even a declared-but-unused external entity makes the message unacceptable."""
    target = tmp_path / "secret.txt"
    target.write_text("top secret")
    data = (
        f'<!DOCTYPE r [<!ENTITY x SYSTEM "file://{target}">]>'
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body/></s:Envelope>'
    ).encode()
    with pytest.raises(WsdError, match="document type declaration"):
        parse(data)


def test_billion_laughs_is_rejected_fast() -> None:
    """A nested entity bomb is refused without expanding it."""
    entities = '<!ENTITY lol0 "lol">' + "".join(
        f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10)
    )
    data = (
        f"<!DOCTYPE Envelope [{entities}]>"
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body><b>&lol9;</b></s:Body></s:Envelope>'
    ).encode()
    start = time.monotonic()
    with pytest.raises(WsdError) as caught:
        parse_envelope(data)
    assert caught.value.kind is ErrorKind.PROTOCOL
    assert time.monotonic() - start < 1


def test_plain_dtd_is_rejected() -> None:
    """No document type declarations at all, even harmless ones."""
    data = b'<!DOCTYPE r [<!ELEMENT r ANY>]><r xmlns="urn:x"/>'
    with pytest.raises(WsdError, match="document type declaration") as caught:
        parse(data)
    assert caught.value.kind is ErrorKind.PROTOCOL


def test_oversized_message_is_rejected_before_parsing() -> None:
    """A message over the cap is refused by size alone."""
    data = envelope("<x>" + "a" * 2000 + "</x>")
    with pytest.raises(WsdError, match="exceeds 1000") as caught:
        parse(data, max_size=1000)
    assert caught.value.kind is ErrorKind.PROTOCOL
    assert parse(data, max_size=len(data)) is not None


@pytest.mark.parametrize(
    "data",
    [b"", b"   ", b"<unclosed>", b"not xml at all", b"\xff\xfe\x00<", b"<a></b>"],
)
def test_malformed_input_is_a_protocol_error(data: bytes) -> None:
    """Whatever is not well-formed XML becomes WsdError(PROTOCOL)."""
    with pytest.raises(WsdError) as caught:
        parse(data)
    assert caught.value.kind is ErrorKind.PROTOCOL


def test_comments_and_processing_instructions_are_dropped() -> None:
    """Comments and PIs vanish, so they cannot hide in text lookups."""
    root = parse(b'<r xmlns="urn:x"><!-- c --><?pi x?><v>1<!-- in -->2</v></r>')
    assert [etree.QName(child).localname for child in root] == ["v"]
    assert root[0].text == "12"


# --- namespaces -----------------------------------------------------------------------------


def test_scan_2006_01_namespace_is_aliased() -> None:
    """The pre-release WS-Scan namespace reads as 2006/08: elements, attributes, QNames."""
    data = envelope(
        '<old:ScanAvailableEvent old:Flag="1"><old:Types>old:ScanDeviceType</old:Types>'
        "</old:ScanAvailableEvent>",
        old=SCAN_2006_01,
    )
    parsed = parse_envelope(data)
    payload = parsed.payload
    assert payload is not None
    assert payload.tag == f"{{{SCAN}}}ScanAvailableEvent"
    assert payload.get(f"{{{SCAN}}}Flag") == "1"
    assert find(payload, "sca:Types") is not None
    assert qname_values(payload, "sca:Types") == {(SCAN, "ScanDeviceType")}


def test_https_namespaces_are_aliased() -> None:
    """`https://` spellings of the wire namespaces (Microsoft docs artifact) are accepted."""
    data = (
        f'<soap:Envelope xmlns:soap="{SOAP_HTTPS}" xmlns:wsa="{WSA_HTTPS}">'
        "<soap:Header><wsa:Action>urn:act</wsa:Action>"
        "<wsa:MessageID>urn:uuid:1</wsa:MessageID>"
        "<wsa:RelatesTo>urn:uuid:0</wsa:RelatesTo></soap:Header>"
        f'<soap:Body><x:Thing xmlns:x="{SCAN.replace("http:", "https:")}"/></soap:Body>'
        "</soap:Envelope>"
    ).encode()
    parsed = parse_envelope(data)
    assert parsed.root.tag == f"{{{SOAP}}}Envelope"
    assert parsed.action == "urn:act"
    assert parsed.message_id == "urn:uuid:1"
    assert parsed.relates_to == "urn:uuid:0"
    assert parsed.payload is not None
    assert parsed.payload.tag == f"{{{SCAN}}}Thing"


def test_prefixes_do_not_matter() -> None:
    """Lookups use namespaces: the Kyocera capture's prefixes read like Windows' ones."""
    parsed = parse_envelope(
        (CAPTURES / "KYOCERA-ECOSYS_M2040dn-ProbeMatches.xml").read_bytes()
    )
    assert parsed.action == f"{WSD}/ProbeMatches"
    assert parsed.relates_to == "urn:uuid:f9f56956-7662-4b32-9459-d0f2823424fe"
    match = find(parsed.body, "wsd:ProbeMatches/wsd:ProbeMatch")
    assert match is not None
    assert qname_values(match, "wsd:Types") == {
        (WSDP, "Device"),
        (SCAN, "ScanDeviceType"),
        ("http://schemas.microsoft.com/windows/2006/08/wdp/print", "PrintDeviceType"),
    }


def test_qname_values_edge_cases() -> None:
    """Missing element, empty text, undeclared prefix and unprefixed names."""
    root = parse(b'<r xmlns="urn:default" xmlns:p="urn:p"><t>p:A  B q:C</t><e/></r>')
    assert qname_values(root, "{urn:default}t") == {
        ("urn:p", "A"),
        ("urn:default", "B"),
        ("", "C"),
    }
    assert qname_values(root, "{urn:default}e") == set()
    assert qname_values(root, "{urn:default}missing") == set()


def test_text_and_local_name_helpers() -> None:
    """`text` strips and maps empty to None; `local_name` drops any prefix."""
    root = parse(envelope("<a:Action>  urn:x  </a:Action><a:To>   </a:To>"))
    body = root[1]
    assert text(body, "wsa:Action") == "urn:x"
    assert text(body, "wsa:To") is None
    assert text(body, "wsa:Missing") is None
    assert text(None) is None
    assert text(find(body, "wsa:Action")) == "urn:x"
    assert (
        local_name(" wscn:ClientErrorNoImagesAvailable ")
        == "ClientErrorNoImagesAvailable"
    )
    assert local_name("Plain") == "Plain"


# --- envelopes and faults -------------------------------------------------------------------


def test_parse_envelope_requires_an_envelope_with_a_body() -> None:
    """Other documents, and envelopes without a Body, are protocol errors."""
    with pytest.raises(WsdError, match="not a SOAP envelope"):
        parse_envelope(b'<html xmlns="urn:x"/>')
    with pytest.raises(WsdError, match="without a body"):
        parse_envelope(
            f'<s:Envelope xmlns:s="{SOAP}"><s:Header/></s:Envelope>'.encode()
        )


def test_envelope_without_header_or_payload() -> None:
    """Header-less envelopes and empty bodies decode to None values."""
    parsed = parse_envelope(
        f'<s:Envelope xmlns:s="{SOAP}"><s:Body/></s:Envelope>'.encode()
    )
    assert parsed.header is None
    assert parsed.action is None
    assert parsed.payload is None
    assert parsed.fault() is None


def test_soap12_fault_decoded_by_local_name() -> None:
    """Code, most specific subcode, reason and detail; prefixes of any kind."""
    data = envelope(
        "<s:Fault><s:Code><s:Value>s:Sender</s:Value>"
        "<s:Subcode><s:Value>weird:ClientErrorNoImagesAvailable</s:Value></s:Subcode>"
        "</s:Code><s:Reason><s:Text xml:lang='en'> No images </s:Text></s:Reason>"
        "<s:Detail><x:Info xmlns:x='urn:x'> more </x:Info> words </s:Detail></s:Fault>",
        weird=SCAN,
    )
    fault = parse_envelope(data).fault()
    assert isinstance(fault, WsdFault)
    assert fault.subcode == "ClientErrorNoImagesAvailable"
    assert fault.code == "Sender"
    assert fault.reason == "No images"
    assert fault.detail == "more words"
    assert fault.kind is ErrorKind.DEVICE_ERROR
    assert "ClientErrorNoImagesAvailable" in str(fault)


def test_soap11_fault_is_decoded() -> None:
    """Sloppy firmware answers with a SOAP 1.1 fault."""
    data = (
        b'<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body>'
        b"<e:Fault><faultcode>e:Server</faultcode><faultstring>Busy now</faultstring>"
        b"<detail>try later</detail></e:Fault></e:Body></e:Envelope>"
    )
    fault = parse_envelope(data).fault()
    assert fault is not None
    assert (fault.code, fault.subcode, fault.reason, fault.detail) == (
        "Server",
        "Server",
        "Busy now",
        "try later",
    )


def test_fault_without_code_or_reason() -> None:
    """A bare Fault still decodes, with empty fields."""
    fault = parse_envelope(envelope("<s:Fault/>")).fault()
    assert fault is not None
    assert (fault.subcode, fault.code, fault.reason, fault.detail) == ("", "", "", "")


# --- writing ---------------------------------------------------------------------------------


def test_build_envelope_shape() -> None:
    """Windows' shape: prefixes on the Envelope, To/Action/MessageID/ReplyTo, compact utf-8."""
    body = element("sca:GetScannerElementsRequest")
    sub(sub(body, "sca:RequestedElements"), "sca:Name", "sca:ScannerDescription")
    data = build_envelope(f"{SCAN}/GetScannerElements", "http://192.0.2.40/scan", body)

    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>\n<soap:Envelope ")
    assert b"\n" not in data.partition(b"?>\n")[2]  # compact: no indentation
    assert b"  " not in data
    root = etree.fromstring(data)
    assert root.tag == f"{{{SOAP}}}Envelope"
    assert root.nsmap == {prefix: NSMAP[prefix] for prefix in ("soap", "wsa", "sca")}
    for prefix in ("soap", "wsa", "sca"):
        assert f'xmlns:{prefix}="{NSMAP[prefix]}"'.encode() in data
    # Declared once, on the Envelope only.
    assert data.count(b"xmlns:") == 3
    assert b"<soap:Header><wsa:To>http://192.0.2.40/scan</wsa:To>" in data
    assert b"<sca:GetScannerElementsRequest>" in data

    header, body_node = root
    assert [etree.QName(child).localname for child in header] == [
        "To",
        "Action",
        "MessageID",
        "ReplyTo",
    ]
    assert text(header, "wsa:Action") == f"{SCAN}/GetScannerElements"
    message_id = text(header, "wsa:MessageID") or ""
    assert message_id.startswith("urn:uuid:")
    assert uuid.UUID(message_id.removeprefix("urn:uuid:")).version == 4
    assert text(header, "wsa:ReplyTo/wsa:Address") == ANONYMOUS
    assert body_node.tag == f"{{{SOAP}}}Body"
    assert text(
        body_node, "sca:GetScannerElementsRequest/sca:RequestedElements/sca:Name"
    ) == ("sca:ScannerDescription")


def test_build_envelope_declares_what_is_used_on_the_envelope() -> None:
    """soap/wsa/sca always; others only when a tag or QName-valued text uses them."""
    body = element("wsd:Probe")
    sub(body, "wsd:Types", "wsdp:Device  sca:ScanDeviceType")
    data = build_envelope(f"{WSD}/Probe", "urn:to", body, reply_to=None)
    root = etree.fromstring(data)
    assert set(root.nsmap) == {"soap", "wsa", "sca", "wsd", "wsdp"}
    assert data.count(b"xmlns:") == 5  # nothing declared below the Envelope
    assert qname_values(root, ".//wsd:Types") == {
        (WSDP, "Device"),
        (SCAN, "ScanDeviceType"),
    }


def test_build_envelope_options() -> None:
    """Own MessageID, no ReplyTo, extra headers, an empty body, a reduced prefix map."""
    extra = element("wse:Identifier", "urn:uuid:sub")
    data = build_envelope(
        f"{WSD}/Probe",
        "urn:schemas-xmlsoap-org:ws:2005:04:discovery",
        message_id="urn:uuid:fixed",
        reply_to=None,
        headers=[extra],
        nsmap={"soap": SOAP, "wsa": WSA, "wse": NSMAP["wse"]},
    )
    root = etree.fromstring(data)
    header = root[0]
    assert text(header, "wsa:MessageID") == "urn:uuid:fixed"
    assert find(header, "wsa:ReplyTo") is None
    assert text(header, "wse:Identifier") == "urn:uuid:sub"
    assert len(root[1]) == 0
    assert set(root.nsmap) == {"soap", "wsa", "wse"}
    assert b"xmlns:sca" not in data  # sca is kept only when the map has it


def test_build_envelope_writes_utf8() -> None:
    """Non-ASCII text goes out as UTF-8 bytes, not character references."""
    data = build_envelope("urn:a", "urn:to", element("sca:JobName", "Büro – Scan ✓"))
    assert "Büro – Scan ✓".encode() in data
    assert text(parse_envelope(data).payload) == "Büro – Scan ✓"


def test_new_message_ids_are_unique_urn_uuids() -> None:
    """`urn:uuid:` form (DPWS), fresh every time."""
    ids = {new_message_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(uuid.UUID(i.removeprefix("urn:uuid:")) for i in ids)


def test_round_trip_through_parse_envelope() -> None:
    """What the library writes, it reads."""
    data = build_envelope("urn:act", "urn:to", element("wsdp:ThisDevice"))
    parsed = parse_envelope(data)
    assert parsed.action == "urn:act"
    assert parsed.payload is not None
    assert parsed.payload.tag == f"{{{WSDP}}}ThisDevice"


# --- fuzzing ---------------------------------------------------------------------------------

SEEDS = [path.read_bytes() for path in sorted(CAPTURES.glob("*.xml"))] + [
    build_envelope("urn:act", "urn:to", element("sca:JobName", "x"))
]
FUZZ = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def outcome[T](call: Callable[[bytes], T], data: bytes) -> T | WsdError:
    """Return the result of `call(data)`, or the WsdError it raised."""
    try:
        return call(data)
    except WsdError as err:
        return err


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """Damage a capture: bytes flipped, cut, duplicated or spliced in."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        position = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "cut", "insert", "truncate", "repeat"]))
        if action == "flip" and position < len(data):
            data[position] = draw(st.integers(0, 255))
        elif action == "cut":
            del data[position : position + draw(st.integers(1, 64))]
        elif action == "insert":
            data[position:position] = draw(
                st.sampled_from(
                    [
                        b"<",
                        b">",
                        b"&",
                        b"&lol;",
                        b"<!DOCTYPE x>",
                        b"]]>",
                        b"\x00",
                        b"xmlns:a='b'",
                    ]
                )
                | st.binary(max_size=16)
            )
        elif action == "truncate":
            del data[position:]
        else:
            data[position:position] = data[position : position + 32] * 3
    return bytes(data)


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes_raise_only_wsd_error(data: bytes) -> None:
    """Arbitrary bytes parse or raise WsdError(PROTOCOL); nothing else escapes."""
    result = outcome(parse_envelope, data)
    assert not isinstance(result, WsdError) or result.kind is ErrorKind.PROTOCOL


@FUZZ
@given(mutated())
def test_mutated_captures_raise_only_wsd_error(data: bytes) -> None:
    """Damaged real messages parse or raise WsdError; their faults decode too."""
    parsed = outcome(parse_envelope, data)
    if isinstance(parsed, WsdError):
        assert parsed.kind is ErrorKind.PROTOCOL
        return
    parsed.fault()
    _ = (parsed.action, parsed.message_id, parsed.relates_to, parsed.payload)
