import { has, t } from "../i18n/index.svelte";

export const ERROR_CODES = [
  "not_signed_in", "bad_credentials", "too_many_attempts", "offline", "server",
  "session_expired", "invalid_input", "outside_area", "not_found", "far_from_point",
  "photo_refused", "too_large", "store", "not_allowed", "not_yet", "internal",
] as const;

export type ApiError = { code: string; message: string };

/** Normalises whatever a rejected command gave us into `{ code, message }`. */
export function asApiError(e: unknown): ApiError {
  if (e && typeof e === "object" && "code" in e) {
    const o = e as { code: unknown; message?: unknown };
    return { code: String(o.code), message: String(o.message ?? "") };
  }
  if (e instanceof Error) return { code: "internal", message: e.message };
  return { code: "internal", message: String(e) };
}

/** The user-facing words for an error, in the current language. */
export function errorText(e: unknown): string {
  const err = asApiError(e);
  const key = `error.${err.code}`;
  if (has(key)) return t(key);
  return t("error.unknown", { code: err.code, message: err.message });
}
