// Pieces every page uses: a refresh loop that stops with the page, and a pager over the API's
// {items, next} lists.
import { el, errorBox, replace } from "../dom.js";

/** Runs load() now and every intervalMs until the returned stop function is called. */
export function every(intervalMs, load) {
  let stopped = false, timer = null;
  const tick = async () => {
    if (stopped) return;
    try { await load(); } finally { if (!stopped) timer = setTimeout(tick, intervalMs); }
  };
  tick();
  return () => { stopped = true; clearTimeout(timer); };
}

/** Shows what render(result) builds, or the error, in target. */
export async function show(target, loader, render) {
  try {
    const result = await loader();
    replace(target, render(result));
  } catch (error) {
    if (error.name === "AbortError") return;
    replace(target, errorBox(error));
  }
}

/**
 * Page through a cursor list: "Newer"/"Older" buttons keep a stack of the cursors seen, since the
 * API pages forward only.
 */
export function pager(load, { testId = "pager" } = {}) {
  const cursors = [null];
  let at = 0;
  const previous = el("button", { type: "button", "data-testid": `${testId}-previous`, disabled: true }, "‹ Previous");
  const next = el("button", { type: "button", "data-testid": `${testId}-next`, disabled: true }, "Next ›");
  const label = el("span", { class: "muted" });
  // Loads run one after another, so a slow earlier answer never overwrites a later one.
  let queue = Promise.resolve();
  const refresh = () => (queue = queue.then(loadPage, loadPage));
  const loadPage = async () => {
    const page = await load(cursors[at]);
    if (page?.next) cursors[at + 1] = page.next; else cursors.length = at + 1;
    previous.disabled = at === 0;
    next.disabled = !page?.next;
    label.textContent = ` page ${at + 1} `;
    return page;
  };
  previous.addEventListener("click", () => { if (at > 0) { at--; refresh(); } });
  next.addEventListener("click", () => { if (cursors[at + 1]) { at++; refresh(); } });
  return { controls: el("div", { class: "pager" }, previous, label, next), refresh, reset() { cursors.length = 1; at = 0; return refresh(); } };
}

export function field(label, input) {
  return el("label", { class: "field" }, el("span", {}, label), input);
}

/** Pretty JSON as text (never markup). */
export function jsonText(value) {
  return el("pre", { class: "json" }, value === undefined ? "" : JSON.stringify(value, null, 2));
}
