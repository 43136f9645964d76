import type { Me } from "./bindings/Me";

export type Tab = "patrol" | "cases" | "tasks" | "team" | "quality" | "sync";
/** What is open on top of a tab (a report, a case, a task). */
export type Overlay =
  | { kind: "report"; category: string | null }
  | { kind: "case"; id: string }
  | { kind: "task"; id: string }
  | { kind: "review"; id: string }
  | null;

export const nav = $state<{ me: Me | null; tab: Tab; overlay: Overlay; casesVersion: number }>({
  me: null,
  tab: "patrol",
  overlay: null,
  casesVersion: 0,
});

export function go(tab: Tab): void {
  nav.tab = tab;
  nav.overlay = null;
}

export function open(overlay: Overlay): void {
  nav.overlay = overlay;
}

export function close(): void {
  nav.overlay = null;
}

export function isLeader(me: Me | null): boolean {
  return me?.role === "squad_leader";
}
