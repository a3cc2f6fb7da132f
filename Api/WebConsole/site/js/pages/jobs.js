// Jobs: the list (newest first, with the API's filters), a submit form, and one job's page with
// live progress from its Server-Sent Events, its tasks (attempts, silo, error), the actions
// (retry, cancel, pause, resume) and the tasks-per-second chart.
import { api, path, query, follow } from "../api.js";
import { el, append, table, badge, when, duration, replace, errorBox, actionButton } from "../dom.js";
import { barChart, tasksPerSecond, jobDurations } from "../charts.js";
import { every, pager, field, jsonText, show } from "./common.js";

const STATUSES = ["", "queued", "running", "paused", "succeeded", "failed", "cancelled"];
const ENDED = new Set(["succeeded", "failed", "cancelled"]);

export function jobLink(id) {
  return el("a", { href: `#/jobs/${encodeURIComponent(id)}`, "data-testid": "job-link" }, el("code", {}, id));
}

export function jobsPage(container, _, params) {
  const status = el("select", { name: "status", "data-testid": "filter-status" }, STATUSES.map(s => el("option", { value: s }, s || "any")));
  status.value = params.get("status") ?? "";
  const kind = el("input", { name: "kind", placeholder: "any kind", "data-testid": "filter-kind" });
  const schedule = el("input", { name: "schedule", placeholder: "any schedule", "data-testid": "filter-schedule" });
  const createdAfter = el("input", { name: "createdAfter", type: "datetime-local", step: "1", "data-testid": "filter-created-after" });
  const list = el("div", { "data-testid": "jobs" }, el("p", { class: "muted" }, "Loading…"));
  const chart = el("div");

  const jobs = pager(async after => {
    try {
      const page = await api.get("/v1/jobs" + query({
        status: status.value, kind: kind.value.trim(), schedule: schedule.value.trim(),
        createdAfter: createdAfter.value ? new Date(createdAfter.value + "Z").toISOString() : "",
        limit: 25, after,
      }));
      replace(list, renderList(page.items));
      replace(chart, barChart("Job duration, creation to end (s), oldest on the left", jobDurations(page.items), { unit: " s", testId: "duration-chart" }));
      return page;
    } catch (error) {
      replace(list, errorBox(error));
      return null;
    }
  }, { testId: "jobs-pager" });

  const filters = el("form", { class: "filters", "data-testid": "job-filters" },
    field("Status", status), field("Kind", kind), field("Schedule", schedule), field("Created after (UTC)", createdAfter),
    el("button", { type: "submit" }, "Filter"));
  filters.addEventListener("submit", event => { event.preventDefault(); jobs.reset(); });
  status.addEventListener("change", () => jobs.reset());

  container.append(el("h1", {}, "Jobs"), submitForm(), el("h2", {}, "Jobs, newest first"), filters, list, jobs.controls, chart);
  return every(5000, () => jobs.refresh());
}

function renderList(items) {
  return table([
    { title: "Job", cell: j => jobLink(j.id) },
    { title: "Kind", cell: j => j.kind },
    { title: "Status", cell: j => badge(j.status) },
    { title: "Created", cell: j => when(j.createdAt) },
    { title: "Finished", cell: j => when(j.finishedAt) },
    { title: "Took", cell: j => j.finishedAt ? duration(Date.parse(j.finishedAt) - Date.parse(j.createdAt)) : "", class: "num" },
    { title: "Retry of", cell: j => j.retryOf ? jobLink(j.retryOf) : "" },
    { title: "Schedule", cell: j => j.schedule ?? "" },
  ], items, { testId: "job-rows", empty: "No job matches." });
}

