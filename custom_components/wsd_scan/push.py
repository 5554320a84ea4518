"""WS-Eventing push for one scanner: where it notifies, who accepts it, its subscriptions.

The status subscription (coordinator.py) and the panel registration (panel.py) are made
here, with one notify URL base (the `callback_url` option, else Home Assistant's own
URL) and the domain's notification handler (notification_view.py). Each subscription is
kept alive by the library's `SubscriptionManager`.

A scanner that restarts forgets its subscriptions without telling anyone. Its Hello
(WS-Discovery 1.1 §4.1: sent when a device joins the network) makes every subscription
check itself at once: a new AppSequence InstanceId subscribes again; a Hello from a
scanner whose InstanceId was never heard (Home Assistant started after it) renews at
once, and a scanner that forgot the subscription refuses, so it is made again. A scanner
that sends no Hello is recovered by the next renewal.

`async_check_callback_url` tells the callback URL fix flow (repairs.py) whether a URL
can carry the scanner's events: it reaches Home Assistant's own notification view, the
scanner accepts a subscription with it, and (scanners notify only on a change) whether
an event arrived through it within `DELIVERY_WAIT`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from functools import partial
import logging
from typing import Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.network import NoURLAvailableError, get_url

from .const import CONF_CALLBACK_URL, CONF_XADDRS, NOTIFY_PATH
from .discovery import SIGNAL_DISCOVERY_EVENT
from .notification_view import NOTIFICATION_HANDLER
from .wsd import (
    STATUS_EVENTS,
    DiscoveryEvent,
    DiscoveryEventType,
    ErrorKind,
    EventingClient,
    ScanClient,
    ScanDestination,
    Subscription,
    SubscriptionManager,
    WsdError,
    WsdEvent,
)
from .wsd.discovery import url_host
from .wsd.eventing import check_delivery, check_notify_url

_LOGGER = logging.getLogger(__name__)

#: Errors that mean the scanner is not there, as opposed to refusing a subscription.
ABSENT: Final = frozenset({ErrorKind.UNREACHABLE, ErrorKind.TIMEOUT})
#: How long checking a callback URL waits for an event from the scanner.
DELIVERY_WAIT: Final = 10.0


class CallbackProblem(StrEnum):
    """Why a callback URL cannot carry events (the fix flow's error keys)."""

    NOT_HOME_ASSISTANT = "callback_not_home_assistant"
    SCANNER_UNREACHABLE = "scanner_unreachable"
    SUBSCRIPTION_REFUSED = "subscription_refused"


class CallbackUrlError(Exception):
    """A callback URL failed its check; `problem` says which part, `error` the detail."""

    def __init__(self, problem: CallbackProblem, error: WsdError) -> None:
        """Describe the failed check."""
        super().__init__(str(error))
        self.problem = problem
        self.error = error


def notify_url(base_url: str, identifier: str) -> str:
    """Return the URL under `base_url` the scanner posts notifications for `identifier` to."""
    return f"{base_url}{NOTIFY_PATH}/{identifier}"


class Push:
    """Makes and keeps one scanner's subscriptions; `base_url` None: no push possible."""

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry) -> None:
        """Push events of `entry`'s scanner to Home Assistant."""
        self.hass = hass
        #: The scanner's normalised endpoint UUID, as discovery reports it.
        self.uuid = entry.unique_id
        self.xaddrs: list[str] = entry.data[CONF_XADDRS]
        self.base_url = _base_url(hass, entry)
        self._managers: list[SubscriptionManager] = []

    def notify_url(self, identifier: str) -> str:
        """Return the URL the scanner posts notifications for `identifier` to."""
        return notify_url(str(self.base_url), identifier)

    def _device_hosts(self, client: ScanClient) -> set[str]:
        """Return the addresses the scanner's notifications may come from."""
        return {host for url in [*self.xaddrs, client.url] if (host := url_host(url))}

    async def async_check_callback_url(self, client: ScanClient, base_url: str) -> bool:
        """Check that `client`'s scanner can notify Home Assistant at `base_url`.

        Raises `CallbackUrlError` when the URL does not reach Home Assistant's
        notification view (checked from Home Assistant itself) or the scanner refuses
        a subscription with it; returns whether an event arrived within
        `DELIVERY_WAIT` (none arriving is no proof either way).
        """
        handler = self.hass.data[NOTIFICATION_HANDLER]
        session = async_get_clientsession(self.hass)
        to_base = partial(notify_url, base_url.rstrip("/"))
        try:
            await check_notify_url(session, handler, to_base)
        except WsdError as err:
            raise CallbackUrlError(CallbackProblem.NOT_HOME_ASSISTANT, err) from err
        try:
            return await check_delivery(
                EventingClient(client.session, client.url),
                handler,
                notify_url=to_base,
                device_hosts=self._device_hosts(client),
                actions=STATUS_EVENTS,
                wait=DELIVERY_WAIT,
            )
        except WsdError as err:
            problem = (
                CallbackProblem.SCANNER_UNREACHABLE
                if err.kind in ABSENT
                else CallbackProblem.SUBSCRIPTION_REFUSED
            )
            raise CallbackUrlError(problem, err) from err

    @callback
    def async_start(self) -> Callable[[], None]:
        """Check the subscriptions on the scanner's Hello; return what stops that."""
        return async_dispatcher_connect(
            self.hass, SIGNAL_DISCOVERY_EVENT, self._async_discovery_event
        )

    def subscription(
        self,
        client: ScanClient,
        *,
        actions: Sequence[str],
        listener: Callable[[WsdEvent], None],
        on_change: Callable[[Subscription | None], None],
        expires: float,
        destinations: Sequence[ScanDestination] = (),
    ) -> SubscriptionManager | None:
        """Return the manager of a subscription to `client`'s scan service.

        The caller starts it (and keeps it until `async_unsubscribe`). None without a
        notify URL. Notifications are accepted only from the scanner's own addresses.
        """
        if self.base_url is None:
            return None
        manager = SubscriptionManager(
            EventingClient(client.session, client.url),
            self.hass.data[NOTIFICATION_HANDLER],
            notify_url=self.notify_url,
            device_hosts=self._device_hosts(client),
            actions=actions,
            destinations=destinations,
            listener=listener,
            on_change=on_change,
            expires=expires,
        )
        self._managers.append(manager)
        return manager

    async def async_unsubscribe(self, manager: SubscriptionManager) -> None:
        """Stop keeping `manager`'s subscription and end it on the scanner."""
        self._managers.remove(manager)
        await manager.stop()

    @callback
    def _async_discovery_event(self, event: DiscoveryEvent) -> None:
        if event.type is not DiscoveryEventType.HELLO or event.device.uuid != self.uuid:
            return
        _LOGGER.debug("Hello from %s: checking its subscriptions", self.uuid)
        for manager in self._managers:
            manager.announced(event.device.app_sequence)


def _base_url(hass: HomeAssistant, entry: ConfigEntry) -> str | None:
    """Return the URL base the scanner reaches Home Assistant at, None if unknown."""
    try:
        base_url: str = entry.options.get(CONF_CALLBACK_URL) or get_url(
            hass, allow_cloud=False, prefer_external=False
        )
    except NoURLAvailableError:
        return None
    return base_url.rstrip("/")
