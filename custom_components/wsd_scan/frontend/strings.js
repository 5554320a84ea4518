// The card's own words, by language (custom cards cannot use the integration's
// translations for these; field names, options, states and errors do come from them).
// Counted words have a form per plural category of the language (Intl.PluralRules).
// Plain JSON between the braces: tests/test_frontend.py reads it to check that every
// language has every word.
const TRANSLATIONS = {
  "en": {
    "cancel": "Cancel",
    "custom": "Custom settings",
    "description": "Scan with a profile, follow the job, see the pages and open the document.",
    "feature": "Scan with profile",
    "finish": "Finish",
    "last_scan": "Last scan",
    "no_device": "Choose a scanner in the card's settings.",
    "not_found": "This scanner is not set up in Home Assistant.",
    "page": {
      "one": "page",
      "other": "pages"
    },
    "page_title": "Page",
    "pass": {
      "one": "pass",
      "other": "passes"
    },
    "profile": "Profile",
    "profiles": "Profiles",
    "scan": "Scan",
    "scan_more": "Scan more",
    "scanner": "Scanner",
    "session": "Session",
    "title": "Title"
  },
  "de": {
    "cancel": "Abbrechen",
    "custom": "Eigene Einstellungen",
    "description": "Mit einem Profil scannen, den Auftrag verfolgen, die Seiten sehen und das Dokument öffnen.",
    "feature": "Mit Profil scannen",
    "finish": "Fertigstellen",
    "last_scan": "Letzter Scan",
    "no_device": "Wähle in den Einstellungen der Karte einen Scanner.",
    "not_found": "Dieser Scanner ist in Home Assistant nicht eingerichtet.",
    "page": {
      "one": "Seite",
      "other": "Seiten"
    },
    "page_title": "Seite",
    "pass": {
      "one": "Durchgang",
      "other": "Durchgänge"
    },
    "profile": "Profil",
    "profiles": "Profile",
    "scan": "Scannen",
    "scan_more": "Weiter scannen",
    "scanner": "Scanner",
    "session": "Sitzung",
    "title": "Titel"
  },
  "fr": {
    "cancel": "Annuler",
    "custom": "Réglages personnalisés",
    "description": "Numériser avec un profil, suivre la tâche, voir les pages et ouvrir le document.",
    "feature": "Numériser avec un profil",
    "finish": "Terminer",
    "last_scan": "Dernière numérisation",
    "no_device": "Choisissez un scanner dans les paramètres de la carte.",
    "not_found": "Ce scanner n'est pas configuré dans Home Assistant.",
    "page": {
      "one": "page",
      "other": "pages"
    },
    "page_title": "Page",
    "pass": {
      "one": "passage",
      "other": "passages"
    },
    "profile": "Profil",
    "profiles": "Profils",
    "scan": "Numériser",
    "scan_more": "Numériser plus",
    "scanner": "Scanner",
    "session": "Session",
    "title": "Titre"
  },
  "es": {
    "cancel": "Cancelar",
    "custom": "Ajustes personalizados",
    "description": "Escanear con un perfil, seguir el trabajo, ver las páginas y abrir el documento.",
    "feature": "Escanear con perfil",
    "finish": "Finalizar",
    "last_scan": "Último escaneo",
    "no_device": "Elige un escáner en los ajustes de la tarjeta.",
    "not_found": "Este escáner no está configurado en Home Assistant.",
    "page": {
      "one": "página",
      "other": "páginas"
    },
    "page_title": "Página",
    "pass": {
      "one": "pasada",
      "other": "pasadas"
    },
    "profile": "Perfil",
    "profiles": "Perfiles",
    "scan": "Escanear",
    "scan_more": "Escanear más",
    "scanner": "Escáner",
    "session": "Sesión",
    "title": "Título"
  },
  "nl": {
    "cancel": "Annuleren",
    "custom": "Eigen instellingen",
    "description": "Scannen met een profiel, de taak volgen, de pagina's zien en het document openen.",
    "feature": "Scannen met profiel",
    "finish": "Voltooien",
    "last_scan": "Laatste scan",
    "no_device": "Kies een scanner in de instellingen van de kaart.",
    "not_found": "Deze scanner is niet ingesteld in Home Assistant.",
    "page": {
      "one": "pagina",
      "other": "pagina's"
    },
    "page_title": "Pagina",
    "pass": {
      "one": "doorgang",
      "other": "doorgangen"
    },
    "profile": "Profiel",
    "profiles": "Profielen",
    "scan": "Scannen",
    "scan_more": "Meer scannen",
    "scanner": "Scanner",
    "session": "Sessie",
    "title": "Titel"
  },
  "it": {
    "cancel": "Annulla",
    "custom": "Impostazioni personalizzate",
    "description": "Scansiona con un profilo, segui il lavoro, guarda le pagine e apri il documento.",
    "feature": "Scansiona con profilo",
    "finish": "Termina",
    "last_scan": "Ultima scansione",
    "no_device": "Scegli uno scanner nelle impostazioni della scheda.",
    "not_found": "Questo scanner non è configurato in Home Assistant.",
    "page": {
      "one": "pagina",
      "other": "pagine"
    },
    "page_title": "Pagina",
    "pass": {
      "one": "passata",
      "other": "passate"
    },
    "profile": "Profilo",
    "profiles": "Profili",
    "scan": "Scansiona",
    "scan_more": "Scansiona altro",
    "scanner": "Scanner",
    "session": "Sessione",
    "title": "Titolo"
  },
  "pl": {
    "cancel": "Anuluj",
    "custom": "Własne ustawienia",
    "description": "Skanuj z profilem, śledź zadanie, oglądaj strony i otwieraj dokument.",
    "feature": "Skanuj z profilem",
    "finish": "Zakończ",
    "last_scan": "Ostatni skan",
    "no_device": "Wybierz skaner w ustawieniach karty.",
    "not_found": "Ten skaner nie jest skonfigurowany w Home Assistant.",
    "page": {
      "one": "strona",
      "few": "strony",
      "many": "stron",
      "other": "strony"
    },
    "page_title": "Strona",
    "pass": {
      "one": "przebieg",
      "few": "przebiegi",
      "many": "przebiegów",
      "other": "przebiegu"
    },
    "profile": "Profil",
    "profiles": "Profile",
    "scan": "Skanuj",
    "scan_more": "Skanuj dalej",
    "scanner": "Skaner",
    "session": "Sesja",
    "title": "Tytuł"
  }
};

// The user's language (Home Assistant's, from its app element), or its base language.
function language() {
  const lang = document.querySelector("home-assistant")?.hass?.language ?? "en";
  return TRANSLATIONS[lang] ? lang : lang.split("-")[0];
}

// STRINGS.word: the word in the user's language; English where the language has none.
export const STRINGS = new Proxy(TRANSLATIONS.en, {
  get: (english, key) => TRANSLATIONS[language()]?.[key] ?? english[key],
});

// "4 pages": the number and the word's form for it.
export function count(number, key) {
  const forms = STRINGS[key];
  const category = new Intl.PluralRules(language()).select(number);
  return `${number} ${forms[category] ?? forms.other}`;
}
