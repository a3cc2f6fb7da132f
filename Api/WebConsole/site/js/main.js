// The console's shell: sign-in, navigation and a hash router (#/jobs/<id>), so the server serves
// one page and every view is a module. A view returns a function that stops its timers and streams.
import { session, verifyKey, onUnauthorized } from "./api.js";
import { el, replace, errorBox } from "./dom.js";
import { clusterPage } from "./pages/cluster.js";
import { jobsPage, jobPage } from "./pages/jobs.js";
import { schedulesPage } from "./pages/schedules.js";
import { tablesPage, tablePage } from "./pages/tables.js";
import { coordinationPage } from "./pages/coordination.js";

const routes = [
  [/^\/cluster$/, clusterPage, "cluster"],
  [/^\/jobs$/, jobsPage, "jobs"],
  [/^\/jobs\/([^/]+)$/, jobPage, "jobs"],
  [/^\/schedules$/, schedulesPage, "schedules"],
  [/^\/tables$/, tablesPage, "tables"],
  [/^\/tables\/([^/]+)$/, tablePage, "tables"],
  [/^\/coordination$/, coordinationPage, "coordination"],
];

const view = document.getElementById("view");
const nav = document.getElementById("nav");
const signOut = document.getElementById("sign-out");
let stopView = null;

function showSignIn(message) {
  stopCurrent();
  nav.hidden = true;
  signOut.hidden = true;
  const input = el("input", { type: "password", id: "api-key", name: "api-key", autocomplete: "off", required: true, "aria-label": "API key", "data-testid": "api-key" });
  const status = el("div", { "data-testid": "sign-in-status" }, message ? errorBox(message) : null);
  const form = el("form", { class: "sign-in", "data-testid": "sign-in" },
    el("h1", {}, "Sign in"),
    el("p", {}, "Paste an API key. The console keeps it in this tab only (sessionStorage) and sends it as a Bearer token with every call, so it can do exactly what the key may do."),
    el("label", { for: "api-key" }, "API key"), input,
    el("button", { type: "submit", "data-testid": "sign-in-button" }, "Sign in"),
    status);
  form.addEventListener("submit", async event => {
    event.preventDefault();
    const key = input.value.trim();
    replace(status, el("p", { class: "muted" }, "Checking the key…"));
    try {
      await verifyKey(key);
    } catch (error) {
      replace(status, errorBox(error.status === 401 ? { title: "Refused:", detail: "the Api does not accept this key." } : error));
      return;
    }
    session.set(key);
    if (!location.hash || location.hash === "#/") location.hash = "#/jobs";
    route();
  });
  replace(view, form);
  input.focus();
}

function stopCurrent() {
  if (typeof stopView === "function") stopView();
  stopView = null;
}

function route() {
  if (!session.key) return showSignIn();
  nav.hidden = false;
  signOut.hidden = false;
  const [where, search] = (location.hash.replace(/^#/, "") || "/jobs").split("?");
  stopCurrent();
  for (const [pattern, page, section] of routes) {
    const match = pattern.exec(where);
    if (!match) continue;
    for (const link of nav.querySelectorAll("a")) link.classList.toggle("active", link.dataset.page === section);
    const container = el("section", { class: "page", "data-page": section });
    replace(view, container);
    const params = new URLSearchParams(search ?? "");
    stopView = page(container, match.slice(1).map(decodeURIComponent), params);
    return;
  }
  location.hash = "#/jobs";
}

signOut.addEventListener("click", () => {
  session.clear();
  location.hash = "";
  showSignIn();
});
onUnauthorized(() => {
  session.clear();
  showSignIn({ title: "Signed out:", detail: "the Api refused the key (wrong, expired or revoked)." });
});
window.addEventListener("hashchange", route);
route();
