import { describe, it, expect, vi, beforeEach } from "vitest";
import { render, fireEvent, screen, waitFor, cleanup } from "@testing-library/svelte";
import { flushSync } from "svelte";

const calls: { cmd: string; args: unknown }[] = [];
let handler: (cmd: string, args: unknown) => unknown = () => null;

vi.mock("@tauri-apps/api/core", () => ({
  invoke: vi.fn(async (cmd: string, args: unknown) => {
    calls.push({ cmd, args });
    return handler(cmd, args);
  }),
  convertFileSrc: (p: string, proto: string) => `${proto}://localhost/${p}`,
}));
vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(async () => () => {}) }));
vi.mock("leaflet", () => {
  const layer = () => ({ addTo: () => layer(), clearLayers: () => {}, bindTooltip: () => layer() });
  const map = () => ({ setView: () => {}, on: () => {}, remove: () => {}, fitBounds: () => {} });
  const L = { map, layerGroup: layer, polygon: layer, circle: layer, circleMarker: layer, polyline: layer, latLng: (a: number, b: number) => [a, b] };
  return { default: L, ...L };
});

import SignIn from "../screens/SignIn.svelte";
import Patrol from "../screens/Patrol.svelte";
import Report from "../screens/Report.svelte";
import Cases from "../screens/Cases.svelte";
import CaseScreen from "../screens/Case.svelte";
import Tasks from "../screens/Tasks.svelte";
import Task from "../screens/Task.svelte";
import Team from "../screens/Team.svelte";
import Review from "../screens/Review.svelte";
import Sync from "../screens/Sync.svelte";
import Quality from "../screens/Quality.svelte";
import TabBar from "../lib/components/TabBar.svelte";
import { lastMonth } from "../lib/format";
import VirtualList from "./VirtualListHarness.svelte";
import CasePhotos from "../lib/components/CasePhotos.svelte";
import { nav } from "../lib/nav.svelte";
import { setLang } from "../i18n/index.svelte";
import { errorText, ERROR_CODES } from "../lib/errors";
import zh from "../i18n/zh-CN.json";

const pos = { lon: 116.46, lat: 39.92, accuracy_m: 45, mock: false, manual: false, at_ms: 1764640000000 };
const located = { position: pos, technical_grid: "110105001001001", supervision_grid: "110105001001", street: "110105001", inside_mine: true, warnings: ["low_accuracy"] };
const summary = (i: number) => ({
  id: `C${i}`, category: "010101001", category_name: "垃圾满溢", title: `标题 ${i}`, state: "reported", review: null,
  resubmitted: false, sync: { state: i % 2 ? "local_only" : "synced", reason: null }, reporter: "I0001", photo_count: 1,
  lon: 116.46, lat: 39.92, created_at_ms: 1764640000000 - i * 1000, updated_at_ms: 1764640000000 - i * 1000,
});
const detail = (over: object = {}) => ({
  summary: summary(1), category_path: "市容环境 › 垃圾", address: "朝阳路 1 号", description: "垃圾桶满溢",
  accuracy_m: 12, position_flags: [], technical_grid: "110105001001001", supervision_grid: "110105001001",
  photos: ["aa"], photo_available: [true], review: null,
  timeline: [{ stage: 1, action: "report", state: "reported", by: "I0001", by_name: "王小明", by_role: "inspector", at_ms: 1764640000000, note: "", unit: null, due_at_ms: null, photos: [], photo_available: [] }],
  reporter_name: "王小明", can_resubmit: false, can_review: false, ...over,
});
const checklistItems = [
  { code: "010101001", name: "垃圾满溢", path: "市容环境 › 垃圾", favourite: false, recent: true, checked_today: false },
  { code: "020101001", name: "井盖破损", path: "部件 › 公用设施", favourite: true, recent: false, checked_today: false },
];

beforeEach(() => {
  cleanup();
  calls.length = 0;
  setLang("zh-CN");
  nav.me = { id: "L0001", name: "张班长", role: "squad_leader", squad: "S1", supervision_grid: "110105001001", server: "http://127.0.0.1:8787" };
  nav.overlay = null;
  handler = (cmd) => {
    switch (cmd) {
      case "map_view": return { grids: [], bbox: [116.4, 39.9, 116.5, 40], street: "朝外街道", checklist_version: "1", pins: [] };
      case "patrol": return { open_since_ms: null, points_today: 0, visited: 3, total: 12, track: [] };
      case "start_patrol": return { open_since_ms: 1764640000000, points_today: 1, visited: 3, total: 12, track: [] };
      case "checklist": case "check_item": return checklistItems;
      case "locate": return located;
      case "duplicates": return [summary(9)];
      case "add_photo": return { sha256: "p1", thumb_sha256: "t1", width: 800, height: 600, bytes: 1234 };
      case "save_case": return summary(1);
      case "list_cases": return { items: [summary(1), summary(2)], next: null, total: 2 };
      case "case_detail": return detail();
      case "list_tasks": return [{ id: "V1", case_id: "C1", category_name: "垃圾满溢", kind: "handling_check", due_at_ms: 1764640000000, lon: 116.46, lat: 39.92, distance_m: 120, outcome: null, far: false, sync: { state: "synced", reason: null } }];
      case "team": return [{ id: "I0001", name: "李监督" }];
      case "sync_status": return { phase: "offline", docs_done: 1, docs_total: 4, photo_bytes_sent: 0, photo_bytes_total: 2048, photos_to_receive: 2, photos_received: 1, photo_bytes_received: 4096, pending_docs: 3, pending_photos: 1, refused_docs: 0, last_success_ms: null, last_error: { code: "offline", message: "x" } };
      default: return null;
    }
  };
});

