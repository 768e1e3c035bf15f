// The tasks admin page's behaviour (disputes, reports and scheduler jobs) (admin_page.py inlines it, pinned by its hash in the CSP).
// Sign-in goes to the gateway's /auth/login on this page's own origin; the access token is
// kept in this tab's sessionStorage only (never a cookie, never a URL) and sent as a bearer
// token. The job list is the server's own rendering of #jobs, fetched with that token and
// swapped in; every action ends with the list fetched again.
"use strict";

const API = "/tasks/admin/jobs";
const RESOLVE = (task) => `/tasks/admin/tasks/${encodeURIComponent(task)}/resolve`;
const REPORT = (service, id, action) =>
  `/${service}/admin/reports/${encodeURIComponent(id)}/${action}`;
const MESSAGE_REPORTS = "/messaging/admin/reports?limit=50";
const TOKEN = "chore.admin.token";
const WHO = "chore.admin.email";
const ACTIONS = {
  retry: { method: "POST", suffix: "/retry", done: "queued again with fresh tries" },
  run: { method: "POST", suffix: "/run", done: "due now" },
  delete: { method: "DELETE", suffix: "", done: "deleted" },
};

const $ = (selector) => document.querySelector(selector);
const token = () => sessionStorage.getItem(TOKEN);

function say(text, kind) {
  const notice = $("#notice");
  notice.textContent = text;
  notice.className = kind || "";
}

function signedIn(email) {
  $("#sign-in").hidden = true;
  $("#account").hidden = false;
  $("#who").textContent = email || "an admin";
}

function signedOut(message, kind = "error") {
  sessionStorage.removeItem(TOKEN);
  sessionStorage.removeItem(WHO);
  $("#sign-in").hidden = false;
  $("#account").hidden = true;
  $("#jobs").replaceChildren();
  say(message, kind);
  $("#email").focus();
}

// An RFC 9457 problem's detail, else the status line.
async function reason(response) {
  try {
    const problem = await response.json();
    return problem.detail || problem.title || `HTTP ${response.status}`;
  } catch {
    return `HTTP ${response.status}`;
  }
}

