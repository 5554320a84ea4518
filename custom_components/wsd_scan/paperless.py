"""Hand stored scans to Paperless-ngx, through its REST API.

Configured in the options (`CONF_PAPERLESS`: URL, API token, tags every document gets,
whether missing names may be created). Each file of the scan is uploaded from the media
library, where it was stored first, to `POST /api/documents/post_document/` (multipart,
streamed from the file) with a title, tags, correspondent and document type: the
profile's or the action's `PaperlessFields`. Those are ids or names; a name is looked up
(`GET /api/tags/?name__iexact=…`, likewise correspondents and document types) and, if
missing and allowed, created (`POST /api/tags/`). Paperless answers the upload with the
id of its consumption task, which is followed (`GET /api/tasks/?task_id=…`) until the
document exists or Paperless says why it does not. When Paperless fails the files stay
in the media library (upload.py).

API: https://docs.paperless-ngx.com/api/ ("POSTing documents", "Tasks", "Filtering");
token authentication is `Authorization: Token <token>`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
import re
from typing import Any, Final

import aiohttp
from homeassistant.const import CONF_TOKEN, CONF_URL
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.util import dt as dt_util
from yarl import URL

from .const import (
    CONF_CORRESPONDENT,
    CONF_CREATE_MISSING,
    CONF_DOCUMENT_TYPE,
    CONF_PAPERLESS,
    CONF_TAGS,
    CONF_TITLE,
    DOMAIN,
)
from .storage import StoredScan
from .upload import UploadTarget

ISSUE_PAPERLESS_FAILED: Final = "paperless_failed"
#: The error and repair issue of names that are missing and may not be created.
ISSUE_PAPERLESS_MISSING: Final = "paperless_missing"
#: The title a document gets unless told otherwise: the scan's name.
DEFAULT_TITLE: Final = "{name}"
_TITLE_FIELDS: Final = ("name", "profile", "date", "time", "device")
#: The placeholders of titles, as the translations show them.
TITLE_PLACEHOLDERS: Final = ", ".join(f"{{{field}}}" for field in _TITLE_FIELDS)
_FIELD: Final = re.compile(r"\{([^{}]*)\}")
#: How long a request may take; an upload of a large scan to a busy server included.
_REQUEST_TIMEOUT: Final = aiohttp.ClientTimeout(total=300, sock_connect=10)
#: Seconds between looks at the consumption task, and how many looks at most (Paperless
#: consumes a document in seconds; OCR of a long one takes minutes).
TASK_POLL_INTERVAL: Final = 2.0
_TASK_POLLS: Final = 300
#: States of a task that is over (Celery's).
_TASK_SUCCESS: Final = "SUCCESS"
_TASK_FAILURE: Final = "FAILURE"


#: A tag, correspondent or document type: its id, or its name.
type Reference = int | str


class Collection(StrEnum):
    """What a document is given by reference, by its collection in the API."""

    TAGS = "tags"
    CORRESPONDENTS = "correspondents"
    DOCUMENT_TYPES = "document_types"


class PaperlessError(Exception):
    """Paperless-ngx could not be reached, refused the token, or refused a document."""

    def __init__(self, message: str, *, auth: bool = False) -> None:
        """`auth`: the token was refused (401, 403)."""
        super().__init__(message)
        self.auth = auth


class PaperlessNameMissing(PaperlessError):
    """Paperless-ngx has nothing of that name, and creating it was not allowed."""

    def __init__(self, collection: Collection, name: str) -> None:
        """`name` is missing from `collection`."""
        super().__init__(f"no {collection} named {name!r}")
        self.name = name


def reference(value: int | str) -> Reference:
    """Read a reference as forms and actions give it: a number is an id, text a name."""
    if isinstance(value, int):
        return value
    text = value.strip()
    return int(text) if text.isdecimal() else text


def references(values: Iterable[int | str]) -> tuple[Reference, ...]:
    """Read a list of references; blank entries are left out."""
    return tuple(
        reference(value)
        for value in values
        if not isinstance(value, str) or value.strip()
    )


def title_valid(template: str) -> bool:
    """Whether a title template has only known placeholders."""
    return all(field in _TITLE_FIELDS for field in _FIELD.findall(template))


def check_title(template: str) -> None:
    """Raise `ServiceValidationError` for a title template with unknown placeholders."""
    if not title_valid(template):
        raise ServiceValidationError(
            translation_domain=DOMAIN,
            translation_key="invalid_paperless_title",
            translation_placeholders={
                "title": template,
                "placeholders": TITLE_PLACEHOLDERS,
            },
        )


@dataclass(frozen=True, slots=True)
class PaperlessFields:
    """What the documents of a scan are given: a profile's or an action's choice."""

    #: A template of TITLE_PLACEHOLDERS.
    title: str = DEFAULT_TITLE
    #: Given on top of the tags every document gets (the options').
    tags: tuple[Reference, ...] = ()
    correspondent: Reference | None = None
    document_type: Reference | None = None
    #: The name of the panel profile the scan was started from (`{profile}`).
    profile: str = ""

    @classmethod
    def from_config(
        cls, config: Mapping[str, Any], profile: str = ""
    ) -> PaperlessFields:
        """Read the fields stored under the `CONF_*` keys (blank ones: the defaults)."""
        correspondent = str(config.get(CONF_CORRESPONDENT) or "").strip()
        document_type = str(config.get(CONF_DOCUMENT_TYPE) or "").strip()
        return cls(
            title=str(config.get(CONF_TITLE) or "").strip() or DEFAULT_TITLE,
            tags=references(config.get(CONF_TAGS, ())),
            correspondent=reference(correspondent) if correspondent else None,
            document_type=reference(document_type) if document_type else None,
            profile=profile,
        )

    def render_title(self, scan: StoredScan, device: str) -> str:
        """Return the title of the scan's documents (the scan's name if it is blank)."""
        created = dt_util.as_local(scan.created)
        values = {
            "name": scan.name,
            "profile": self.profile,
            "date": created.strftime("%Y-%m-%d"),
            "time": created.strftime("%H:%M"),
            "device": device,
        }
        title = _FIELD.sub(lambda match: values.get(match[1], match[0]), self.title)
        # An empty placeholder ({profile} of an action's scan) leaves no double spaces.
        return " ".join(title.split()) or scan.name


@dataclass(frozen=True, slots=True)
class DocumentIds:
    """The ids of what a document is given, once names are looked up."""

    tags: tuple[int, ...] = ()
    correspondent: int | None = None
    document_type: int | None = None


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

    async def async_resolve(
        self, collection: Collection, value: Reference, *, create: bool
    ) -> int:
        """Return the id of a reference: looked up by name, created if allowed.

        Raises `PaperlessNameMissing` for a missing name that may not be created.
        """
        if isinstance(value, int):
            return value
        found = await self._request(
            "GET", f"api/{collection}/", params={"name__iexact": value}
        )
        results = found.get("results") if isinstance(found, dict) else None
        if results:
            return _id(results[0])
        if not create:
            raise PaperlessNameMissing(collection, value)
        return _id(
            await self._request("POST", f"api/{collection}/", json={"name": value})
        )

    async def async_resolve_fields(
        self,
        fields: PaperlessFields,
        *,
        tags: Iterable[Reference] = (),
        create: bool,
    ) -> DocumentIds:
        """Return the ids of what `fields` give a document, `tags` first.

        Raises `PaperlessNameMissing` for the first missing name that may not be created.
        """
        resolved = [
            await self.async_resolve(Collection.TAGS, tag, create=create)
            for tag in (*tags, *fields.tags)
        ]
        return DocumentIds(
            tuple(dict.fromkeys(resolved)),
            None
            if fields.correspondent is None
            else await self.async_resolve(
                Collection.CORRESPONDENTS, fields.correspondent, create=create
            ),
            None
            if fields.document_type is None
            else await self.async_resolve(
                Collection.DOCUMENT_TYPES, fields.document_type, create=create
            ),
        )

    async def async_upload(
        self, path: Path, title: str, ids: DocumentIds = DocumentIds()
    ) -> PaperlessDocument:
        """Upload a file as a document and wait until Paperless has consumed it."""
        form = aiohttp.FormData()
        form.add_field("title", title)
        for tag in ids.tags:
            form.add_field("tags", str(tag))
        if ids.correspondent is not None:
            form.add_field("correspondent", str(ids.correspondent))
        if ids.document_type is not None:
            form.add_field("document_type", str(ids.document_type))
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


def _id(item: object) -> int:
    """Return the id of a tag, correspondent or document type the API answered."""
    if isinstance(item, dict) and isinstance(item.get("id"), int):
        return int(item["id"])
    raise PaperlessError(f"unexpected answer: {item!r}")


class PaperlessTarget(UploadTarget):
    """The Paperless-ngx server of one scanner's entry."""

    options_key = CONF_PAPERLESS
    failure_key = ISSUE_PAPERLESS_FAILED
    target_key = CONF_URL

    async def async_send(
        self, scan: StoredScan, fields: PaperlessFields = PaperlessFields()
    ) -> tuple[PaperlessDocument, ...]:
        """Upload the scan's files, one document each; return what Paperless made.

        The documents get `fields` and the tags every document gets. Raises a
        translated `HomeAssistantError` (and raises a repair issue) when Paperless
        cannot take them; the files are not touched.
        """
        client = PaperlessClient(
            async_get_clientsession(self.hass), self.target, self.config[CONF_TOKEN]
        )
        title = fields.render_title(scan, self.name)
        documents = []
        try:
            # The token first: a server refusing it may close the connection while the
            # document is still being sent, and the upload would fail without the cause.
            await client.async_check()
            ids = await client.async_resolve_fields(
                fields,
                tags=references(self.config.get(CONF_TAGS, ())),
                create=bool(self.config.get(CONF_CREATE_MISSING, False)),
            )
            for number, file in enumerate(scan.files, start=1):
                documents.append(
                    await client.async_upload(
                        file.path,
                        title if len(scan.files) == 1 else f"{title}-{number}",
                        ids,
                    )
                )
        except PaperlessNameMissing as err:
            raise self._failed(
                scan, err, ISSUE_PAPERLESS_MISSING, missing=err.name
            ) from err
        except PaperlessError as err:
            raise self._failed(scan, err) from err
        self._uploaded(scan, documents)
        return tuple(documents)