const settle = () => new Promise((r) => setTimeout(r, 0));

describe("screens with mocked IPC", () => {
  it("sign-in submits sign_in with the typed fields", async () => {
    nav.me = null;
    handler = (cmd) => (cmd === "sign_in" ? { id: "I0001", name: "李", role: "inspector", squad: null, supervision_grid: null, server: "http://s" } : null);
    render(SignIn);
    const server = screen.getByTestId("signin-server") as HTMLInputElement;
    expect(server.value).toBe("http://127.0.0.1:8787");
    await fireEvent.input(screen.getByTestId("signin-user"), { target: { value: "I0001" } });
    await fireEvent.input(screen.getByTestId("signin-password"), { target: { value: "secret" } });
    await fireEvent.click(screen.getByTestId("signin-submit"));
    await waitFor(() => expect(calls.find((c) => c.cmd === "sign_in")).toBeTruthy());
    expect(calls.find((c) => c.cmd === "sign_in")!.args).toEqual({ req: { server: "http://127.0.0.1:8787", user_id: "I0001", password: "secret" } });
    await waitFor(() => expect(nav.me?.id).toBe("I0001"));
  });

  it("sign-in shows the zh-CN words for an error code", async () => {
    nav.me = null;
    handler = () => Promise.reject({ code: "bad_credentials", message: "nope" });
    render(SignIn);
    await fireEvent.input(screen.getByTestId("signin-user"), { target: { value: "I0001" } });
    await fireEvent.input(screen.getByTestId("signin-password"), { target: { value: "x" } });
    await fireEvent.click(screen.getByTestId("signin-submit"));
    expect((await screen.findByTestId("signin-error")).textContent).toBe("工号或密码错误");
  });

  it("every error code has zh-CN words; unknown codes show code + message", () => {
    for (const code of ERROR_CODES) expect(errorText({ code, message: "m" })).toBe((zh as Record<string, string>)[`error.${code}`]);
    expect(errorText({ code: "weird", message: "detail" })).toContain("weird");
    expect(errorText({ code: "weird", message: "detail" })).toContain("detail");
  });

  it("patrol shows coverage, the checklist and starts a patrol", async () => {
    render(Patrol);
    await waitFor(() => expect(screen.getByTestId("patrol-coverage").textContent).toBe("巡查覆盖率 25%"));
    const items = screen.getAllByTestId("checklist-item");
    expect(items[0].dataset.code).toBe("020101001"); // favourite first
    await fireEvent.click(screen.getByTestId("patrol-start"));
    await waitFor(() => expect(screen.getByTestId("patrol-stop")).toBeTruthy());
    await fireEvent.click(screen.getAllByTestId("checklist-ok")[0]);
    expect(calls.some((c) => c.cmd === "check_item" && (c.args as { code: string }).code === "020101001")).toBe(true);
  });

  it("report save sends save_case with the chosen category, photo sha and position", async () => {
    render(Report, { category: null });
    await settle();
    const pick = await screen.findAllByTestId("category-result");
    await fireEvent.click(pick[0]);
    const file = new File([new Uint8Array([1, 2, 3])], "a.jpg", { type: "image/jpeg" });
    Object.defineProperty(file, "arrayBuffer", { value: async () => new Uint8Array([1, 2, 3]).buffer });
    const input = screen.getByTestId("photo-input") as HTMLInputElement;
    Object.defineProperty(input, "files", { value: [file], configurable: true });
    await fireEvent.change(input);
    await screen.findByTestId("photo-thumb");
    const add = calls.find((c) => c.cmd === "add_photo")!;
    expect(add.args).toBeInstanceOf(Uint8Array);
    expect(screen.getByTestId("location-warning").textContent).toBe("定位精度较差");
    await screen.findByTestId("duplicate-hint");
    await fireEvent.input(screen.getByTestId("report-description"), { target: { value: "满了" } });
    await fireEvent.click(screen.getByTestId("report-save"));
    await screen.findByTestId("report-saved");
    expect(screen.getByTestId("report-saved").textContent).toBe("已保存，待同步");
    // The saved case is shown as queued, and is one tap from its detail.
    const savedCase = screen.getByTestId("report-saved-case");
    expect(savedCase.dataset.caseId).toBe("C1");
    expect(savedCase.querySelector("[data-testid=sync-badge]")!.getAttribute("data-sync")).toBe("local_only");
    await fireEvent.click(savedCase);
    expect(nav.overlay).toEqual({ kind: "case", id: "C1" });
    const save = calls.find((c) => c.cmd === "save_case")!.args as { draft: { category: string; photos: string[]; position: unknown; description: string } };
    expect(save.draft.category).toBe("010101001");
    expect(save.draft.photos).toEqual(["p1"]);
    expect(save.draft.position).toEqual(pos);
    expect(save.draft.description).toBe("满了");
  });

  it("search ignores stale responses", async () => {
    const pending: ((v: unknown) => void)[] = [];
    const base = handler;
    handler = (cmd, args) => (cmd === "search_categories" ? new Promise((r) => pending.push(r)) : base(cmd, args));
    render(Report, { category: null });
    const box = screen.getByTestId("report-search");
    await fireEvent.input(box, { target: { value: "l" } });
    await fireEvent.input(box, { target: { value: "lj" } });
    pending[1]([{ code: "010101001", name: "垃圾满溢", path: "p", level: "fine", favourite: false }]);
    await settle();
    pending[0]([{ code: "999", name: "旧", path: "p", level: "fine", favourite: false }]);
    await settle();
    flushSync();
    const codes = screen.getAllByTestId("category-result").map((e) => e.dataset.code);
    expect(codes).toEqual(["010101001"]);
  });

  it("my cases lists rows with sync badges", async () => {
    render(Cases);
    await waitFor(() => expect(screen.getAllByTestId("case-row")).toHaveLength(2));
    const badges = screen.getAllByTestId("sync-badge");
    expect(badges[0].dataset.sync).toBe("local_only");
    expect(badges[0].textContent).toBe("待同步");
    expect((calls.find((c) => c.cmd === "list_cases")!.args as { filter: { mine: boolean } }).filter.mine).toBe(true);
  });

  it("the virtual list keeps ≤ 40 rows in the DOM for 10,000 items", async () => {
    const items = Array.from({ length: 10000 }, (_, i) => summary(i));
    const { container } = render(VirtualList, { items });
    await settle();
    const rows = container.querySelectorAll("[data-testid=case-row]");
    expect(rows.length).toBeGreaterThan(5);
    expect(rows.length).toBeLessThanOrEqual(40);
  });

  it("case detail shows the six-step timeline and resubmits", async () => {
    handler = (cmd) =>
      cmd === "case_detail" || cmd === "resubmit_case"
        ? detail({ can_resubmit: true, review: { reviewer: "L0001", reviewer_name: "张班长", verdict: "needs_fix", reason: "photo_unclear", duplicate_of: null, note: "重拍", at_ms: 1764640000000 } })
        : null;
    render(CaseScreen, { id: "C1" });
    await screen.findByTestId("case-detail");
    expect(screen.getAllByTestId("timeline-step")).toHaveLength(6);
    expect(screen.getByTestId("review-reason").textContent).toContain("照片不清");
    expect(screen.getByTestId("case-detail").textContent).toContain("审核人 张班长");
    expect(screen.getByTestId("case-reporter").textContent).toBe("王小明（I0001）");
    await fireEvent.input(screen.getByTestId("resubmit-description"), { target: { value: "已重拍" } });
    await fireEvent.click(screen.getByTestId("resubmit-submit"));
    await waitFor(() => expect(calls.find((c) => c.cmd === "resubmit_case")).toBeTruthy());
    expect((calls.find((c) => c.cmd === "resubmit_case")!.args as { edit: { description: string } }).edit.description).toBe("已重拍");
  });

  it("case detail lists a failed check, the second dispatch with unit and deadline, and the close as step 6", async () => {
    const at = 1764640000000;
    // Names as the device resolves them: the inspector is in my squad, the
    // operator signs as the centre; I0099 is someone this device does not know.
    const names: Record<string, [string | null, string | null]> = { I0001: ["王小明", "inspector"], C0001: ["李值班", "centre_operator"], I0099: [null, null] };
    const step = (stage: number, action: string, state: string, by: string, extra: object = {}) =>
      ({ stage, action, state, by, by_name: names[by][0], by_role: names[by][1], at_ms: at + stage * 60000, note: "", unit: null, due_at_ms: null, photos: [], photo_available: [], ...extra });
    handler = (cmd) =>
      cmd === "case_detail"
        ? detail({
            timeline: [
              step(1, "report", "reported", "I0001"),
              step(2, "file", "filed", "C0001"),
              step(3, "dispatch", "dispatched", "C0001", { unit: "区城管委", due_at_ms: at + 86400000 }),
              step(4, "report_handled", "handled", "C0001"),
              step(5, "request_verification", "verifying", "C0001"),
              step(5, "verify_fail", "reopened", "I0001", { note: "井盖仍缺失" }),
              step(3, "dispatch", "dispatched", "C0001", { unit: "区城管委", due_at_ms: at + 2 * 86400000 }),
              step(4, "report_handled", "handled", "C0001"),
              step(5, "request_verification", "verifying", "C0001"),
              step(6, "verify_pass", "closed", "I0099"),
            ],
          })
        : null;
    render(CaseScreen, { id: "C1" });
    await screen.findByTestId("case-detail");
    const stages = screen.getAllByTestId("timeline-step");
    expect(stages.map((s) => s.dataset.done)).toEqual(["true", "true", "true", "true", "true", "true"]);
    expect(stages[2].querySelectorAll("[data-testid=timeline-entry]")).toHaveLength(2);
    expect(stages[2].textContent).toContain("派往：区城管委");
    expect(stages[2].textContent).toContain("处置时限：12-03 09:46");
    const fail = stages[4].querySelector("[data-action=verify_fail]")!;
    expect(fail.textContent).toContain("核查不通过，返工");
    expect(fail.textContent).toContain("井盖仍缺失");
    expect(stages[5].textContent).toContain("核查通过，结案");
    const by = (stage: number) => Array.from(stages[stage].querySelectorAll("[data-testid=timeline-by]")).map((e) => e.textContent);
    expect(by(0)).toEqual(["经办：王小明"]);
    expect(by(1)).toEqual(["经办：监督中心"]);
    expect(by(4)).toEqual(["经办：监督中心", "经办：王小明", "经办：监督中心"]);
    expect(by(5)).toEqual(["经办：I0099"]);
  });

  it("tasks list renders", async () => {
    render(Tasks);
    const row = await screen.findByTestId("task-row");
    expect(row.dataset.taskId).toBe("V1");
  });

  it("a far pass asks for confirmation and resends with confirm_far", async () => {
    let n = 0;
    let saved: object | null = null;
    const base = handler;
    const row = () => ({ ...(base("list_tasks", null) as object[])[0], ...saved });
    handler = (cmd, args) => {
      if (cmd === "task_detail")
        return { task: row(), case: detail(), note: saved ? "已修复" : "", after_photos: saved ? ["cc"] : [], after_photo_available: saved ? [true] : [] };
      if (cmd === "submit_verification") {
        n++;
        if (n === 1) return Promise.reject({ code: "far_from_point", message: "far" });
        saved = { outcome: "pass", far: true, sync: { state: "local_only", reason: null } };
        return row();
      }
      return base(cmd, args);
    };
    render(Task, { id: "V1" });
    await fireEvent.click(await screen.findByTestId("task-pass"));
    await waitFor(() => expect(calls.some((c) => c.cmd === "locate")).toBe(true));
    await settle();
    await fireEvent.click(screen.getByTestId("task-submit"));
    const confirm = await screen.findByTestId("task-confirm-far");
    expect(screen.getByRole("alertdialog").textContent).toMatch(/距案件位置 \d+ 米，确认核查通过？/);
    await fireEvent.click(confirm);
    const done = await screen.findByTestId("task-done");
    // The screen shows the result the device saved: outcome, far flag, note, after-photo.
    expect(done.dataset.outcome).toBe("pass");
    expect(done.textContent).toContain("超出 50 米完成");
    expect(done.textContent).toContain("待同步");
    expect(screen.getByTestId("task-result-note").textContent).toContain("已修复");
    expect(screen.getAllByTestId("case-photo")).toHaveLength(2);
    const sends = calls.filter((c) => c.cmd === "submit_verification").map((c) => (c.args as { input: { confirm_far: boolean } }).input.confirm_far);
    expect(sends).toEqual([false, true]);
  });

  it("team lists cases with the inspector filter", async () => {
    render(Team);
    await waitFor(() => expect(screen.getAllByTestId("team-row").length).toBe(2));
    expect(screen.getByText("李监督（I0001）")).toBeTruthy();
  });

  it("the leader's return sends reason + comment", async () => {
    handler = (cmd) => (cmd === "case_detail" || cmd === "review_case" ? detail({ can_review: true }) : null);
    render(Review, { id: "C1" });
    await fireEvent.click(await screen.findByTestId("review-return"));
    await fireEvent.change(screen.getByTestId("review-reason-select"), { target: { value: "duplicate" } });
    await fireEvent.input(await screen.findByTestId("review-duplicate-of"), { target: { value: "C0" } });
    await fireEvent.input(screen.getByTestId("review-comment"), { target: { value: "与 C0 重复" } });
    await fireEvent.click(screen.getByTestId("review-submit"));
    await waitFor(() => expect(calls.find((c) => c.cmd === "review_case")).toBeTruthy());
    expect(calls.find((c) => c.cmd === "review_case")!.args).toEqual({
      id: "C1", input: { approve: false, reason: "duplicate", duplicate_of: "C0", comment: "与 C0 重复" },
    });
  });

  it("a return without a reason is refused on screen, and a refused review keeps the form", async () => {
    let refuse = true;
    handler = (cmd) => {
      if (cmd === "case_detail") return detail({ can_review: true });
      if (cmd === "review_case") return refuse ? Promise.reject({ code: "offline", message: "down" }) : detail({ can_review: false });
      return null;
    };
    render(Review, { id: "C1" });
    await fireEvent.click(await screen.findByTestId("review-return"));
    await fireEvent.click(screen.getByTestId("review-submit"));
    expect(screen.getByRole("alert").textContent).toBe(zh["team.choose_reason"]);
    expect(calls.some((c) => c.cmd === "review_case")).toBe(false);
    await fireEvent.click(screen.getByTestId("review-approve"));
    await fireEvent.click(screen.getByTestId("review-submit"));
    // The error is in words, the button is usable again, nothing was lost.
    await waitFor(() => expect(screen.getByRole("alert").textContent).toBe(zh["error.offline"]));
    expect((screen.getByTestId("review-submit") as HTMLButtonElement).disabled).toBe(false);
    refuse = false;
    await fireEvent.click(screen.getByTestId("review-submit"));
    await screen.findByTestId("review-done");
    expect(screen.queryByRole("alert")).toBeNull();
  });

  it("a detail that cannot load says why instead of loading forever", async () => {
    handler = (cmd) => (cmd === "case_detail" ? Promise.reject({ code: "not_found", message: "case C9" }) : null);
    render(CaseScreen, { id: "C9" });
    const alert = await screen.findByRole("alert");
    expect(alert.textContent).not.toBe("");
    expect(screen.queryByText(zh["common.loading"])).toBeNull();
  });

  it("sync shows status words, and sign-out warns about unsynced work", async () => {
    const base = handler;
    handler = (cmd, args) => {
      if (cmd === "sign_out") {
        const force = (args as { force: boolean }).force;
        return { signed_out: force, unsynced_docs: 3, unsynced_photos: 1, revoked_on_server: false };
      }
      return base(cmd, args);
    };
    render(Sync);
    const status = await screen.findByTestId("sync-status");
    expect(status.dataset.phase).toBe("offline");
    expect(status.textContent).toBe("离线");
    expect(screen.getByTestId("sync-error").textContent).toBe("离线：无法连接服务器");
    expect(screen.getByTestId("sync-offline-hint").textContent).toBe(zh["syncscreen.offline_hint"]);
    expect(screen.getByTestId("sync-last").textContent!.trim()).toBe("上次同步：从未");
    const received = screen.getByTestId("sync-received") as HTMLProgressElement;
    expect([received.value, received.max]).toEqual([1, 2]);
    expect(screen.getByText(/^接收照片 1\/2（/)).toBeTruthy();
    await fireEvent.click(screen.getByTestId("sign-out"));
    await screen.findByText("4 条未同步，仍要退出？");
    await fireEvent.click(screen.getByTestId("sign-out-force"));
    await waitFor(() => expect(nav.me).toBeNull());
    expect(calls.filter((c) => c.cmd === "sign_out").map((c) => c.args)).toEqual([{ force: false }, { force: true }]);
  });

  it("sync shows progress only while syncing", async () => {
    const base = handler;
    render(Sync);
    await screen.findByTestId("sync-status");
    // The session's bars (the photos still to receive have their own, shown whenever some are due).
    expect(document.querySelectorAll("#sync-docs, #sync-photos")).toHaveLength(0);
    cleanup();
    handler = (cmd, args) => (cmd === "sync_status" ? { ...(base(cmd, args) as object), phase: "syncing", last_error: null } : base(cmd, args));
    render(Sync);
    await screen.findByTestId("sync-status");
    expect(screen.getByText("案件数据 1/4")).toBeTruthy();
    expect(document.querySelectorAll("#sync-docs, #sync-photos")).toHaveLength(2);
  });

  it("the language switch changes the words and persists", async () => {
    render(Sync);
    await fireEvent.click(screen.getByTestId("lang-switch"));
    expect(localStorage.getItem("gridpatrol.lang")).toBe("en");
    expect(screen.getByTestId("sync-now").textContent).toBe("Sync now");
  });
});

