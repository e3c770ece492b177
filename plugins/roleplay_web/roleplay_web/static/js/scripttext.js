// A script as text: written as YAML or JSON for the console's editor, and the line each field
// path (`scripted.beats[1].requires[0]`, as the linter names them) starts on in text someone typed.
// Reading YAML is the server's job (POST /scripts/validate answers the script it read): this file
// only writes YAML and finds lines, so it needs no YAML parser.

const KEYWORDS = /^(?:~|null|true|false|yes|no|on|off|y|n)$/i;
const PLAIN = /^[\p{L}\p{N}_][\p{L}\p{N}_ .,'/()?!-]*$/u;

/** A scalar as YAML: plain when nothing could read it as something else, else JSON-quoted. */
function scalar(value) {
  if (value === null || value === undefined) return "null";
  if (typeof value === "boolean" || typeof value === "number") return String(value);
  const text = String(value);
  const plain = PLAIN.test(text) && !KEYWORDS.test(text) && !/^[-+]?[.\d]/.test(text) && !/\s$/.test(text)
    && !text.includes(": ") && !text.includes(" #");
  return plain ? text : JSON.stringify(text);
}

function key(name) {
  return /^[A-Za-z_][A-Za-z0-9_-]*$/.test(name) && !KEYWORDS.test(name) ? name : JSON.stringify(name);
}

/** A multi-line string as a literal block (`|-`) when it reads back the same, else null. */
function block(text, indent) {
  if (typeof text !== "string" || !text.includes("\n") || /[\r\t]/.test(text) || /\s$/.test(text) || /^\s/.test(text)) {
    return null;
  }
  const pad = " ".repeat(indent);
  return `|-\n${text.split("\n").map((line) => (line ? pad + line : "")).join("\n")}`;
}

function isObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function emit(value, indent, lines) {
  const pad = " ".repeat(indent);
  if (Array.isArray(value)) {
    for (const item of value) {
      if (isObject(item) && Object.keys(item).length) {
        const inner = [];
        emit(item, indent + 2, inner);
        lines.push(`${pad}- ${inner[0].slice(indent + 2)}`, ...inner.slice(1));
      } else if (Array.isArray(item)) {
        lines.push(`${pad}- ${JSON.stringify(item)}`);
      } else {
        lines.push(`${pad}- ${isObject(item) ? "{}" : block(item, indent + 2) || scalar(item)}`);
      }
    }
    return;
  }
  for (const [name, item] of Object.entries(value)) {
    if (Array.isArray(item) && item.length) {
      lines.push(`${pad}${key(name)}:`);
      emit(item, indent + 2, lines);
    } else if (isObject(item) && Object.keys(item).length) {
      lines.push(`${pad}${key(name)}:`);
      emit(item, indent + 2, lines);
    } else if (Array.isArray(item)) {
      lines.push(`${pad}${key(name)}: []`);
    } else if (isObject(item)) {
      lines.push(`${pad}${key(name)}: {}`);
    } else {
      lines.push(`${pad}${key(name)}: ${block(item, indent + 2) || scalar(item)}`);
    }
  }
}

/** The script (plain data) as text in `format` ("yaml" or "json"). */
export function write(data, format) {
  if (format === "json") return `${JSON.stringify(data, null, 2)}\n`;
  const lines = [];
  emit(data, 0, lines);
  return `${lines.join("\n")}\n`;
}

function join(parent, name) {
  return parent ? `${parent}.${name}` : name;
}

/** How many items a one-line flow list (`[a, "b, c", d]`) has, commas in quotes not counted. */
function flowItems(text) {
  const inner = text.trim().replace(/^\[/, "").replace(/\]\s*(#.*)?$/, "");
  if (!inner.trim()) return 0;
  let count = 1;
  let quote = "";
  let depth = 0;
  for (const ch of inner) {
    if (quote) {
      if (ch === quote) quote = "";
    } else if (ch === '"' || ch === "'") quote = ch;
    else if (ch === "[" || ch === "{") depth += 1;
    else if (ch === "]" || ch === "}") depth -= 1;
    else if (ch === "," && depth === 0) count += 1;
  }
  return count;
}

/** Path -> line (1-based) for block-style YAML, the style `write` produces and scripts are written in. */
function yamlLines(text) {
  const found = new Map();
  const stack = [{ indent: -1, path: "", type: "map", count: 0 }];
  let pending = null; // {path, column}: a key whose value starts on the next line
  let skipDeeperThan = null; // inside a literal block (| or >)
  const lines = text.split("\n");

  function keyLine(content, column, line) {
    const match = /^("(?:[^"\\]|\\.)*"|'[^']*'|[^:#]+?)\s*:(?:\s+(.*))?$/.exec(content);
    if (!match) return;
    while (stack.length > 1 && (stack.at(-1).indent > column || (stack.at(-1).indent === column && stack.at(-1).type === "list"))) stack.pop();
    if (pending && column > pending.column) stack.push({ indent: column, path: pending.path, type: "map", count: 0 });
    pending = null;
    let name = match[1].trim();
    if (/^["']/.test(name)) name = name.slice(1, -1);
    const path = join(stack.at(-1).path, name);
    if (!found.has(path)) found.set(path, line);
    const value = (match[2] || "").replace(/\s+#.*$/, "").trim();
    if (!value) pending = { path, column };
    else if (value.startsWith("[")) for (let i = 0; i < flowItems(value); i += 1) found.set(`${path}[${i}]`, line);
    else if (/^[|>]/.test(value)) skipDeeperThan = column;
  }

  lines.forEach((raw, i) => {
    const line = i + 1;
    const content = raw.trimStart();
    const column = raw.length - content.length;
    if (skipDeeperThan !== null) {
      if (!content || column > skipDeeperThan) return;
      skipDeeperThan = null;
    }
    if (!content || content.startsWith("#") || content === "---") return;
    if (content === "-" || content.startsWith("- ")) {
      if (pending && column >= pending.column) {
        while (stack.length > 1 && stack.at(-1).indent > column) stack.pop();
        stack.push({ indent: column, path: pending.path, type: "list", count: 0 });
      } else {
        while (stack.length > 1 && (stack.at(-1).indent > column || (stack.at(-1).indent === column && stack.at(-1).type === "map"))) stack.pop();
      }
      pending = null;
      const list = stack.at(-1);
      if (list.type !== "list") return;
      const path = `${list.path}[${list.count}]`;
      list.count += 1;
      found.set(path, line);
      const rest = content.slice(1).trimStart();
      const restColumn = column + (content.length - rest.length);
      if (!rest) pending = { path, column };
      else if (/^("(?:[^"\\]|\\.)*"|'[^']*'|[^:#"'[{]+?)\s*:(\s|$)/.test(rest)) {
        stack.push({ indent: restColumn, path, type: "map", count: 0 });
        keyLine(rest, restColumn, line);
      } else if (rest.startsWith("[")) {
        for (let j = 0; j < flowItems(rest); j += 1) found.set(`${path}[${j}]`, line);
      }
      return;
    }
    keyLine(content, column, line);
  });
  return found;
}

/** Path -> line (1-based) for JSON text, as far as it parses. */
function jsonLines(text) {
  const found = new Map();
  let at = 0;
  let line = 1;
  const space = () => {
    while (at < text.length && /\s/.test(text[at])) {
      if (text[at] === "\n") line += 1;
      at += 1;
    }
  };
  const string = () => {
    let out = "";
    at += 1;
    while (at < text.length && text[at] !== '"') {
      if (text[at] === "\\") {
        out += text[at + 1] || "";
        at += 2;
      } else {
        out += text[at];
        at += 1;
      }
    }
    at += 1;
    return out;
  };
  const value = (path) => {
    space();
    if (path && !found.has(path)) found.set(path, line);
    const ch = text[at];
    if (ch === "{") {
      at += 1;
      space();
      while (at < text.length && text[at] !== "}") {
        space();
        if (text[at] !== '"') throw new Error("key");
        const keyLineNo = line;
        const name = string();
        const child = join(path, name);
        found.set(child, keyLineNo);
        space();
        at += 1; // :
        value(child);
        space();
        if (text[at] === ",") at += 1;
        space();
      }
      at += 1;
    } else if (ch === "[") {
      at += 1;
      let i = 0;
      space();
      while (at < text.length && text[at] !== "]") {
        value(`${path}[${i}]`);
        i += 1;
        space();
        if (text[at] === ",") at += 1;
        space();
      }
      at += 1;
    } else if (ch === '"') {
      string();
    } else {
      while (at < text.length && !/[\s,\]}]/.test(text[at])) at += 1;
    }
  };
  try {
    value("");
  } catch {
    // as far as it parsed
  }
  return found;
}

/** The line a finding's path points at: its own, else its nearest parent's, else 1. */
export function lineOf(lines, path) {
  let current = String(path || "");
  while (current) {
    if (lines.has(current)) return lines.get(current);
    const cut = current.search(/(\.[^.[\]]+|\[\d+\])$/);
    if (cut <= 0) break;
    current = current.slice(0, cut);
  }
  return lines.get(current) || 1;
}

/** Path -> line for `text` in `format`. */
export function locate(text, format) {
  return format === "json" ? jsonLines(text) : yamlLines(text);
}
