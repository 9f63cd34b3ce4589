"""Load generation, pinned to the load core: ``coffer-loadgen`` (bench/loadgen, ours) by default.

``coffer-loadgen`` keeps every latency, so its percentiles are exact and its mean satisfies
Little's law; wrk's latency statistics did not on this machine (its mean latency times its request
count exceeded the run's length), so wrk (with the Lua scripts of bench/lua) is only the choice
when asked for: ``COFFER_BENCH_GENERATOR=wrk``. ``COFFER_BENCH_GENERATOR=python`` forces a small
threaded Python generator (only good enough to keep the script exercised). All return the same
``Result``; the report says which generator ran.
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


# Set by main: the coffer-loadgen binary (next to the coffer binary being measured).
LOADGEN_BIN = None


def generator():
    """``COFFER_BENCH_GENERATOR`` (loadgen, wrk or python) when set, else coffer-loadgen."""
    chosen = os.environ.get("COFFER_BENCH_GENERATOR")
    if chosen:
        if chosen not in ("loadgen", "wrk", "python"):
            raise RuntimeError(f"COFFER_BENCH_GENERATOR={chosen}: expected loadgen, wrk or python")
        return chosen
    return "loadgen"


def generator_version():
    g = generator()
    if g == "python":
        return "Python fallback generator"
    if g == "wrk":
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
        return (out.stdout or out.stderr).splitlines()[0].strip()
    return f"coffer-loadgen (bench/loadgen, hyper HTTP/1.1 client, one thread), {LOADGEN_BIN}"


def check_generator():
    """Refuses to start a run whose generator is missing."""
    g = generator()
    if g == "wrk" and not shutil.which("wrk"):
        raise RuntimeError("COFFER_BENCH_GENERATOR=wrk but wrk is not installed")
    if g == "loadgen" and not (LOADGEN_BIN and os.access(LOADGEN_BIN, os.X_OK)):
        raise RuntimeError(f"coffer-loadgen not found at {LOADGEN_BIN}: "
                           "cargo build --release --bin coffer-loadgen (or pass --loadgen-bin)")


class Result:
    def __init__(self, requests, seconds, p50_ms, p99_ms, non2xx, errors, mean_ms=0.0):
        self.requests = requests
        # Mean latency; 0 where the generator gives none that can be trusted (wrk).
        self.mean_ms = mean_ms
        self.seconds = seconds
        self.rps = requests / seconds if seconds else 0.0
        self.p50_ms = p50_ms
        self.p99_ms = p99_ms
        self.non2xx = non2xx
        self.errors = errors

    def as_dict(self):
        return dict(requests=self.requests, seconds=self.seconds, rps=self.rps, p50_ms=self.p50_ms,
                    p99_ms=self.p99_ms, mean_ms=self.mean_ms, non2xx=self.non2xx, errors=self.errors)


def run(spec, server, run_id, connections, seconds):
    args = spec.args(server, run_id)
    g = generator()
    if g == "loadgen":
        return _run_loadgen(spec.script, args, server, connections, seconds)
    if g == "wrk":
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


def _parse(out, what):
    line = next((l for l in out.stdout.splitlines() if l.startswith("COFFER_BENCH ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"{what} failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
    d = json.loads(line[len("COFFER_BENCH "):])
    return Result(d["requests"], d["duration_us"] / 1e6, d["p50_us"] / 1e3, d["p99_us"] / 1e3,
                  d["non2xx"], d["socket_errors"], d.get("mean_us", 0) / 1e3)


def _run_loadgen(script, args, server, connections, seconds):
    """The Lua scripts' modes map one to one: fixed, counter ({n}), cas ({cas})."""
    method, path, token, body = args[0], args[1], args[2], args[3] if len(args) > 3 else ""
    argv = [LOADGEN_BIN, f"--addr=127.0.0.1:{server.port}", f"--connections={connections}",
            f"--duration={seconds}", f"--method={method}", f"--path={path}", f"--token={token}",
            f"--body={body}", f"--mode={script}", "--timeout=10"]
    if script == "counter":
        argv.append(f"--prefix={args[4]}")
    if script == "cas":
        argv.append(f"--cas-start={args[4]}")
    out = subprocess.run(servers.pinned(servers.LOAD_CPU, argv), capture_output=True, text=True)
    return _parse(out, "coffer-loadgen")


def _run_wrk(script, args, server, connections, seconds):
    env = dict(os.environ, COFFER_BENCH_LUA=LUA_DIR)
    argv = servers.pinned(servers.LOAD_CPU, [
        "wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", os.path.join(LUA_DIR, f"{script}.lua"), server.addr, "--", *args,
    ])
    out = subprocess.run(argv, capture_output=True, text=True, env=env)
    return _parse(out, "wrk")


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
