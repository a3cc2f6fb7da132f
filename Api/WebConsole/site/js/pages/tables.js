// Tables: the tenant's tables; one table's description, its shards (silo, key count), paged key
// browsing with a prefix, and a value viewer. Values are shown as JSON text, never as markup.
import { api, path, query } from "../api.js";
import { el, table, when, replace, errorBox } from "../dom.js";
import { barChart } from "../charts.js";
import { pager, field, jsonText, show } from "./common.js";

export function tablesPage(container) {
  const list = el("div", { "data-testid": "tables" }, el("p", { class: "muted" }, "Loading…"));
  const tables = pager(async after => {
    let page = null;
    await show(list, async () => (page = await api.get("/v1/tables" + query({ limit: 50, after }))), p => table([
      { title: "Table", cell: t => el("a", { href: `#/tables/${encodeURIComponent(t.name)}`, "data-testid": "table-link" }, t.name) },
      { title: "Shards", cell: t => t.shards, class: "num" },
      { title: "Transactional", cell: t => t.transactional ? "yes" : "no" },
      { title: "Encrypted", cell: t => t.encrypted ? "yes" : "no" },
      { title: "Created", cell: t => when(t.createdAt) },
      { title: "Resharding", cell: t => t.resharding ? `${t.resharding.from} → ${t.resharding.to} (${Math.round(t.resharding.progress * 100)}%)` : "" },
    ], p.items, { testId: "table-rows", empty: "No tables. Create one with PUT /v1/tables/{name}." }));
    return page;
  }, { testId: "tables-pager" });
  container.append(el("h1", {}, "Tables"), list, tables.controls);
  tables.refresh();
}

export function tablePage(container, [name]) {
  const description = el("div", { "data-testid": "table" }, el("p", { class: "muted" }, "Loading…"));
  const shards = el("div", { "data-testid": "shards" });
  const prefix = el("input", { name: "prefix", placeholder: "key prefix", "data-testid": "key-prefix" });
  const limit = el("select", { name: "limit", "data-testid": "key-limit" }, [10, 25, 100, 500].map(n => el("option", { value: n }, n)));
  limit.value = "25";
  const keys = el("div", { "data-testid": "keys" });
  const viewer = el("div", { class: "viewer", "data-testid": "value-viewer" }, el("p", { class: "muted" }, "Pick a key to see its value."));

  const openKey = async key => {
    replace(viewer, el("p", { class: "muted" }, "Loading…"));
    try {
      const { body, headers } = await api.getWithHeaders(path`/v1/tables/${name}/keys/${key}`);
      replace(viewer,
        el("h3", {}, "Key ", el("code", { "data-testid": "viewer-key" }, key)),
        el("p", { class: "muted" }, `version ${(headers.get("ETag") ?? "").replaceAll('"', "")}`),
        el("div", { "data-testid": "viewer-value" }, jsonText(body)));
    } catch (error) {
      replace(viewer, errorBox(error));
    }
  };

  const browse = pager(async after => {
    let page = null;
    await show(keys, async () => (page = await api.get(path`/v1/tables/${name}/keys` + query({ prefix: prefix.value, limit: limit.value, after }))), p => table([
      { title: "Key", cell: k => el("a", { href: "#", "data-testid": "key-link", onclick: e => { e.preventDefault(); openKey(k.key); } }, el("code", {}, k.key)) },
      { title: "Version", cell: k => k.version, class: "num" },
      { title: "Value", cell: k => el("code", { class: "preview" }, preview(k.value)) },
    ], p.items, { testId: "key-rows", empty: prefix.value ? "No key starts with that prefix." : "The table is empty." }));
    return page;
  }, { testId: "keys-pager" });

  const search = el("form", { class: "filters", "data-testid": "key-search" }, field("Prefix", prefix), field("Per page", limit), el("button", { type: "submit" }, "Browse"));
  search.addEventListener("submit", event => { event.preventDefault(); browse.reset(); });
  limit.addEventListener("change", () => browse.reset());

  container.append(el("p", {}, el("a", { href: "#/tables" }, "‹ All tables")), el("h1", {}, "Table ", el("code", {}, name)),
    description, el("h2", {}, "Shards"), shards, el("h2", {}, "Keys"), search,
    el("div", { class: "split" }, el("div", {}, keys, browse.controls), viewer));

  show(description, () => api.get(path`/v1/tables/${name}`), t => el("dl", { class: "facts" },
    el("dt", {}, "Shards"), el("dd", {}, t.shards),
    el("dt", {}, "Keys"), el("dd", { "data-testid": "key-count" }, t.keyCount ?? "?"),
    el("dt", {}, "Transactional"), el("dd", {}, t.transactional ? "yes" : "no"),
    el("dt", {}, "Encrypted at rest"), el("dd", {}, t.encrypted ? "yes" : "no"),
    el("dt", {}, "Created"), el("dd", {}, when(t.createdAt)),
    t.resharding ? [el("dt", {}, "Resharding"), el("dd", {}, `${t.resharding.from} → ${t.resharding.to}, ${Math.round(t.resharding.progress * 100)}% moved`)] : null));
  show(shards, () => api.get(path`/v1/tables/${name}/shards`), page => [
    table([
      { title: "Shard", cell: s => s.shard, class: "num" },
      { title: "Silo", cell: s => el("code", {}, s.silo) },
      { title: "Keys", cell: s => s.keys, class: "num" },
    ], page.items, { testId: "shard-rows" }),
    barChart("Keys per shard", page.items.map(s => ({ label: String(s.shard), value: s.keys, title: `shard ${s.shard} on ${s.silo}: ${s.keys} keys` })), { testId: "keys-chart" }),
  ]).catch(error => replace(shards, errorBox(error)));
  browse.refresh();
}

function preview(value) {
  const text = JSON.stringify(value);
  return text.length > 80 ? text.slice(0, 79) + "…" : text;
}
