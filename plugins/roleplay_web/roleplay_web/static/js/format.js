// Small formatting helpers, in the interface's language. They return plain strings for textContent.

import { language, t } from "./i18n.js";
export function dateTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return date.toLocaleString(language(), { dateStyle: "medium", timeStyle: "short" });
}

export function duration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return "";
  const total = Math.max(0, Math.round(Number(seconds)));
  const minutes = Math.floor(total / 60);
  const rest = total % 60;
  if (minutes === 0) return t("duration.seconds", { s: rest });
  return rest ? t("duration.minutes_seconds", { m: minutes, s: rest }) : t("duration.minutes", { m: minutes });
}

export function score(value) {
  if (value === null || value === undefined) return "–";
  return String(Math.round(Number(value)));
}

export function signed(value) {
  if (value === null || value === undefined) return "–";
  const n = Math.round(Number(value));
  if (n > 0) return `+${n}`;
  if (n < 0) return `−${Math.abs(n)}`;
  return "0";
}

export function percent(value) {
  if (value === null || value === undefined) return "–";
  return `${Math.round(Number(value) * 100)}%`;
}

/** "3 messages": `key` is a catalogue entry with plural forms ({"one": ..., "other": ...}). */
export function plural(count, key) {
  return t(key, { count });
}

/** A random id for Idempotency-Key (crypto.randomUUID needs a secure context; this does not). */
export function randomKey() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
