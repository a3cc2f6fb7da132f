// Cluster: the silos as the membership sees them (GET /v1/cluster, admin scope), with the shards
// each hosts and the shard moves it has in flight; refreshed every five seconds.
import { api } from "../api.js";
import { el, table, badge, when } from "../dom.js";
import { barChart } from "../charts.js";
import { every, show } from "./common.js";

export function clusterPage(container) {
  const body = el("div", { "data-testid": "cluster" }, el("p", { class: "muted" }, "Loading…"));
  container.append(el("h1", {}, "Cluster"), body);
  return every(5000, () => show(body, () => api.get("/v1/cluster"), render));
}

function render(cluster) {
  const silos = cluster.silos ?? [];
  const active = silos.filter(s => s.status === "Active");
  const moving = active.reduce((n, s) => n + (s.shardMovesInFlight ?? 0), 0);
  return [
    el("div", { class: "cards" },
      card("Active silos", `${active.length} of ${silos.length}`),
      card("Shards hosted", active.reduce((n, s) => n + (s.shards ?? 0), 0)),
      card("Shard moves in flight", moving, "moves-in-flight"),
      card("Api instance", `${cluster.api?.instance ?? "?"} (${cluster.api?.connected ? "connected" : "not connected"}, ${cluster.api?.gateways ?? 0} gateways)`)),
    table([
      { title: "Silo", cell: s => s.name },
      { title: "Status", cell: s => badge(s.status) },
      { title: "Address", cell: s => el("code", {}, s.address) },
      { title: "Host", cell: s => s.hostName },
      { title: "Started", cell: s => when(s.startedAt) },
      { title: "Last heartbeat", cell: s => when(s.lastHeartbeat) },
      { title: "Activations", cell: s => s.activations ?? "–", class: "num" },
      { title: "Shards", cell: s => s.shards ?? "–", class: "num" },
      { title: "Moves in flight", cell: s => s.shardMovesInFlight ?? "–", class: "num" },
      { title: "Moves done", cell: s => s.shardMovesCompleted ?? "–", class: "num" },
    ], silos, { testId: "silos", empty: "No silo in the membership." }),
    barChart("Shards per silo", active.map(s => ({ label: s.name, value: s.shards ?? 0 })), { testId: "shards-chart" }),
  ];
}

function card(title, value, testId) {
  return el("div", { class: "card", "data-testid": testId }, el("div", { class: "card-title" }, title), el("div", { class: "card-value" }, String(value)));
}
