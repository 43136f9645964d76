import { describe, it, expect } from "vitest";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = join(__dirname, "..");
function svelteFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return svelteFiles(p);
    return f.endsWith(".svelte") ? [p] : [];
  });
}

/** Removes `{ … }` expressions (nested braces, strings inside) from markup. */
function stripExpressions(s: string): string {
  let out = "";
  let depth = 0;
  let quote: string | null = null;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (depth > 0) {
      if (quote) {
        if (c === "\\") i++;
        else if (c === quote) quote = null;
      } else if (c === '"' || c === "'" || c === "`") quote = c;
      else if (c === "{") depth++;
      else if (c === "}") depth--;
      continue;
    }
    if (c === "{") {
      depth = 1;
      out += " ";
      continue;
    }
    out += c;
  }
  return out;
}

const WORD = /[A-Za-z]{2,}|[\u3400-\u9fff\uff00-\uffef]/;
const USER_ATTRS = ["placeholder", "aria-label", "title", "alt", "label", "value"];

export function findHardcoded(source: string): string[] {
  const markup = stripExpressions(
    source.replace(/<script[\s\S]*?<\/script>/g, "").replace(/<style[\s\S]*?<\/style>/g, "").replace(/<!--[\s\S]*?-->/g, ""),
  );
  const hits: string[] = [];
  // text nodes: whatever sits between tags
  for (const m of markup.matchAll(/>([^<]*)</g)) {
    const text = m[1].trim();
    if (text && WORD.test(text)) hits.push(`text: ${text}`);
  }
  // user-visible attributes with a literal value
  for (const attr of USER_ATTRS) {
    for (const m of markup.matchAll(new RegExp(`\\s${attr}=("([^"]*)"|'([^']*)')`, "g"))) {
      const v = m[2] ?? m[3] ?? "";
      if (attr === "value") continue; // option values are codes, not words
      if (WORD.test(v)) hits.push(`${attr}: ${v}`);
    }
  }
  return hits;
}

describe("no hard-coded user-visible strings", () => {
  const files = svelteFiles(root).filter((f) => !f.includes("/test/"));
  it("finds the .svelte files", () => {
    expect(files.length).toBeGreaterThan(10);
  });
  it("the scanner catches a literal", () => {
    expect(findHardcoded(`<p>登录</p><input placeholder="Server">`)).toHaveLength(2);
    expect(findHardcoded(`<p>{t("a")}</p><input placeholder={t("b")}>`)).toHaveLength(0);
    expect(findHardcoded(`<button aria-label="关闭">×</button>`)).toHaveLength(1);
  });
  for (const f of files) {
    it(f.slice(root.length + 1), () => {
      expect(findHardcoded(readFileSync(f, "utf8"))).toEqual([]);
    });
  }
});
