// DOM building without HTML parsing. Every string a caller passes, typed by the user or answered by
// the server, becomes a text node or an attribute value: nothing here ever assigns innerHTML, so a
// value such as "<img src=x onerror=...>" is shown as those characters and never becomes markup.

/**
 * el("a", {href: "#/jobs", class: "link"}, "text", child, [more]) builds an element.
 * Attributes starting with "on" must be functions (event listeners); anything else is set with
 * setAttribute. Children are nodes, strings (text), numbers, arrays, or null/false (skipped).
 */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attributes);
  append(node, children);
  return node;
}

const SVG = "http://www.w3.org/2000/svg";

/** The same as el, for SVG elements (charts). */
export function svg(tag, attributes = {}, ...children) {
  const node = document.createElementNS(SVG, tag);
  setAttributes(node, attributes);
  append(node, children);
  return node;
}

function setAttributes(node, attributes) {
  for (const [name, value] of Object.entries(attributes ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) {
      if (typeof value !== "function") throw new TypeError(`${name} must be a function`);
      node.addEventListener(name.slice(2), value);
    } else if (value === true) {
      node.setAttribute(name, "");
    } else {
      node.setAttribute(name, String(value));
    }
  }
}

export function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replaces every child of node with children. */
export function replace(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

/** A table from column definitions [{title, cell: row => node|string}] and rows. */
export function table(columns, rows, { empty = "Nothing here yet.", testId } = {}) {
  if (!rows.length) return el("p", { class: "muted", "data-testid": testId }, empty);
  return el("table", { "data-testid": testId },
    el("thead", {}, el("tr", {}, columns.map(c => el("th", {}, c.title)))),
    el("tbody", {}, rows.map(row => el("tr", {}, columns.map(c => el("td", { class: c.class }, c.cell(row)))))));
}

/** A status word as a coloured badge (the colour comes from the style sheet, by class). */
export function badge(status) {
  const word = String(status ?? "unknown");
  return el("span", { class: `badge badge-${word.toLowerCase().replace(/[^a-z]/g, "")}`, "data-status": word }, word);
}

/** 2026-12-01T09:30:00.123Z as 2026-12-01 09:30:00 UTC; "" for none. */
export function when(timestamp) {
  if (!timestamp) return "";
  const d = new Date(timestamp);
  return Number.isNaN(d.getTime()) ? String(timestamp) : d.toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

/** A duration in ms as "850 ms", "12.3 s", "4 min 05 s". */
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
}

/** A box that shows an error (an ApiError's title and detail) as text. */
export function errorBox(error) {
  return el("div", { class: "error", role: "alert", "data-testid": "error" },
    el("strong", {}, error?.title ?? "Error"), " ", error?.detail ?? String(error?.message ?? error));
}

/** A button that runs an async action, disabled while it runs, and reports failures in place. */
export function actionButton(label, action, { testId, kind = "" } = {}) {
  const button = el("button", { type: "button", class: kind, "data-testid": testId }, label);
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await action();
    } catch (error) {
      button.after(errorBox(error));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}
