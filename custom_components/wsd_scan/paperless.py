"""Hand stored scans to Paperless-ngx, through its REST API.

Configured in the options (`CONF_PAPERLESS`: URL, API token, tag ids). Each file of the
scan is uploaded from the media library, where it was stored first, to
`POST /api/documents/post_document/` (multipart, streamed from the file), with the
scan's name as the title; Paperless answers with the id of its consumption task, which
is followed (`GET /api/tasks/?task_id=…`) until the document exists or Paperless says why
it does not. When Paperless fails the files stay in the media library (upload.py).

API: https://docs.paperless-ngx.com/api/ ("POSTing documents", "Tasks"); token
authentication is `Authorization: Token <token>`.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import aiohttp
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from yarl import URL

from .const import CONF_PAPERLESS, CONF_TAGS
from .storage import StoredScan
from .upload import UploadTarget

ISSUE_PAPERLESS_FAILED: Final = "paperless_failed"
#: How long a request may take; an upload of a large scan to a busy server included.
_REQUEST_TIMEOUT: Final = aiohttp.ClientTimeout(total=300, sock_connect=10)
#: Seconds between looks at the consumption task, and how many looks at most (Paperless
#: consumes a document in seconds; OCR of a long one takes minutes).
TASK_POLL_INTERVAL: Final = 2.0
_TASK_POLLS: Final = 300
#: States of a task that is over (Celery's).
_TASK_SUCCESS: Final = "SUCCESS"
_TASK_FAILURE: Final = "FAILURE"


class PaperlessError(Exception):
    """Paperless-ngx could not be reached, refused the token, or refused a document."""

    def __init__(self, message: str, *, auth: bool = False) -> None:
        """`auth`: the token was refused (401, 403)."""
        super().__init__(message)
        self.auth = auth


@dataclass(frozen=True, slots=True)
class PaperlessDocument:
    """A file that Paperless-ngx consumed."""

    task_id: str
    document_id: int | None
    #: The document's page in Paperless' web interface, when its id is known.
    url: str | None


class PaperlessClient:
    """The REST API of one Paperless-ngx server."""

    def __init__(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        """Talk to the server at `url` (its base URL) with the API token `token`."""
        self._session = session
        self._base = URL(url.rstrip("/") + "/")
        self._headers = {
            "Authorization": f"Token {token}",
            "Accept": "application/json",
        }

    async def async_check(self) -> None:
        """Check that the server answers and takes the token (the API root)."""
        await self._request("GET", "api/")

    async def async_upload(
        self, path: Path, title: str, tags: tuple[int, ...] = ()
    ) -> PaperlessDocument:
        """Upload a file as a document and wait until Paperless has consumed it."""
        form = aiohttp.FormData()
        form.add_field("title", title)
        for tag in tags:
            form.add_field("tags", str(tag))
        loop = asyncio.get_running_loop()
        file = await loop.run_in_executor(None, path.open, "rb")
        try:
            # aiohttp reads the file in the executor as it sends it.
            form.add_field("document", file, filename=path.name)
            task_id = await self._request(
                "POST", "api/documents/post_document/", data=form
            )
        finally:
            await loop.run_in_executor(None, file.close)
        if not isinstance(task_id, str):
            raise PaperlessError(f"unexpected answer to the upload: {task_id!r}")
        return await self._consumed(task_id)

    async def _consumed(self, task_id: str) -> PaperlessDocument:
        """Follow the consumption task until it succeeds; its message if it fails."""
        for _ in range(_TASK_POLLS):
            tasks = await self._request(
                "GET", "api/tasks/", params={"task_id": task_id}
            )
            task = tasks[0] if isinstance(tasks, list) and tasks else {}
            status = task.get("status") if isinstance(task, dict) else None
            if status == _TASK_SUCCESS:
                document_id = task.get("related_document")
                document = int(document_id) if document_id is not None else None
                return PaperlessDocument(
                    task_id,
                    document,
                    None
                    if document is None
                    else str(self._base / f"documents/{document}/details"),
                )
            if status == _TASK_FAILURE:
                raise PaperlessError(str(task.get("result") or "consumption failed"))
            await asyncio.sleep(TASK_POLL_INTERVAL)
        raise PaperlessError(f"task {task_id} did not end in time")

    async def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        """Send a request; return its JSON answer, `PaperlessError` if it fails."""
        try:
            async with self._session.request(
                method,
                self._base / path,
                headers=self._headers,
                timeout=_REQUEST_TIMEOUT,
                allow_redirects=False,
                **kwargs,
            ) as response:
                if response.status in (401, 403):
                    raise PaperlessError(
                        f"the token was refused (HTTP {response.status})", auth=True
                    )
                if response.status >= 300:
                    detail = (await response.text())[:200]
                    raise PaperlessError(f"HTTP {response.status}: {detail}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError, ValueError) as err:
            raise PaperlessError(
                f"{self._base.host}: {err or type(err).__name__}"
            ) from err


class PaperlessTarget(UploadTarget):
    """The Paperless-ngx server of one scanner's entry."""

    options_key = CONF_PAPERLESS
    failure_key = ISSUE_PAPERLESS_FAILED
    target_key = CONF_URL

    async def async_send(self, scan: StoredScan) -> tuple[PaperlessDocument, ...]:
        """Upload the scan's files, one document each; return what Paperless made.

        Raises a translated `HomeAssistantError` (and raises a repair issue) when
        Paperless cannot take them; the files are not touched.
        """
        client = PaperlessClient(
            async_get_clientsession(self.hass), self.target, self.config[CONF_TOKEN]
        )
        tags = tuple(int(tag) for tag in self.config.get(CONF_TAGS, ()))
        documents = []
        try:
            for number, file in enumerate(scan.files, start=1):
                title = scan.name if len(scan.files) == 1 else f"{scan.name}-{number}"
                documents.append(await client.async_upload(file.path, title, tags))
        except PaperlessError as err:
            raise self._failed(scan, err) from err
        self._uploaded(scan, documents)
        return tuple(documents)