describe("report from the checklist", () => {
  it("starts with the category chosen and can star it", async () => {
    render(Report, { category: "010101001" });
    await fireEvent.click(await screen.findByText("设为常用"));
    await waitFor(() => expect(calls.find((c) => c.cmd === "set_favourite")).toBeTruthy());
    expect(calls.find((c) => c.cmd === "set_favourite")!.args).toEqual({ code: "010101001", on: true });
  });
});

describe("case photos (case, review and task screens)", () => {
  it("the timeline shows the unit's photos on the handled step, large on a tap", async () => {
    const at = 1764640000000;
    const step = (stage: number, action: string, state: string, extra: object = {}) =>
      ({ stage, action, state, by: "C0001", by_name: "李值班", by_role: "centre_operator", at_ms: at + stage * 60000, note: "", unit: null, due_at_ms: null, photos: [], photo_available: [], ...extra });
    handler = (cmd) =>
      cmd === "case_detail"
        ? detail({
            timeline: [
              step(1, "report", "reported"),
              step(2, "file", "filed"),
              step(3, "dispatch", "dispatched", { unit: "区城管委", due_at_ms: at + 86400000 }),
              step(4, "report_handled", "handled", { note: "已更换", photos: ["h1", "h2"], photo_available: [true, false] }),
            ],
          })
        : null;
    render(CaseScreen, { id: "C1" });
    await screen.findByTestId("case-detail");
    expect(calls.find((c) => c.cmd === "case_detail")!.args).toEqual({ id: "C1" });
    const stages = screen.getAllByTestId("timeline-step");
    // Only the handled step has photos; the report's own stay in their section.
    expect(screen.getAllByTestId("step-photos")).toHaveLength(1);
    const handled = stages[3].querySelector("[data-testid=step-photos]")!;
    expect(handled.textContent).toContain(zh["timeline.photos"]);
    const imgs = Array.from(handled.querySelectorAll("[data-testid=case-photo]")) as HTMLImageElement[];
    expect(imgs.map((i) => i.getAttribute("src"))).toEqual(["gpphoto://localhost/h1"]);
    expect(imgs[0].getAttribute("alt")).toBe("处置照片 1");
    expect(handled.querySelectorAll("[data-testid=case-photo-missing]")).toHaveLength(1);
    expect(screen.queryByTestId("photo-viewer")).toBeNull();
    await fireEvent.click(handled.querySelector("[data-testid=case-photo-open]")!);
    const large = (await screen.findByTestId("photo-large")) as HTMLImageElement;
    expect(large.getAttribute("src")).toBe("gpphoto://localhost/h1");
    await fireEvent.click(screen.getByTestId("photo-viewer"));
    expect(screen.queryByTestId("photo-viewer")).toBeNull();
  });

  it("shows stored photos from gpphoto: and a placeholder for one not on the device yet", () => {
    render(CasePhotos, { photos: ["aa", "bb", "cc"], available: [true, false, true] });
    const imgs = screen.getAllByTestId("case-photo") as HTMLImageElement[];
    expect(imgs.map((i) => i.getAttribute("src"))).toEqual(["gpphoto://localhost/aa", "gpphoto://localhost/cc"]);
    expect(imgs.map((i) => i.alt)).toEqual(["案件照片 1", "案件照片 3"]);
    expect(screen.getByTestId("case-photo-missing").textContent).toBe(zh["case.photo_missing"]);
  });

  it("the task screen shows the case's before-photos through it", async () => {
    const base = handler;
    handler = (cmd, args) =>
      cmd === "task_detail"
        ? { task: (base("list_tasks", null) as object[])[0], case: detail({ photos: ["aa", "bb"], photo_available: [false, true] }), note: "", after_photos: [], after_photo_available: [] }
        : base(cmd, args);
    render(Task, { id: "V1" });
    const list = await screen.findByTestId("case-photos");
    expect(list.querySelectorAll("[data-testid=case-photo]")).toHaveLength(1);
    expect(list.querySelectorAll("[data-testid=case-photo-missing]")).toHaveLength(1);
  });
});