/** Submit a job: a kind from /v1/task-kinds and its JSON input. */
function submitForm() {
  const kind = el("select", { name: "kind", "data-testid": "submit-kind", required: true });
  const description = el("p", { class: "muted" });
  const input = el("textarea", { name: "input", rows: 4, spellcheck: "false", "data-testid": "submit-input" }, "{}");
  const status = el("div");
  const kinds = new Map();
  api.get("/v1/task-kinds").then(page => {
    for (const k of page.items ?? []) {
      kinds.set(k.name, k);
      kind.append(el("option", { value: k.name }, k.name));
    }
    describe();
  }, error => replace(status, errorBox(error)));
  // A new kind starts from its schema's defaults, so the form shows which fields the kind reads.
  const describe = () => {
    const chosen = kinds.get(kind.value);
    description.textContent = chosen?.description ?? "";
    input.value = JSON.stringify(exampleInput(chosen?.inputSchema), null, 2);
  };
  kind.addEventListener("change", describe);

  const form = el("form", { class: "submit", "data-testid": "submit-job" },
    el("h2", {}, "Submit a job"), field("Kind", kind), description, field("Input (JSON)", input),
    el("button", { type: "submit", "data-testid": "submit-button" }, "Submit"), status);
  form.addEventListener("submit", async event => {
    event.preventDefault();
    let parsed;
    try { parsed = JSON.parse(input.value || "{}"); } catch (error) {
      replace(status, errorBox({ title: "The input is not JSON:", detail: error.message }));
      return;
    }
    try {
      const accepted = await api.post("/v1/jobs", { kind: kind.value, input: parsed });
      location.hash = `#/jobs/${encodeURIComponent(accepted.id)}`;
    } catch (error) {
      replace(status, errorBox(error), error.errors ? jsonText(error.errors) : null);
    }
  });
  return form;
}

/** An input object from a JSON Schema: each property's default, or its minimum for a required number. */
function exampleInput(schema) {
  const example = {};
  for (const [name, property] of Object.entries(schema?.properties ?? {})) {
    if (property.default !== undefined) example[name] = property.default;
    else if ((schema.required ?? []).includes(name)) example[name] = property.minimum ?? (property.type === "string" ? "" : 0);
  }
  return example;
}

export function jobPage(container, [id]) {
  const abort = new AbortController();
  const summary = el("div", { "data-testid": "job" }, el("p", { class: "muted" }, "Loading…"));
  const actions = el("div", { class: "actions", "data-testid": "job-actions" });
  const tasks = el("div", { "data-testid": "tasks" });
  const chart = el("div");
  const live = el("span", { class: "muted", "data-testid": "live" });
  container.append(el("p", {}, el("a", { href: "#/jobs" }, "‹ All jobs")),
    el("h1", {}, "Job ", el("code", {}, id), " ", live), summary, actions, chart, el("h2", {}, "Tasks"), tasks);

  let lastStatus = null;
  const loadTasks = () => show(tasks, () => api.get(path`/v1/jobs/${id}/tasks` + "?limit=1000"), page => {
    replace(chart, barChart("Tasks finished per second", tasksPerSecond(page.items), { testId: "tasks-chart" }));
    return renderTasks(page.items);
  });
  const update = job => {
    replace(summary, renderJob(job));
    if (job.status !== lastStatus) {
      lastStatus = job.status;
      replace(actions, renderActions(job));
    }
  };

  // Live: the job's SSE stream; each 'progress' event is the job as it is now, 'end' the last.
  // Tasks are re-read at most once a second while progress arrives, and once at the end.
  let tasksDue = true;
  const taskTimer = setInterval(() => { if (tasksDue) { tasksDue = false; loadTasks(); } }, 1000);
  (async () => {
    try {
      update(await api.get(path`/v1/jobs/${id}`, { signal: abort.signal }));
      live.textContent = "● live";
      await follow(path`/v1/jobs/${id}/events`, (type, job) => {
        update(job);
        tasksDue = true;
        if (type === "end") live.textContent = "";
      }, abort.signal);
      live.textContent = "";
    } catch (error) {
      if (error.name === "AbortError") return;
      live.textContent = "";
      replace(summary, errorBox(error));
    } finally {
      tasksDue = true;
    }
  })();
  return () => { abort.abort(); clearInterval(taskTimer); };
}

