// Schedules: each with its cron, next and last run, the last job and error; trigger now, pause and
// resume; and the runs (the jobs it submitted) of the one picked.
import { api, path } from "../api.js";
import { el, table, badge, when, replace, actionButton } from "../dom.js";
import { every, pager, show } from "./common.js";
import { jobLink } from "./jobs.js";

export function schedulesPage(container, _, params) {
  const list = el("div", { "data-testid": "schedules" }, el("p", { class: "muted" }, "Loading…"));
  const runs = el("div", { "data-testid": "schedule-runs" });
  let picked = params.get("runs");
  const schedules = pager(async after => {
    let page = null;
    await show(list, async () => (page = await api.get("/v1/schedules?limit=50" + (after ? `&after=${encodeURIComponent(after)}` : ""))), p => render(p.items));
    return page;
  }, { testId: "schedules-pager" });

  const showRuns = name => {
    picked = name;
    show(runs, () => api.get(path`/v1/schedules/${name}/runs` + "?limit=20"), page => [
      el("h2", {}, "Runs of ", el("code", {}, name), ", newest first"),
      table([
        { title: "Job", cell: j => jobLink(j.id) },
        { title: "Status", cell: j => badge(j.status) },
        { title: "Created", cell: j => when(j.createdAt) },
        { title: "Finished", cell: j => when(j.finishedAt) },
      ], page.items, { empty: "It has not run yet." }),
    ]);
  };

  const render = items => table([
    { title: "Name", cell: s => el("a", { href: "#", "data-testid": "schedule-name", onclick: e => { e.preventDefault(); showRuns(s.name); } }, s.name) },
    { title: "Cron", cell: s => el("code", {}, s.cron) },
    { title: "Time zone", cell: s => s.timeZone },
    { title: "Kind", cell: s => s.job?.kind ?? "" },
    { title: "State", cell: s => badge(s.paused ? "paused" : "active") },
    { title: "Next run", cell: s => s.paused ? "–" : when(s.nextRun) },
    { title: "Last run", cell: s => when(s.lastRun) },
    { title: "Last job", cell: s => s.lastJobId ? jobLink(s.lastJobId) : "" },
    { title: "Last error", cell: s => s.lastError ? el("span", { class: "error-text" }, s.lastError) : "" },
    { title: "", cell: s => el("span", { class: "row-actions" },
      actionButton("Trigger now", async () => {
        const accepted = await api.post(path`/v1/schedules/${s.name}/trigger`);
        replace(runs, el("p", {}, "Triggered: ", jobLink(accepted.id)));
        showRuns(s.name);
      }, { testId: "trigger", kind: "primary" }),
      s.paused
        ? actionButton("Resume", async () => { await api.post(path`/v1/schedules/${s.name}/resume`); schedules.refresh(); }, { testId: "resume" })
        : actionButton("Pause", async () => { await api.post(path`/v1/schedules/${s.name}/pause`); schedules.refresh(); }, { testId: "pause" })) },
  ], items, { testId: "schedule-rows", empty: "No schedules. Create one with PUT /v1/schedules/{name} or `occtl schedules put`." });

  container.append(el("h1", {}, "Schedules"), list, schedules.controls, runs);
  const stop = every(10_000, () => schedules.refresh());
  if (picked) showRuns(picked);
  return stop;
}
