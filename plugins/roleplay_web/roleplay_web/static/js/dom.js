// Building the page without markup strings. Every piece of text, whoever wrote it (a learner,
// a model, a scenario author, the server), becomes a text node or textContent: it can never
// turn into markup or script. There is deliberately no helper that takes HTML.

const PROPERTIES = new Set(["value", "checked", "disabled", "hidden", "selected", "open"]);
const SVG = "http://www.w3.org/2000/svg";

/** A URL safe to put in href: same-origin absolute paths and fragment links only. */
export function safeHref(value) {
  return typeof value === "string" && (value.startsWith("#") || (value.startsWith("/") && !value.startsWith("//")));
}

function setProps(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key === "text") el.textContent = String(value);
    else if (key === "on") for (const [name, fn] of Object.entries(value)) el.addEventListener(name, fn);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.toLowerCase().startsWith("on")) throw new Error(`use {on: {...}} for ${key}`);
    else if (key === "href" && !safeHref(value)) throw new Error("refusing an off-site or script href");
    else if (PROPERTIES.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

/** Append children: nodes as they are, strings and numbers as text nodes; null/false skipped. */
export function append(parent, ...children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** h("p", {class: "x", text: "hello"}) or h("ul", {}, h("li", {}, "a"), "text"). */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  return append(el, children);
}

/** An SVG element (for small charts); same rules as h(). */
export function svg(tag, props = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  setProps(el, props);
  return append(el, children);
}

export function clear(el) {
  el.replaceChildren();
  return el;
}

/** Replace the children of `el` (same rules as append). */
export function fill(el, ...children) {
  return append(clear(el), children);
}

let idCounter = 0;
/** A fresh element id, for label/aria-describedby pairs. */
export function uid(prefix = "f") {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/** A labelled form field: returns {field, input, error}. */
export function field(label, input, hint = "") {
  input.id = input.id || uid("input");
  const error = h("p", { class: "field-error", id: uid("err"), hidden: true });
  const hintEl = hint ? h("p", { class: "hint", id: uid("hint"), text: hint }) : null;
  input.setAttribute("aria-describedby", [hintEl?.id, error.id].filter(Boolean).join(" "));
  const wrapper = h("div", { class: "field" }, h("label", { for: input.id, text: label }), hintEl, input, error);
  return { field: wrapper, input, error };
}

/** Show the problem+json field errors next to their fields; returns true when any matched. */
export function showFieldErrors(fields, errors) {
  let shown = false;
  for (const f of Object.values(fields)) {
    f.error.hidden = true;
    f.error.textContent = "";
    f.input.removeAttribute("aria-invalid");
  }
  for (const e of errors || []) {
    const f = fields[e.field];
    if (!f) continue;
    f.error.textContent = f.error.textContent ? `${f.error.textContent} ${e.message}` : String(e.message);
    f.error.hidden = false;
    f.input.setAttribute("aria-invalid", "true");
    if (!shown) f.input.focus();
    shown = true;
  }
  return shown;
}
