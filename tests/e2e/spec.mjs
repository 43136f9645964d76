// End-to-end scenario on the real desktop app (tauri-driver + WebKitWebDriver
// under Xvfb) against a real sync server on loopback. Environment (set by
// tests/e2e/run): DRIVER, SERVER, APP, SHOTS, POSITION_FILE, INSPECTOR,
// LEADER, PHOTO, AFTER_PHOTO, HANDLED_PHOTO (the unit's), STOP_SERVER /
// START_SERVER (files the runner watches), GRIDPATROL_BIN and CENTRE_HOME
// (the supervision centre's CLI and where it keeps its session).
import { writeFileSync, existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { execFileSync, spawnSync } from "node:child_process";
import { Session, sleep } from "./webdriver.mjs";
import { SMALL_TARGETS, LOW_CONTRAST } from "./checks.mjs";

const env = (k) => {
  if (!process.env[k]) throw new Error(`missing ${k}`);
  return process.env[k];
};
const DRIVER = env("DRIVER");
const SERVER = env("SERVER");
const SHOTS = env("SHOTS");
const INSPECTOR = env("INSPECTOR");
const PHOTO = env("PHOTO");
const LEADER = env("LEADER");

const messages = (lang) => JSON.parse(readFileSync(new URL(`../../ui/src/i18n/${lang}.json`, import.meta.url), "utf8"));
const ZH = messages("zh-CN");
const EN = messages("en");

const failures = [];
let passed = 0;
function check(name, ok, detail = "") {
  if (ok) {
    passed++;
    console.log(`ok - ${name}`);
  } else {
    failures.push(`${name} ${detail}`);
    console.log(`not ok - ${name} ${detail}`);
  }
}

let shots = 0;
/** Saves a numbered screenshot and checks touch targets and contrast. */
async function shot(s, name) {
  shots++;
  writeFileSync(`${SHOTS}/${String(shots).padStart(2, "0")}-${name}.png`, await s.screenshot());
  const small = await s.exec(SMALL_TARGETS);
  check(`${name}: touch targets >= 48 px`, small.length === 0, JSON.stringify(small));
  const low = await s.exec(LOW_CONTRAST);
  check(`${name}: text contrast >= 4.5:1`, low.length === 0, JSON.stringify(low));
}

/** Asks the runner to stop or start the sync server, and waits for it. */
async function server(action) {
  const request = env(action === "stop" ? "STOP_SERVER" : "START_SERVER");
  const done = `${request}.done`;
  rmSync(done, { force: true });
  writeFileSync(request, "");
  for (let i = 0; i < 300 && !existsSync(done); i++) await sleep(100);
  if (!existsSync(done)) throw new Error(`server did not ${action}`);
}

async function centreToken() {
  const r = await fetch(`${SERVER}/v1/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user_id: "C0001", password: "patrol-C0001" }),
  });
  return (await r.json()).token;
}

async function serverHas(caseId) {
  const token = await centreToken();
  const r = await fetch(`${SERVER}/v1/manifest`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
    body: JSON.stringify({}),
  });
  const m = await r.json();
  return m.docs.some((d) => d.id === caseId);
}

/** The photos the server's copy of a case refers to and holds in full. */
function serverPhotos(caseId) {
  const py = `
import sqlite3, os, sys
d = sys.argv[1]
db = sqlite3.connect(os.path.join(d, "server.sqlite3"))
shas = [r[0] for r in db.execute("SELECT sha256 FROM doc_photos WHERE doc_id = ?", (sys.argv[2],))]
print(sum(1 for s in shas if os.path.isfile(os.path.join(d, "photos", s))), len(shas))`;
  const [held, referred] = execFileSync("python3", ["-c", py, env("SERVER_DATA"), caseId])
    .toString()
    .trim()
    .split(" ")
    .map(Number);
  return { held, referred };
}

/**
 * The supervision centre (C0001) at work: runs `gridpatrol case ARGS…` and
 * returns what it printed. Signs in once (the CLI keeps the token under
 * CENTRE_HOME, which the runner deletes). A refusal (exit 2, "refused
 * (code): reason") or any other failure throws with the CLI's words.
 */
let centreSignedIn = false;
function centre(...args) {
  const run = (a, extra = {}) =>
    spawnSync(env("GRIDPATROL_BIN"), ["case", ...a], {
      env: { ...process.env, GRIDPATROL_HOME: env("CENTRE_HOME"), ...extra },
      encoding: "utf8",
    });
  if (!centreSignedIn) {
    const r = run(["login", "--server", SERVER, "--user", "C0001"], { GRIDPATROL_PASSWORD: "patrol-C0001" });
    if (r.status !== 0) throw new Error(`gridpatrol case login: exit ${r.status}: ${r.stdout}${r.stderr}`);
    centreSignedIn = true;
  }
  const r = run(args);
  if (r.status !== 0) throw new Error(`gridpatrol case ${args.join(" ")}: exit ${r.status}: ${r.stdout}${r.stderr}`);
  return r.stdout;
}

/** The case as the centre sees it (`gridpatrol case show ID --json`). */
const centreCase = (id) => JSON.parse(centre("show", id, "--json"));

/** The centre's view once `pred` holds (the server's own steps follow a sync). */
async function centreCaseWhen(id, pred) {
  let d = centreCase(id);
  for (let i = 0; i < 50 && !pred(d); i++) {
    await sleep(200);
    d = centreCase(id);
  }
  return d;
}

/** `MM-DD HH:mm` in Beijing time, as the app shows times. */
function beijingTime(ms) {
  const d = new Date(ms + 8 * 3600 * 1000);
  const p = (n) => String(n).padStart(2, "0");
  return `${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}`;
}

async function signIn(s, user) {
  const server = await s.waitFor('[data-testid="signin-server"]');
  await server.clear();
  await server.type(SERVER);
  await (await s.find('[data-testid="signin-user"]')).type(user);
  await (await s.find('[data-testid="signin-password"]')).type(`patrol-${user}`);
  await s.tap('[data-testid="signin-submit"]');
  await s.waitFor('[data-testid="nav-patrol"]');
}

/** Syncs from the sync screen, waits until it is idle, goes back to `tab`. */
async function syncNow(s, tab) {
  await s.tap('[data-testid="nav-sync"]');
  await s.tap('[data-testid="sync-now"]');
  const el = await s.waitFor('[data-testid="sync-status"]', {
    timeout: 30000,
    pred: async (e) => ["idle", "error", "offline"].includes(await e.attr("data-phase")),
  });
  const phase = await el.attr("data-phase");
  await s.tap(`[data-testid="${tab}"]`);
  return phase;
}

async function signOut(s) {
  await s.tap('[data-testid="nav-sync"]');
  await s.tap('[data-testid="sign-out"]');
  try {
    await s.tap('[data-testid="sign-out-force"]', { timeout: 1500 });
  } catch {
    // nothing unsynced: no warning to confirm
  }
  await s.waitFor('[data-testid="signin-user"]');
}

/**
 * Counts the taps (element clicks) a path through the app takes. Typing
 * into a field and choosing the photo file are not taps.
 */
function tapCounter(s) {
  const taps = [];
  return {
    taps,
    tap: async (css, opts) => {
      taps.push(css);
      return s.tap(css, opts);
    },
  };
}

// Text on screen that is not words for a person: an unmapped error code, a
// script value leaking through, a transport message.
const RAW = [
  ZH["error.unknown"].split("{")[0],
  EN["error.unknown"].split("{")[0],
  "undefined",
  "NaN",
  "[object",
  "error sending request",
  "reqwest",
  "panicked",
];

/**
 * Checks that the open screen shows its main content (`main`: CSS selectors,
 * each must match) and no raw error, then screenshots it. Only the sync
 * screen may show an error, and `allowAlert` names it.
 */
async function screenOk(s, name, main, { allowAlert = null } = {}) {
  for (const css of main) await s.waitFor(css, { timeout: 20000 });
  const text = await s.exec("return document.body.innerText");
  const raw = RAW.filter((r) => text.includes(r));
  check(`${name}: no raw error text`, raw.length === 0, JSON.stringify(raw));
  const alerts = await s.exec(
    "return [...document.querySelectorAll('[role=alert]')].filter((e) => e.getClientRects().length).map((e) => (e.dataset.testid || '') + ':' + e.textContent.trim())",
  );
  const unexpected = alerts.filter((a) => !allowAlert || !a.startsWith(`${allowAlert}:`));
  check(`${name}: no error shown`, unexpected.length === 0, JSON.stringify(unexpected));
  await shot(s, name);
  return text;
}

/** Scrolls the open screen back to its top (typing scrolled the field into view). */
async function scrollTop(s) {
  await s.exec("for (const e of document.querySelectorAll('.screen-body')) e.scrollTop = 0;");
  await sleep(200);
}

/** Scrolls `css` into the middle of the screen, for the screenshot. */
async function scrollToShow(s, css) {
  await s.exec("document.querySelector(arguments[0]).scrollIntoView({ block: 'center' });", [css]);
  await sleep(200);
}

// ---------------------------------------------------------------------------
// Scenario parts, run in order by main(). Each takes the shared context
// `ctx` ({ s: the WebDriver session, caseId: the case reported offline,
// dispatch: the centre's first dispatch step, v1Due: the first check's deadline }).

/** The inspector signs in. */
async function inspectorSignsIn(ctx) {
  const { s } = ctx;
  await s.waitFor('[data-testid="signin-user"]', { timeout: 60000 });
  await shot(s, "sign-in");
  await signIn(s, INSPECTOR);
  await sleep(500);
  await screenOk(s, "patrol", ['[data-testid="patrol-report"]', '[data-testid="patrol-coverage"]']);
}

/**
 * No signal: from the patrol screen, the report is saved and shown queued
 * on the device in at most 4 taps plus the photo.
 */
async function reportOffline(ctx) {
  const { s } = ctx;
  await server("stop");
  const path = tapCounter(s);
  await path.tap('[data-testid="patrol-report"]');
  const search = await s.waitFor('[data-testid="report-search"]');
  await search.type("jgps");
  await path.tap('[data-testid="category-result"]');
  const input = await s.waitFor('[data-testid="photo-input"]', { timeout: 5000 });
  await input.type(PHOTO);
  await s.waitFor('[data-testid="photo-thumb"]', { timeout: 30000 });
  const desc = await s.find('[data-testid="report-description"]');
  await desc.type("井盖破损，已设警示");
  await scrollTop(s);
  await screenOk(s, "report", ['[data-testid="report-save"]', '[data-testid="photo-thumb"]']);
  await path.tap('[data-testid="report-save"]');
  await s.waitFor('[data-testid="report-saved"]');
  const saved = await s.waitFor('[data-testid="report-saved-case"]');
  ctx.caseId = await saved.attr("data-case-id");
  const badge = await s.find('[data-testid="report-saved-case"] [data-testid="sync-badge"]');
  check("the saved report is shown queued (local only)", (await badge.attr("data-sync")) === "local_only", await badge.attr("data-sync"));
  check(`patrol -> queued report in <= 4 taps plus the photo (${path.taps.length}: ${path.taps.join(", ")})`, path.taps.length <= 4);
  await screenOk(s, "report-queued", ['[data-testid="report-saved"]']);
}

/** Still no signal: every screen of the inspector opens and shows its content. */
async function everyScreenOffline(ctx) {
  const { s, caseId } = ctx;
  await s.tap('[data-testid="nav-patrol"]');
  await screenOk(s, "offline-patrol", ['[data-testid="patrol-report"]', '[data-testid="patrol-coverage"]']);

  await s.tap('[data-testid="nav-cases"]');
  const row = `[data-testid="case-row"][data-case-id="${caseId}"]`;
  await screenOk(s, "offline-cases", [row]);
  const badge = await s.find(`${row} [data-testid="sync-badge"]`);
  check("my cases: badge says local only", (await badge.attr("data-sync")) === "local_only", await badge.attr("data-sync"));

  await s.tap(row);
  await screenOk(s, "offline-case-detail", [
    `[data-testid="case-detail"][data-case-id="${caseId}"]`,
    '[data-testid="timeline-step"]',
    '[data-testid="case-photo"]',
  ]);

  await tasksScreensOffline(s, "offline");
  await syncScreenOffline(s, "offline-sync");
}

/**
 * The tasks screen with the server down: its rows (each task's detail opens,
 * with the before-photo and the point) or its empty state. Returns how many
 * tasks it showed.
 */
async function tasksScreensOffline(s, name) {
  await s.tap('[data-testid="nav-tasks"]');
  await s.waitFor('[data-testid="task-row"], [data-testid="tasks-empty"]');
  const tasks = await s.findAll('[data-testid="task-row"]');
  if (!tasks.length) {
    await screenOk(s, `${name}-tasks-empty`, ['[data-testid="tasks-empty"]']);
    return 0;
  }
  await screenOk(s, `${name}-tasks`, ['[data-testid="task-row"]']);
  const ids = [];
  for (const t of tasks) ids.push(await t.attr("data-task-id"));
  for (const id of ids) {
    await s.tap(`[data-testid="task-row"][data-task-id="${id}"]`);
    await screenOk(s, `${name}-task-detail`, ['[data-testid="case-photos"]', '[data-testid="case-photo"]', '[data-testid="task-point"]']);
    await s.tap('[data-testid="nav-tasks"]');
  }
  return ids.length;
}

/** The sync screen with the server down: it says so in words, and why it is fine. */
async function syncScreenOffline(s, name) {
  await s.tap('[data-testid="nav-sync"]');
  await s.tap('[data-testid="sync-now"]');
  const st = await s.waitFor('[data-testid="sync-status"]', {
    timeout: 30000,
    pred: async (e) => ["offline", "error"].includes(await e.attr("data-phase")),
  });
  check(`${name}: phase offline`, (await st.attr("data-phase")) === "offline", await st.attr("data-phase"));
  await screenOk(s, name, ['[data-testid="sync-now"]', '[data-testid="sync-offline-hint"]'], { allowAlert: "sync-error" });
  const err = await (await s.find('[data-testid="sync-error"]')).text();
  check(`${name}: the error in words`, err === ZH["error.offline"], err);
  const hint = await (await s.find('[data-testid="sync-offline-hint"]')).text();
  check(`${name}: says the work is kept`, hint === ZH["syncscreen.offline_hint"], hint);
}

/** Signal again: it syncs, and the server has the case and its photo. */
async function syncWhenBack(ctx) {
  const { s, caseId } = ctx;
  await server("start");
  await s.tap('[data-testid="nav-sync"]');
  await s.tap('[data-testid="sync-now"]');
  await s.waitFor('[data-testid="sync-status"]', {
    timeout: 30000,
    pred: async (el) => (await el.attr("data-phase")) === "idle",
  });
  await screenOk(s, "sync", ['[data-testid="sync-last"]']);
  check("server has the case", await serverHas(caseId), caseId);
  await s.tap('[data-testid="nav-cases"]');
  const synced = await s.waitFor(`[data-testid="case-row"][data-case-id="${caseId}"] [data-testid="sync-badge"]`, {
    timeout: 20000,
    pred: async (el) => (await el.attr("data-sync")) === "synced",
  });
  check("badge says synced", !!synced);
  await s.tap(`[data-testid="case-row"][data-case-id="${caseId}"]`);
  await screenOk(s, "case-detail", ['[data-testid="case-detail"]']);
  const p = serverPhotos(caseId);
  check("server has the photo", p.referred === 1 && p.held === 1, JSON.stringify(p));
}

/** The squad leader's screens open with the network down too. */
async function leaderScreensOffline(ctx) {
  const { s, caseId } = ctx;
  await signOut(s);
  await signIn(s, LEADER);
  await s.tap('[data-testid="nav-team"]');
  await syncNow(s, "nav-team");
  await server("stop");
  const row = `[data-testid="team-row"][data-case-id="${caseId}"]`;
  await s.tap('[data-testid="nav-team"]');
  await screenOk(s, "offline-team", [row]);
  await s.tap(row);
  await screenOk(s, "offline-review", [`[data-testid="case-detail"][data-case-id="${caseId}"]`, '[data-testid="review-approve"]']);
  await syncScreenOffline(s, "offline-sync-leader");
  await server("start");
}

/** The leader returns the case with a reason. */
async function leaderReturns(ctx) {
  const { s, caseId } = ctx;
  await s.tap('[data-testid="nav-team"]');
  await syncNow(s, "nav-team");
  await s.tap(`[data-testid="team-row"][data-case-id="${caseId}"]`, { timeout: 30000 });
  await s.tap('[data-testid="review-return"]');
  await s.tap('[data-testid="review-reason-select"] option[value="wrong_category"]');
  await (await s.waitFor('[data-testid="review-comment"]')).type("应为井盖缺失");
  await screenOk(s, "review", ['[data-testid="review-submit"]']);
  await s.tap('[data-testid="review-submit"]');
  await s.waitFor('[data-testid="review-done"]');
  const st = await syncNow(s, "nav-team");
  check("the leader's return reached the server", st === "idle", st);
}

/** The inspector sees the reason, corrects and resubmits. */
async function inspectorResubmits(ctx) {
  const { s, caseId } = ctx;
  await signOut(s);
  await signIn(s, INSPECTOR);
  await syncNow(s, "nav-cases");
  await s.tap(`[data-testid="case-row"][data-case-id="${caseId}"]`);
  await s.waitFor('[data-testid="review-reason"]', { timeout: 20000 });
  const reasonText = await (await s.find('[data-testid="case-detail"]')).text();
  check("the inspector sees the leader's reason", reasonText.includes("类别错误") && reasonText.includes("应为井盖缺失"), reasonText);
  await scrollToShow(s, '[data-testid="review-reason"]');
  await screenOk(s, "returned", ['[data-testid="resubmit-description"]', '[data-testid="review-reason"]']);
  const fix = await s.waitFor('[data-testid="resubmit-description"]');
  await fix.clear();
  await fix.type("井盖缺失，已设警示");
  await s.tap('[data-testid="resubmit-submit"]');
  await syncNow(s, "nav-cases");
}

/** The leader approves the corrected report. */
async function leaderApproves(ctx) {
  const { s, caseId } = ctx;
  await signOut(s);
  await signIn(s, LEADER);
  await syncNow(s, "nav-team");
  await screenOk(s, "team", [`[data-testid="team-row"][data-case-id="${caseId}"]`]);
  await s.tap(`[data-testid="team-row"][data-case-id="${caseId}"]`, { timeout: 30000 });
  await s.tap('[data-testid="review-approve"]');
  await s.tap('[data-testid="review-submit"]');
  await s.waitFor('[data-testid="review-done"]');
  const st = await syncNow(s, "nav-team");
  check("the approval synced", st === "idle", st);
  await s.tap('[data-testid="nav-tasks"]');
  await s.waitFor('[data-testid="task-row"], [data-testid="tasks-empty"]');
  await screenOk(s, "tasks", []);
}

/** English: switch on the sync screen, the patrol screen reads English, and back. */
async function inEnglish(ctx) {
  const { s } = ctx;
  await s.tap('[data-testid="nav-sync"]');
  await s.tap('[data-testid="lang-switch"]');
  await s.waitFor('[data-testid="lang-switch"][data-lang="en"]');
  await s.tap('[data-testid="nav-patrol"]');
  const text = await screenOk(s, "patrol-en", ['[data-testid="patrol-report"]']);
  const report = await (await s.find('[data-testid="patrol-report"]')).text();
  check("English: the report button says Report", report === EN["patrol.report"], report);
  check("English: no Chinese words on the patrol screen's tabs", !text.includes(ZH["nav.patrol"]), text.slice(0, 80));
  await s.tap('[data-testid="nav-sync"]');
  await s.tap('[data-testid="lang-switch"]');
  await s.waitFor('[data-testid="lang-switch"][data-lang="zh-CN"]');
}

/**
 * The centre takes the approved case round its loop: files it, dispatches it
 * (unit and deadline from the checklist), records the unit's fix, and sends
 * the inspector back to re-verify.
 */
async function centreSendsToVerify(ctx) {
  const { caseId } = ctx;
  centre("file", caseId, "--note", "立案");
  centre("dispatch", caseId);
  centre("handled", caseId, "--note", "已更换井盖");
  centre("assign-verification", caseId, "--assignee", INSPECTOR, "--due-hours", "24");
  const d = centreCase(caseId);
  check("the centre sent the case to re-verification", d.case.state === "verifying", d.case.state);
  const v = d.verifications.find((x) => x.id === `${caseId}-v1`);
  check("verification v1 is the inspector's", v?.task.assignee === INSPECTOR, JSON.stringify(d.verifications));
  ctx.dispatch = d.case.steps.find((x) => x.step === "dispatch");
  check("the dispatch names a unit and a deadline", !!ctx.dispatch?.unit && ctx.dispatch.due_at_ms > ctx.dispatch.at_ms, JSON.stringify(ctx.dispatch));
  ctx.v1Due = v?.task.due_at_ms;
}

/** The inspector syncs and finds the task by its due time and distance. */
async function inspectorGetsTask(ctx) {
  const { s, caseId } = ctx;
  await signOut(s);
  await signIn(s, INSPECTOR);
  await syncNow(s, "nav-tasks");
  const css = `[data-testid="task-row"][data-task-id="${caseId}-v1"]`;
  const row = await s.waitFor(css, { timeout: 20000 });
  const text = await row.text();
  check("tasks: the row shows the due time", text.includes(ZH["tasks.due"].replace("{time}", beijingTime(ctx.v1Due))), text);
  check("tasks: the row shows the distance (at the point)", text.includes(ZH["tasks.distance"].replace("{d}", ZH["common.meters"].replace("{n}", "0"))), text);
  check("tasks: open, not done", (await row.attr("data-outcome")) === "", await row.attr("data-outcome"));
  await screenOk(s, "tasks-list", [css]);
}

/** No signal again, now with a task on the device: the tasks and the task's detail open. */
async function taskScreensOffline(ctx) {
  const { s } = ctx;
  await server("stop");
  const n = await tasksScreensOffline(s, "offline-with-task");
  check("offline: the task is listed and its detail opened", n === 1, String(n));
  await server("start");
}

/**
 * On site, the inspector opens the task (before-photo, the case's point, the
 * distance), takes an after-photo, finds it not fixed and says why; the
 * server sends the case back to the unit by itself.
 */
async function inspectorFailsCheck(ctx) {
  const { s, caseId } = ctx;
  const vid = `${caseId}-v1`;
  await s.tap('[data-testid="nav-tasks"]');
  await s.tap(`[data-testid="task-row"][data-task-id="${vid}"]`);
  await s.waitFor('[data-testid="task-distance"]', { pred: async (e) => (await e.attr("data-m")) !== "" });
  const fix = JSON.parse(readFileSync(env("POSITION_FILE"), "utf8"));
  const point = await (await s.find('[data-testid="task-point"]')).text();
  check("task: the case's point is shown", point === `${fix.lat.toFixed(6)}, ${fix.lon.toFixed(6)}`, `${point} vs ${fix.lat}, ${fix.lon}`);
  const m = Number(await (await s.find('[data-testid="task-distance"]')).attr("data-m"));
  check("task: my distance to the point is shown", m === 0, String(m));
  await screenOk(s, "task-detail-before", ['[data-testid="case-photo"]', '[data-testid="task-submit"]']);
  const input = await s.waitFor('[data-testid="task-photo-input"]');
  await input.type(env("AFTER_PHOTO"));
  await s.waitFor('[data-testid="photo-thumb"]', { timeout: 30000 });
  await s.tap('[data-testid="task-fail"]');
  await (await s.find('[data-testid="task-note"]')).type("井盖仍未更换，警示牌还在");
  await scrollToShow(s, '[data-testid="photo-thumb"]');
  await screenOk(s, "task-after-photo", ['[data-testid="photo-thumb"]', '[data-testid="task-fail"][aria-pressed="true"]']);
  await s.tap('[data-testid="task-submit"]');
  const done = await s.waitFor('[data-testid="task-done"]');
  check("task: saved as failed", (await done.attr("data-outcome")) === "fail", await done.attr("data-outcome"));
  await scrollToShow(s, '[data-testid="task-done"]');
  await screenOk(s, "task-failed", ['[data-testid="task-result-note"]', '[data-testid="case-photos"] [data-testid="case-photo"]']);
  const st = await syncNow(s, "nav-tasks");
  check("the failed check synced", st === "idle", st);
  const d = await centreCaseWhen(caseId, (x) => x.case.state === "dispatched");
  check("centre: the failed check sent the case back (dispatched)", d.case.state === "dispatched", d.case.state);
  check("centre: rework 1", d.rework === 1, String(d.rework));
  const tail = d.case.steps.slice(-2).map((x) => x.step);
  check("centre: the timeline ends verify_fail, dispatch", tail.join() === "verify_fail,dispatch", JSON.stringify(tail));
  check("centre: the fail is the inspector's, with the note", d.case.steps.at(-2)?.by === INSPECTOR && d.case.steps.at(-2)?.note.includes("井盖仍未更换"), JSON.stringify(d.case.steps.at(-2)));
}

/**
 * The unit fixes it again; the centre sends the inspector a second time and
 * the check passes at the point (no far-from-point confirmation there; if
 * the fix were elsewhere the UI asks and the task is flagged far). The
 * centre closes the case.
 */
async function inspectorPassesRecheck(ctx) {
  const { s, caseId } = ctx;
  const vid = `${caseId}-v2`;
  // The unit's second feedback comes with a photo of the new cover: through
  // the CLI's photo pipeline to the server, and down to both phones.
  centre("handled", caseId, "--note", "已更换新井盖", "--photo", env("HANDLED_PHOTO"));
  const h = centreCase(caseId);
  const handled = h.case.steps.filter((x) => x.step === "report_handled");
  const sha = handled.at(-1)?.photos?.[0];
  check("centre: the second handled step carries the unit's one photo, the first none", handled.length === 2 && !handled[0].photos?.length && handled[1].photos?.length === 1, JSON.stringify(handled));
  const bytes = sha ? h.step_photo_bytes?.[sha] : undefined;
  const camera = statSync(env("HANDLED_PHOTO")).size;
  check("centre: the server holds the handled photo, resized by the pipeline", bytes > 0 && bytes < camera, `${bytes} of ${camera} bytes: ${JSON.stringify(h.step_photo_bytes)}`);
  const p = serverPhotos(caseId);
  check("server: the case refers to the report's and the unit's photo and holds both", p.referred === 2 && p.held === 2, JSON.stringify(p));
  ctx.handledPhoto = sha;
  centre("assign-verification", caseId, "--assignee", INSPECTOR, "--due-hours", "8");
  await syncNow(s, "nav-tasks");
  const css = `[data-testid="task-row"][data-task-id="${vid}"]`;
  await s.waitFor(css, { timeout: 20000 });
  const rows = await s.findAll('[data-testid="task-row"]');
  const order = [];
  for (const r of rows) order.push(`${await r.attr("data-task-id")}:${await r.attr("data-outcome")}`);
  check("tasks: the open second check first, the failed one after it", order.join() === `${vid}:,${caseId}-v1:fail`, order.join());
  await screenOk(s, "tasks-second", [css]);
  await s.tap(css);
  await s.waitFor('[data-testid="task-distance"]', { pred: async (e) => (await e.attr("data-m")) !== "" });
  const m = Number(await (await s.find('[data-testid="task-distance"]')).attr("data-m"));
  const input = await s.waitFor('[data-testid="task-photo-input"]');
  await input.type(env("AFTER_PHOTO"));
  await s.waitFor('[data-testid="photo-thumb"]', { timeout: 30000 });
  await s.tap('[data-testid="task-pass"]');
  await (await s.find('[data-testid="task-note"]')).type("已更换新井盖，警示牌已撤");
  await s.tap('[data-testid="task-submit"]');
  const far = m > 50;
  if (far) await s.tap('[data-testid="task-confirm-far"]');
  const done = await s.waitFor('[data-testid="task-done"]');
  check(`task: saved as passed${far ? " (far, confirmed)" : " at the point"}`, (await done.attr("data-outcome")) === "pass", await done.attr("data-outcome"));
  check("task: no far-from-point question at the point", far || (await s.findAll('[data-testid="task-confirm-far"]')).length === 0);
  await scrollToShow(s, '[data-testid="task-done"]');
  await screenOk(s, "task-passed", ['[data-testid="task-result-note"]', '[data-testid="case-photos"] [data-testid="case-photo"]']);
  const st = await syncNow(s, "nav-tasks");
  check("the passed check synced", st === "idle", st);
  const row = await s.waitFor(css);
  const rowText = await row.text();
  check("tasks: the far flag matches the distance", rowText.includes(ZH["tasks.far"]) === far, `${m} m: ${rowText}`);
  check("tasks: the second check shows passed", (await row.attr("data-outcome")) === "pass", await row.attr("data-outcome"));
  await screenOk(s, "tasks-done", [css]);
  centre("close", caseId, "--note", "结案");
  const d = centreCase(caseId);
  check("centre: closed", d.case.state === "closed", d.case.state);
  check("centre: closed on the second check", d.case.steps.at(-1)?.verification === vid, JSON.stringify(d.case.steps.at(-1)));
}

/** Checks the closed case's timeline on the open detail screen and screenshots it. */
async function closedTimelineOk(ctx, who) {
  const { s, caseId, dispatch } = ctx;
  await s.waitFor(`[data-testid="case-detail"][data-case-id="${caseId}"][data-state="closed"]`, { timeout: 20000 });
  const stages = await s.findAll('[data-testid="timeline-step"]');
  const done = [];
  for (const st of stages) done.push(await st.attr("data-done"));
  check(`${who}: six steps, all done`, done.join() === "true,true,true,true,true,true", done.join());
  const entries = await s.findAll('[data-testid="timeline-entry"]');
  const actions = [];
  for (const e of entries) actions.push(`${await e.attr("data-action")}/${await e.attr("data-state")}`);
  const centreSide = actions.filter((a) => !/^(report|review|resubmit)\//.test(a));
  // Grouped by stage, each stage's steps in the order they happened.
  const want = [
    "file/filed",
    "dispatch/dispatched", "dispatch/dispatched",
    "report_handled/handled", "report_handled/handled",
    "request_verification/verifying", "verify_fail/reopened", "request_verification/verifying",
    "verify_pass/closed",
  ];
  check(`${who}: the timeline has filed, both dispatches, handled, the failed and the passed check, closed`, centreSide.join() === want.join(), centreSide.join());
  const text = await (await s.find(".timeline")).text();
  for (const words of [
    ZH["action.file"],
    ZH["timeline.unit"].replace("{unit}", dispatch.unit),
    ZH["timeline.due"].replace("{time}", beijingTime(dispatch.due_at_ms)),
    ZH["action.verify_fail"],
    "井盖仍未更换",
    ZH["timeline.closed"],
  ]) {
    check(`${who}: the timeline says ${words}`, text.includes(words), text.slice(0, 300));
  }
  // People by name, the centre by its role: no bare account ids.
  const byCentre = ZH["timeline.by"].replace("{who}", ZH["role.centre_operator"]);
  check(`${who}: the centre's steps say ${byCentre}`, text.includes(byCentre), text.slice(0, 300));
  const ids = text.match(new RegExp(ZH["timeline.by"].replace("{who}", "[A-Z]\\d{4}"), "g")) ?? [];
  check(`${who}: no step is signed with a bare account id`, ids.length === 0, JSON.stringify(ids));
  await handledPhotoOk(ctx, who);
  await scrollToShow(s, '[data-testid="timeline-step"][data-stage="3"]');
  await screenOk(s, `closed-timeline-${who}`, ['[data-testid="timeline-entry"][data-state="closed"]']);
  await handledPhotoEnlarges(ctx, who);
  await scrollToShow(s, '[data-testid="timeline-step"][data-stage="6"]');
  await shot(s, `closed-timeline-end-${who}`);
}

const HANDLED = '[data-testid="timeline-entry"][data-action="report_handled"]';

/** Waits until the image `css` has loaded; its natural size ([0, 0] if it never does). */
async function imageSize(s, css) {
  const size = () => s.exec("const i = document.querySelector(arguments[0]); return i && i.complete ? [i.naturalWidth, i.naturalHeight] : [0, 0];", [css]);
  let wh = await size();
  for (let i = 0; i < 50 && !wh[0]; i++) {
    await sleep(200);
    wh = await size();
  }
  return wh;
}

/** The open closed case: the unit's handled step shows its photo as a thumbnail (the first handled step none). */
async function handledPhotoOk(ctx, who) {
  const { s, handledPhoto } = ctx;
  const per = await s.exec(
    `return [...document.querySelectorAll(arguments[0])].map((e) => e.querySelectorAll('[data-testid="step-photos"] [data-testid="case-photo"]').length + '/' + e.querySelectorAll('[data-testid="case-photo-missing"]').length)`,
    [HANDLED],
  );
  check(`${who}: the second handled step shows one photo on the phone, the first none`, per.join() === "0/0,1/0", per.join());
  const thumb = `${HANDLED} [data-testid="step-photos"] [data-testid="case-photo"]`;
  const src = await s.exec("return document.querySelector(arguments[0])?.getAttribute('src') || ''", [thumb]);
  check(`${who}: the thumbnail is the unit's photo`, !!handledPhoto && src.includes(handledPhoto), `${src} vs ${handledPhoto}`);
  const [w] = await imageSize(s, thumb);
  check(`${who}: the thumbnail has loaded from the device`, w > 0, String(w));
  const r = await (await s.find(thumb)).rect();
  check(`${who}: the thumbnail is shown (at least 48 px)`, r.width >= 48 && r.height >= 48, JSON.stringify(r));
}

/** A tap on the handled step's thumbnail shows the photo large; a tap closes it again. */
async function handledPhotoEnlarges(ctx, who) {
  const { s, handledPhoto } = ctx;
  const open = `${HANDLED} [data-testid="step-photos"] [data-testid="case-photo-open"]`;
  await scrollToShow(s, open);
  await screenOk(s, `handled-photo-${who}`, [open]);
  const thumb = await (await s.find(`${open} [data-testid="case-photo"]`)).rect();
  await s.tap(open);
  const large = '[data-testid="photo-viewer"] [data-testid="photo-large"]';
  await s.waitFor(large);
  const src = await s.exec("return document.querySelector(arguments[0]).getAttribute('src')", [large]);
  check(`${who}: the tap opens the unit's photo large`, !!handledPhoto && src.includes(handledPhoto), src);
  const [w] = await imageSize(s, large);
  const r = await (await s.find(large)).rect();
  check(`${who}: the large photo has loaded and is wider than the thumbnail`, w > 0 && r.width > thumb.width * 2, `${w} px image, ${JSON.stringify(r)} vs ${JSON.stringify(thumb)}`);
  await shot(s, `handled-photo-large-${who}`);
  await s.tap('[data-testid="photo-viewer"]');
  let closed = false;
  for (let i = 0; i < 50 && !closed; i++) {
    closed = (await s.findAll('[data-testid="photo-viewer"]')).length === 0;
    if (!closed) await sleep(200);
  }
  check(`${who}: a tap on the large photo closes it`, closed);
}

/** The inspector's phone and the leader's show the same closed case, step by step. */
async function timelineOnBothPhones(ctx) {
  const { s, caseId } = ctx;
  await syncNow(s, "nav-cases");
  await s.tap(`[data-testid="case-row"][data-case-id="${caseId}"]`);
  await closedTimelineOk(ctx, "inspector");
  await signOut(s);
  await signIn(s, LEADER);
  await syncNow(s, "nav-team");
  // The team list opens on the cases to review; the closed one is found by its filters.
  await s.tap('[data-testid="team-filter-review"] option[value="approved"]');
  await s.tap('[data-testid="team-filter-state"] option[value="closed"]');
  const row = `[data-testid="team-row"][data-case-id="${caseId}"]`;
  await s.waitFor(`${row}[data-state="closed"]`, { timeout: 30000 });
  await screenOk(s, "team-closed", [row]);
  await s.tap(row);
  await closedTimelineOk(ctx, "leader");
  check("leader: a closed case offers no review", (await s.findAll('[data-testid="review-approve"]')).length === 0);
}

/** The Beijing calendar day now: `YYYY-MM-DD`. */
const beijingDay = () => new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 10);

/**
 * The inspector walks a patrol at the fix (one technical grid of their
 * supervision grid) and syncs: the day goes up, and `gridpatrol kpi` figures
 * the month's coverage from it exactly (coverage.rs: the day's share
 * visited/assigned, averaged over the month's days so far, Beijing time).
 */
async function inspectorPatrols(ctx) {
  const { s } = ctx;
  await s.tap('[data-testid="nav-patrol"]');
  await s.tap('[data-testid="patrol-start"]');
  await s.waitFor('[data-testid="patrol-stop"]');
  const cells = new RegExp(ZH["patrol.cells"].replace("{visited}", "(\\d+)").replace("{total}", "(\\d+)"));
  const status = await s.waitFor(".status", { pred: async (e) => Number(cells.exec(await e.text())?.[1]) > 0 });
  const [, visited, total] = cells.exec(await status.text()).map(Number);
  check(`patrol: the fix's technical grid is visited (${visited} of ${total})`, visited === 1 && total >= 1);
  const shown = Number(await (await s.find('[data-testid="patrol-coverage"]')).attr("data-value"));
  check("patrol: today's coverage on the screen is visited of assigned", shown === Math.round((100 * visited) / total), `${shown}% for ${visited}/${total}`);
  await screenOk(s, "patrol-walked", ['[data-testid="patrol-stop"]']);
  await s.tap('[data-testid="patrol-stop"]');
  await s.waitFor('[data-testid="patrol-start"]');
  const day = beijingDay();
  const st = await syncNow(s, "nav-patrol");
  check("the patrol day synced", st === "idle", st);

  const { month, value: k } = figures("kpi");
  const me = k.inspectors.find((x) => x.id === INSPECTOR);
  // One patrolled day of the month's days so far (today included).
  const days = Number(beijingDay().slice(8, 10));
  const want = visited / total / days;
  check("kpi (CLI): one patrol day this month", me?.patrol_days === 1, JSON.stringify(me));
  check(
    `kpi (CLI): coverage is ${visited}/${total} cells on 1 of ${days} days`,
    day.startsWith(month) && typeof me?.coverage === "number" && Math.abs(me.coverage - want) < 1e-12 && me.coverage > 0 && me.coverage <= 1,
    `${me?.coverage} vs ${want}`,
  );
}

/** `gridpatrol kpi|eval --month M --data DIR --json`, straight from the server's directory. */
function figures(what, month = new Date(Date.now() + 8 * 3600 * 1000).toISOString().slice(0, 7)) {
  const r = spawnSync(env("GRIDPATROL_BIN"), [what, "--month", month, "--data", env("SERVER_DATA"), "--json"], {
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`gridpatrol ${what}: exit ${r.status}: ${r.stdout}${r.stderr}`);
  return { month, value: JSON.parse(r.stdout) };
}

/**
 * The leader marks last month's sample on the 质量 screen (the harness gave
 * the inspector four reports last month): one correct, one wrong (错报) with
 * a reason; the marks stay after leaving the screen, the KPI line counts the
 * wrong report, and `gridpatrol kpi` says the same.
 */
async function leaderMarksLastMonthsSample(ctx) {
  const { s } = ctx;
  const month = env("LAST_MONTH");
  await s.tap('[data-testid="nav-quality"]');
  const mine = `[data-testid="quality-sample"][data-inspector="${INSPECTOR}"]`;
  await s.waitFor(mine, { timeout: 30000 });
  const ids = await s.exec(`return [...document.querySelectorAll('${mine}')].map((e) => e.dataset.caseId)`);
  check("quality: last month's sample of the inspector is drawn (at least 3 of 4)", ids.length >= 3 && ids.length <= 4, JSON.stringify(ids));
  check("quality: the screen shows last month", (await s.exec(`return document.querySelector('[data-testid="quality-month"]').value`)) === month);
  await screenOk(s, "leader-quality-sample", [mine]);
  const item = (id) => `${mine}[data-case-id="${id}"]`;
  await s.tap(`${item(ids[0])} [data-testid="quality-correct"]`);
  await s.waitFor(`${item(ids[0])}[data-mark="correct"]`);
  await s.tap(`${item(ids[1])} [data-testid="quality-wrong"]`);
  // A wrong report needs a reason: confirming without one is refused in words.
  await s.tap(`${item(ids[1])} [data-testid="quality-confirm-wrong"]`);
  const refused = await s.waitFor('[data-testid="quality-mark-error"]').then(() => true, () => false);
  check("quality: 错报 without a reason is refused on the screen", refused);
  await s.tap(`${item(ids[1])} [data-testid="quality-reason"][data-reason="photo_unclear"]`);
  await screenOk(s, "leader-quality-wrong-reason", [`${item(ids[1])} [data-testid="quality-confirm-wrong"]`], {
    allowAlert: "quality-mark-error",
  });
  await s.tap(`${item(ids[1])} [data-testid="quality-confirm-wrong"]`);
  await s.waitFor(`${item(ids[1])}[data-mark="wrong"]`);
  const row = `[data-testid="quality-kpi-row"][data-inspector="${INSPECTOR}"]`;
  const counted = await s.waitFor(`${row}[data-wrong="1"]`).then(() => true, () => false);
  check("quality: the KPI line counts one wrong report", counted);

  // Away and back: the marks are the server's, not the screen's.
  await s.tap('[data-testid="nav-team"]');
  await s.tap('[data-testid="nav-quality"]');
  const kept = await s.waitFor(`${item(ids[1])}[data-mark="wrong"]`, { timeout: 30000 }).then(() => true, () => false);
  const keptOk = await s.findAll(`${item(ids[0])}[data-mark="correct"]`);
  check("quality: both marks are kept after leaving the screen", kept && keptOk.length === 1);
  const reason = await s.exec(`return document.querySelector('${item(ids[1])} [data-testid="quality-mark-state"]').textContent`);
  check("quality: the wrong report shows its reason", reason.includes("照片"), reason);
  await screenOk(s, "leader-quality-marked", [`${row}[data-wrong="1"]`]);

  const { value: k } = figures("kpi", month);
  const me = k.inspectors.find((x) => x.id === INSPECTOR);
  check("kpi (CLI): last month counts the inspector's 4 reports and 1 wrong", !!me && me.reports === 4 && me.wrong === 1, JSON.stringify(me));
}

/** The loop just recorded shows in the month's figures: the CLI's and the leader's screen. */
async function figuresReflectTheLoop(ctx) {
  const { s, caseId } = ctx;
  const d = centreCase(caseId);
  const unit = d.case.steps.find((st) => st.unit)?.unit;
  const { month, value: e } = figures("eval");
  const u = e.units.find((x) => x.unit === unit);
  check("eval: the case's unit is scored", !!u, JSON.stringify(e.units));
  if (u) {
    check("eval: two handling rounds, one reworked", u.rounds >= 2 && u.rework >= 1, JSON.stringify(u));
    check("eval: the case counts as closed", u.closed >= 1 && u.closure_rate > 0, JSON.stringify(u));
  }
  const { value: k } = figures("kpi");
  const me = k.inspectors.find((x) => x.id === INSPECTOR);
  check("kpi: the inspector's report is counted and filed", !!me && me.reports >= 1 && me.filed >= 1, JSON.stringify(me));
  const squad = me?.squad;
  check("kpi: the squad is ranked", !!squad && k.squads.some((q) => q.squad === squad && q.rank >= 1));

  // The leader's quality screen, on this month: the KPI line of the inspector.
  await s.tap('[data-testid="nav-quality"]');
  await s.waitFor('[data-testid="quality-month"]');
  await s.exec(
    `const el = document.querySelector('[data-testid="quality-month"]');
     const set = Object.getOwnPropertyDescriptor(HTMLInputElement.prototype, 'value').set;
     set.call(el, arguments[0]);
     el.dispatchEvent(new Event('input', { bubbles: true }));
     el.dispatchEvent(new Event('change', { bubbles: true }));`,
    [month],
  );
  // This month's sample is drawn after it ends: the screen says so (and has reloaded).
  const notYet = '[data-testid="quality-sample-error"][data-code="not_yet"]';
  const said = await s.waitFor(notYet, { timeout: 30000 }).then(() => true, () => false);
  check("quality: this month's sample is not drawn yet, and the screen says so", said);
  const row = `[data-testid="quality-kpi-row"][data-inspector="${INSPECTOR}"]`;
  await screenOk(s, "leader-quality-this-month", [row, '[data-testid="quality-squad-rank"]'], {
    allowAlert: "quality-sample-error",
  });
  // Cells after the name: reports, valid rate, returned rate, wrong, on time, missed, score.
  const reports = await s.exec(`return document.querySelector('${row} th + td')?.textContent.trim() || ''`);
  check("quality: the inspector's line counts this month's report", Number(reports) >= 1, reports);
  // Patrol coverage: the figure the CLI has, on the leader's screen.
  const shown = await s.exec(
    `const r = document.querySelector(arguments[0]); return [r.dataset.coverage, r.querySelector('[data-testid="quality-coverage"]').textContent.trim()]`,
    [row],
  );
  const pct = (x) => `${Math.round(x * 100)}%`;
  // The figure crosses the server's JSON and the device's serde_json parse
  // (without float_roundtrip it may land one ulp off): equal to 1e-12.
  const same = (a, b) => Math.abs(a - b) <= 1e-12 * Math.abs(b);
  check("quality: the inspector's coverage is the CLI's", me?.coverage > 0 && same(Number(shown[0]), me.coverage), `${shown[0]} vs ${me?.coverage}`);
  check("quality: the coverage cell reads the same percentage", !!me && shown[1] === pct(me.coverage), `${shown[1]} vs ${me && pct(me.coverage)}`);
  const q = k.squads.find((x) => x.squad === squad);
  const squadText = await (await s.find('[data-testid="quality-squad-coverage"]')).text();
  const squadWant = q?.coverage == null ? null : ZH["quality.squad_coverage"].replace("{coverage}", pct(q.coverage));
  check("quality: the squad's coverage is the CLI's", q?.coverage > 0 && squadText === squadWant, `${squadText} vs ${squadWant} (${q?.coverage})`);
  await scrollToShow(s, `${row} [data-testid="quality-coverage"]`);
  await shot(s, "leader-quality-coverage");
}

// Add a part: write one async function (ctx) above and list it here.
const SCENARIO = [
  inspectorSignsIn,
  reportOffline,
  everyScreenOffline,
  syncWhenBack,
  leaderScreensOffline,
  leaderReturns,
  inspectorResubmits,
  leaderApproves,
  inEnglish,
  centreSendsToVerify,
  inspectorGetsTask,
  taskScreensOffline,
  inspectorFailsCheck,
  inspectorPassesRecheck,
  inspectorPatrols,
  timelineOnBothPhones,
  leaderMarksLastMonthsSample,
  figuresReflectTheLoop,
];

async function main() {
  const s = await Session.start(DRIVER, {
    alwaysMatch: { "tauri:options": { application: env("APP") } },
  });
  const ctx = { s, caseId: null };
  try {
    await s.setRect(360, 740).catch(() => {});
    for (const part of SCENARIO) {
      console.log(`# ${part.name}`);
      await part(ctx);
    }
  } finally {
    await s.quit();
  }
  console.log(`${passed} passed, ${failures.length} failed`);
  if (failures.length) process.exit(1);
}

main().catch((e) => {
  console.error(e);
  console.log(`${passed} passed, ${failures.length + 1} failed`);
  process.exit(1);
});
