// The only place the UI talks to the backend (Tauri commands).
import { invoke, convertFileSrc } from "@tauri-apps/api/core";
import { listen, type UnlistenFn } from "@tauri-apps/api/event";
import * as geolocation from "@tauri-apps/plugin-geolocation";
import type { Me } from "./bindings/Me";
import type { SignIn } from "./bindings/SignIn";
import type { SignOut } from "./bindings/SignOut";
import type { MapView } from "./bindings/MapView";
import type { Located } from "./bindings/Located";
import type { Position } from "./bindings/Position";
import type { PatrolView } from "./bindings/PatrolView";
import type { ChecklistItem } from "./bindings/ChecklistItem";
import type { Category } from "./bindings/Category";
import type { Photo } from "./bindings/Photo";
import type { CaseDraft } from "./bindings/CaseDraft";
import type { CaseSummary } from "./bindings/CaseSummary";
import type { CaseFilter } from "./bindings/CaseFilter";
import type { CasePage } from "./bindings/CasePage";
import type { CaseDetail } from "./bindings/CaseDetail";
import type { CaseEdit } from "./bindings/CaseEdit";
import type { TaskView } from "./bindings/TaskView";
import type { TaskDetail } from "./bindings/TaskDetail";
import type { VerificationInput } from "./bindings/VerificationInput";
import type { Member } from "./bindings/Member";
import type { ReviewInput } from "./bindings/ReviewInput";
import type { SyncStatus } from "./bindings/SyncStatus";
import type { QualitySamples } from "./bindings/QualitySamples";
import type { SampleMark } from "./bindings/SampleMark";
import type { QualityKpi } from "./bindings/QualityKpi";

export const me = () => invoke<Me | null>("me");
export const signIn = (req: SignIn) => invoke<Me>("sign_in", { req });
export const signOut = (force: boolean) => invoke<SignOut>("sign_out", { force });
export const mapView = () => invoke<MapView>("map_view");
export const locate = () => invoke<Located>("locate");
export const locateAt = (lon: number, lat: number) => invoke<Located>("locate_at", { lon, lat });
export const patrol = () => invoke<PatrolView>("patrol");
export const startPatrol = () => invoke<PatrolView>("start_patrol");
export const endPatrol = () => invoke<PatrolView>("end_patrol");
export const trackPoint = () => invoke<PatrolView>("track_point");
export const checklist = () => invoke<ChecklistItem[]>("checklist");
export const checkItem = (code: string) => invoke<ChecklistItem[]>("check_item", { code });
export const searchCategories = (query: string, limit: number) =>
  invoke<Category[]>("search_categories", { query, limit });
export const browseCategories = (parent: string | null) =>
  invoke<Category[]>("browse_categories", { parent });
export const setFavourite = (code: string, on: boolean) => invoke<null>("set_favourite", { code, on });
/** Sends the file's bytes raw (the IPC body), not base64 or JSON. */
export const addPhoto = async (file: Blob) =>
  invoke<Photo>("add_photo", new Uint8Array(await file.arrayBuffer()));
export const saveCase = (draft: CaseDraft) => invoke<CaseSummary>("save_case", { draft });
export const duplicates = (category: string, lon: number, lat: number) =>
  invoke<CaseSummary[]>("duplicates", { category, lon, lat });
export const listCases = (filter: CaseFilter) => invoke<CasePage>("list_cases", { filter });
export const caseDetail = (id: string) => invoke<CaseDetail>("case_detail", { id });
export const resubmitCase = (id: string, edit: CaseEdit) => invoke<CaseDetail>("resubmit_case", { id, edit });
export const listTasks = () => invoke<TaskView[]>("list_tasks");
export const taskDetail = (id: string) => invoke<TaskDetail>("task_detail", { id });
export const submitVerification = (id: string, input: VerificationInput) =>
  invoke<TaskView>("submit_verification", { id, input });
export const team = () => invoke<Member[]>("team");
export const reviewCase = (id: string, input: ReviewInput) => invoke<CaseDetail>("review_case", { id, input });
/** `month` is `YYYY-MM`; null asks for last month. These need the network. */
export const qualitySamples = (month: string | null) => invoke<QualitySamples>("quality_samples", { month });
export const markSample = (mark: SampleMark) => invoke<QualitySamples>("mark_sample", { mark });
export const qualityKpi = (month: string | null) => invoke<QualityKpi>("quality_kpi", { month });
export const syncNow = () => invoke<SyncStatus>("sync_now");
export const syncStatus = () => invoke<SyncStatus>("sync_status");
export const onSyncStatus = (cb: (s: SyncStatus) => void): Promise<UnlistenFn> =>
  listen<SyncStatus>("sync-status", (e) => cb(e.payload));

export const photoUrl = (sha: string) => convertFileSrc(sha, "gpphoto");

type TauriInternals = { metadata?: { currentWindow?: unknown }; platform?: string };

/** True on Android/iOS, where the UI must forward position fixes itself. */
export function isMobile(): boolean {
  const internals = (globalThis as { __TAURI_INTERNALS__?: TauriInternals }).__TAURI_INTERNALS__;
  if (!internals) return false;
  const ua = globalThis.navigator?.userAgent ?? "";
  return /Android|iPhone|iPad/i.test(ua);
}

/** Mobile only: forward a platform fix to the backend. A no-op on desktop. */
export async function reportPosition(position: Position): Promise<void> {
  if (!isMobile()) return;
  await invoke<null>("report_position", { position });
}

const WATCH_OPTIONS = { enableHighAccuracy: true, timeout: 10000, maximumAge: 5000 };

/** A geolocation plugin fix as the backend's [`Position`]. */
export function positionFromFix(p: geolocation.Position): Position {
  return {
    lon: p.coords.longitude,
    lat: p.coords.latitude,
    accuracy_m: p.coords.accuracy,
    mock: false,
    manual: false,
    at_ms: p.timestamp,
  };
}

/**
 * Mobile: asks for the location permission (once, if the platform has not
 * decided yet) and forwards every fix of the geolocation plugin to the
 * backend. Desktop: nothing to do, the backend reads its own source (the
 * `GRIDPATROL_POSITION_FILE` fix, or none: the report screen offers a pin).
 * Returns a stop function. Without permission no fix arrives and the report
 * screen offers the pin on the map, as on a desktop without a fix.
 */
export function watchPositionForBackend(): () => void {
  if (!isMobile()) return () => {};
  let stopped = false;
  let watchId: number | null = null;
  void (async () => {
    try {
      let permission = await geolocation.checkPermissions();
      if (permission.location === "prompt" || permission.location === "prompt-with-rationale") {
        permission = await geolocation.requestPermissions(["location"]);
      }
      if (permission.location !== "granted" || stopped) return;
      const id = await geolocation.watchPosition(WATCH_OPTIONS, (fix) => {
        if (fix) void reportPosition(positionFromFix(fix)).catch(() => {});
      });
      if (stopped) await geolocation.clearWatch(id);
      else watchId = id;
    } catch {
      // no location service: the report screen offers the pin on the map
    }
  })();
  return () => {
    stopped = true;
    if (watchId !== null) void geolocation.clearWatch(watchId).catch(() => {});
  };
}
