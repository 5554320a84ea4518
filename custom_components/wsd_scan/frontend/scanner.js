// What the card and the Tile card feature share: a scanner's entities and profiles, the
// wsd_scan actions, their errors in words, the scans' pages from the media source.

import { STRINGS, count } from "./strings.js";

export { STRINGS };

export const DOMAIN = "wsd_scan";

// Home Assistant's app installs a scoped custom element registry (a polyfill bundled in
// frontend 20260930's app.js) as window.customElements; an element defined before that,
// as a module cached by the browser can be, is unknown to it ("Custom element doesn't
// exist"). The modules importing this one define their elements after the app's own.
await customElements.whenDefined("home-assistant");

// Job states (WS-Scan JobState, snake_case) in which the scanner is still at work.
const RUNNING_JOB_STATES = new Set([
  "creating",
  "pending",
  "pending_held",
  "processing",
  "started",
  "terminating",
]);

// The scanner's entities by their translation key (the registry's display entries).
export function scannerEntities(hass, deviceId) {
  const found = {};
  for (const entity of Object.values(hass.entities ?? {})) {
    if (entity.device_id === deviceId && entity.platform === DOMAIN) {
      found[entity.translation_key] = entity.entity_id;
    }
  }
  return found;
}

export function deviceOfEntity(hass, entityId) {
  const entity = hass?.entities?.[entityId];
  return entity?.platform === DOMAIN ? entity.device_id : undefined;
}

export function isScannerEntity(hass, entityId) {
  return deviceOfEntity(hass, entityId) !== undefined;
}

export function pageCount(pages) {
  return count(pages, "page");
}

export function passCount(passes) {
  return count(passes, "pass");
}

export function isJobRunning(stateObj) {
  return stateObj !== undefined && RUNNING_JOB_STATES.has(stateObj.state);
}

// Follows a scanner's profiles: `onProfiles([{id, name}])` now and whenever one is
// added, renamed or removed (wsd_scan.scan with `profile: id` scans as the profile
// does). Answers the function that stops following.
export function subscribeProfiles(hass, deviceId, onProfiles) {
  return hass.connection.subscribeMessage((message) => onProfiles(message.profiles), {
    type: `${DOMAIN}/profiles/subscribe`,
    device_id: deviceId,
  });
}

// A scanner's profiles, followed from `follow()` (again for another scanner) until
// `stop()`; `onChange()` after each change.
class ScannerProfiles {
  constructor(onChange, onError) {
    this.profiles = [];
    this._onChange = onChange;
    this._onError = onError;
  }

  follow(hass, deviceId) {
    if (!hass || deviceId === this.deviceId) {
      return;
    }
    this.stop();
    this.deviceId = deviceId;
    if (deviceId) {
      const stopping = subscribeProfiles(hass, deviceId, (profiles) => {
        if (this._stopping === stopping) {
          this.profiles = profiles;
          this._onChange();
        }
      });
      this._stopping = stopping;
      stopping.catch((error) => this._onError?.(error));
    }
  }

  stop() {
    this._stopping?.then(
      (unsubscribe) => unsubscribe(),
      () => {},
    );
    this._stopping = undefined;
    this.deviceId = undefined;
    this.profiles = [];
  }
}

// An element that follows the profiles of its scanner (`_scannerDevice()`, a device id)
// while it is connected, and renders when they change.
export class ProfilesElement extends HTMLElement {
  constructor(onError) {
    super();
    this._profiles = new ScannerProfiles(() => this._render(), onError);
  }

  connectedCallback() {
    this._followProfiles();
  }

  disconnectedCallback() {
    this._profiles.stop();
  }

  _followProfiles() {
    if (this.isConnected) {
      this._profiles.follow(this._hass, this._scannerDevice());
    }
  }
}

// Runs wsd_scan.scan and answers its response data (pages, files...).
export async function scan(hass, deviceId, data) {
  const result = await hass.callWS({
    type: "call_service",
    domain: DOMAIN,
    service: "scan",
    service_data: { ...data, device_id: deviceId },
    return_response: true,
  });
  return result.response;
}

export function cancel(hass, deviceId) {
  return hass.callService(DOMAIN, "cancel", { device_id: deviceId });
}

// The action's error in the user's language (its translation), else its message.
export async function errorInWords(hass, error) {
  if (error?.translation_domain && error?.translation_key) {
    const localize = await hass.loadBackendTranslation(
      "exceptions",
      error.translation_domain,
    );
    const message = localize(
      `component.${error.translation_domain}.exceptions.${error.translation_key}.message`,
      error.translation_placeholders,
    );
    if (message) {
      return message;
    }
  }
  return error?.message ?? String(error);
}

// A document's pages and links: [{title, thumbnail}] and [{title, url}].
//
// A file's media id is `media-source://wsd_scan/<scanner>/<scan>/file/<name>`; its scan
// (`.../<scan>`) lists the files, then a preview of each page (`.../page/<name>`).
export async function loadDocument(hass, files) {
  if (!files?.length) {
    return { pages: [], links: [] };
  }
  const fileId = files[0].media_content_id;
  const scanId = fileId.slice(0, fileId.lastIndexOf("/file/"));
  const [folder, ...links] = await Promise.all([
    hass.callWS({ type: "media_source/browse_media", media_content_id: scanId }),
    ...files.map((file) =>
      hass.callWS({
        type: "media_source/resolve_media",
        media_content_id: file.media_content_id,
      }),
    ),
  ]);
  return {
    pages: folder.children
      .filter((child) => child.media_content_id.includes("/page/"))
      .map((child) => ({ title: child.title, thumbnail: child.thumbnail })),
    links: links.map((resolved, index) => ({
      title: files[index].path.split("/").pop(),
      url: resolved.url,
    })),
  };
}

// Follows the pages a scanner received so far (a running job, an open session):
// `onPages([{title, thumbnail}])` on every change, [] once they are stored. Answers the
// function that stops following.
export function subscribePages(hass, deviceId, onPages) {
  return hass.connection.subscribeMessage(
    (message) =>
      onPages(
        message.pages.map((page, index) => ({
          title: `${STRINGS.page_title} ${index + 1}`,
          thumbnail: page.url,
        })),
      ),
    { type: `${DOMAIN}/pages/subscribe`, device_id: deviceId },
  );
}

// Makes sure HA's form elements are defined: dashboards load them with the first
// card editor only, so load the editor of a built-in card that uses them.
export async function loadFormElements() {
  if (customElements.get("ha-form")) {
    return;
  }
  const helpers = await window.loadCardHelpers();
  helpers.createCardElement({ type: "button" });
  await customElements.whenDefined("hui-button-card");
  await customElements.get("hui-button-card").getConfigElement();
  await customElements.whenDefined("ha-form");
}

export function fireEvent(node, type, detail) {
  node.dispatchEvent(new CustomEvent(type, { detail, bubbles: true, composed: true }));
}
