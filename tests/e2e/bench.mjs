// Performance figures of the real desktop app (release build, tauri-driver +
// WebKitWebDriver under Xvfb) against a real sync server on loopback, each
// with a baseline measured in the same run. Started by scripts/bench-app.sh,
// which sets: DRIVER, DRIVER_PID, APP, PHOTO, QUERIES (the relevance TSV),
// OUT (JSON results), COLD_RUNS, SAVE_RUNS, EXPECT_CASES.
//
// Clocks: in-page intervals use performance.now(); cold start compares the
// app process's start (from /proc, 10 ms ticks) with Date.now() taken in the
// page, both the same system clock. "Painted" means: the change is in the
// DOM, a requestAnimationFrame callback ran after it, and a task posted from
// that callback ran (so the frame that includes the change was rendered).
import { readFileSync, writeFileSync, readdirSync, existsSync } from "node:fs";
import { Session, sleep } from "./webdriver.mjs";

const env = (k) => {
  if (!process.env[k]) throw new Error(`missing ${k}`);
  return process.env[k];
};
const DRIVER = env("DRIVER");
const DRIVER_PID = Number(env("DRIVER_PID"));
const APP = env("APP");
const PHOTO = env("PHOTO");
const OUT = env("OUT");
const COLD_RUNS = Number(process.env.COLD_RUNS || 5);
const SAVE_RUNS = Number(process.env.SAVE_RUNS || 5);
const EXPECT_CASES = Number(process.env.EXPECT_CASES || 10000);
// Which figures to make (comma-separated; all by default).
const SECTIONS = new Set((process.env.SECTIONS || "cold,search,scroll,save").split(","));

// ---------------------------------------------------------------- helpers

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const q = (p) => (s.length ? s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))] : NaN);
  return {
    n: s.length,
    min: s[0],
    p50: q(0.5),
    p95: q(0.95),
    max: s[s.length - 1],
    mean: s.reduce((a, b) => a + b, 0) / (s.length || 1),
  };
}
const r1 = (x) => (Number.isFinite(x) ? Math.round(x * 10) / 10 : x);
const fmt = (st) => `p50 ${r1(st.p50)} / p95 ${r1(st.p95)} / max ${r1(st.max)} ms (n=${st.n})`;

/** Runs an async in-page script: `body` sees `done(value)` and the helpers. */
function page(s, body, args = []) {
  const script = `
    const done = arguments[arguments.length - 1];
    const ARGS = Array.prototype.slice.call(arguments, 0, arguments.length - 1);
    const painted = () => new Promise((res) => requestAnimationFrame(() => {
      const ch = new MessageChannel(); ch.port1.onmessage = () => res(); ch.port2.postMessage(0);
    }));
    const until = (pred, timeout = 10000) => new Promise((res) => {
      const v0 = pred(); if (v0) return res(v0);
      const t = setTimeout(() => { mo.disconnect(); res(null); }, timeout);
      const mo = new MutationObserver(() => { const v = pred(); if (v) { clearTimeout(t); mo.disconnect(); res(v); } });
      mo.observe(document, { childList: true, subtree: true, attributes: true, characterData: true });
    });
    const invoke = (cmd, a) => window.__TAURI_INTERNALS__.invoke(cmd, a);
    (async () => { ${body} })().then(done, (e) => done({ error: String(e && e.stack || e) }));`;
  return s.cmd("POST", "/execute/async", { script, args }).then((v) => {
    if (v && v.error) throw new Error(`in page: ${v.error}`);
    return v;
  });
}

/** Pids of every descendant of `root` (the driver), with their names. */
function descendants(root) {
  const parent = new Map();
  const name = new Map();
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, "utf8");
      const close = st.lastIndexOf(")");
      name.set(Number(d), st.slice(st.indexOf("(") + 1, close));
      parent.set(Number(d), Number(st.slice(close + 2).split(" ")[1]));
    } catch {
      // gone
    }
  }
  const out = [];
  const walk = (p) => {
    for (const [c, pp] of parent) if (pp === p) { out.push({ pid: c, name: name.get(c) }); walk(c); }
  };
  walk(root);
  return out;
}

