import zh from "./zh-CN.json";
import en from "./en.json";

export type Lang = "zh-CN" | "en";
const KEY = "gridpatrol.lang";
const messages: Record<Lang, Record<string, string>> = { "zh-CN": zh, en };

function initial(): Lang {
  try {
    const saved = globalThis.localStorage?.getItem(KEY);
    if (saved === "en" || saved === "zh-CN") return saved;
  } catch {
    /* storage unavailable: default */
  }
  return "zh-CN";
}

const state = $state({ lang: initial() });

export function lang(): Lang {
  return state.lang;
}

export function setLang(next: Lang): void {
  state.lang = next;
  try {
    globalThis.localStorage?.setItem(KEY, next);
  } catch {
    /* not persisted */
  }
  if (typeof document !== "undefined") document.documentElement.lang = next;
}

/** Whether a message key exists (in the current language's file). */
export function has(key: string): boolean {
  return key in messages[state.lang];
}

/** The message for `key` in the current language, `{name}` replaced from params. */
export function t(key: string, params: Record<string, string | number> = {}): string {
  const text = messages[state.lang][key] ?? messages["zh-CN"][key] ?? key;
  return text.replace(/\{(\w+)\}/g, (m, name: string) =>
    name in params ? String(params[name]) : m,
  );
}

/** Words for a backend code (`state.filed`…); an unknown code is shown as it is. */
export function tc(prefix: string, code: string, params: Record<string, string | number> = {}): string {
  const key = `${prefix}.${code}`;
  return has(key) ? t(key, params) : code;
}
