// The WSD Scan dashboard card (`custom:wsd-scan-card`) and its visual editor.
//
// Config: `device_id` (the scanner), optional `profile` (a profile id chosen at first)
// and `title`. The card scans with one of the scanner's profiles or custom settings,
// follows the job sensor, shows the pages as they arrive and the document of its last
// scan, and runs multi-pass sessions ("Scan more" adds a pass, "Finish" makes the
// document).
import {
  DOMAIN,
  ProfilesElement,
  STRINGS,
  cancel,
  errorInWords,
  fireEvent,
  isJobRunning,
  loadDocument,
  loadFormElements,
  pageCount,
  passCount,
  scan,
  scannerEntities,
  subscribePages,
  subscribeProfiles,
} from "./scanner.js";
import "./scan-feature.js";

const CUSTOM = "custom";
const NO_STATE = new Set(["unknown", "unavailable"]);
const SETTINGS = ["source", "format", "color", "resolution"];

const STYLE = `
  .card-content { display: flex; flex-direction: column; gap: 12px; }
  .status { color: var(--secondary-text-color); }
  .actions { display: flex; flex-wrap: wrap; gap: 8px; }
  .preview { display: flex; gap: 8px; overflow-x: auto; }
  .preview figure { margin: 0; text-align: center; font-size: 0.85em; }
  .preview img {
    display: block; height: 120px; border: 1px solid var(--divider-color);
    border-radius: 4px; background: white;
  }
  .links { display: flex; flex-wrap: wrap; gap: 12px; }
  .links a { color: var(--primary-color); }
  [hidden] { display: none !important; }
`;

function element(tag, properties = {}, children = []) {
  const node = document.createElement(tag);
  Object.assign(node, properties);
  node.append(...children);
  return node;
}

class WsdScanCard extends HTMLElement {
  // The pages the scanner received so far, shown instead of the document until stored.
  _livePages = [];

  static getConfigElement() {
    return document.createElement("wsd-scan-card-editor");
  }

  static getStubConfig(hass) {
    const scanner = Object.values(hass.entities).find(
      (entity) => entity.platform === DOMAIN && entity.device_id,
    );
    return { device_id: scanner?.device_id ?? "" };
  }

  setConfig(config) {
    if (typeof config.device_id !== "string") {
      throw new Error("device_id: the scanner's device id");
    }
    this._stopFollowing();
    this._livePages = [];
    this._config = config;
    this._profiles = undefined;
    this._choice = { profile: config.profile };
    this._document = undefined;
    if (!this.shadowRoot) {
      this._build();
    }
    this._showError(undefined);
    this._showPages([]);
    this._links.replaceChildren();
    this._lastPicture = undefined;
    this._follow();
    this._update();
  }

  set hass(hass) {
    const first = this._hass === undefined;
    const languageChanged = hass.language !== this._hass?.language;
    this._hass = hass;
    if (languageChanged) {
      this._prepare();
    }
    if (first) {
      this._follow();
    }
    this._update();
  }

  connectedCallback() {
    this._follow();
  }

  disconnectedCallback() {
    this._stopFollowing();
  }

  getCardSize() {
    return 6;
  }

  getGridOptions() {
    return { columns: 12, min_columns: 6 };
  }

  // Speaks the user's language (again after it changed): the buttons' words, and what
  // the form needs besides the profiles (HA's form elements, the translations).
  async _prepare() {
    const hass = this._hass;
    for (const [word, button] of Object.entries(this._buttons ?? {})) {
      button.textContent = STRINGS[word];
    }
    await loadFormElements();
    await hass.loadBackendTranslation("services", DOMAIN);
    this._localize = await hass.loadBackendTranslation("selector", DOMAIN);
    this._renderForm();
  }

  // Follows the scanner's profiles, and the pages it received so far (they show until
  // they are stored).
  _follow() {
    const deviceId = this._config?.device_id;
    if (!this._hass || !deviceId || !this.isConnected || this._following) {
      return;
    }
    const following = {};
    this._following = following;
    const whileFollowing =
      (show) =>
      (...args) => {
        if (this._following === following) {
          show(...args);
        }
      };
    following.stops = [
      subscribeProfiles(
        this._hass,
        deviceId,
        whileFollowing((profiles) => this._showProfiles(profiles)),
      ).catch(
        whileFollowing(async (error) => {
          this._showProfiles([]);
          this._showError(await errorInWords(this._hass, error));
        }),
      ),
      subscribePages(
        this._hass,
        deviceId,
        whileFollowing((pages) => this._showLivePages(pages)),
      ).catch(() => {
        // A device that is not a loaded scanner has no pages; the status says why.
      }),
    ];
  }

  _stopFollowing() {
    for (const stopping of this._following?.stops ?? []) {
      stopping.then((unsubscribe) => unsubscribe?.());
    }
    this._following = undefined;
  }