const CLK_TCK = 100; // getconf CLK_TCK on Linux x86-64
/** Wall-clock ms at which a process started (10 ms resolution). */
function startEpochMs(pid) {
  const st = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = st.slice(st.lastIndexOf(")") + 2).split(" ");
  const startTicks = Number(fields[19]); // field 22 of stat
  const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
  const bootEpoch = Date.now() - uptime * 1000;
  return bootEpoch + (startTicks * 1000) / CLK_TCK;
}

function memKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  let pss = NaN;
  try {
    pss = Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, "utf8"))?.[1] ?? NaN);
  } catch {
    // no smaps_rollup
  }
  return { rss, pss };
}

async function appPid(timeout = 20000) {
  const end = Date.now() + timeout;
  while (Date.now() < end) {
    const p = descendants(DRIVER_PID).find((d) => d.name === "gridpatrol-app");
    if (p) return p.pid;
    await sleep(20);
  }
  throw new Error("no gridpatrol-app process under the driver");
}

async function waitGone(pid, timeout = 15000) {
  const end = Date.now() + timeout;
  while (Date.now() < end && existsSync(`/proc/${pid}`)) await sleep(50);
}

const start = () =>
  Session.start(DRIVER, { alwaysMatch: { "tauri:options": { application: APP } } });

// ---------------------------------------------------------------- cold start

const COLD_PROBE = `
  const t = performance.timing;
  const out = { first_probe: Date.now(), nav_start: t.navigationStart, dcl: t.domContentLoadedEventEnd,
                already: !!document.querySelector('[data-testid="patrol-report"]') };
  await until(() => document.querySelector('[data-testid="patrol-report"]'), 30000);
  await painted();
  out.shown = Date.now();
  await until(() => document.querySelector('.leaflet-overlay-pane path'), 30000);
  await painted();
  out.drawn = Date.now();
  out.dcl = performance.timing.domContentLoadedEventEnd;
  out.fcp = (performance.getEntriesByType('paint').find((e) => e.name === 'first-contentful-paint') || {}).startTime;
  out.time_origin = performance.timeOrigin;
  done(out);`;

async function coldStart() {
  const runs = [];
  for (let i = 0; i < COLD_RUNS; i++) {
    const before = Date.now();
    const s = await start();
    try {
      await s.cmd("POST", "/timeouts", { script: 60000 });
      const sessionAt = Date.now();
      const pid = await appPid();
      const launched = startEpochMs(pid);
      const p = await page(s, COLD_PROBE);
      await sleep(3000); // settle: the patrol screen's loads and the first sync are done
      const procs = [{ pid, name: "gridpatrol-app" }, ...descendants(pid)];
      const mem = procs
        .filter((d) => /gridpatrol-app|WebKit/.test(d.name))
        .map((d) => ({ name: d.name, ...memKiB(d.pid) }));
      const run = {
        driver_request_to_launch_ms: launched - before,
        session_ready_ms: sessionAt - launched,
        dom_ready_ms: p.dcl - launched,
        first_probe_ms: p.first_probe - launched,
        shown_ms: p.shown - launched,
        drawn_ms: p.drawn - launched,
        already_on_first_probe: p.already,
        fcp_after_nav_ms: p.fcp,
        nav_start_ms: p.nav_start - launched,
        mem,
      };
      runs.push(run);
      console.log(`cold start ${i + 1}: launch→DOM ready ${r1(run.dom_ready_ms)} ms, →patrol shown ${r1(run.shown_ms)} ms, →map grid drawn ${r1(run.drawn_ms)} ms${p.already ? " (already there at first probe: upper bound)" : ""}`);
    } finally {
      const pid = descendants(DRIVER_PID).find((d) => d.name === "gridpatrol-app")?.pid;
      await s.quit();
      if (pid) await waitGone(pid);
    }
  }
  const byName = {};
  for (const r of runs) {
    for (const m of r.mem) {
      const k = m.name;
      (byName[k] ||= { rss: [], pss: [] });
      byName[k].rss.push(m.rss);
      byName[k].pss.push(m.pss);
    }
  }
  const totalRss = runs.map((r) => r.mem.reduce((a, m) => a + m.rss, 0));
  const totalPss = runs.map((r) => r.mem.reduce((a, m) => a + m.pss, 0));
  return {
    runs,
    dom_ready: stats(runs.map((r) => r.dom_ready_ms)),
    shown: stats(runs.map((r) => r.shown_ms)),
    drawn: stats(runs.map((r) => r.drawn_ms)),
    memory_kib: Object.fromEntries(Object.entries(byName).map(([k, v]) => [k, { rss: stats(v.rss), pss: stats(v.pss) }])),
    total_rss_kib: stats(totalRss),
    total_pss_kib: stats(totalPss),
  };
}

