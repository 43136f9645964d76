// End-to-end scenario on the real desktop app (tauri-driver + WebKitWebDriver
// under Xvfb) against a real sync server on loopback. Environment (set by
// tests/e2e/run): DRIVER, SERVER, APP, SHOTS, POSITION_FILE, INSPECTOR,
// LEADER, PHOTO, STOP_SERVER / START_SERVER (files the runner watches).
import { writeFileSync, existsSync } from "node:fs";
import { execFileSync } from "node:child_process";
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

async function shot(s, name) {
  writeFileSync(`${SHOTS}/${name}.png`, await s.screenshot());
  const small = await s.exec(SMALL_TARGETS);
  check(`${name}: touch targets >= 48 px`, small.length === 0, JSON.stringify(small));
  const low = await s.exec(LOW_CONTRAST);
  check(`${name}: text contrast >= 4.5:1`, low.length === 0, JSON.stringify(low));
}

/** Asks the runner to stop or start the sync server, and waits for it. */
async function server(action) {
  writeFileSync(env(action === "stop" ? "STOP_SERVER" : "START_SERVER"), "");
  const done = `${env(action === "stop" ? "STOP_SERVER" : "START_SERVER")}.done`;
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

async function main() {
  const s = await Session.start(DRIVER, {
    alwaysMatch: { "tauri:options": { application: env("APP") } },
  });
  try {
    await s.setRect(360, 740).catch(() => {});
    await s.waitFor('[data-testid="signin-user"]', { timeout: 60000 });
    await shot(s, "01-sign-in");
    await signIn(s, INSPECTOR);
    await sleep(500);
    await shot(s, "02-patrol");

    // No signal: the report is saved and queued on the device.
    await server("stop");
    await s.tap('[data-testid="patrol-report"]');
    const search = await s.waitFor('[data-testid="report-search"]');
    await search.type("jgps");
    await s.tap('[data-testid="category-result"]');
    const input = await s.waitFor('[data-testid="photo-input"]', { timeout: 5000 });
    await input.type(PHOTO);
    await s.waitFor('[data-testid="photo-thumb"]', { timeout: 30000 });
    const desc = await s.find('[data-testid="report-description"]');
    await desc.type("井盖破损，已设警示");
    await shot(s, "03-report");
    await s.tap('[data-testid="report-save"]');
    await s.waitFor('[data-testid="report-saved"]');
    check("report saved offline", true);

    await s.tap('[data-testid="nav-cases"]');
    const row = await s.waitFor('[data-testid="case-row"]');
    const caseId = await row.attr("data-case-id");
    const badge = await s.waitFor('[data-testid="case-row"] [data-testid="sync-badge"]');
    check("badge says local only", (await badge.attr("data-sync")) === "local_only", await badge.attr("data-sync"));
    await shot(s, "04-cases-offline");

    // Signal again: it syncs, and the server has the case and its photo.
    await server("start");
    await s.tap('[data-testid="nav-sync"]');
    await s.tap('[data-testid="sync-now"]');
    await s.waitFor('[data-testid="sync-status"]', {
      timeout: 30000,
      pred: async (el) => (await el.attr("data-phase")) === "idle",
    });
    await shot(s, "05-sync");
    check("server has the case", await serverHas(caseId), caseId);
    await s.tap('[data-testid="nav-cases"]');
    const synced = await s.waitFor('[data-testid="case-row"] [data-testid="sync-badge"]', {
      timeout: 20000,
      pred: async (el) => (await el.attr("data-sync")) === "synced",
    });
    check("badge says synced", !!synced);
    await s.tap('[data-testid="case-row"]');
    await s.waitFor('[data-testid="case-detail"]');
    await shot(s, "06-case-detail");
    const p = serverPhotos(caseId);
    check("server has the photo", p.referred === 1 && p.held === 1, JSON.stringify(p));

    // The squad leader (after the inspector signs out) returns it.
    await signOut(s);
    await signIn(s, LEADER);
    await s.tap('[data-testid="nav-team"]');
    await syncNow(s, "nav-team");
    await s.tap(`[data-testid="team-row"][data-case-id="${caseId}"]`, { timeout: 30000 });
    await shot(s, "07-review");
    await s.tap('[data-testid="review-return"]');
    await s.tap('[data-testid="review-reason-select"] option[value="wrong_category"]');
    await (await s.waitFor('[data-testid="review-comment"]')).type("应为井盖缺失");
    await s.tap('[data-testid="review-submit"]');
    await s.waitFor('[data-testid="review-done"]');
    await syncNow(s, "nav-team");
    check("the leader's return reached the server", true);

    // The inspector sees the reason, corrects and resubmits.
    await signOut(s);
    await signIn(s, INSPECTOR);
    await syncNow(s, "nav-cases");
    await s.tap(`[data-testid="case-row"][data-case-id="${caseId}"]`);
    await s.waitFor('[data-testid="review-reason"]', { timeout: 20000 });
    const reasonText = await (await s.find('[data-testid="case-detail"]')).text();
    check("the inspector sees the leader's reason", reasonText.includes("类别错误") && reasonText.includes("应为井盖缺失"), reasonText);
    await shot(s, "08-returned");
    const fix = await s.waitFor('[data-testid="resubmit-description"]');
    await fix.clear();
    await fix.type("井盖缺失，已设警示");
    await s.tap('[data-testid="resubmit-submit"]');
    await syncNow(s, "nav-cases");

    // The leader approves the corrected report.
    await signOut(s);
    await signIn(s, LEADER);
    await syncNow(s, "nav-team");
    await s.tap(`[data-testid="team-row"][data-case-id="${caseId}"]`, { timeout: 30000 });
    await s.tap('[data-testid="review-approve"]');
    await s.tap('[data-testid="review-submit"]');
    await s.waitFor('[data-testid="review-done"]');
    const st = await syncNow(s, "nav-team");
    check("the approval synced", st === "idle", st);
    await s.tap('[data-testid="nav-tasks"]');
    await sleep(500);
    await shot(s, "09-tasks");
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
