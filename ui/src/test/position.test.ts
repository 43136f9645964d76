// Where position fixes come from: on a phone the geolocation plugin (its
// IPC commands), forwarded to the backend; on the desktop nothing, the
// backend reads its own source. IPC is mocked at `@tauri-apps/api/core`,
// below the plugin's JS, so the plugin's own command names are checked.
import { describe, it, expect, vi, beforeEach, afterEach } from "vitest";

const calls: { cmd: string; args: unknown }[] = [];
let permission = "granted";
const channels: { id: number; onmessage: (m: unknown) => void }[] = [];

vi.mock("@tauri-apps/api/core", () => {
  const invoke = vi.fn(async (cmd: string, args: unknown) => {
    calls.push({ cmd, args });
    if (cmd === "plugin:geolocation|check_permissions") return { location: permission, coarseLocation: permission };
    if (cmd === "plugin:geolocation|request_permissions") {
      permission = "denied";
      return { location: permission, coarseLocation: permission };
    }
    return null;
  });
  class Channel {
    id: number;
    onmessage: (m: unknown) => void = () => {};
    constructor() {
      this.id = 40 + channels.length;
      channels.push(this);
    }
  }
  return {
    invoke,
    Channel,
    checkPermissions: (plugin: string) => invoke(`plugin:${plugin}|check_permissions`, undefined),
    convertFileSrc: (p: string) => p,
  };
});
vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(async () => () => {}) }));

import { readFileSync } from "node:fs";
import { join } from "node:path";
import { watchPositionForBackend } from "../lib/api";

const ANDROID = "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 Chrome/120 Mobile Safari/537.36";
const DESKTOP = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/605.1.15 (KHTML, like Gecko)";
const settle = () => new Promise((r) => setTimeout(r, 0));
const names = () => calls.map((c) => c.cmd);

function platform(ua: string) {
  Object.defineProperty(globalThis.navigator, "userAgent", { value: ua, configurable: true });
  (globalThis as { __TAURI_INTERNALS__?: object }).__TAURI_INTERNALS__ = {};
}

beforeEach(() => {
  calls.length = 0;
  channels.length = 0;
  permission = "granted";
});
afterEach(() => {
  delete (globalThis as { __TAURI_INTERNALS__?: object }).__TAURI_INTERNALS__;
});

describe("position source", () => {
  it("desktop: no plugin call, nothing forwarded", async () => {
    platform(DESKTOP);
    const stop = watchPositionForBackend();
    await settle();
    stop();
    expect(calls).toEqual([]);
  });

  it("phone: watches the plugin and forwards each fix as the backend's Position", async () => {
    platform(ANDROID);
    const stop = watchPositionForBackend();
    await settle();
    expect(names()).toEqual(["plugin:geolocation|check_permissions", "plugin:geolocation|watch_position"]);
    const watch = calls[1].args as { options: { enableHighAccuracy: boolean } };
    expect(watch.options.enableHighAccuracy).toBe(true);
    channels[0].onmessage({
      timestamp: 1764640000000,
      coords: { latitude: 39.92, longitude: 116.46, accuracy: 7.5, altitude: null, altitudeAccuracy: null, speed: null, heading: null },
    });
    await settle();
    expect(calls[2]).toEqual({
      cmd: "report_position",
      args: { position: { lon: 116.46, lat: 39.92, accuracy_m: 7.5, mock: false, manual: false, at_ms: 1764640000000 } },
    });
    channels[0].onmessage("location unavailable");
    await settle();
    expect(calls).toHaveLength(3);
    stop();
    await settle();
    expect(calls[3]).toEqual({ cmd: "plugin:geolocation|clear_watch", args: { channelId: channels[0].id } });
  });

  it("phone: asks once when undecided, and does not watch when refused", async () => {
    platform(ANDROID);
    permission = "prompt";
    watchPositionForBackend();
    await settle();
    await settle();
    expect(names()).toEqual(["plugin:geolocation|check_permissions", "plugin:geolocation|request_permissions"]);
    expect(calls[1].args).toEqual({ permissions: ["location"] });
  });

  it("the mobile-only capability grants exactly the plugin commands the UI calls", async () => {
    platform(ANDROID);
    const used = new Set<string>();
    for (const p of ["granted", "prompt"]) {
      calls.length = 0;
      permission = p;
      const stop = watchPositionForBackend();
      await settle();
      await settle();
      stop();
      await settle();
      for (const c of calls) if (c.cmd.startsWith("plugin:geolocation|")) used.add(c.cmd.split("|")[1]);
    }
    const cap = JSON.parse(readFileSync(join(__dirname, "..", "..", "..", "src-tauri", "capabilities", "mobile.json"), "utf8"));
    expect(cap.platforms).toEqual(["android", "iOS"]);
    expect([...cap.permissions].sort()).toEqual([...used].map((c) => `geolocation:allow-${c.replaceAll("_", "-")}`).sort());
  });
});