// ---------------------------------------------------------------- search

function queries() {
  const lines = readFileSync(env("QUERIES"), "utf8").split("\n").slice(1).filter(Boolean);
  const qs = [...new Set(lines.map((l) => l.split("\t")[0]).filter(Boolean))];
  return qs;
}

const SEARCH = `
  const qs = ARGS[0];
  const input = document.querySelector('[data-testid="report-search"]');
  const codes = () => Array.from(document.querySelectorAll('[data-testid="category-result"]')).map((e) => e.dataset.code).join(',');
  const noResults = () => !!Array.from(document.querySelectorAll('.picker p.muted')).length;
  const type = (v) => { input.value = v; input.dispatchEvent(new Event('input', { bubbles: true })); };
  const keys = [], ipc = [], unchanged = [], wrong = [];
  for (const q of qs) {
    type(''); await painted(); await painted();
    const chars = Array.from(q);
    for (let k = 1; k <= chars.length; k++) {
      const prefix = chars.slice(0, k).join('');
      // Baseline: the same command's raw IPC round trip.
      const a = performance.now();
      const expect = await invoke('search_categories', { query: prefix, limit: 20 });
      ipc.push(performance.now() - a);
      const want = expect.map((c) => c.code).join(',');
      if (codes() === want) { unchanged.push(prefix); type(prefix); await painted(); await painted(); continue; }
      const t0 = performance.now();
      type(prefix);
      const ok = await until(() => codes() === want && (want !== '' || noResults()), 3000);
      if (!ok) { wrong.push(prefix); continue; }
      await painted();
      keys.push(performance.now() - t0);
    }
  }
  type('');
  done({ keys, ipc, unchanged: unchanged.length, wrong, n_queries: qs.length });`;

// ---------------------------------------------------------------- scroll

const IDLE = `
  const ms = ARGS[0]; const iv = []; let last = null; const end = performance.now() + ms;
  await new Promise((res) => { const f = (t) => { if (last !== null) iv.push(t - last); last = t; if (t < end) requestAnimationFrame(f); else res(); }; requestAnimationFrame(f); });
  done(iv);`;

const SCROLL = `
  const step = ARGS[0], expect = ARGS[1], limitMs = ARGS[2];
  const list = document.querySelector('.vlist');
  const rows = () => list.querySelectorAll('[data-testid="case-row"]').length;
  const iv = [], domRows = [], script = []; let last = null; const t0 = performance.now();
  // The page's own work per scroll event: from the first listener (capture,
  // before the list's handler) to a microtask queued after the list's
  // handler, i.e. after Svelte's update flush (its DOM changes, no layout).
  let s0 = 0;
  const before = () => { s0 = performance.now(); };
  const after = () => queueMicrotask(() => script.push(performance.now() - s0));
  list.addEventListener('scroll', before, true);
  list.addEventListener('scroll', after);
  const atEnd = () => list.scrollHeight >= expect * 84 && list.scrollTop + list.clientHeight >= list.scrollHeight - 1;
  await new Promise((res) => {
    const f = (t) => {
      if (last !== null) iv.push(t - last);
      last = t;
      domRows.push(rows());
      if (atEnd() || t - t0 > limitMs) return res();
      list.scrollTop = list.scrollTop + step;
      requestAnimationFrame(f);
    };
    requestAnimationFrame(f);
  });
  await painted();
  list.removeEventListener('scroll', before, true);
  list.removeEventListener('scroll', after);
  const lastRow = Array.from(list.querySelectorAll('[data-testid="case-row"]')).pop();
  done({ iv, domRows, script, reached_end: atEnd(), elapsed_ms: performance.now() - t0, spacer_px: list.scrollHeight,
         scroll_top: list.scrollTop, last_row: lastRow && lastRow.dataset.caseId,
         total_text: (document.querySelector('.count') || {}).textContent });`;