  _showLivePages(pages) {
    const had = this._livePages.length > 0;
    this._livePages = pages;
    if (pages.length) {
      this._showPages(pages);
      this._links.hidden = true;
    } else if (had) {
      // Stored: the document (or the last scan's picture) shows again.
      this._links.hidden = false;
      this._lastPicture = undefined;
      if (this._document) {
        this._showPages(this._document.pages);
      }
      this._update();
    }
  }

  // The chosen profile stays chosen while it exists; custom settings stay chosen.
  _showProfiles(profiles) {
    this._profiles = profiles;
    const { profile } = this._choice;
    if (profile !== CUSTOM && !profiles.some((candidate) => candidate.id === profile)) {
      this._choice = { ...this._choice, profile: profiles[0]?.id ?? CUSTOM };
    }
    this._renderForm();
  }

  _build() {
    const root = this.attachShadow({ mode: "open" });
    this._status = element("div", { className: "status" });
    this._form = element("ha-form");
    this._form.addEventListener("value-changed", (event) => {
      this._choice = event.detail.value;
      this._renderForm();
    });
    this._buttons = {
      scan: this._button(STRINGS.scan, () => this._scan({})),
      scan_more: this._button(STRINGS.scan_more, () => this._scan({ session: "add" })),
      finish: this._button(STRINGS.finish, () => this._finish()),
      cancel: this._button(STRINGS.cancel, () => this._cancel()),
    };
    this._buttons.cancel.variant = "danger";
    this._error = element("ha-alert", { hidden: true });
    this._error.setAttribute("alert-type", "error");
    this._session = element("div", { className: "session", hidden: true });
    this._preview = element("div", { className: "preview" });
    this._links = element("div", { className: "links" });
    this._card = element("ha-card", {}, [
      element("div", { className: "card-content" }, [
        this._status,
        this._form,
        (this._actions = element("div", { className: "actions" }, Object.values(this._buttons))),
        this._error,
        this._session,
        this._preview,
        this._links,
      ]),
    ]);
    root.append(element("style", { textContent: STYLE }), this._card);
  }

  _button(label, action) {
    const button = element("ha-button", { textContent: label });
    button.addEventListener("click", action);
    return button;
  }

  _entities() {
    return scannerEntities(this._hass, this._config.device_id);
  }

  // Shows what changes with the scanner's entities and the card's own actions.
  _update() {
    if (!this._hass || !this._config) {
      return;
    }
    const device = this._hass.devices?.[this._config.device_id];
    this._card.header = this._config.title ?? device?.name_by_user ?? device?.name ?? "";
    this._actions.hidden = !device;
    if (!device) {
      this._status.textContent = this._config.device_id ? STRINGS.not_found : STRINGS.no_device;
      this._session.hidden = true;
      return;
    }
    const entities = this._entities();
    const scanner = this._hass.states[entities.scanner_state];
    const job = this._hass.states[entities.job_state];
    const status = [scanner, job]
      .filter((stateObj) => stateObj !== undefined && !NO_STATE.has(stateObj.state))
      .map((stateObj) => this._hass.formatEntityState(stateObj));
    // The pages of the running job; once it ended, those of the last document (a
    // session's document holds the pages of all its passes, its last job only one).
    const pages = isJobRunning(job)
      ? job.attributes.pages
      : Number.parseInt(this._hass.states[entities.last_scan_pages]?.state, 10);
    if (Number.isInteger(pages)) {
      status.push(pageCount(pages));
    }
    this._status.textContent = status.join(" · ");
    // The open session of the scanner (session: start | add), from whoever started it.
    const session = job?.attributes.session_pages;
    this._session.hidden = session === undefined;
    this._session.textContent = `${STRINGS.session}: ${pageCount(session)}, ${passCount(
      job?.attributes.session_passes,
    )}`;
    this._setBusy(this._calling || isJobRunning(job), session !== undefined);
    if (!this._document && !this._livePages.length) {
      this._showLastScan(this._hass.states[entities.last_scan_image]);
    }
  }

  _setBusy(busy, sessionOpen) {
    this._buttons.scan.disabled = busy;
    this._buttons.scan_more.disabled = busy;
    this._buttons.finish.disabled = busy || !sessionOpen;
    this._buttons.cancel.disabled = !busy;
  }

  _renderForm() {
    if (!this._localize || !this._profiles) {
      return;
    }
    const fields = this._hass.services[DOMAIN]?.scan?.fields ?? {};
    const schema = [];
    if (this._profiles.length) {
      schema.push({
        name: "profile",
        required: true,
        selector: {
          select: {
            mode: "dropdown",
            options: [
              ...this._profiles.map((profile) => ({ value: profile.id, label: profile.name })),
              { value: CUSTOM, label: STRINGS.custom },
            ],
          },
        },
      });
    }
    if (this._choice.profile === CUSTOM) {
      schema.push(
        ...SETTINGS.filter((name) => fields[name]).map((name) => ({
          name,
          selector: fields[name].selector,
        })),
      );
    }
    Object.assign(this._form, {
      hass: this._hass,
      schema,
      data: this._choice,
      computeLabel: (field) =>
        field.name === "profile"
          ? STRINGS.profile
          : this._localize(`component.${DOMAIN}.services.scan.fields.${field.name}.name`),
      localizeValue: (key) => this._localize(`component.${DOMAIN}.selector.${key}`),
    });
  }

