// The /docs page: fetches /openapi.json and /asyncapi.json (next to this page) and renders them.
// Dependency-free on purpose (docs/decisions.md): it works offline, under a CSP without inline
// script, and builds the page with textContent only, so nothing in a document can run as markup.
"use strict";

const base = location.pathname.replace(/\/docs\/?$/, "");

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(typeof child === "string" ? document.createTextNode(child) : child);
  }
  return node;
}

function resolve(doc, schema, depth) {
  // Inline $refs a few levels deep so a reader sees the shape, not a pointer.
  if (!schema || typeof schema !== "object" || depth > 4) return schema;
  if (Array.isArray(schema)) return schema.map((s) => resolve(doc, s, depth));
  if (typeof schema.$ref === "string" && schema.$ref.startsWith("#/")) {
    let target = doc;
    for (const part of schema.$ref.slice(2).split("/")) target = target ? target[part] : undefined;
    return resolve(doc, target, depth + 1);
  }
  const out = {};
  for (const [key, value] of Object.entries(schema)) out[key] = resolve(doc, value, depth);
  return out;
}

function json(value) { return el("pre", {}, JSON.stringify(value, null, 2)); }

function renderOpenApi(doc) {
  const section = document.getElementById("http");
  document.getElementById("http-status").textContent = doc.info.description || "";
  const byTag = new Map();
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      const tag = (op.tags || ["other"])[0];
      if (!byTag.has(tag)) byTag.set(tag, []);
      byTag.get(tag).push([method, path, op]);
    }
  }
  for (const tag of doc.tags || []) {
    section.append(el("h3", {}, tag.name), el("p", { class: "note" }, tag.description || ""));
    for (const [method, path, op] of byTag.get(tag.name) || []) {
      const body = el("div", {}, el("p", {}, op.description || ""));
      if (op.parameters && op.parameters.length) {
        const rows = op.parameters.map((p) => el("tr", {}, el("td", {}, p.name), el("td", {}, p.in),
          el("td", {}, JSON.stringify(p.schema || {})), el("td", {}, p.description || "")));
        body.append(el("h4", {}, "Parameters"),
          el("table", {}, el("tr", {}, el("th", {}, "name"), el("th", {}, "in"), el("th", {}, "schema"),
            el("th", {}, "description")), ...rows));
      }
      if (op.requestBody) {
        for (const [media, content] of Object.entries(op.requestBody.content)) {
          body.append(el("h4", {}, `Request body (${media})`), json(resolve(doc, content.schema, 0)));
          if (content.example !== undefined) body.append(el("h4", {}, "Example"), json(content.example));
        }
      }
      body.append(el("h4", {}, "Responses"));
      for (const [status, response] of Object.entries(op.responses)) {
        body.append(el("p", {}, el("b", {}, status), " ", response.description || ""));
        for (const [media, content] of Object.entries(response.content || {})) {
          if (media === "application/problem+json") { body.append(el("p", { class: "note" }, media)); continue; }
          body.append(el("p", { class: "note" }, media), json(resolve(doc, content.schema, 0)));
          if (content.example !== undefined) body.append(el("h4", {}, "Example"), json(content.example));
        }
      }
      const lock = op.security && op.security.length ? el("span", { class: "lock" }, "token or API key") : null;
      section.append(el("details", { "data-text": `${method} ${path} ${op.summary}`.toLowerCase() },
        el("summary", {}, el("span", { class: `method ${method}` }, method), el("span", { class: "path" }, path),
          " ", op.summary || "", lock), body));
    }
  }
}

function renderAsyncApi(doc) {
  const section = document.getElementById("sockets");
  document.getElementById("sockets-status").textContent = doc.info.description || "";
  for (const [name, channel] of Object.entries(doc.channels)) {
    section.append(el("h3", {}, channel.address), el("p", {}, channel.title || ""),
      el("p", { class: "note" }, channel.description || ""));
    for (const op of Object.values(doc.operations)) {
      if (op.channel.$ref !== `#/channels/${name}`) continue;
      section.append(el("h4", {}, op.summary));
      for (const ref of op.messages) {
        const message = resolve(doc, ref, 0);
        section.append(el("details", { "data-text": `${channel.address} ${message.name}`.toLowerCase() },
          el("summary", {}, el("span", { class: "path" }, message.name), " ", message.summary || ""),
          el("div", {}, json(message.payload))));
      }
    }
  }
}

async function load(url, render, status) {
  try {
    const response = await fetch(base + url, { headers: { Accept: "application/json" } });
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    render(await response.json());
  } catch (error) {
    document.getElementById(status).textContent = String(error);
  }
}

document.getElementById("filter").addEventListener("input", (event) => {
  const words = event.target.value.toLowerCase().trim();
  for (const item of document.querySelectorAll("details[data-text]")) {
    item.hidden = words !== "" && !item.dataset.text.includes(words);
  }
});
load("/openapi.json", renderOpenApi, "http-status");
load("/asyncapi.json", renderAsyncApi, "sockets-status");
