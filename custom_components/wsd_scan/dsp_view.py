"""Home Assistant as a WS-DSP scan server: post-scan jobs land in the media library.

With the scanner entry's option "Receive post-scan jobs" on, Home Assistant serves the
library's `PostScanServer` at `/api/wsd_scan/dsp/<secret>`. WS-DSP clients (devices,
another Home Assistant, `scripts/wsd post-scan`) cannot log in, so the long random
secret in the URL is the access control: an unknown secret is a 404 before any byte of
the body is read. Documents stream into a spool folder in the scanner's `.incoming`
(removed at start, so a restart leaves no partial files); on EndPostScanJob they are
stored byte for byte as one scan in the scanner's media folder, shown as its last scan,
and the `wsd_scan_post_scan_received` event tells automations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
import hmac
from ipaddress import IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
import logging
import secrets
from typing import Any, Final

from aiohttp import web
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.http import HomeAssistantView
from homeassistant.helpers.network import NoURLAvailableError, get_url
from homeassistant.util import dt as dt_util, slugify
from homeassistant.util.hass_dict import HassKey

from .const import DOMAIN
from .storage import INCOMING_DIR, ScanStorage, StoredScan, render_file_name
from .wsd import ErrorKind, PostScanServer, ReceivedJob, ScannedPage, WsdError

_LOGGER = logging.getLogger(__name__)

#: Option: serve a post-scan endpoint for this scanner (off by default).
CONF_RECEIVE_POST_SCAN: Final = "receive_post_scan"
#: Option: the secret in the endpoint's URL (made when receiving is turned on).
CONF_RECEIVE_SECRET: Final = "receive_post_scan_secret"
#: Option: the client addresses or networks allowed to send (empty: any).
CONF_RECEIVE_HOSTS: Final = "receive_post_scan_hosts"
#: Field of the options form: a new secret, so the old URL stops working.
CONF_ROTATE_SECRET: Final = "rotate_secret"
DSP_PATH: Final = f"/api/{DOMAIN}/dsp"
EVENT_POST_SCAN_RECEIVED: Final = f"{DOMAIN}_post_scan_received"
RECEIVERS: Final = HassKey[dict[str, "PostScanReceiver"]](f"{DOMAIN}_dsp_receivers")
#: File names of received scans: the job's DocumentRootName, shortened, then the time.
_MAX_ROOT_NAME: Final = 60
_DISK_FULL: Final = "disk_full"


def new_secret() -> str:
    """Return a fresh endpoint secret: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def endpoint_path(secret: str) -> str:
    """Return the path of the endpoint with `secret` (the base URL is Home Assistant's)."""
    return f"{DSP_PATH}/{secret}"


def receive_options(
    options: Mapping[str, Any], user_input: Mapping[str, Any]
) -> dict[str, Any]:
    """Return `options` with the options form's receive settings applied.

    Turning receiving on makes a secret if there is none; `rotate_secret` makes a new
    one. Raises ValueError when an allowed client is no address or network.
    """
    hosts = [host.strip() for host in user_input.get(CONF_RECEIVE_HOSTS, [])]
    updated = {
        **options,
        CONF_RECEIVE_POST_SCAN: bool(user_input[CONF_RECEIVE_POST_SCAN]),
        CONF_RECEIVE_HOSTS: [host for host in hosts if host],
    }
    client_networks(updated[CONF_RECEIVE_HOSTS])
    if updated[CONF_RECEIVE_POST_SCAN] and (
        user_input.get(CONF_ROTATE_SECRET) or CONF_RECEIVE_SECRET not in options
    ):
        updated[CONF_RECEIVE_SECRET] = new_secret()
    return updated


def client_networks(values: Iterable[str]) -> tuple[IPv4Network | IPv6Network, ...]:
    """Parse addresses or networks (`192.168.1.20`, `192.168.1.0/24`, `fd00::/8`).

    Raises ValueError for anything else.
    """
    return tuple(ip_network(value.strip(), strict=False) for value in values)


def client_allowed(
    clients: tuple[IPv4Network | IPv6Network, ...], remote: str | None
) -> bool:
    """Whether a request from `remote` may reach a server for `clients` (empty: any)."""
    if not clients:
        return True
    try:
        address = ip_address((remote or "").partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in clients)


def endpoint_url(hass: HomeAssistant, secret: str) -> str:
    """Return the endpoint's URL to give clients: Home Assistant's own URL + the path."""
    try:
        base = get_url(hass, prefer_external=True, allow_cloud=False)
    except NoURLAvailableError:
        base = "http://<Home Assistant>:8123"
    return f"{base}{endpoint_path(secret)}"


