"""`SimulatedScanner`: one emulated WSD scanner on loopback (HTTP + WS-Discovery)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime
from http import HTTPStatus
import logging
import time
import uuid as uuid_module
import weakref

from aiohttp import hdrs, web
from lxml import etree
from lxml.etree import _Element as Element

from .control import control_routes
from .discovery import (
    AppSequence,
    DiscoveryResponder,
    Endpoint,
    UdpTiming,
    discovery_message,
    probe_matches,
    resolve_matches,
)
from .eventing import EventSource, Notification, Subscription
from .jobs import Job
from .lifecycle import Served
from .mtom import MultipartFraming
from .pages import encode, mime_type, stream_huge_image
from .profiles import PROFILES, Profile
from .quirks import Quirk
from .scan_service import PushScanFailure, ScanService, Transfer
from .settings import Settings
from .soap import (
    MEX,
    PNPX,
    SCAN,
    SCAN_2006_01,
    SOAP,
    WSA,
    WSD,
    WSDP,
    WSE,
    WXF,
    XOP,
    XOP_2003,
    SoapFault,
    SoapRequest,
    Writer,
    normalize_uuid,
    parse_request,
    serialize,
    sub,
)

_LOGGER = logging.getLogger(__name__)

PROBE_PATH = "/StableWSDiscoveryEndpoint/schemas-xmlsoap-org_ws_2005_04_discovery"
SOAP_CONTENT_TYPE = "application/soap+xml; charset=utf-8"
_WINDOWS_REQUEST_PREFIXES = {
    SOAP: {"soap"},
    WSA: {"wsa"},
    SCAN: {"sca", "wscn"},
    WSE: {"wse"},
    WSD: {"wsd"},
    WSDP: {"wsdp"},
}
_HOSTILE_MARK = "HOSTILE-ENTITY-REFERENCE"
_HOSTILE_DOCTYPES = {
    Quirk.HOSTILE_DTD_ENTITIES: (
        '<!DOCTYPE Envelope [<!ENTITY payload SYSTEM "file:///etc/passwd">]>',
        "&payload;",
    ),
    Quirk.HOSTILE_BILLION_LAUGHS: (
        '<!DOCTYPE Envelope [<!ENTITY lol0 "lol">'
        + "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
        + "]>",
        "&lol9;",
    ),
}

#: Quirk.HTTP_ERRORS_WITHOUT_SOAP: the status sent instead of each fault (else 500).
_HTTP_STATUSES = {
    "ServerErrorNotAcceptingJobs": 503,
    "ServerErrorTemporaryError": 503,
    "InvalidArgs": 400,
    "ClientErrorInvalidJobToken": 400,
    "ClientErrorConflictingRequiredParameters": 409,
    "ClientErrorNoImagesAvailable": 404,
    "ClientErrorJobIdNotFound": 404,
    "ClientErrorJobCancelled": 410,
}

type HttpHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]
type Handler = Callable[
    [SoapRequest, Element, web.Request], Awaitable[Element | web.StreamResponse]
]


class SimulatedScanner(Served):
    """An emulated WSD scanner: discovery, metadata, WS-Scan, WS-Eventing, control API."""

    def __init__(  # noqa: PLR0917 - positional order is the documented test API
        self,
        profile: str | Profile = "office_mfp",
        quirks: Iterable[Quirk | str] = (),
        host: str = "127.0.0.1",
        http_port: int = 0,
        discovery: bool = True,
        multicast_interface: str = "127.0.0.1",
        udp_port: int = 3702,
        uuid: str | None = None,
        *,
        control_port: int = 0,
        settings: Settings | None = None,
        udp_timing: UdpTiming | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Configure the device; nothing listens before `start()`."""
        self.profile = PROFILES[profile] if isinstance(profile, str) else profile
        self.quirks: set[Quirk] = set(self.profile.quirks) | {Quirk(q) for q in quirks}
        self.host = host
        self.http_port = http_port
        self.control_port = control_port
        self.discovery_enabled = discovery
        self.multicast_interface = multicast_interface
        self.udp_port = udp_port
        self.uuid = normalize_uuid(uuid) if uuid else str(uuid_module.uuid4())
        self.settings = settings or Settings()
        self.udp_timing = udp_timing or UdpTiming()
        self.clock = clock
        self.writer = Writer(self.profile.prefixes)
        self.events = EventSource(
            self.writer,
            lambda: self.scan_url,
            clock,
            self._now,
            self.settings,
        )
        self.service = ScanService(
            profile=self.profile,
            quirks=self.quirks,
            settings=self.settings,
            writer=self.writer,
            events=self.events,
            clock=clock,
            wall_clock=self._now,
        )
        self.requests: list[tuple[str, bytes]] = []
        #: Requests dropped by Quirk.ONE_REQUEST_PER_CONNECTION (a client reusing a
        #: connection it asked to close).
        self.dropped_requests = 0
        self._served_connections: weakref.WeakSet[asyncio.BaseTransport] = (
            weakref.WeakSet()
        )
        self.online = False
        self.sequence = AppSequence(int(time.time()))
        self._device_runner: web.AppRunner | None = None
        self._control_runner: web.AppRunner | None = None
        self._responder: DiscoveryResponder | None = None
        self._stopping = asyncio.Event()

    # --- public state -------------------------------------------------------------

    @staticmethod
    def _now() -> datetime:
        return datetime.now(UTC)

    @property
    def _base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.http_port}"

    @property
    def endpoint_address(self) -> str:
        """The EPR address (`urn:uuid:…`, or `uuid:…` with Quirk.UUID_WITHOUT_URN)."""
        prefix = "uuid:" if Quirk.UUID_WITHOUT_URN in self.quirks else "urn:uuid:"
        return f"{prefix}{self.uuid}"

    @property
    def device_url(self) -> str:
        """The device XAddr (WS-Transfer Get target)."""
        return self._base + self.profile.device_path.format(uuid=self.uuid)

    @property
    def scan_url(self) -> str:
        """The scan service URL (WS-Scan and WS-Eventing requests)."""
        return self._base + self.profile.scan_path.format(uuid=self.uuid)

    @property
    def probe_url(self) -> str:
        """The directed-probe HTTP endpoint."""
        return self._base + PROBE_PATH

    @property
    def presentation_url(self) -> str:
        """The device's web page."""
        return self._base + "/"

    @property
    def control_url(self) -> str:
        """Base URL of the HTTP control API."""
        return f"http://{self.host}:{self.control_port}/control"

    @property
    def jobs(self) -> dict[int, Job]:
        """Jobs by JobId (active and recent history)."""
        return self.service.jobs

    @property
    def subscriptions(self) -> dict[str, Subscription]:
        """Live WS-Eventing subscriptions by id."""
        self.events.live()
        return self.events.subscriptions

    @property
    def notifications(self) -> list[Notification]:
        """Every notification delivery attempt."""
        return self.events.notifications

    @property
    def push_scan_failures(self) -> list[PushScanFailure]:
        """Device-initiated scans that failed (bad token/identifier, too late, never)."""
        return self.service.push_scan_failures

    @property
    def feeder(self) -> int:
        """Sheets in the feeder."""
        return self.service.feeder

    # --- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Listen (HTTP, control API, discovery) and announce the device with Hello."""
        self._stopping = asyncio.Event()
        await self.events.start()
        self.service.reset()
        control = web.Application()
        control.add_routes(control_routes(self))
        self._control_runner = web.AppRunner(
            control, access_log=None, shutdown_timeout=0.1
        )
        await self._control_runner.setup()
        site = web.TCPSite(self._control_runner, self.host, self.control_port)
        await site.start()
        self.control_port = self._bound_port(self._control_runner)
        await self._go_online()

    async def stop(self) -> None:
        """Say Bye, end subscriptions, close every socket and cancel every timer."""
        if self.online and self._responder is not None:
            await self._responder.multicast(self._discovery("Bye", "Bye"))
        await self._go_offline()
        self.service.cancel_timers()
        await self.events.stop()
        if self._control_runner is not None:
            await self._control_runner.cleanup()
            self._control_runner = None

    @staticmethod
    def _bound_port(runner: web.AppRunner) -> int:
        server = runner.addresses[0]
        return int(server[1])

    @web.middleware
    async def _one_request_per_connection(
        self, request: web.Request, handler: HttpHandler
    ) -> web.StreamResponse:
        """Quirk.ONE_REQUEST_PER_CONNECTION: drop a connection's second request."""
        transport = request.transport
        if Quirk.ONE_REQUEST_PER_CONNECTION not in self.quirks or transport is None:
            return await handler(request)
        if transport in self._served_connections:
            self.dropped_requests += 1
            transport.abort()
            raise web.HTTPServiceUnavailable  # never reaches the client
        self._served_connections.add(transport)
        return await handler(request)

    async def _keep_connection_open(
        self, request: web.Request, response: web.StreamResponse
    ) -> None:
        """Quirk.ONE_REQUEST_PER_CONNECTION: no `Connection: close`, and no close."""
        if Quirk.ONE_REQUEST_PER_CONNECTION in self.quirks:
            response.headers.popall(hdrs.CONNECTION, None)
            # aiohttp closes after answering a request that said `Connection: close`.
            response._keep_alive = True  # noqa: SLF001

    async def _go_online(self) -> None:
        app = web.Application(
            client_max_size=1024 * 1024, middlewares=[self._one_request_per_connection]
        )
        app.on_response_prepare.append(self._keep_connection_open)
        app.router.add_post(
            self.profile.device_path.format(uuid=self.uuid), self._handle_device
        )
        app.router.add_post(
            self.profile.scan_path.format(uuid=self.uuid), self._handle_scan
        )
        app.router.add_post(PROBE_PATH, self._handle_directed_probe)
        app.router.add_get("/", self._handle_presentation)
        self._device_runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await self._device_runner.setup()
        site = web.TCPSite(
            self._device_runner, self.host, self.http_port, reuse_address=True
        )
        await site.start()
        self.http_port = self._bound_port(self._device_runner)
        self.online = True
        if self.discovery_enabled:
            self._responder = DiscoveryResponder(
                self.multicast_interface,
                self.udp_port,
                self._answer_discovery,
                self.udp_timing,
                self._probe_delay,
            )
            await self._responder.start()
            await self._responder.multicast(self._discovery("Hello", "Hello"))

    async def _go_offline(self) -> None:
        self.online = False
        self._stopping.set()
        if self._responder is not None:
            await self._responder.stop()
            self._responder = None
        if self._device_runner is not None:
            await self._device_runner.cleanup()
            self._device_runner = None

    async def set_online(self, online: bool) -> None:
        """Unplug (no Bye, connections refused) or plug the device back in (Hello)."""
        if online == self.online:
            return
        if online:
            self._stopping = asyncio.Event()
            await self._go_online()
        else:
            await self._go_offline()

    async def reboot(self, *, hello: bool = True) -> None:
        """Power-cycle: subscriptions and jobs are lost, new InstanceId, Hello.

        `hello=False`: a device that does not announce itself after a restart.
        """
        await self.events.stop(status=None)
        await self.events.start()
        self.service.reset()
        self.sequence = AppSequence(
            max(int(time.time()), self.sequence.instance_id + 1)
        )
        if hello and self.online and self._responder is not None:
            await self._responder.multicast(self._discovery("Hello", "Hello"))

    # --- in-process control (mirrored by the HTTP control API) ---------------------

    def load_feeder(self, sheets: int) -> None:
        """Put `sheets` sheets in the feeder (replacing what was there)."""
        if sheets < 0:
            raise ValueError("sheets must be >= 0")
        self.service.feeder = sheets

    def press_scan_button(self, destination: str) -> bool:
        """Select a registered ScanDestination on the panel and press Scan."""
        return self.service.press_scan_button(destination) is not None

    def raise_condition(self, name: str) -> None:
        """Activate a device condition (MediaJam, CoverOpen, InputTrayEmpty, …)."""
        self.service.raise_condition(name)

    def clear_condition(self, name: str) -> None:
        """Clear a device condition."""
        self.service.clear_condition(name)

    def set_scanner_name(self, name: str) -> None:
        """Rename the scanner on its panel (sends ScannerElementsChangeEvent)."""
        self.service.set_scanner_name(name)

    async def wait_for_notifications(self) -> None:
        """Wait until every queued event notification has been delivered."""
        await self.events.drain()

    # --- discovery ------------------------------------------------------------------

    def _endpoint(self, address: str | None = None) -> Endpoint:
        return Endpoint(
            address=address or self.endpoint_address,
            types=list(self.profile.device_types),
            xaddrs=[self.device_url],
            metadata_version=self.profile.metadata_version,
        )

    def _discovery(
        self,
        action: str,
        element: str,
        relates_to: str | None = None,
        *,
        matches: str | None = None,
    ) -> bytes:
        endpoints = [(matches or element, self._endpoint())]
        if action == "ProbeMatches" and Quirk.TWO_PROBE_MATCHES in self.quirks:
            # Lexmark MX310dn: the printer half of the MFP answers in the same message.
            printer = Endpoint(
                address=f"urn:uuid:{uuid_module.uuid5(uuid_module.NAMESPACE_URL, self.uuid)}",
                types=[(WSDP, "Device")],
                xaddrs=[self.device_url],
                metadata_version=self.profile.metadata_version,
            )
            endpoints.insert(0, ("ProbeMatch", printer))
        return discovery_message(
            self.writer,
            self.sequence,
            action,
            element,
            endpoints,
            relates_to=relates_to,
            xaddrs=Quirk.NO_XADDRS_IN_HELLO not in self.quirks,
        )

    def _probe_delay(self) -> float:
        if Quirk.LATE_PROBE_ANSWER in self.quirks:
            return self.settings.late_probe_delay
        return self.settings.probe_reply_delay

    def _answer_discovery(self, request: SoapRequest, kind: str) -> list[bytes]:
        payload = request.payload
        if payload is None:
            return []
        if kind == "Probe" and probe_matches(payload, self._endpoint()):
            return [
                self._discovery(
                    "ProbeMatches",
                    "ProbeMatches",
                    request.message_id,
                    matches="ProbeMatch",
                )
            ]
        if kind == "Resolve" and resolve_matches(payload, self._endpoint()):
            return [
                self._discovery(
                    "ResolveMatches",
                    "ResolveMatches",
                    request.message_id,
                    matches="ResolveMatch",
                )
            ]
        return []

    async def _handle_directed_probe(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        try:
            soap = parse_request(body)
        except SoapFault as fault:
            return self._fault_response(fault, None)
        self.requests.append((soap.action, body))
        replies = (
            self._answer_discovery(soap, "Probe")
            if soap.action.endswith("/Probe")
            else []
        )
        if not replies:
            return web.Response(status=202)
        return web.Response(
            body=replies[0], content_type="application/soap+xml", charset="utf-8"
        )

    async def _handle_presentation(self, request: web.Request) -> web.Response:
        return web.Response(
            text=f"<html><body><h1>{self.profile.friendly_name}</h1></body></html>",
            content_type="text/html",
        )

    # --- SOAP over HTTP ---------------------------------------------------------------

    def _check_request(self, soap: SoapRequest, expected_to: list[str]) -> None:
        if Quirk.STRICT_PREFIXES in self.quirks:
            for element in soap.root.iter():
                if not isinstance(element.tag, str):
                    continue
                allowed = _WINDOWS_REQUEST_PREFIXES.get(
                    etree.QName(element).namespace or ""
                )
                if allowed is not None and element.prefix not in allowed:
                    raise SoapFault.sender(
                        SCAN,
                        "InvalidArgs",
                        f"unexpected namespace prefix {element.prefix!r}",
                    )
        if Quirk.STRICT_WSA_TO in self.quirks and soap.to not in expected_to:
            raise SoapFault.sender(
                WSA,
                "DestinationUnreachable",
                f"wsa:To {soap.to!r} is not this endpoint",
            )

    def _fault_response(
        self, fault: SoapFault, relates_to: str | None
    ) -> web.StreamResponse:
        if Quirk.HTTP_ERRORS_WITHOUT_SOAP in self.quirks:
            status = _HTTP_STATUSES.get(fault.subcode, 500)
            return web.Response(
                status=status,
                text=f"{HTTPStatus(status).phrase}: {fault.reason}\r\n",
                content_type="text/plain",
            )
        status = 200 if Quirk.FAULT_IN_HTTP_200 in self.quirks else fault.http_status
        return web.Response(
            status=status,
            body=serialize(self.writer.fault(fault, relates_to)),
            content_type="application/soap+xml",
            charset="utf-8",
        )

    async def _soap_response(
        self, request: web.Request, root: etree._Element
    ) -> web.StreamResponse:
        for quirk, (doctype, reference) in _HOSTILE_DOCTYPES.items():
            if quirk in self.quirks:
                header = root[0]
                marker = etree.SubElement(header, "{urn:simulator:hostile}Note")
                marker.text = _HOSTILE_MARK
                payload = serialize(root)
                declaration, _, rest = payload.partition(b"?>")
                payload = (
                    declaration
                    + b"?>"
                    + doctype.encode()
                    + rest.replace(_HOSTILE_MARK.encode(), reference.encode())
                )
                return web.Response(
                    body=payload, content_type="application/soap+xml", charset="utf-8"
                )
        payload = serialize(root)
        if Quirk.HOSTILE_OVERSIZED_BODY not in self.quirks:
            return web.Response(
                body=payload, content_type="application/soap+xml", charset="utf-8"
            )
        response = web.StreamResponse(headers={"Content-Type": SOAP_CONTENT_TYPE})
        await response.prepare(request)
        cut = payload.rindex(b"</")
        await response.write(payload[:cut] + b"<!--")
        chunk = b" " * 65536
        for _ in range(self.settings.oversized_bytes // len(chunk)):
            await response.write(chunk)
        await response.write(b"-->" + payload[cut:])
        await response.write_eof()
        return response

    async def _dispatch(
        self, request: web.Request, expected_to: list[str], handlers: dict[str, Handler]
    ) -> web.StreamResponse:
        body = await request.read()
        try:
            soap = parse_request(body)
        except SoapFault as fault:
            self.requests.append(("", body))
            return self._fault_response(fault, None)
        self.requests.append((soap.action, body))
        try:
            self._check_request(soap, expected_to)
            operation = _operation(soap)
            handler = handlers.get(operation)
            if handler is None:
                raise SoapFault.sender(
                    WSA,
                    "ActionNotSupported",
                    f"action {soap.action!r} not supported",
                    soap.action,
                )
            result = await handler(
                soap, soap.payload if soap.payload is not None else soap.body, request
            )
        except SoapFault as fault:
            return self._fault_response(fault, soap.message_id)
        if isinstance(result, web.StreamResponse):
            return result
        return await self._soap_response(request, result)

    async def _handle_device(self, request: web.Request) -> web.StreamResponse:
        return await self._dispatch(
            request,
            [self.endpoint_address, f"urn:uuid:{self.uuid}"],
            {"Get": self._metadata},
        )

    async def _handle_scan(self, request: web.Request) -> web.StreamResponse:
        service = self.service

        def plain(
            call: Callable[[SoapRequest, etree._Element], etree._Element],
        ) -> Handler:
            async def run(
                soap: SoapRequest, payload: etree._Element, _request: web.Request
            ) -> etree._Element:
                return call(soap, payload)

            return run

        async def retrieve(
            soap: SoapRequest, payload: etree._Element, http: web.Request
        ) -> web.StreamResponse:
            return await self._retrieve_image(soap, payload, http)

        handlers: dict[str, Handler] = {
            "GetScannerElements": plain(service.get_scanner_elements),
            "ValidateScanTicket": plain(service.validate_scan_ticket),
            "CreateScanJob": plain(service.create_scan_job),
            "CancelJob": plain(service.cancel_job),
            "GetJobElements": plain(service.get_job_elements),
            "GetActiveJobs": plain(
                lambda soap, _p: service.list_jobs(soap, "GetActiveJobs")
            ),
            "GetJobHistory": plain(
                lambda soap, _p: service.list_jobs(soap, "GetJobHistory")
            ),
            "RetrieveImage": retrieve,
            "Subscribe": plain(self.events.subscribe),
            "Renew": plain(self.events.renew),
            "GetStatus": plain(lambda soap, _p: self.events.get_status(soap)),
            "Unsubscribe": plain(lambda soap, _p: self.events.unsubscribe(soap)),
        }
        return await self._dispatch(request, [self.scan_url], handlers)

    async def _metadata(
        self, soap: SoapRequest, _payload: etree._Element, _request: web.Request
    ) -> etree._Element:
        profile = self.profile
        extra = {service.prefix: service.namespace for service in profile.hosted}
        extra = {p: ns for p, ns in extra.items() if p not in self.writer.prefixes}
        root, _header, body = self.writer.envelope(
            f"{WXF}/GetResponse",
            relates_to=soap.message_id,
            extra_namespaces={**extra, **_mex_prefixes(self.writer)},
        )
        metadata = sub(body, MEX, "Metadata")
        model = sub(sub(metadata, MEX, "MetadataSection"), WSDP, "ThisModel")
        model.getparent().set("Dialect", f"{WSDP}/ThisModel")  # type: ignore[union-attr]
        for local, value in (
            ("Manufacturer", profile.manufacturer),
            ("ManufacturerUrl", profile.manufacturer_url),
            ("ModelName", profile.model_name),
            ("ModelNumber", profile.model_number),
            ("ModelUrl", profile.model_url),
            ("PresentationUrl", self.presentation_url),
        ):
            if value is not None:
                sub(model, WSDP, local, value)
        sub(model, PNPX, "DeviceCategory", profile.device_category)
        device = sub(sub(metadata, MEX, "MetadataSection"), WSDP, "ThisDevice")
        device.getparent().set("Dialect", f"{WSDP}/ThisDevice")  # type: ignore[union-attr]
        sub(device, WSDP, "FriendlyName", profile.friendly_name)
        sub(device, WSDP, "FirmwareVersion", profile.firmware_version)
        sub(device, WSDP, "SerialNumber", profile.serial_number)
        section = sub(metadata, MEX, "MetadataSection")
        section.set("Dialect", f"{WSDP}/Relationship")
        relationship = sub(section, WSDP, "Relationship")
        relationship.set("Type", f"{WSDP}/host")
        host = sub(relationship, WSDP, "Host")
        sub(sub(host, WSA, "EndpointReference"), WSA, "Address", self.endpoint_address)
        sub(
            host,
            WSDP,
            "Types",
            " ".join(
                self.writer.qname_text(ns, local) for ns, local in profile.device_types
            ),
        )
        sub(host, WSDP, "ServiceId", self.endpoint_address)
        scan = sub(relationship, WSDP, "Hosted")
        sub(sub(scan, WSA, "EndpointReference"), WSA, "Address", self.scan_url)
        sub(scan, WSDP, "Types", self.writer.qname_text(SCAN, "ScannerServiceType"))
        sub(scan, WSDP, "ServiceId", f"uri:{self.uuid}/scan")
        sub(scan, PNPX, "HardwareId", profile.hardware_id)
        sub(scan, PNPX, "CompatibleId", f"{SCAN}/ScannerServiceType")
        for service in profile.hosted:
            hosted = sub(relationship, WSDP, "Hosted")
            sub(
                sub(hosted, WSA, "EndpointReference"),
                WSA,
                "Address",
                self._base + service.path.format(uuid=self.uuid),
            )
            sub(hosted, WSDP, "Types", f"{service.prefix}:{service.type_name}")
            sub(hosted, WSDP, "ServiceId", service.service_id.format(uuid=self.uuid))
            if service.compatible_id is not None:
                sub(hosted, PNPX, "CompatibleId", service.compatible_id)
        return root

    # --- RetrieveImage ----------------------------------------------------------------

    async def _retrieve_image(
        self, soap: SoapRequest, payload: etree._Element, request: web.Request
    ) -> web.StreamResponse:
        transfer = self.service.retrieve_image(payload)
        framing = MultipartFraming.create(self.host, frozenset(self.quirks))
        root, _header, body = self.writer.envelope(
            f"{SCAN}/RetrieveImageResponse",
            relates_to=soap.message_id,
            extra_namespaces={
                "xop": XOP_2003 if Quirk.MIME_XOP_2003 in self.quirks else XOP
            },
        )
        scan_data = sub(sub(body, SCAN, "RetrieveImageResponse"), SCAN, "ScanData")
        include = sub(
            scan_data,
            XOP_2003 if Quirk.MIME_XOP_2003 in self.quirks else XOP,
            "Include",
        )
        include.set("href", framing.include_href)
        doc_format = transfer.job.ticket.format or "jfif"
        response = web.StreamResponse(headers={"Content-Type": framing.content_type})
        complete = False
        try:
            await response.prepare(request)
            await response.write(framing.head(serialize(root), mime_type(doc_format)))
            complete = await self._write_image(response, request, transfer, doc_format)
            if complete:
                await response.write(framing.tail())
                await response.write_eof()
        finally:
            self.service.transfer_finished(transfer, complete=complete)
        return response

    def _image_chunks(self, transfer: Transfer, doc_format: str) -> Iterable[bytes]:
        job = transfer.job
        if transfer.empty:
            return []
        if job.huge_bytes is not None:
            geometry = job.front_geometry()
            channels = geometry.bytes_per_line // geometry.pixels_per_line
            return stream_huge_image(
                doc_format, geometry.pixels_per_line, channels, job.huge_bytes
            )
        rendered = doc_format
        if Quirk.FORMAT_LIES in self.quirks:
            # Pantum M7100DN: the bytes are not what the Format says.
            rendered = {"png": "jfif", "jfif": "png", "exif": "png"}.get(
                doc_format, doc_format
            )
        data = encode(transfer.pages, rendered, job.ticket.quality or 85)
        return [data[i : i + 65536] for i in range(0, len(data), 65536)]

    async def _write_image(
        self,
        response: web.StreamResponse,
        request: web.Request,
        transfer: Transfer,
        doc_format: str,
    ) -> bool:
        chunks = self._image_chunks(transfer, doc_format)
        data_iter = iter(chunks)
        if (
            Quirk.HOSTILE_TRUNCATED_MIME in self.quirks
            or Quirk.HOSTILE_STALL_MID_BODY in self.quirks
        ):
            first = next(data_iter, b"")
            await response.write(first[: max(1, len(first) // 2)])
            if Quirk.HOSTILE_STALL_MID_BODY in self.quirks:
                stopping = asyncio.ensure_future(self._stopping.wait())
                try:
                    await asyncio.wait_for(
                        asyncio.shield(stopping), self.settings.stall_seconds
                    )
                except TimeoutError:
                    pass
                finally:
                    stopping.cancel()
            if request.transport is not None:
                request.transport.abort()
            return False
        slow = Quirk.SLOW_STREAMING in self.quirks
        for chunk in data_iter:
            if not slow:
                await response.write(chunk)
                continue
            step = self.settings.slow_chunk_size
            for start in range(0, len(chunk), step):
                await response.write(chunk[start : start + step])
                await asyncio.sleep(self.settings.slow_chunk_delay)
        return True


def _mex_prefixes(writer: Writer) -> dict[str, str]:
    return {} if MEX in writer.prefixes.values() else {"wsx": MEX}


def _operation(soap: SoapRequest) -> str:
    action = soap.action
    for namespace in (SCAN, SCAN_2006_01, WSE, WXF):
        if action.startswith(namespace + "/"):
            return action[len(namespace) + 1 :]
    if not action and soap.payload is not None:
        return etree.QName(soap.payload).localname.removesuffix("Request")
    return action