function frameStats(iv) {
  const st = stats(iv);
  st.over_16_7_pct = (100 * iv.filter((x) => x > 16.7).length) / (iv.length || 1);
  st.over_25_pct = (100 * iv.filter((x) => x > 25).length) / (iv.length || 1);
  st.over_50 = iv.filter((x) => x > 50).length;
  return st;
}

// ---------------------------------------------------------------- save

const CAPTURE = `
  window.__bench = { changes: [] };
  document.addEventListener('change', (e) => {
    if (e.target && e.target.dataset && e.target.dataset.testid === 'photo-input' && e.target.files[0]) {
      window.__bench.file = e.target.files[0];
      const at = performance.now();
      const before = document.querySelectorAll('[data-testid="photo-thumb"]').length;
      const rec = { at };
      window.__bench.changes.push(rec);
      until(() => document.querySelectorAll('[data-testid="photo-thumb"]').length > before, 60000)
        .then(() => painted()).then(() => { rec.thumb_ms = performance.now() - at; });
    }
  }, true);
  done(true);`;

const RAW_ADD_PHOTO = `
  const f = window.__bench.file;
  const bytes = new Uint8Array(await f.arrayBuffer());
  const a = performance.now();
  const p = await invoke('add_photo', bytes);
  done({ ms: performance.now() - a, bytes: f.size, stored: p.bytes });`;

const SAVE = `
  const btn = document.querySelector('[data-testid="report-save"]');
  const t0 = performance.now();
  btn.click();
  const el = await until(() => document.querySelector('[data-testid="report-saved"]'), 10000);
  if (!el) throw new Error('report-saved did not appear');
  await painted();
  done({ ms: performance.now() - t0, text: el.textContent });`;

async function saveRuns(s) {
  const out = [];
  for (let i = 0; i < SAVE_RUNS; i++) {
    await s.tap('[data-testid="patrol-report"]');
    await page(s, CAPTURE);
    const search = await s.waitFor('[data-testid="report-search"]');
    await search.type("jgps");
    await s.tap('[data-testid="category-result"]');
    const input = await s.waitFor('[data-testid="photo-input"]', { timeout: 5000 });
    await input.type(PHOTO);
    await s.waitFor('[data-testid="photo-thumb"]', { timeout: 60000 });
    await sleep(300);
    const ui = await s.exec("return window.__bench.changes.map((c) => c.thumb_ms);");
    const raw = await page(s, RAW_ADD_PHOTO);
    await sleep(300);
    const save = await page(s, SAVE);
    out.push({ save_ms: save.ms, photo_ui_ms: ui[0], add_photo_ipc_ms: raw.ms, photo_bytes: raw.bytes, stored_bytes: raw.stored });
    console.log(`save ${i + 1}: tap→"${save.text.trim()}" painted ${r1(save.ms)} ms; photo pick→thumb ${r1(ui[0])} ms; raw add_photo IPC ${r1(raw.ms)} ms`);
    // Back to the patrol screen for the next one.
    await s.exec("document.querySelector('.screen-head button').click(); return true;");
    await s.waitFor('[data-testid="patrol-report"]');
  }
  return {
    runs: out,
    save: stats(out.map((r) => r.save_ms)),
    photo_ui: stats(out.map((r) => r.photo_ui_ms)),
    add_photo_ipc: stats(out.map((r) => r.add_photo_ipc_ms)),
  };
}

// ---------------------------------------------------------------- main