class PostScanReceiver:
    """One scanner entry's post-scan endpoint: the server and where its jobs go."""

    def __init__(
        self,
        hass: HomeAssistant,
        storage: ScanStorage,
        *,
        entry_id: str,
        secret: str,
        clients: tuple[IPv4Network | IPv6Network, ...] = (),
        on_stored: Callable[[StoredScan], None],
    ) -> None:
        """Receive into `storage`; `on_stored` shows each stored job as the last scan.

        `clients` restricts who may send (empty: anyone with the secret).
        """
        self.hass = hass
        self.storage = storage
        self.entry_id = entry_id
        self.secret = secret
        self.clients = clients
        self._on_stored = on_stored
        self.server = PostScanServer(
            storage.folder / INCOMING_DIR / f"post-scan-{entry_id}", self._store
        )

    async def async_start(self) -> None:
        """Start serving under the secret."""
        await self.server.start()
        self.hass.data[RECEIVERS][self.secret] = self

    async def async_stop(self) -> None:
        """Stop serving: open jobs are cancelled, their files removed."""
        self.hass.data[RECEIVERS].pop(self.secret, None)
        await self.server.close()

    async def _store(self, job: ReceivedJob) -> None:
        """Store a completed job's documents as one scan and tell automations."""
        created = dt_util.as_local(job.created)
        root = slugify(job.document_root_name)[:_MAX_ROOT_NAME] or "post_scan"
        name = render_file_name(
            f"{root}_{{date}}_{{time}}", device=self.storage.device, when=created
        )
        work = self.storage.work_folder()
        try:
            scan = await self.storage.async_store_delivered(
                [
                    ScannedPage(
                        index, document.path, document.image_format, document.size
                    )
                    for index, document in enumerate(job.documents, start=1)
                ],
                work,
                name,
                created=created,
            )
        except HomeAssistantError as err:
            # A full disk may empty: the client repeats EndPostScanJob later.
            kind = (
                ErrorKind.BUSY
                if err.translation_key == _DISK_FULL
                else ErrorKind.STORAGE
            )
            raise WsdError(kind, str(err)) from err
        finally:
            await self.storage.async_discard(work)
        _LOGGER.info(
            "Received post-scan job %s (%d documents) as %s",
            job.job_token,
            len(job.documents),
            scan.name,
        )
        self._on_stored(scan)
        self.hass.bus.async_fire(
            EVENT_POST_SCAN_RECEIVED,
            {
                "entry_id": self.entry_id,
                "job_token": job.job_token,
                "document_root_name": job.document_root_name,
                "user": job.user_identifier,
                "scan_process_id": job.scan_process_id,
                "name": scan.name,
                "files": [str(file.path) for file in scan.files],
            },
        )


class WsdPostScanView(HomeAssistantView):
    """Serves every receiving scanner's post-scan endpoint, routed by its secret."""

    url = f"{DSP_PATH}/{{secret}}"
    name = f"api:{DOMAIN}:dsp"
    # WS-DSP clients cannot log in: the secret in the URL is the access control.
    requires_auth = False

    def __init__(self, receivers: Mapping[str, PostScanReceiver]) -> None:
        """Route to `receivers` by secret."""
        self.receivers = receivers

    async def post(self, request: web.Request, secret: str) -> web.StreamResponse:
        """Hand the request to the secret's server; 404 (body unread) for none.

        A client outside the allowed addresses gets the same 404: it learns nothing.
        """
        receiver = next(
            (
                receiver
                for known, receiver in self.receivers.items()
                if hmac.compare_digest(known.encode(), secret.encode())
            ),
            None,
        )
        if receiver is None or not client_allowed(receiver.clients, request.remote):
            return web.Response(status=404)
        return await receiver.server.aiohttp_handler(request)


def async_setup_dsp_view(hass: HomeAssistant) -> None:
    """Register the view (once: views cannot be unregistered); receivers join later."""
    receivers: dict[str, PostScanReceiver] = {}
    hass.data[RECEIVERS] = receivers
    hass.http.register_view(WsdPostScanView(receivers))


async def async_setup_receiver(
    hass: HomeAssistant,
    entry: ConfigEntry,
    storage: ScanStorage,
    on_stored: Callable[[StoredScan], None],
) -> None:
    """Serve the entry's post-scan endpoint while it is loaded, if its option is on."""
    secret = entry.options.get(CONF_RECEIVE_SECRET)
    if not entry.options.get(CONF_RECEIVE_POST_SCAN) or not secret:
        return
    try:
        receiver = PostScanReceiver(
            hass,
            storage,
            entry_id=entry.entry_id,
            secret=secret,
            clients=client_networks(entry.options.get(CONF_RECEIVE_HOSTS, [])),
            on_stored=on_stored,
        )
        await receiver.async_start()
    except (HomeAssistantError, OSError, ValueError) as err:
        _LOGGER.warning("%s cannot receive post-scan jobs: %s", entry.title, err)
        return
    entry.async_on_unload(receiver.async_stop)