  // The action data of the chosen profile, or of the custom settings.
  _scanData() {
    if (this._profiles?.some((profile) => profile.id === this._choice.profile)) {
      return { profile: this._choice.profile };
    }
    return Object.fromEntries(
      SETTINGS.filter((name) => this._choice[name] !== undefined).map((name) => [
        name,
        this._choice[name],
      ]),
    );
  }

  // A pass of a session shows in the job sensor; a document in the card.
  async _scan(session) {
    const response = await this._run({ ...this._scanData(), ...session });
    if (response !== undefined && !session.session) {
      await this._showDocument(response);
    }
  }

  async _finish() {
    const response = await this._run({ session: "finish" });
    if (response !== undefined) {
      await this._showDocument(response);
    }
  }

  // Runs wsd_scan.scan; answers its response, or undefined after showing its error.
  async _run(data) {
    this._calling = true;
    this._showError(undefined);
    this._update();
    try {
      return await scan(this._hass, this._config.device_id, data);
    } catch (error) {
      this._showError(await errorInWords(this._hass, error));
      return undefined;
    } finally {
      this._calling = false;
      this._update();
    }
  }

  async _cancel() {
    try {
      await cancel(this._hass, this._config.device_id);
    } catch (error) {
      this._showError(await errorInWords(this._hass, error));
    }
  }

  _showError(message) {
    this._error.textContent = message ?? "";
    this._error.hidden = message === undefined;
  }

  _showLastScan(image) {
    const picture = NO_STATE.has(image?.state) ? undefined : image?.attributes.entity_picture;
    if (picture === this._lastPicture) {
      return;
    }
    this._lastPicture = picture;
    this._showPages(picture ? [{ title: STRINGS.last_scan, thumbnail: picture }] : []);
    this._links.replaceChildren();
  }

  async _showDocument(response) {
    try {
      this._document = await loadDocument(this._hass, response.files);
    } catch (error) {
      this._showError(await errorInWords(this._hass, error));
      return;
    }
    if (!this._livePages.length) {
      this._showPages(this._document.pages);
    }
    this._links.replaceChildren(
      ...this._document.links.map((link) =>
        element("a", { href: link.url, target: "_blank", textContent: link.title }),
      ),
    );
  }

  _showPages(pages) {
    this._preview.replaceChildren(
      ...pages.map((page) =>
        element("figure", {}, [
          element("img", { src: page.thumbnail, alt: page.title, loading: "lazy" }),
          element("figcaption", { textContent: page.title }),
        ]),
      ),
    );
  }
}

class WsdScanCardEditor extends ProfilesElement {
  setConfig(config) {
    this._config = config;
    this._followProfiles();
    this._render();
  }

  set hass(hass) {
    const first = this._hass === undefined;
    this._hass = hass;
    if (first) {
      loadFormElements().then(() => this._render());
    }
    this._followProfiles();
    this._render();
  }

  // A device that is not a loaded scanner has no profiles to offer.
  _scannerDevice() {
    return this._config?.device_id;
  }

  _render() {
    if (!this._hass || !this._config) {
      return;
    }
    if (!this._form) {
      this._form = document.createElement("ha-form");
      this._form.computeLabel = (field) => STRINGS[field.name === "device_id" ? "scanner" : field.name];
      this._form.addEventListener("value-changed", (event) => {
        const config = { ...event.detail.value };
        for (const key of ["profile", "title"]) {
          if (!config[key]) {
            delete config[key];
          }
        }
        fireEvent(this, "config-changed", { config });
      });
      this.append(this._form);
    }
    const schema = [
      { name: "device_id", required: true, selector: { device: { integration: DOMAIN } } },
      { name: "title", selector: { text: {} } },
    ];
    const { profiles } = this._profiles;
    if (profiles.length) {
      schema.push({
        name: "profile",
        selector: {
          select: {
            mode: "dropdown",
            options: profiles.map((profile) => ({ value: profile.id, label: profile.name })),
          },
        },
      });
    }
    Object.assign(this._form, { hass: this._hass, schema, data: this._config });
  }
}

customElements.define("wsd-scan-card", WsdScanCard);
customElements.define("wsd-scan-card-editor", WsdScanCardEditor);
window.customCards = window.customCards ?? [];
window.customCards.push({
  type: "wsd-scan-card",
  name: "WSD Scan",
  description: STRINGS.description,
  preview: false,
  documentationURL: "https://github.com/wsd-scan/wsd_scan#dashboard-card",
});
