import { describe, it, expect } from "vitest";
import zh from "../i18n/zh-CN.json";
import en from "../i18n/en.json";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

describe("message files", () => {
  it("have exactly the same keys", () => {
    expect(Object.keys(zh).sort()).toEqual(Object.keys(en).sort());
  });
  it("have no empty messages and the same {params}", () => {
    const params = (s: string) => (s.match(/\{\w+\}/g) ?? []).sort().join();
    for (const [k, v] of Object.entries(zh)) {
      expect(v, k).not.toBe("");
      expect(params((en as Record<string, string>)[k]), k).toBe(params(v));
    }
  });
  it("every t(\"…\") literal key used in the source exists", () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const f of readdirSync(d)) {
        const p = join(d, f);
        if (statSync(p).isDirectory()) walk(p);
        else if (/\.(svelte|ts)$/.test(f) && !p.includes("bindings") && !f.endsWith(".test.ts")) files.push(p);
      }
    };
    walk(join(__dirname, ".."));
    for (const f of files) {
      for (const m of readFileSync(f, "utf8").matchAll(/\bt\("([\w.]+)"/g)) {
        expect(m[1] in zh, `${f}: ${m[1]}`).toBe(true);
      }
    }
  });
});
