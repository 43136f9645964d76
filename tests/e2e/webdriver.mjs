// A minimal W3C WebDriver client (Node 20 fetch): just what the specs use.
export class Session {
  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  static async start(base, capabilities) {
    const r = await call(base, "POST", "/session", { capabilities });
    return new Session(base, r.sessionId);
  }

  cmd(method, path, body) {
    return call(this.base, method, `/session/${this.id}${path}`, body);
  }

  async quit() {
    try {
      await this.cmd("DELETE", "");
    } catch {
      // already gone
    }
  }

  async find(css) {
    const r = await this.cmd("POST", "/element", { using: "css selector", value: css });
    return new Element(this, Object.values(r)[0]);
  }

  async findAll(css) {
    const r = await this.cmd("POST", "/elements", { using: "css selector", value: css });
    return r.map((e) => new Element(this, Object.values(e)[0]));
  }

  /** Waits until `css` matches an element (and `pred(el)` holds, if given). */
  async waitFor(css, { timeout = 20000, pred } = {}) {
    const end = Date.now() + timeout;
    let last;
    while (Date.now() < end) {
      try {
        const els = await this.findAll(css);
        for (const el of els) {
          if (!pred || (await pred(el))) return el;
        }
      } catch (e) {
        last = e;
      }
      await sleep(200);
    }
    throw new Error(`timed out waiting for ${css}${last ? `: ${last.message}` : ""}`);
  }

  async tap(css, opts) {
    const el = await this.waitFor(css, opts);
    await el.click();
    return el;
  }

  exec(script, args = []) {
    return this.cmd("POST", "/execute/sync", { script, args });
  }

  async screenshot() {
    return Buffer.from(await this.cmd("GET", "/screenshot"), "base64");
  }

  setRect(width, height) {
    return this.cmd("POST", "/window/rect", { width, height });
  }
}

export class Element {
  constructor(session, id) {
    this.s = session;
    this.id = id;
  }
  cmd(method, path, body) {
    return this.s.cmd(method, `/element/${this.id}${path}`, body);
  }
  click() {
    return this.cmd("POST", "/click", {});
  }
  type(text) {
    return this.cmd("POST", "/value", { text });
  }
  clear() {
    return this.cmd("POST", "/clear", {});
  }
  text() {
    return this.cmd("GET", "/text");
  }
  attr(name) {
    return this.cmd("GET", `/attribute/${name}`);
  }
  rect() {
    return this.cmd("GET", "/rect");
  }
}

async function call(base, method, path, body) {
  const res = await fetch(base + path, {
    method,
    headers: { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => ({}));
  if (!res.ok || (json.value && json.value.error)) {
    const v = json.value || {};
    throw new Error(`${method} ${path}: ${res.status} ${v.error || ""} ${v.message || ""}`);
  }
  return json.value;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
