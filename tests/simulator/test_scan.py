"""WS-Scan operations, job state machine and image transfer of the simulator."""

from __future__ import annotations

import io

from PIL import Image
import pytest

from simulator import SimulatedScanner

from .conftest import NS, Client, image_part, ticket

pytestmark = pytest.mark.usefixtures("socket_enabled")


async def test_get_scanner_elements_returns_requested_sections(client: Client) -> None:
    """Each requested section comes back as valid ElementData; unknown names are invalid."""
    names = "".join(
        f"<sca:Name>sca:{name}</sca:Name>"
        for name in (
            "ScannerDescription",
            "ScannerConfiguration",
            "ScannerStatus",
            "DefaultScanTicket",
            "Bogus",
        )
    )
    status, reply = await client.call(
        "GetScannerElements",
        f"<sca:GetScannerElementsRequest><sca:RequestedElements>{names}</sca:RequestedElements></sca:GetScannerElementsRequest>",
    )
    assert status == 200
    data = reply.findall(".//sca:ElementData", NS)
    assert [(d.get("Name"), d.get("Valid")) for d in data] == [
        ("sca:ScannerDescription", "true"),
        ("sca:ScannerConfiguration", "true"),
        ("sca:ScannerStatus", "true"),
        ("sca:DefaultScanTicket", "true"),
        ("sca:Bogus", "false"),
    ]
    assert reply.findtext(".//sca:ScannerState", namespaces=NS) == "Idle"
    assert reply.findtext(".//sca:ADFSupportsDuplex", namespaces=NS) == "true"


async def test_platen_scan_png(client: Client, sim: SimulatedScanner) -> None:
    """CreateScanJob then RetrieveImage yields a PNG of the announced size; job completes."""
    job_id, token = await client.create_job(ticket(doc_format="png", dpi=75))
    status, body, content_type = await client.retrieve(job_id, token)
    assert status == 200
    assert content_type.startswith("multipart/related")
    image = Image.open(io.BytesIO(image_part(body, content_type)))
    assert image.format == "PNG"
    assert image.size == (150, 225)
    assert sim.jobs[int(job_id)].state == "Completed"
    status, body, _ = await client.retrieve(job_id, token)
    assert status == 400
