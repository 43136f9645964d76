// The content security policy lives in one place, src-tauri/tauri.conf.json:
// Tauri sends it as a header with every page of the app's own protocol and
// adds hashes for the scripts it injects. A second copy in index.html would
// be a second policy the web view enforces as well, and the two drift apart.
import { describe, it, expect } from "vitest";
import { readFileSync } from "node:fs";
import { join } from "node:path";

const ui = join(__dirname, "..", "..");
const html = readFileSync(join(ui, "index.html"), "utf8");
const conf = JSON.parse(readFileSync(join(ui, "..", "src-tauri", "tauri.conf.json"), "utf8"));
const csp: Record<string, string> = conf.app.security.csp;
const sources = (d: string) => (csp[d] ?? "").split(/\s+/).filter(Boolean).sort();

describe("content security policy", () => {
  it("is only in tauri.conf.json, not also in index.html", () => {
    expect(html).not.toMatch(/http-equiv\s*=\s*["']?content-security-policy/i);
    expect(typeof csp).toBe("object");
  });

  it("runs only the app's own scripts, no eval, no plugins, no framing", () => {
    expect(sources("default-src")).toEqual(["'self'"]);
    expect(sources("script-src")).toEqual(["'self'"]);
    expect(sources("object-src")).toEqual(["'none'"]);
    expect(sources("base-uri")).toEqual(["'none'"]);
    expect(sources("frame-ancestors")).toEqual(["'none'"]);
    for (const [d, v] of Object.entries(csp)) expect(v, d).not.toMatch(/unsafe-eval|\*|https?:(?!\/\/(ipc|gpphoto)\.localhost)/);
  });

  it("talks only to IPC and shows only its own and stored photos", () => {
    expect(sources("connect-src")).toEqual(["http://ipc.localhost", "ipc:"]);
    expect(sources("img-src")).toEqual(["'self'", "blob:", "data:", "gpphoto:", "http://gpphoto.localhost"].sort());
  });
});
