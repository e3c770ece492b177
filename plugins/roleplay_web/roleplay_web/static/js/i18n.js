// The interface's language. Strings live in one catalogue per language, static/i18n/<tag>.json
// (a test fails when a key is missing from one of them). The language is the account's
// preferred language when the interface has it, else the browser's first one it has, else
// English; the switcher in the header overrides both (and, when signed in, becomes the
// account's preferred language).

/** The catalogues there are, with each one's name in its own language (for the switcher). */
export const LANGUAGES = [
  { tag: "en", name: "English" },
  { tag: "es", name: "Español" },
  { tag: "zh-Hant", name: "繁體中文" },
];

const base = document.body.dataset.base || "";
let current = "en";
let strings = {};
let fallback = {};

/** The catalogue for a language tag, or "" when there is none: es-MX -> es; zh-TW, zh-HK, zh-Hant -> zh-Hant. */
export function supported(tag) {
  if (!tag || typeof tag !== "string") return "";
  const lower = tag.toLowerCase();
  if (lower.startsWith("zh")) {
    // Traditional Chinese only: Simplified (zh-CN, zh-Hans, plain zh) is not offered.
    return /^zh-(hant|tw|hk|mo)\b/.test(lower) ? "zh-Hant" : "";
  }
  const primary = lower.split("-")[0];
  return LANGUAGES.some((l) => l.tag === primary) ? primary : "";
}

/** The first of `tags` the interface has, else English. */
export function pick(...tags) {
  for (const tag of tags.flat()) {
    const found = supported(tag);
    if (found) return found;
  }
  return "en";
}

/** The language on screen ("en", "es" or "zh-Hant"). */
export function language() {
  return current;
}

async function load(tag) {
  const response = await fetch(`${base}/app/i18n/${tag}.json`, { credentials: "omit" });
  if (!response.ok) throw new Error(`no catalogue for ${tag}`);
  return response.json();
}

/** Load a catalogue and make it the interface's language; the page's own markup follows. */
export async function use(tag) {
  const chosen = supported(tag) || "en";
  if (!Object.keys(fallback).length) fallback = await load("en");
  strings = chosen === "en" ? fallback : await load(chosen).catch(() => fallback);
  current = strings === fallback ? "en" : chosen;
  document.documentElement.lang = current;
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of document.querySelectorAll("[data-i18n-label]")) el.setAttribute("aria-label", t(el.dataset.i18nLabel));
  return current;
}

/**
 * The string for `key`, with {name} placeholders filled from `params`. A key with forms
 * ({"one": ..., "other": ...}) is chosen by `params.count` under the language's plural rules.
 */
export function t(key, params = {}) {
  let value = strings[key] ?? fallback[key];
  if (value === undefined) return key;
  if (typeof value === "object") {
    const form = new Intl.PluralRules(current).select(Number(params.count ?? 0));
    value = value[form] ?? value.other;
  }
  return String(value).replace(/\{(\w+)\}/g, (match, name) => (name in params ? String(params[name]) : match));
}
