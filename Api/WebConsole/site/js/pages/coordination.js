// Locks, leases and elections. The API lists leases, and each lease names the locks it holds and
// the elections it leads, so the page lists leases and looks those up; any other lock or election
// can be looked up by name.
import { api, query } from "../api.js";
import { el, table, replace, errorBox, duration, when } from "../dom.js";
import { every, pager, field, jsonText, show } from "./common.js";

/** A name that may hold "/" (locks/a/b): each segment escaped on its own. */
const segments = name => name.split("/").map(encodeURIComponent).join("/");

export function coordinationPage(container) {
  const leases = el("div", { "data-testid": "leases" }, el("p", { class: "muted" }, "Loading…"));
  const held = el("div", { "data-testid": "held" });
  const leasePager = pager(async after => {
    let page = null;
    await show(leases, async () => (page = await api.get("/v1/leases" + query({ limit: 100, after }))), p => {
      describeHeld(held, p.items);
      return table([
        { title: "Lease", cell: l => el("code", {}, l.id) },
        { title: "TTL", cell: l => `${l.ttlSeconds} s`, class: "num" },
        { title: "Left", cell: l => duration(l.remainingMs), class: "num" },
        { title: "Keys", cell: l => l.keys.map(k => `${k.table}/${k.key}`).join(", ") },
        { title: "Locks", cell: l => l.locks.join(", ") },
        { title: "Leads", cell: l => l.elections.join(", ") },
      ], p.items, { testId: "lease-rows", empty: "No live leases." });
    });
    return page;
  }, { testId: "leases-pager" });

  container.append(el("h1", {}, "Locks, leases and elections"),
    el("h2", {}, "Live leases"), leases, leasePager.controls, held,
    lookup("Look up a lock", "lock name", name => api.get(`/v1/locks/${segments(name)}`), lock => lock.holder
      ? el("p", {}, `Held by lease ${lock.holder.lease} with fencing token ${lock.holder.token} since ${when(lock.holder.acquiredAt)}; ${lock.waiters} waiting.`)
      : el("p", {}, `Free; ${lock.waiters} waiting.`), "lock"),
    lookup("Look up an election", "election name", name => api.get(`/v1/elections/${segments(name)}`), election => election.leader
      ? [el("p", {}, `Leader: lease ${election.leader.lease}, token ${election.leader.token}, value:`), jsonText(election.leader.value)]
      : el("p", {}, "No leader."), "election"));
  return every(5000, () => leasePager.refresh());
}

/** The locks and elections the listed leases hold, each with its holder and waiters. */
async function describeHeld(target, leases) {
  const locks = leases.flatMap(l => l.locks);
  const elections = leases.flatMap(l => l.elections);
  try {
    const [lockViews, electionViews] = await Promise.all([
      Promise.all(locks.map(async name => ({ name, ...(await api.get(`/v1/locks/${segments(name)}`)) }))),
      Promise.all(elections.map(async name => ({ name, ...(await api.get(`/v1/elections/${segments(name)}`)) }))),
    ]);
    replace(target,
      el("h2", {}, "Held locks"),
      table([
        { title: "Lock", cell: l => el("code", {}, l.name) },
        { title: "Lease", cell: l => l.holder?.lease ?? "" },
        { title: "Fencing token", cell: l => l.holder?.token ?? "", class: "num" },
        { title: "Since", cell: l => when(l.holder?.acquiredAt) },
        { title: "Waiting", cell: l => l.waiters, class: "num" },
      ], lockViews, { testId: "lock-rows", empty: "No lease holds a lock." }),
      el("h2", {}, "Elections with a leader"),
      table([
        { title: "Election", cell: e => el("code", {}, e.name) },
        { title: "Leader lease", cell: e => e.leader?.lease ?? "" },
        { title: "Token", cell: e => e.leader?.token ?? "", class: "num" },
        { title: "Value", cell: e => e.leader ? JSON.stringify(e.leader.value) : "" },
      ], electionViews, { testId: "election-rows", empty: "No lease leads an election." }));
  } catch (error) {
    replace(target, errorBox(error));
  }
}

function lookup(heading, placeholder, load, render, testId) {
  const name = el("input", { name: testId, placeholder, required: true, "data-testid": `${testId}-name` });
  const result = el("div", { "data-testid": `${testId}-result` });
  const form = el("form", { class: "filters" }, field("Name", name), el("button", { type: "submit" }, "Look up"));
  form.addEventListener("submit", async event => {
    event.preventDefault();
    await show(result, () => load(name.value.trim()), render);
  });
  return el("section", {}, el("h2", {}, heading), form, result);
}
