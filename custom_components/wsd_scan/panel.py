"""Scans started on the scanner's own panel ("Scan to Home Assistant").

One WS-Eventing subscription per scanner registers every profile as a ScanDestination
(its name on the panel, its id as ClientContext), separate from the status subscription
(no device is known to accept both in one Subscribe). It is made and kept by the
scanner's `Push` (push.py), which also renews it at once when the scanner sends a Hello. When the user
picks a profile on the panel and presses Scan, the scanner sends ScanAvailableEvent; the
listeners (the event entity) hear of it at once and the profile's scan starts with the
event's ScanIdentifier and the profile's DestinationToken.

The subscription is renewed before the granted expiry and re-created only when it is lost
(scanner reboot, SubscriptionEnd, failed renewal): Samsung M288x adds a panel entry for
every Subscribe and invalidates the earlier DestinationTokens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
import logging
from typing import Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError

from .const import DOMAIN, WhenBusy
from .profiles import Profile
from .push import Push
from .runner import PassOutcome, ScanRunner
from .scan_notification import async_notify_scan
from .wsd import (
    SCAN_AVAILABLE_EVENT,
    ErrorKind,
    RecentIds,
    ScanAvailableEvent,
    ScanClient,
    ScanDestination,
    ScanSource,
    Subscription,
    SubscriptionManager,
    WsdEvent,
)

_LOGGER = logging.getLogger(__name__)
#: Requested lifetime of the panel subscription. Long, because every renewal is a chance
#: for a device to get it wrong; devices may grant less (Epson: 15 minutes), and renewal
#: follows the granted lifetime.
PANEL_SUBSCRIPTION_LIFETIME: Final = 3600.0
#: ScanIdentifiers remembered to ignore repeated ScanAvailableEvents of one press.
_REMEMBERED_PRESSES: Final = 32


@dataclass(frozen=True, slots=True)
class PanelPress:
    """A profile chosen on the scanner's panel, and Scan pressed."""

    profile: Profile
    scan_identifier: str
    #: Where the user put the originals, when the scanner says (its InputSource).
    source: ScanSource | None


type PressListener = Callable[[PanelPress], None]


class PanelScans:
    """Keeps a scanner's panel entries registered and runs the scans pressed there."""

    def __init__(
        self,
        hass: HomeAssistant,
        entry: ConfigEntry,
        push: Push,
        runner: ScanRunner,
        profiles: Sequence[Profile],
    ) -> None:
        """Offer `profiles` on the panel of `runner`'s scanner, registered by `push`."""
        self.hass = hass
        self.entry = entry
        self.push = push
        self.runner = runner
        self.name = runner.name
        self.profiles = {profile.profile_id: profile for profile in profiles}
        self.manager: SubscriptionManager | None = None
        self._listeners: list[PressListener] = []
        self._presses = RecentIds(_REMEMBERED_PRESSES)

    @property
    def destination_tokens(self) -> dict[str, str]:
        """DestinationToken per profile id, while the panel entries are registered."""
        return self.manager.destination_tokens if self.manager else {}

    async def async_start(self, client: ScanClient) -> None:
        """Register the profiles on the panel of the scan service `client` talks to."""
        if not self.profiles:
            return
        self.manager = self.push.subscription(
            client,
            actions=[SCAN_AVAILABLE_EVENT],
            destinations=[
                ScanDestination(profile.name, client_context=profile.profile_id)
                for profile in self.profiles.values()
            ],
            listener=self._handle_event,
            on_change=self._subscription_changed,
            expires=PANEL_SUBSCRIPTION_LIFETIME,
        )
        if self.manager is not None:
            await self.manager.start()

    async def async_stop(self) -> None:
        """Unsubscribe: the entries disappear from the panel."""
        if self.manager is not None:
            await self.push.async_unsubscribe(self.manager)
            self.manager = None

    @callback
    def async_resubscribe(self) -> None:
        """Register the entries again now (the scanner refused their DestinationToken)."""
        if self.manager is not None:
            self.manager.resubscribe()

    @callback
    def async_add_listener(self, listener: PressListener) -> CALLBACK_TYPE:
        """Call `listener` on every press; return the function that stops it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    @callback
    def _subscription_changed(self, subscription: Subscription | None) -> None:
        if subscription is None:
            assert self.manager is not None
            _LOGGER.debug(
                "The panel entries of %s are not registered: %s",
                self.name,
                self.manager.last_error,
            )
            return
        missing = set(self.profiles) - set(subscription.destination_tokens)
        if missing:
            # Samsung M288x sends no token in the event either; without one, the scan is
            # tried with the ScanIdentifier alone.
            _LOGGER.debug("%s gave no DestinationToken for %s", self.name, missing)

    @callback
    def _handle_event(self, event: WsdEvent) -> None:
        if not isinstance(event, ScanAvailableEvent):
            return
        profile = self.profiles.get(event.client_context)
        if profile is None:
            _LOGGER.debug(
                "%s sent a scan for an unknown panel entry %r",
                self.name,
                event.client_context,
            )
            return
        if self._presses.seen(event.scan_identifier):
            return
        press = PanelPress(
            profile,
            event.scan_identifier,
            ScanSource.for_input_source(event.input_source)
            if event.input_source is not None
            else None,
        )
        for listener in list(self._listeners):
            listener(press)
        self.entry.async_create_background_task(
            self.hass,
            self._scan(press),
            f"{DOMAIN} panel scan {self.name}",
        )

    async def _scan(self, press: PanelPress) -> None:
        settings = press.profile.settings
        if press.source is not None:
            # The scanner knows where the paper is (Samsung M288x sends Platen even for a
            # feeder profile when the feeder is empty): its word wins.
            settings = replace(settings, source=press.source)
        try:
            outcome = await self.runner.async_scan(
                replace(
                    press.profile.request,
                    settings=settings,
                    scan_identifier=press.scan_identifier,
                    destination_token=self.destination_tokens.get(
                        press.profile.profile_id
                    ),
                    # The scanner waits for the job a short while only: a press
                    # queued behind another scan would come too late.
                    when_busy=WhenBusy.FAIL,
                )
            )
        except HomeAssistantError as err:
            _LOGGER.warning(
                "Scan from the panel of %s (%s) failed: %s",
                self.name,
                press.profile.name,
                err,
            )
            if err.translation_key == f"scan_{ErrorKind.STALE_DESTINATION}":
                self.async_resubscribe()
            return
        async_notify_scan(self.hass, self.entry, outcome)
        if isinstance(outcome, PassOutcome):
            _LOGGER.info(
                "Scanned %d pages from the panel of %s (%s) into the open session",
                outcome.pages,
                self.name,
                press.profile.name,
            )
            return
        _LOGGER.info(
            "Scanned %d pages from the panel of %s (%s) into %s",
            outcome.scan.pages,
            self.name,
            press.profile.name,
            outcome.scan.name,
        )