async function main() {
  const result = { when: new Date().toISOString(), app: APP };
  console.log(`bench: ${APP}`);
  if (SECTIONS.has("cold")) {
    console.log(`== cold start (${COLD_RUNS} launches)`);
    result.cold = await coldStart();
    console.log(`cold: launch→DOM ready ${fmt(result.cold.dom_ready)}; →patrol shown ${fmt(result.cold.shown)}; →drawn ${fmt(result.cold.drawn)}`);
    console.log(`memory after start (KiB): total RSS ${fmt(result.cold.total_rss_kib).replace(/ ms/g, "")}, total PSS ${fmt(result.cold.total_pss_kib).replace(/ ms/g, "")}`);
    writeFileSync(OUT, JSON.stringify(result, null, 1));
  }

  const s = await start();
  try {
    await s.cmd("POST", "/timeouts", { script: 600000 });
    await s.setRect(360, 740).catch(() => {});
    await s.waitFor('[data-testid="patrol-report"]', { timeout: 60000 });

    if (SECTIONS.has("search")) {
      console.log("== category search");
      await s.tap('[data-testid="patrol-report"]');
      await s.waitFor('[data-testid="report-search"]');
      const qs = queries();
      const sr = await page(s, SEARCH, [qs]);
      result.search = { keystroke: stats(sr.keys), ipc: stats(sr.ipc), unchanged: sr.unchanged, wrong: sr.wrong, n_queries: sr.n_queries };
      result.search.ratio_p50 = result.search.keystroke.p50 / result.search.ipc.p50;
      console.log(`search: keystroke→painted ${fmt(result.search.keystroke)}; raw IPC ${fmt(result.search.ipc)}; ${sr.unchanged} keystrokes left the list unchanged (not timed); ${sr.wrong.length} timed out`);
      await s.exec("document.querySelector('.screen-head button').click(); return true;");
      await s.waitFor('[data-testid="patrol-report"]');
      writeFileSync(OUT, JSON.stringify(result, null, 1));
    }

    if (SECTIONS.has("scroll")) {
      console.log("== my cases: scroll to the end");
      await s.tap('[data-testid="nav-cases"]');
      await s.waitFor('[data-testid="case-row"]', { timeout: 30000 });
      const total = await s.exec("return document.querySelector('.count').textContent;");
      const idle = await page(s, IDLE, [3000]);
      const sc = await page(s, SCROLL, [840, EXPECT_CASES, 240000]);
      const idle2 = await page(s, IDLE, [3000]);
      result.scroll = {
        total_text: total,
        idle: frameStats([...idle, ...idle2]),
        scroll: frameStats(sc.iv),
        dom_rows: stats(sc.domRows),
        script_per_scroll_event: stats(sc.script),
        reached_end: sc.reached_end,
        elapsed_ms: sc.elapsed_ms,
        spacer_px: sc.spacer_px,
        last_row: sc.last_row,
        step_px: 840,
      };
      const f = result.scroll;
      console.log(`scroll: ${total}; reached end ${sc.reached_end} in ${r1(sc.elapsed_ms)} ms; DOM rows max ${f.dom_rows.max}; frames ${fmt(f.scroll)}, ${r1(f.scroll.over_16_7_pct)} % > 16.7 ms, ${r1(f.scroll.over_25_pct)} % > 25 ms; page script per scroll event ${fmt(f.script_per_scroll_event)}; idle ${fmt(f.idle)}, ${r1(f.idle.over_16_7_pct)} % > 16.7 ms`);
      writeFileSync(OUT, JSON.stringify(result, null, 1));
      await s.tap('[data-testid="nav-patrol"]');
    }

    if (SECTIONS.has("save")) {
      console.log(`== save a report with one 12 MP photo (${SAVE_RUNS} times)`);
      await s.waitFor('[data-testid="patrol-report"]');
      result.save = await saveRuns(s);
      result.save.ratio_p50 = result.save.save.p50 / result.save.add_photo_ipc.p50;
      console.log(`save: tap→saved painted ${fmt(result.save.save)}; photo pick→thumb ${fmt(result.save.photo_ui)}; raw add_photo IPC ${fmt(result.save.add_photo_ipc)}`);
    }
  } finally {
    await s.quit();
  }
  writeFileSync(OUT, JSON.stringify(result, null, 1));
  console.log(`results: ${OUT}`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