function renderJob(job) {
  const p = job.progress ?? {};
  const done = (p.succeeded ?? 0) + (p.failed ?? 0) + (p.cancelled ?? 0);
  return [
    el("dl", { class: "facts" },
      fact("Status", el("span", { "data-testid": "job-status" }, badge(job.status))),
      fact("Kind", job.kind),
      fact("Progress", el("progress", { max: Math.max(p.total ?? 0, 1), value: done }), ` ${p.succeeded ?? 0} succeeded, ${p.running ?? 0} running, ${p.pending ?? 0} pending, ${p.failed ?? 0} failed, ${p.cancelled ?? 0} cancelled of ${p.total ?? 0}`),
      fact("Attempts", job.attempts),
      fact("Priority", job.priority),
      fact("Created", when(job.createdAt)),
      fact("Started", when(job.startedAt)),
      fact("Finished", when(job.finishedAt)),
      job.startedAt && job.finishedAt ? fact("Ran for", duration(Date.parse(job.finishedAt) - Date.parse(job.startedAt))) : null,
      job.retryOf ? fact("Retry of", el("span", { "data-testid": "retry-of" }, jobLink(job.retryOf))) : null,
      job.schedule ? fact("Schedule", job.schedule) : null),
    job.error ? el("div", { class: "error", "data-testid": "job-error" }, el("strong", {}, "Error: "), job.error) : null,
    job.result !== null && job.result !== undefined ? [el("h2", {}, "Result"), el("div", { "data-testid": "job-result" }, jsonText(job.result))] : null,
  ];
}

function fact(name, ...value) {
  return [el("dt", {}, name), el("dd", {}, ...value)];
}

/** The buttons that apply to the job's status; each is the public API's command. */
function renderActions(job) {
  const id = job.id;
  const buttons = [];
  const status = el("div");
  const run = (label, url, testId, kind) => actionButton(label, async () => {
    const answer = await api.post(url);
    if (answer?.id && answer.id !== id) location.hash = `#/jobs/${encodeURIComponent(answer.id)}`;
    else replace(status, el("p", { class: "muted" }, `${label}: done.`));
  }, { testId, kind });
  if (job.status === "failed" || job.status === "cancelled") buttons.push(run("Retry", path`/v1/jobs/${id}/retry`, "retry", "primary"));
  if (job.status === "running" || job.status === "queued") buttons.push(run("Pause", path`/v1/jobs/${id}/pause`, "pause"));
  if (job.status === "paused") buttons.push(run("Resume", path`/v1/jobs/${id}/resume`, "resume", "primary"));
  if (!ENDED.has(job.status)) buttons.push(run("Cancel", path`/v1/jobs/${id}/cancel`, "cancel", "danger"));
  if (!buttons.length) return [];
  return [el("h2", {}, "Actions"), ...buttons, status];
}

/** The tasks, failed ones first when any failed, 25 at a time unless the user asks for all. */
function renderTasks(items, showAll = false) {
  const failedFirst = [...items].sort((a, b) => (a.status === "failed" ? 0 : 1) - (b.status === "failed" ? 0 : 1) || a.index - b.index);
  const shown = showAll ? failedFirst : failedFirst.slice(0, 25);
  const holder = el("div");
  const more = shown.length < items.length
    ? el("button", { type: "button", "data-testid": "all-tasks", onclick: () => holder.replaceWith(renderTasks(items, true)) }, `Show all ${items.length} tasks`)
    : null;
  const bySilo = new Map();
  for (const t of items) if (t.silo) bySilo.set(t.silo, (bySilo.get(t.silo) ?? 0) + 1);
  return append(holder, [
    bySilo.size ? el("p", { class: "muted", "data-testid": "tasks-by-silo" }, [...bySilo].map(([silo, n]) => `${n} on ${silo}`).join(" · ")) : null,
    taskTable(shown), more]);
}

function taskTable(items) {
  return table([
    { title: "#", cell: t => t.index, class: "num" },
    { title: "Status", cell: t => badge(t.status) },
    { title: "Attempts", cell: t => t.attempts, class: "num" },
    { title: "Silo", cell: t => t.silo ? el("code", {}, t.silo) : "" },
    { title: "Started", cell: t => when(t.startedAt) },
    { title: "Took", cell: t => t.startedAt && t.finishedAt ? duration(Date.parse(t.finishedAt) - Date.parse(t.startedAt)) : "", class: "num" },
    { title: "Error", cell: t => t.error ? el("span", { class: "error-text" }, t.error) : "" },
  ], items, { testId: "task-rows", empty: "No tasks yet." });
}