describe("the leader's quality screen", () => {
  const item = (id: string, wrong: boolean | null, reason: string | null = null, on_device = true) => ({
    case_id: id, inspector: "I0001", category: "010101001", category_name: "垃圾满溢", description: `描述 ${id}`,
    reported_at_ms: 1764640000000, wrong, reason, marked_by: wrong == null ? null : "L0001", on_device,
  });
  const page = (items: ReturnType<typeof item>[]) => ({
    month: "2026-11", drawn_at_ms: 1764640000000, percent: 5, min: 3, total: items.length,
    marked: items.filter((i) => i.wrong != null).length,
    inspectors: [{ inspector: "I0001", name: "李监督", items }],
  });
  const kpiLine = (wrong: number) => ({
    id: "I0001", squad: "S1", reports: 4, filed: 3, refused: 1, valid_rate: 0.75, returned: 1, returned_rate: 0.25,
    sampled: 3, wrong, verifications: 2, on_time: 1, on_time_rate: 0.5, missed: 1, coverage: 0.42, patrol_days: 3,
    score: 1.5 - 2 * wrong, rank: 1,
  });
  const kpi = (wrong: number) => ({
    month: "2026-11", inspectors: [kpiLine(wrong)], names: [{ id: "I0001", name: "李监督" }],
    squad: { squad: "S1", members: 1, reports: 4, filed: 3, valid_rate: 0.75, returned_rate: 0.25, wrong, on_time_rate: 0.5, missed: 1, coverage: 0.42, score: 1.5, rank: 2 }, squads: 35,
  });
  let current: ReturnType<typeof item>[];
  beforeEach(() => {
    current = [item("C1", null), item("C2", null, null, false)];
    const base = handler;
    handler = (cmd, args) => {
      if (cmd === "quality_samples") return page(current);
      if (cmd === "quality_kpi") return kpi(current.filter((i) => i.wrong).length);
      if (cmd === "mark_sample") {
        const m = (args as { mark: { case_id: string; wrong: boolean; reason: string | null } }).mark;
        current = current.map((i) => (i.case_id === m.case_id ? { ...i, wrong: m.wrong, reason: m.reason } : i));
        return page(current);
      }
      return base(cmd, args);
    };
  });

  it("is in the leader's navigation only", async () => {
    render(TabBar);
    expect(screen.getByTestId("nav-quality").textContent).toBe("质量");
    cleanup();
    nav.me = { ...nav.me!, role: "inspector" };
    render(TabBar);
    expect(screen.queryByTestId("nav-quality")).toBeNull();
  });

  it("asks for last month by default and lists the sample by inspector with the squad's KPIs", async () => {
    render(Quality);
    const rows = await screen.findAllByTestId("quality-sample");
    const asked = calls.find((c) => c.cmd === "quality_samples")!.args as { month: string };
    expect(asked.month).toBe(lastMonth(Date.now()));
    expect((screen.getByTestId("quality-month") as HTMLInputElement).value).toBe(lastMonth(Date.now()));
    expect(rows.map((r) => r.dataset.mark)).toEqual(["none", "none"]);
    expect(screen.getByText("李监督（I0001）")).toBeTruthy();
    expect(screen.getByTestId("quality-sample-summary").textContent).toContain("抽查 2 件，已标记 0 件");
    // Only the case on the device opens.
    expect(screen.getAllByTestId("quality-open-case")).toHaveLength(1);
    const row = await screen.findByTestId("quality-kpi-row");
    expect(Array.from(row.children).map((c) => c.textContent)).toEqual(["1", "李监督", "4", "75%", "25%", "0", "50%", "1", "42%", "1.5"]);
    expect(screen.getByTestId("quality-squad-rank").textContent).toContain("全区排名 2 / 35");
  });

  it("marks one correct and one wrong with a chosen reason plus words, and the marks and KPIs show it", async () => {
    render(Quality);
    const [, second] = await screen.findAllByTestId("quality-sample");
    await fireEvent.click(screen.getAllByTestId("quality-correct")[0]);
    await waitFor(() => expect(screen.getAllByTestId("quality-sample")[0].dataset.mark).toBe("correct"));
    expect(calls.find((c) => c.cmd === "mark_sample")!.args).toEqual({ mark: { month: "2026-11", case_id: "C1", wrong: false, reason: null } });
    expect(screen.getAllByTestId("quality-mark-state")[0].textContent!.trim()).toBe("已标记：正确");

    // 错报 without a reason is refused on the screen, with nothing sent.
    await fireEvent.click(second.querySelector("[data-testid=quality-wrong]")!);
    await fireEvent.click(screen.getByTestId("quality-confirm-wrong"));
    expect(screen.getByTestId("quality-mark-error").textContent).toBe("请选择或填写错报原因");
    expect(calls.filter((c) => c.cmd === "mark_sample")).toHaveLength(1);
    const reasons = screen.getAllByTestId("quality-reason");
    expect(reasons.map((r) => r.textContent)).toEqual(["类别错误", "不属于问题", "照片不清", "位置错误", "重复上报"]);
    await fireEvent.click(reasons[2]);
    await fireEvent.input(screen.getByTestId("quality-reason-text"), { target: { value: "  看不清井盖 " } });
    await fireEvent.click(screen.getByTestId("quality-confirm-wrong"));
    await waitFor(() => expect(screen.getAllByTestId("quality-sample")[1].dataset.mark).toBe("wrong"));
    expect(calls.filter((c) => c.cmd === "mark_sample")[1].args).toEqual({ mark: { month: "2026-11", case_id: "C2", wrong: true, reason: "照片不清：看不清井盖" } });
    expect(screen.getAllByTestId("quality-mark-state")[1].textContent!.trim()).toBe("已标记：错报（照片不清：看不清井盖）");
    await waitFor(() => expect(screen.getByTestId("quality-kpi-row").dataset.wrong).toBe("1"));
  });

  it("keeps the buttons usable while the KPI line reloads after a mark", async () => {
    render(Quality);
    await screen.findAllByTestId("quality-sample");
    await screen.findByTestId("quality-kpi-row");
    // From now on the KPI answer is slow (a loaded server): it never comes.
    const base = handler;
    handler = (cmd, args) => (cmd === "quality_kpi" ? new Promise(() => {}) : base(cmd, args));
    await fireEvent.click(screen.getAllByTestId("quality-correct")[0]);
    await waitFor(() => expect(screen.getAllByTestId("quality-sample")[0].dataset.mark).toBe("correct"));
    const wrong = screen.getAllByTestId("quality-wrong")[1] as HTMLButtonElement;
    expect(wrong.disabled).toBe(false);
    await fireEvent.click(wrong);
    expect(screen.getByTestId("quality-confirm-wrong")).toBeTruthy();
  });

  it("shows patrol coverage per inspector and for the squad, in both languages", async () => {
    const base = handler;
    handler = (cmd, args) => {
      if (cmd !== "quality_kpi") return base(cmd, args);
      const k = kpi(0);
      const none = { ...kpiLine(0), id: "I0002", coverage: null, patrol_days: 0, rank: 2 };
      return { ...k, inspectors: [...k.inspectors, none], names: [...k.names, { id: "I0002", name: "王监督" }] };
    };
    render(Quality);
    const rows = await screen.findAllByTestId("quality-kpi-row");
    expect(screen.getByTestId("quality-col-coverage").textContent).toBe("巡查覆盖率");
    expect(rows.map((r) => r.querySelector("[data-testid=quality-coverage]")!.textContent)).toEqual(["42%", "—"]);
    expect(rows[0].dataset.coverage).toBe("0.42");
    expect(rows[0].querySelector("[data-testid=quality-coverage]")!.getAttribute("title")).toBe("本月巡查 3 天");
    expect(screen.getByTestId("quality-squad-coverage").textContent).toBe("中队巡查覆盖率：42%");
    expect(calls.filter((c) => c.cmd === "quality_kpi").map((c) => c.args)).toEqual([{ month: lastMonth(Date.now()) }]);
    cleanup();
    setLang("en");
    render(Quality);
    await screen.findAllByTestId("quality-kpi-row");
    expect(screen.getByTestId("quality-col-coverage").textContent).toBe("Patrol coverage");
    expect(screen.getByTestId("quality-squad-coverage").textContent).toBe("Squad patrol coverage: 42%");
    setLang("zh-CN");
  });

  it("opens the sampled case's detail", async () => {
    render(Quality);
    await fireEvent.click(await screen.findByTestId("quality-open-case"));
    expect(nav.overlay).toEqual({ kind: "case", id: "C1" });
  });

  it("offline says so in words, in both languages; an undrawn month says it is not ready", async () => {
    handler = () => Promise.reject({ code: "offline", message: "connect refused" });
    render(Quality);
    const err = await screen.findByTestId("quality-sample-error");
    expect(err.textContent).toBe("离线：无法连接服务器");
    expect(err.dataset.code).toBe("offline");
    expect(screen.getByTestId("quality-offline").textContent).toBe(zh["quality.needs_network"]);
    expect(screen.queryByText(/connect refused/)).toBeNull();
    cleanup();
    setLang("en");
    render(Quality);
    expect((await screen.findByTestId("quality-sample-error")).textContent).toBe("Offline: cannot reach the server");
    cleanup();
    setLang("zh-CN");
    handler = (cmd) => (cmd === "quality_samples" ? Promise.reject({ code: "not_yet", message: "drawn at …" }) : kpi(0));
    render(Quality);
    expect((await screen.findByTestId("quality-sample-error")).textContent).toBe(zh["error.not_yet"]);
    expect(await screen.findByTestId("quality-kpi-row")).toBeTruthy();
    expect(screen.queryByTestId("quality-offline")).toBeNull();
  });

  it("asks again for the month picked", async () => {
    render(Quality);
    await screen.findAllByTestId("quality-sample");
    await fireEvent.input(screen.getByTestId("quality-month"), { target: { value: "2026-09" } });
    await waitFor(() => expect(calls.some((c) => c.cmd === "quality_kpi" && (c.args as { month: string }).month === "2026-09")).toBe(true));
    expect(calls.some((c) => c.cmd === "quality_samples" && (c.args as { month: string }).month === "2026-09")).toBe(true);
  });
});

