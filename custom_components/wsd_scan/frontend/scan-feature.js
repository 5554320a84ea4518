// The Tile card feature "Scan with profile" (`custom:wsd-scan-profile-feature`): one
// button per profile of the tile entity's scanner, Cancel while it scans. Config:
// optional `profiles` (the ids to show; all when absent). Errors show as a toast.
import {
  ProfilesElement,
  STRINGS,
  cancel,
  deviceOfEntity,
  errorInWords,
  fireEvent,
  isJobRunning,
  isScannerEntity,
  loadFormElements,
  scan,
  scannerEntities,
} from "./scanner.js";

const FEATURE = "wsd-scan-profile-feature";

// The buttons share the row (a long name wraps once); when even their longest words do
// not fit the tile, the row scrolls sideways, and a button cut at the edge shows that
// there are more. Otherwise as Home Assistant's control button group: 40 pixels high.
const STYLE = `
  .buttons {
    display: flex;
    gap: 8px;
    height: 40px;
    margin: 0 12px 12px;
    overflow-x: auto;
    scrollbar-width: none;
  }
  ha-control-button { flex: 1 1 auto; width: auto; min-width: min-content; height: 100%; }
  ha-control-button span { line-height: 1.2; text-align: center; }
  [hidden] { display: none !important; }
`;

function entityId(feature) {
  return feature.context?.entity_id ?? feature.stateObj?.entity_id;
}

// A feature or its editor: the scanner is its tile entity's.
class TileFeatureElement extends ProfilesElement {
  // The tile sets `context` (its entity) after `hass`.
  set context(context) {
    this._context = context;
    this._followProfiles();
    this._render();
  }

  get context() {
    return this._context;
  }

  _scannerDevice() {
    return deviceOfEntity(this._hass, entityId(this));
  }
}

class WsdScanProfileFeature extends TileFeatureElement {
  constructor() {
    super((error) => this._toast(error));
  }

  static getStubConfig() {
    return { type: `custom:${FEATURE}` };
  }

  static getConfigElement() {
    return document.createElement(`${FEATURE}-editor`);
  }

  setConfig(config) {
    if (!config) {
      throw new Error("Invalid configuration");
    }
    this._config = config;
    this._render();
  }

  set hass(hass) {
    this._hass = hass;
    this._followProfiles();
    this._render();
  }

  _render() {
    if (!this._hass || !this._config) {
      return;
    }
    if (!this.shadowRoot) {
      this.attachShadow({ mode: "open" }).append(
        Object.assign(document.createElement("style"), { textContent: STYLE }),
        (this._group = Object.assign(document.createElement("div"), { className: "buttons" })),
      );
    }
    const wanted = this._config.profiles;
    const profiles = this._profiles.profiles.filter(
      (profile) => !wanted || wanted.includes(profile.id),
    );
    const { deviceId } = this._profiles;
    const job = this._hass.states[scannerEntities(this._hass, deviceId).job_state];
    const busy = this._scanning || isJobRunning(job);
    const shown = JSON.stringify([
      profiles.map((profile) => [profile.id, profile.name]),
      busy,
      STRINGS.cancel,
    ]);
    if (shown !== this._shown) {
      this._shown = shown;
      this._group.replaceChildren(
        ...profiles.map((profile) => {
          const button = this._button(profile.name, () => this._scan(profile));
          button.disabled = busy;
          return button;
        }),
        ...(busy ? [this._button(STRINGS.cancel, () => this._cancel())] : []),
      );
    }
  }

  _button(label, action) {
    const button = document.createElement("ha-control-button");
    button.label = label;
    button.title = label;
    button.append(Object.assign(document.createElement("span"), { textContent: label }));
    button.addEventListener("click", (event) => {
      event.stopPropagation();
      action();
    });
    return button;
  }

  async _scan(profile) {
    this._scanning = true;
    this._render();
    try {
      await scan(this._hass, this._profiles.deviceId, { profile: profile.id });
    } catch (error) {
      await this._toast(error);
    } finally {
      this._scanning = false;
      this._render();
    }
  }

  async _cancel() {
    try {
      await cancel(this._hass, this._profiles.deviceId);
    } catch (error) {
      await this._toast(error);
    }
  }

  async _toast(error) {
    fireEvent(this, "hass-notification", { message: await errorInWords(this._hass, error) });
  }
}

class WsdScanProfileFeatureEditor extends TileFeatureElement {
  setConfig(config) {
    this._config = config;
    this._render();
  }

  set hass(hass) {
    const first = this._hass === undefined;
    this._hass = hass;
    if (first) {
      loadFormElements().then(() => {
        this._formReady = true;
        this._render();
      });
    }
    this._followProfiles();
  }

  _render() {
    if (!this._formReady || !this._config) {
      return;
    }
    if (!this._form) {
      this._form = document.createElement("ha-form");
      this._form.computeLabel = () => STRINGS.profiles;
      this._form.addEventListener("value-changed", (event) => {
        const config = { ...event.detail.value };
        if (!config.profiles?.length) {
          delete config.profiles;
        }
        fireEvent(this, "config-changed", { config });
      });
      this.append(this._form);
    }
    const options = this._profiles.profiles.map((profile) => ({
      value: profile.id,
      label: profile.name,
    }));
    Object.assign(this._form, {
      hass: this._hass,
      schema: [{ name: "profiles", selector: { select: { multiple: true, options } } }],
      data: this._config,
    });
  }
}

customElements.define(FEATURE, WsdScanProfileFeature);
customElements.define(`${FEATURE}-editor`, WsdScanProfileFeatureEditor);
window.customCardFeatures = window.customCardFeatures ?? [];
window.customCardFeatures.push({
  type: FEATURE,
  name: STRINGS.feature,
  configurable: true,
  isSupported: (hass, context) => isScannerEntity(hass, context.entity_id),
});
