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
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
import logging

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.network import NoURLAvailableError, get_url

from .const import CONF_CALLBACK_URL, CONF_XADDRS, NOTIFY_PATH
from .discovery import SIGNAL_DISCOVERY_EVENT
from .notification_view import NOTIFICATION_HANDLER
from .wsd import (
    DiscoveryEvent,
    DiscoveryEventType,
    EventingClient,
    ScanClient,
    ScanDestination,
    Subscription,
    SubscriptionManager,
    WsdEvent,
)
from .wsd.discovery import url_host

_LOGGER = logging.getLogger(__name__)


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
        return f"{self.base_url}{NOTIFY_PATH}/{identifier}"

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
            device_hosts={
                host for url in [*self.xaddrs, client.url] if (host := url_host(url))
            },
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
