import { t } from "../i18n/index.svelte";
import type { Role } from "./bindings/Role";

const BEIJING_OFFSET_MS = 8 * 3600 * 1000;
const pad = (n: number) => String(n).padStart(2, "0");

/** `MM-DD HH:mm` in Beijing time (UTC+8, no DST), whatever the device zone. */
export function beijingTime(ms: number): string {
  const d = new Date(ms + BEIJING_OFFSET_MS);
  return `${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`;
}

/** `YYYY-MM-DD` (Beijing) → Unix ms of that day's 00:00 Beijing. */
export function beijingDayStart(date: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date);
  if (!m) return null;
  return Date.UTC(+m[1], +m[2] - 1, +m[3]) - BEIJING_OFFSET_MS;
}

/** A person as the screens name them: a centre operator as the centre
 * (the centre acts, not the operator on shift), anyone else this device
 * knows by name (me, my squad), a stranger by account id. */
export function person(id: string, name: string | null, role: Role | null = null): string {
  if (role === "centre_operator") return t("role.centre_operator");
  return name ?? id;
}

/** Distance in 米 below 1 km, 公里 above. */
export function distance(m: number): string {
  if (m < 1000) return t("common.meters", { n: Math.round(m) });
  return t("common.km", { n: (m / 1000).toFixed(1) });
}

/** `YYYY-MM` of the month before the one `ms` falls in (Beijing time). */
export function lastMonth(ms: number): string {
  const d = new Date(ms + BEIJING_OFFSET_MS);
  const y = d.getUTCMonth() === 0 ? d.getUTCFullYear() - 1 : d.getUTCFullYear();
  const m = d.getUTCMonth() === 0 ? 12 : d.getUTCMonth();
  return `${y}-${pad(m)}`;
}

export function percent(part: number, whole: number): number {
  if (!whole) return 0;
  return Math.round((part / whole) * 100);
}

/** Metres between two WGS-84 points (haversine). */
export function metresBetween(lon1: number, lat1: number, lon2: number, lat2: number): number {
  const r = 6371008.8;
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * r * Math.asin(Math.sqrt(a));
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KB`;
  return `${(n / 1024 / 1024).toFixed(1)} MB`;
}
