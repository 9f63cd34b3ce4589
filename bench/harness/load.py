"""Load generation: wrk with the Lua scripts of bench/lua, pinned to the load core.

If wrk is not installed, a small threaded Python generator sends the same requests (only good
enough to keep the script exercised: its numbers are not comparable with wrk's and the report
says which generator ran). Both return the same ``Result``.
"""

import http.client
import json
import os
import re
import shutil
import subprocess
import threading
import time

import servers

LUA_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lua")


def generator():
    """wrk when installed; ``COFFER_BENCH_GENERATOR=python`` forces the fallback (to test it)."""
    if os.environ.get("COFFER_BENCH_GENERATOR") == "python":
        return "python"
    return "wrk" if shutil.which("wrk") else "python"


def wrk_version():
    if generator() == "python":
        return "not installed (Python fallback generator)"
    out = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return (out.stdout or out.stderr).splitlines()[0].strip()


class Result:
    def __init__(self, requests, seconds, p50_ms, p99_ms, non2xx, errors):
        self.requests = requests
        self.seconds = seconds
        self.rps = requests / seconds if seconds else 0.0
        self.p50_ms = p50_ms
        self.p99_ms = p99_ms
        self.non2xx = non2xx
        self.errors = errors

    def as_dict(self):
        return dict(requests=self.requests, seconds=self.seconds, rps=self.rps, p50_ms=self.p50_ms,
                    p99_ms=self.p99_ms, non2xx=self.non2xx, errors=self.errors)


def run(spec, server, run_id, connections, seconds):
    args = spec.args(server, run_id)
    if generator() == "wrk":
        return _run_wrk(spec.script, args, server, connections, seconds)
    return _run_python(spec.script, args, server, connections, seconds)


def run_count(spec, server, run_id, connections, count, chunk_seconds=2):
    """Runs of ``chunk_seconds`` until ``count`` requests succeeded (wrk has no request limit:
    it always sleeps out its duration). Returns the total over the chunks."""
    total, failed, seconds, chunk = 0, 0, 0.0, 0
    while total - failed < count:
        chunk += 1
        r = run(spec, server, f"{run_id}c{chunk}-", connections, chunk_seconds)
        total, failed, seconds = total + r.requests, failed + r.non2xx + r.errors, seconds + r.seconds
        if r.requests == 0:
            raise RuntimeError(f"{server.name}: no request completed in {chunk_seconds} s")
    return Result(total, seconds, 0.0, 0.0, failed, 0)


def _run_wrk(script, args, server, connections, seconds):
    env = dict(os.environ, COFFER_BENCH_LUA=LUA_DIR)
    argv = servers.pinned(servers.LOAD_CPU, [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", os.path.join(LUA_DIR, f"{script}.lua"), server.addr, "--", *args,
    ])
    out = subprocess.run(argv, capture_output=True, text=True, env=env)
    line = next((l for l in out.stdout.splitlines() if l.startswith("COFFER_BENCH ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    d = json.loads(line[len("COFFER_BENCH "):])
    return Result(d["requests"], d["duration_us"] / 1e6, d["p50_us"] / 1e3, d["p99_us"] / 1e3,
                  d["non2xx"], d["socket_errors"])


def _run_python(script, args, server, connections, seconds):
    method, path, token, body = args[0], args[1], args[2], args[3] if len(args) > 3 else ""
    lock = threading.Lock()
    state = {"n": 0, "version": int(args[4]) if script == "cas" else 0}
    latencies, non2xx, errors = [], [0], [0]
    deadline = time.monotonic() + seconds

    def next_request():
        with lock:
            state["n"] += 1
            n, version = state["n"], state["version"]
        if script == "counter":
            key = f"{args[4]}{n}"
            return path.replace("{n}", key), body.replace("{n}", key)
        if script == "cas":
            return path, body.replace("{cas}", str(version))
        return path, body

    def worker():
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        headers = {"X-Vault-Token": token, "Content-Type": "application/json"}
        while time.monotonic() < deadline:
            p, b = next_request()
            start = time.perf_counter()
            try:
                conn.request(method, p, body=b or None, headers=headers)
                r = conn.getresponse()
                data = r.read()
            except (http.client.HTTPException, OSError):
                errors[0] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
                continue
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if not 200 <= r.status < 400:
                    non2xx[0] += 1
                if script == "cas" and r.status == 200:
                    m = re.search(rb'"version":(\d+)', data)
                    if m:
                        state["version"] = max(state["version"], int(m.group(1)))
        conn.close()

    began = time.monotonic()
    threads = [threading.Thread(target=worker) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.monotonic() - began
    latencies.sort()

    def pct(q):
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1e3 if latencies else 0.0

    return Result(len(latencies), took, pct(0.50), pct(0.99), non2xx[0], errors[0])
