"""A small fake of Paperless-ngx's REST API on loopback: real HTTP, real multipart.

It takes documents (`POST /api/documents/post_document/`), answers their consumption
tasks PENDING, then SUCCESS or FAILURE, and keeps tags, correspondents and document
types that can be looked up by name (`?name__iexact=`) and created.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
import hashlib
import uuid

from aiohttp import BodyPartReader, web

TOKEN = "0123456789abcdef"
#: The API's collections of names, as the fake starts.
COLLECTIONS = ("tags", "correspondents", "document_types")


@dataclass
class Upload:
    """A document the fake received."""

    title: str
    tags: list[str]
    file_name: str
    digest: str
    correspondent: str | None = None
    document_type: str | None = None


@dataclass
class FakePaperless:
    """What the fake Paperless-ngx received, and how it behaves."""

    url: str = ""
    uploads: list[Upload] = field(default_factory=list)
    #: Looks at a task that answer PENDING before it ends.
    pending_polls: int = 1
    #: The message of a consumption that fails; None: consumption succeeds.
    failure: str | None = None
    tasks: dict[str, int] = field(default_factory=dict)
    #: Names by id, per collection (`tags`, `correspondents`, `document_types`).
    names: dict[str, dict[int, str]] = field(
        default_factory=lambda: {collection: {} for collection in COLLECTIONS}
    )
    #: What was created, as (collection, name).
    created: list[tuple[str, str]] = field(default_factory=list)
    #: Names looked up, as (collection, name).
    lookups: list[tuple[str, str]] = field(default_factory=list)
    #: Whether lookups answer without ids (an API this integration does not know).
    without_ids: bool = False

    def add(self, collection: str, name: str) -> int:
        """Add a name to a collection; return its id (ids are unique across all)."""
        new_id = 1 + max(
            (known for names in self.names.values() for known in names), default=10
        )
        self.names[collection][new_id] = name
        return new_id


def _authorized(request: web.Request) -> None:
    if request.headers.get("Authorization") != f"Token {TOKEN}":
        raise web.HTTPUnauthorized(text='{"detail": "Invalid token."}')


@asynccontextmanager
async def serve_paperless() -> AsyncIterator[FakePaperless]:
    """Serve the fake on 127.0.0.1 under `/paperless` (its `url`)."""
    fake = FakePaperless()

    async def api_root(request: web.Request) -> web.Response:
        _authorized(request)
        return web.json_response({"documents": f"{fake.url}/api/documents/"})

    async def post_document(request: web.Request) -> web.Response:
        _authorized(request)
        fields: dict[str, list[str]] = defaultdict(list)
        document: tuple[str, str] | None = None
        async for part in await request.multipart():
            assert isinstance(part, BodyPartReader)
            if part.name == "document":
                digest = hashlib.sha256()
                while chunk := await part.read_chunk():
                    digest.update(chunk)
                document = (part.filename or "", digest.hexdigest())
            else:
                fields[str(part.name)].append(await part.text())
        assert document is not None
        fake.uploads.append(
            Upload(
                fields["title"][0],
                fields["tags"],
                *document,
                correspondent=next(iter(fields["correspondent"]), None),
                document_type=next(iter(fields["document_type"]), None),
            )
        )
        task_id = str(uuid.uuid4())
        fake.tasks[task_id] = 0
        return web.json_response(task_id)

    async def tasks(request: web.Request) -> web.Response:
        _authorized(request)
        task_id = request.query["task_id"]
        polls = fake.tasks[task_id] = fake.tasks[task_id] + 1
        task: dict[str, object] = {"task_id": task_id, "status": "PENDING"}
        if polls > fake.pending_polls and fake.failure is not None:
            task.update(status="FAILURE", result=fake.failure)
        elif polls > fake.pending_polls:
            task.update(status="SUCCESS", related_document=len(fake.uploads))
        return web.json_response([task])

    async def lookup(request: web.Request) -> web.Response:
        _authorized(request)
        collection = request.match_info["collection"]
        name = request.query["name__iexact"]
        fake.lookups.append((collection, name))
        results = [
            {"name": known} if fake.without_ids else {"id": known_id, "name": known}
            for known_id, known in fake.names[collection].items()
            if known.casefold() == name.casefold()
        ]
        return web.json_response(
            {"count": len(results), "next": None, "previous": None, "results": results}
        )

    async def create(request: web.Request) -> web.Response:
        _authorized(request)
        collection = request.match_info["collection"]
        name = (await request.json())["name"]
        fake.created.append((collection, name))
        new_id = fake.add(collection, name)
        return web.json_response({"id": new_id, "name": name}, status=201)

    collections = "{collection:" + "|".join(COLLECTIONS) + "}"
    app = web.Application()
    app.router.add_get("/paperless/api/", api_root)
    app.router.add_post("/paperless/api/documents/post_document/", post_document)
    app.router.add_get("/paperless/api/tasks/", tasks)
    app.router.add_get(f"/paperless/api/{collections}/", lookup)
    app.router.add_post(f"/paperless/api/{collections}/", create)
    # No lingering close: a request refused before its body is read (an unknown path)
    # would otherwise keep its handler reading the rest past the test.
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1, lingering_time=0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    fake.url = f"http://127.0.0.1:{port}/paperless"
    try:
        yield fake
    finally:
        await runner.cleanup()