async function call(method, path, accept, body) {
  const headers = { Accept: accept, Authorization: `Bearer ${token()}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  return fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
  });
}

// A 401 or 403 from the admin API: the token has ended, or its account is no admin.
function refused(response) {
  if (response.status === 401) {
    signedOut("Your session has ended: sign in again.");
    return true;
  }
  if (response.status === 403) {
    signedOut(`${sessionStorage.getItem(WHO) || "This account"} is not an admin: ` +
      "sign in with an admin account.");
    return true;
  }
  return false;
}

async function loadJobs() {
  let response;
  try {
    response = await call("GET", API, "text/html");
  } catch {
    say("The gateway could not be reached: try Refresh.", "error");
    return false;
  }
  if (refused(response)) return false;
  if (!response.ok) {
    say(`The jobs could not be loaded: ${await reason(response)}`, "error");
    return false;
  }
  const fresh = new DOMParser().parseFromString(await response.text(), "text/html");
  $("#jobs").replaceWith(document.adoptNode(fresh.querySelector("#jobs")));
  signedIn(sessionStorage.getItem(WHO));
  await loadMessageReports();
  return true;
}

// Messaging keeps its own reports: its admin API, through the gateway, fills their table.
// Every value goes in as text, never as HTML.
async function loadMessageReports() {
  const state = $("#message-reports-state");
  const table = $("#message-reports");
  if (!state || !table) return;
  let response;
  try {
    response = await call("GET", MESSAGE_REPORTS, "application/json");
  } catch {
    state.textContent = "Message reports could not be loaded: the gateway did not answer.";
    return;
  }
  if (!response.ok) {
    state.textContent = `Message reports could not be loaded: ${await reason(response)}`;
    return;
  }
  const items = (await response.json()).items;
  const body = table.querySelector("tbody");
  body.replaceChildren(...items.map(messageRow));
  table.hidden = items.length === 0;
  state.textContent = items.length ? "" : "No open reports of messages.";
}

function messageRow(report) {
  const row = document.createElement("tr");
  row.dataset.report = report.id;
  row.dataset.service = "messaging";
  const cells = [
    `message ${report.message_id} in conversation ${report.conversation_id}`,
    report.content,
    report.subject_id,
    report.reporter_id,
    report.created_at,
    report.reason,
  ];
  for (const [i, text] of cells.entries()) {
    const cell = document.createElement("td");
    const span = document.createElement("span");
    if (i === 1) span.className = "content";
    if (i === 5) span.className = "reason";
    span.textContent = text;
    cell.append(span);
    row.append(cell);
  }
  const actions = document.createElement("td");
  actions.className = "actions";
  const note = document.createElement("input");
  Object.assign(note, { className: "note", name: "note", maxLength: 500, required: true,
    placeholder: "Note" });
  note.setAttribute("aria-label", "Note on the report");
  actions.append(note);
  for (const [action, label] of [["dismiss", "Dismiss"], ["resolve", "Resolve"]]) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.reportAction = action;
    button.textContent = label;
    actions.append(button);
  }
  row.append(actions);
  return row;
}

// Dismiss or resolve a report, in the service that keeps it, with the note in its row.
async function answer(button) {
  const row = button.closest("tr[data-report]");
  const { report, service } = row.dataset;
  const note = row.querySelector("input.note").value.trim();
  if (!token()) {
    signedOut("Sign in to answer reports.");
    return;
  }
  if (!note) {
    say(`Report ${report}: write a note first.`, "error");
    row.querySelector("input.note").focus();
    return;
  }
  button.disabled = true;
  let response;
  try {
    response = await call("POST", REPORT(service, report, button.dataset.reportAction),
      "application/json", { note });
  } catch {
    button.disabled = false;
    say("The gateway could not be reached: try again.", "error");
    return;
  }
  if (refused(response)) return;
  if (response.ok) {
    say(`Report ${report}: ${(await response.json()).status}.`, "ok");
  } else {
    say(`Report ${report}: ${await reason(response)}`, "error");
  }
  await loadJobs();
}

async function signIn(event) {
  event.preventDefault();
  const email = $("#email").value.trim();
  const password = $("#password").value;
  say("Signing in…");
  let response;
  try {
    response = await fetch("/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ email, password }),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    say("The gateway could not be reached.", "error");
    return;
  }
  if (!response.ok) {
    const why = response.status === 401 ? "wrong email or password" : await reason(response);
    say(`Sign-in failed: ${why}.`, "error");
    return;
  }
  const tokens = await response.json();
  $("#password").value = "";
  sessionStorage.setItem(TOKEN, tokens.access_token);
  sessionStorage.setItem(WHO, email);
  if (await loadJobs()) say(""); // the account line says who is signed in
}

async function act(button) {
  const action = ACTIONS[button.dataset.action];
  const id = button.closest("tr[data-job]").dataset.job;
  if (!token()) {
    signedOut("Sign in to change jobs.");
    return;
  }
  if (button.dataset.action === "delete" && !confirm(`Delete job ${id}?`)) return;
  button.disabled = true;
  let response;
  try {
    response = await call(action.method, `${API}/${encodeURIComponent(id)}${action.suffix}`,
      "application/json");
  } catch {
    button.disabled = false;
    say("The gateway could not be reached: try again.", "error");
    return;
  }
  if (refused(response)) return;
  if (response.ok) {
    const job = response.status === 204 ? null : await response.json();
    const now = job ? ` (now ${job.status})` : "";
    say(`Job ${id}: ${action.done}${now}.`, "ok");
  } else {
    say(`Job ${id}: ${await reason(response)}`, "error");
  }
  await loadJobs();
}

// Resolve a dispute as the button says, with the note typed in its row.
async function resolve(button) {
  const row = button.closest("tr[data-task]");
  const task = row.dataset.task;
  const note = row.querySelector("input.note").value.trim();
  if (!token()) {
    signedOut("Sign in to resolve disputes.");
    return;
  }
  if (!note) {
    say(`Task ${task}: write a note for both sides first.`, "error");
    row.querySelector("input.note").focus();
    return;
  }
  button.disabled = true;
  let response;
  try {
    response = await call("POST", RESOLVE(task), "application/json",
      { outcome: button.dataset.resolve, note });
  } catch {
    button.disabled = false;
    say("The gateway could not be reached: try again.", "error");
    return;
  }
  if (refused(response)) return;
  if (response.ok) {
    const resolved = await response.json();
    say(`Task ${task}: dispute resolved, the task is ${resolved.status}.`, "ok");
  } else {
    say(`Task ${task}: ${await reason(response)}`, "error");
  }
  await loadJobs();
}

async function signOut() {
  try {
    await call("POST", "/auth/logout", "application/json");
  } catch {
    // Signed out here all the same; the session ends with its token.
  }
  signedOut("Signed out.", "ok");
}

$("#sign-in").addEventListener("submit", signIn);
$("#refresh").addEventListener("click", () => loadJobs());
$("#sign-out").addEventListener("click", signOut);
document.addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (button) act(button);
  const resolving = event.target.closest("button[data-resolve]");
  if (resolving) resolve(resolving);
  const answering = event.target.closest("button[data-report-action]");
  if (answering) answer(answering);
});
if (token()) loadJobs();