describe("the leader's quality screen, months picked quickly", () => {
  it("shows the month picked last even when an earlier month's answer comes later", async () => {
    const late: Array<() => void> = [];
    const answer = (month: string) => ({
      month, drawn_at_ms: 1764640000000, percent: 5, min: 3, total: 0, marked: 0, inspectors: [],
    });
    handler = (cmd, args) => {
      const month = (args as { month: string | null }).month ?? "2026-11";
      if (cmd !== "quality_samples") return Promise.reject({ code: "offline", message: "" });
      // The first (default) month answers only after the second was picked.
      if (month !== "2026-09") return new Promise((r) => late.push(() => r(answer(month))));
      return answer(month);
    };
    render(Quality);
    await waitFor(() => expect(late).toHaveLength(1));
    await fireEvent.input(screen.getByTestId("quality-month"), { target: { value: "2026-09" } });
    await waitFor(() => expect(screen.getByTestId("quality-sample-summary").textContent).toContain("2026-09"));
    late.forEach((r) => r());
    await new Promise((r) => setTimeout(r, 20));
    expect(screen.getByTestId("quality-sample-summary").textContent).toContain("2026-09");
  });
});

describe("last month in Beijing time", () => {
  it("steps back over a year and follows Beijing's day, not the device's", () => {
    expect(lastMonth(Date.UTC(2027, 0, 15))).toBe("2026-12");
    // 2026-11-30 20:00 UTC is already 1 December in Beijing.
    expect(lastMonth(Date.UTC(2026, 10, 30, 20))).toBe("2026-11");
    expect(lastMonth(Date.UTC(2026, 10, 30, 10))).toBe("2026-10");
  });
});
