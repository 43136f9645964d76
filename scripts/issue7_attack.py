#!/usr/bin/env python3
"""Worst requests per attack class of issue 7 (logins, photos, connections)
against a real `gridpatrol serve` process, with the server's CPU time
(/proc/PID/stat) and memory (VmHWM peak, VmRSS now) per class.

    python3 scripts/issue7_attack.py --bin target/debug/gridpatrol --work /tmp/gp-attack [--only CLASS]

Each class runs against a fresh server over a copy of one `init --demo`
directory (accounts hashed with the demo cost), so the memory peak is the
class's own. Prints one JSON object per class. Clients bind 127.0.x.y
source addresses to play many devices.
"""

import argparse
import concurrent.futures as cf
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def proc_mem(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                out[k] = int(v.split()[0]) // 1024
    return out


def proc_conns(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


class Server:
    def __init__(self, binary, data, port, env=None):
        self.port = port
        e = dict(os.environ)
        e.update(env or {})
        self.p = subprocess.Popen(
            [binary, "serve", "--data", data, "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=e,
        )
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        self.cpu0 = proc_cpu(self.p.pid)

    def figures(self):
        return {
            "server_cpu_s": round(proc_cpu(self.p.pid) - self.cpu0, 2),
            **proc_mem(self.p.pid),
        }

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(15)
        except subprocess.TimeoutExpired:
            self.p.kill()


def request(port, method, path, body=None, headers=None, src=None, timeout=30):
    c = http.client.HTTPConnection(
        "127.0.0.1", port, timeout=timeout, source_address=(src, 0) if src else None
    )
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, dict(r.getheaders()), data
    finally:
        c.close()


def login(port, user, password, src=None):
    body = json.dumps({"user_id": user, "password": password})
    return request(port, "POST", "/v1/login", body, {"Content-Type": "application/json"}, src)


def src_addr(n):
    return f"127.0.{1 + n // 250}.{1 + n % 250}"


def token(port, user):
    s, _, b = login(port, user, f"patrol-{user}", src="127.0.0.200")
    assert s == 200, (s, b)
    return json.loads(b)["token"]


# ---- logins -----------------------------------------------------------------


def guessing(port, seconds=10, threads=8):
    """One account, wrong passwords as fast as 8 clients on one address can."""
    end = time.time() + seconds
    counts = {}

    def worker(_):
        local = {}
        while time.time() < end:
            s, _, _ = login(port, "I0001", "guess", src="127.0.0.9")
            local[s] = local.get(s, 0) + 1
        return local

    with cf.ThreadPoolExecutor(threads) as ex:
        for local in ex.map(worker, range(threads)):
            for k, v in local.items():
                counts[k] = counts.get(k, 0) + v
    checked = counts.get(401, 0)
    return {
        "seconds": seconds,
        "password_checks_per_s": round(checked / seconds, 1),
        "refused_429_per_s": round(counts.get(429, 0) / seconds, 1),
        "statuses": counts,
    }


def unknown_vs_wrong(port, n=100):
    """Median latency of an unknown id vs a wrong password, interleaved (one
    try per account and address, so no throttle is involved)."""
    wrong, unknown = [], []
    for i in range(n):
        for user, into, src in ((f"I{i + 1:04d}", wrong, i), (f"X9{i:04d}", unknown, 500 + i)):
            t0 = time.perf_counter()
            s, _, _ = login(port, user, "wrong", src=src_addr(src))
            into.append((time.perf_counter() - t0) * 1000)
            assert s == 401, s
    wrong.sort()
    unknown.sort()
    w, u = wrong[n // 2], unknown[n // 2]
    return {
        "wrong_password_ms": round(w, 1),
        "unknown_id_ms": round(u, 1),
        "ratio": round(u / w, 2),
    }


def storm(port, logins=1500, threads=64):
    """Shift start: 1,500 inspectors log in at once."""
    ids = [f"I{n:04d}" for n in range(1, logins + 1)]
    t0 = time.time()
    with cf.ThreadPoolExecutor(threads) as ex:
        statuses = list(
            ex.map(lambda iu: login(port, iu[1], f"patrol-{iu[1]}", src=src_addr(iu[0]))[0], enumerate(ids))
        )
    return {
        "logins": logins,
        "ok": statuses.count(200),
        "seconds": round(time.time() - t0, 1),
    }


# ---- photos -----------------------------------------------------------------


def put(port, tok, sha, offset, total, body):
    return request(
        port,
        "PUT",
        f"/v1/photos/{sha}",
        body,
        {
            "Authorization": f"Bearer {tok}",
            "Upload-Offset": str(offset),
            "Upload-Length": str(total),
        },
    )


def photo_access(port):
    """I0004 (another squad) tries to get at I0001's photo by id alone."""
    owner, thief = token(port, "I0001"), token(port, "I0004")
    data = os.urandom(200_000)
    sha = hashlib.sha256(data).hexdigest()
    assert put(port, owner, sha, 0, len(data), data)[0] == 201
    auth = {"Authorization": f"Bearer {thief}"}
    head_before = request(port, "HEAD", f"/v1/photos/{sha}", headers=auth)[0]
    empty_put = put(port, thief, sha, len(data), len(data), b"")[0]
    partial_put = put(port, thief, sha, 0, len(data), b"x")[0]
    get = request(port, "GET", f"/v1/photos/{sha}", headers=auth)
    return {
        "head_out_of_scope": head_before,
        "empty_put": empty_put,
        "partial_put": partial_put,
        "get_after": get[0],
        "bytes_leaked": len(get[2]) if get[0] == 200 else 0,
    }


def partial_flood(port, uploads=60, chunk=1 << 20):
    """One account starts many uploads declaring 40 MiB, 1 MiB sent each."""
    tok = token(port, "I0001")
    statuses = {}
    body = b"\0" * chunk
    for n in range(uploads):
        sha = hashlib.sha256(f"fake {n}".encode()).hexdigest()
        s = put(port, tok, sha, 0, 40 * 1024 * 1024, body)[0]
        statuses[s] = statuses.get(s, 0) + 1
    return {"uploads_tried": uploads, "statuses": statuses}


def other_owner_append(port):
    """I0002 appends to (and resets) I0001's unfinished upload."""
    a, b = token(port, "I0001"), token(port, "I0002")
    data = os.urandom(100_000)
    sha = hashlib.sha256(data).hexdigest()
    put(port, a, sha, 0, len(data), data[:50_000])
    append = put(port, b, sha, 50_000, len(data), b"\0" * 50_000)[0]
    reset = put(port, b, sha, 0, len(data), b"\0" * 10)[0]
    finish = put(port, a, sha, 50_000, len(data), data[50_000:])[0]
    return {"other_append": append, "other_reset": reset, "owner_finishes": finish}


# ---- connections --------------------------------------------------------------


def slow_heads(port, conns=1500, seconds=40):
    """`conns` clients dribbling a header line every 2 s; meanwhile a prompt
    client asks /healthz once a second."""
    socks = []
    for i in range(conns):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(src_addr(i), 0))
            s.setblocking(False)
            s.send(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            socks.append(s)
        except OSError:
            break
    end = time.time() + seconds
    served, cut, probes = 0, 0, []
    n = 0
    while time.time() < end:
        n += 1
        alive = []
        for s in socks:
            try:
                s.send(f"X-{n}: y\r\n".encode())
                alive.append(s)
            except OSError:
                cut += 1
                s.close()
        socks = alive
        t0 = time.perf_counter()
        try:
            st = request(port, "GET", "/healthz", timeout=2, src="127.0.0.250")[0]
            probes.append(round((time.perf_counter() - t0) * 1000, 1) if st == 200 else None)
        except OSError:
            probes.append(None)
        time.sleep(max(0.0, 2.0 - (time.perf_counter() - t0)))
    # Whoever is still open finishes the head now: is it served?
    for s in socks:
        try:
            s.send(b"\r\n")
        except OSError:
            pass
    time.sleep(1)
    for s in socks:
        try:
            s.setblocking(True)
            s.settimeout(0.5)
            if s.recv(16).startswith(b"HTTP/1.1 200"):
                served += 1
        except OSError:
            pass
        s.close()
    ok = [p for p in probes if p is not None]
    return {
        "connections": conns,
        "seconds": seconds,
        "cut_by_server": cut,
        "dribblers_served": served,
        "probe_ok": f"{len(ok)}/{len(probes)}",
        "probe_max_ms": max(ok) if ok else None,
    }


def idle_conns(port, pid, conns=1500, wait=70):
    """`conns` connections that never send a byte; how many does the server
    still hold after `wait` seconds?"""
    socks = []
    for i in range(conns):
        try:
            socks.append(socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(src_addr(i), 0)))
        except OSError:
            break
    time.sleep(2)
    fds_held = proc_conns(pid)
    time.sleep(wait)
    fds_after = proc_conns(pid)
    for s in socks:
        s.close()
    return {"connections": len(socks), "server_fds_at_2s": fds_held, f"server_fds_at_{wait + 2}s": fds_after}


CLASSES = {
    "login_guessing": lambda srv: guessing(srv.port),
    "login_unknown_vs_wrong": lambda srv: unknown_vs_wrong(srv.port),
    "login_storm": lambda srv: storm(srv.port),
    "photo_access": lambda srv: photo_access(srv.port),
    "photo_other_owner": lambda srv: other_owner_append(srv.port),
    "photo_partial_flood": lambda srv: partial_flood(srv.port),
    "conn_slow_heads": lambda srv: slow_heads(srv.port),
    "conn_idle": lambda srv: idle_conns(srv.port, srv.p.pid),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--work", required=True)
    ap.add_argument("--port", type=int, default=8797)
    ap.add_argument("--only", action="append")
    args = ap.parse_args()
    base = os.path.join(args.work, "demo")
    if not os.path.exists(os.path.join(base, "server.sqlite3")):
        os.makedirs(base, exist_ok=True)
        subprocess.run([args.bin, "init", "--demo", "--data", base], check=True, stdout=subprocess.DEVNULL)
    for name, run in CLASSES.items():
        if args.only and name not in args.only:
            continue
        data = os.path.join(args.work, name)
        shutil.rmtree(data, ignore_errors=True)
        shutil.copytree(base, data)
        srv = Server(args.bin, data, args.port)
        try:
            result = run(srv)
            if name == "login_storm":
                time.sleep(3)
            result.update(srv.figures())
        finally:
            srv.stop()
        if name == "photo_partial_flood":
            part = os.path.join(data, "photos", "partial")
            result["partial_bytes_on_disk"] = sum(
                os.path.getsize(os.path.join(part, f)) for f in os.listdir(part)
            )
        print(json.dumps({"class": name, **result}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
