"""bench/run: coffer and OpenBao side by side. See bench/README.md for what is measured.

Stages: throughput and latency of every case (coffer memory vs OpenBao dev; coffer embedded vs
OpenBao raft), peak RSS after start and after many writes, time to first 200, storage round
trips per operation on each coffer backend. Each load run alternates between the two servers
(the order flips every repeat) and the report keeps the median of the repeats.
"""

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import api  # noqa: E402
import cases  # noqa: E402
import load  # noqa: E402
import report  # noqa: E402
import servers  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Scale:
    """How big a run is: the full run by default, a few seconds per stage with --smoke."""

    def __init__(self, smoke, args):
        self.smoke = smoke
        self.seconds = args.duration or (1 if smoke else 4)
        self.repeats = args.repeats or (1 if smoke else 3)
        self.connections = [16] if smoke else [1, 16, 64]
        self.list_entries = 100 if smoke else 1000
        self.fill_writes = 2000 if smoke else 100_000
        self.startups = 2 if smoke else 10
        # Seconds of discarded load per server before a case's measured runs.
        self.warmup = 0.2 if smoke else 1


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def throughput(pair, make_servers, case_names, scale, workdir, results, rss):
    """Both servers of ``pair`` up at once; every case, concurrency and repeat, alternating."""
    bao, coffer = make_servers(workdir)
    try:
        for s in (bao, coffer):
            s.spawn()
        for s in (bao, coffer):
            if pair == "durable":
                s.wait_http(want=(501, 503, 200))
                api.init_unseal(s)
            else:
                s.wait_http()
            api.ensure_kv2(s)
            rss[s.name] = s.rss_kib()
        run_id = 0
        for name in case_names:
            case = cases.BY_NAME[name]
            log(f"{pair}: {case.title}: setup")
            specs = {s.flavor: case.setup(s, scale) for s in (bao, coffer)}
            # Neither server is measured while it still works off its setup (or its start), and
            # each has served the case once (caches, connection pools) before it counts.
            for s in (bao, coffer):
                load.run(specs[s.flavor], s, f"{s.flavor}warm{run_id}", 16, scale.warmup)
            waited = servers.wait_idle((bao, coffer))
            log(f"{pair}: {case.title}: warmed up, idle after {waited:.1f} s")
            for c in scale.connections:
                for r in range(scale.repeats):
                    order = (bao, coffer) if r % 2 == 0 else (coffer, bao)
                    for s in order:
                        run_id += 1
                        res = load.run(specs[s.flavor], s, f"{s.flavor}{run_id}", c, scale.seconds)
                        results.append(dict(pair=pair, case=name, connections=c, flavor=s.flavor,
                                            repeat=r, **res.as_dict()))
                        log(f"{pair} {name} c={c} {s.flavor}: {res.rps:.0f} req/s p50 "
                            f"{res.p50_ms:.2f} ms p99 {res.p99_ms:.2f} ms non2xx {res.non2xx}")
    finally:
        for s in (bao, coffer):
            s.stop()


def memory_pair(coffer_bin):
    return lambda wd: (servers.bao_dev(wd), servers.coffer_dev(coffer_bin, wd))


def durable_pair(coffer_bin):
    return lambda wd: (servers.bao_raft(wd), servers.coffer_embedded(coffer_bin, wd))


def memory_after_writes(coffer_bin, scale, workdir):
    """Peak RSS (VmHWM) right after start and after ``fill_writes`` new-key writes (c=16)."""
    out = {}
    for s in (servers.bao_dev(workdir, "openbao-fill"), servers.coffer_dev(coffer_bin, workdir, "coffer-fill")):
        try:
            s.spawn()
            s.wait_http()
            api.ensure_kv2(s)
            time.sleep(0.5)
            start_rss, start_hwm = s.rss_kib()
            spec = cases.BY_NAME["kv_write_new"].setup(s, scale)
            res = load.run_count(spec, s, "fill", 16, scale.fill_writes)
            after_rss, after_hwm = s.rss_kib()
            out[s.flavor] = dict(start_rss=start_rss, start_hwm=start_hwm, after_rss=after_rss,
                                 after_hwm=after_hwm, writes=res.requests, non2xx=res.non2xx,
                                 seconds=res.seconds)
            log(f"memory {s.flavor}: start {start_hwm} KiB, after {res.requests} writes {after_hwm} KiB")
        finally:
            s.stop()
    return out


def startup(coffer_bin, scale, workdir):
    """Time from spawn to the first 200 of sys/health (dev mode), ``startups`` times each."""
    out = {"openbao": [], "coffer": []}
    for i in range(scale.startups):
        for s in (servers.bao_dev(workdir, f"openbao-start{i}"), servers.coffer_dev(coffer_bin, workdir, f"coffer-start{i}")):
            try:
                s.spawn()
                out[s.flavor].append(s.wait_http())
            finally:
                s.stop()
    log(f"start-up medians: " + ", ".join(f"{k} {statistics.median(v) * 1e3:.0f} ms" for k, v in out.items()))
    return out


def round_trips(coffer_bin, scale, workdir):
    """X-Coffer-Storage-Round-Trips of each case's request at steady state, per backend."""
    out = {}
    moto = servers.Moto(REPO, workdir)
    try:
        backends = [
            ("memory", lambda: servers.coffer_dev(coffer_bin, workdir, "coffer-rt-memory")),
            ("embedded", lambda: servers.coffer_embedded(coffer_bin, workdir, "coffer-rt-embedded")),
            ("dynamodb", lambda: servers.coffer_config(coffer_bin, workdir, "coffer-rt-dynamodb",
                                                       moto.storage_block("coffer-bench"), env=moto.env)),
        ]
        for backend, make in backends:
            s = make()
            try:
                s.spawn()
                if backend == "memory":
                    s.wait_http()
                else:
                    s.wait_http(want=(501, 503, 200))
                    api.init_unseal(s)
                api.ensure_kv2(s)
                out[backend] = {}
                for case in cases.ALL:
                    spec = case.setup(s, scale)
                    out[backend][case.name] = probe(spec, s)
                log(f"round trips {backend}: {out[backend]}")
            finally:
                s.stop()
    finally:
        moto.stop()
    return out


def probe(spec, server):
    """Sends a case's request three times (warming every cache) and reads the last header."""
    client = api.Client(server.port, server.token)
    rts = None
    for i in range(3):
        args = spec.args(server, f"rt{i}")
        path, body = spec.path, spec.body
        if spec.script == "counter":
            key = f"{args[4]}1"
            path, body = path.replace("{n}", key), body.replace("{n}", key)
        elif spec.script == "cas":
            body = body.replace("{cas}", args[4])
        r = client.call(spec.method, path, body=json.loads(body) if body else None, token=spec.token)
        rts = r.round_trips()
    return rts


def machine_info():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), cpu)
    except OSError:
        pass
    mem_kib = 0
    try:
        with open("/proc/meminfo") as f:
            mem_kib = int(next(l for l in f if l.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration):
        pass
    return dict(cpu=cpu, cores=os.cpu_count(), mem_gib=round(mem_kib / 1048576, 1),
                kernel=os.uname().release, load_before=os.getloadavg())


def git_commit():
    out = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return out.stdout.strip() or "unknown"


def main():
    p = argparse.ArgumentParser(description="coffer vs OpenBao benchmarks")
    p.add_argument("--smoke", action="store_true", help="every case ~1 s, c=16, one repeat")
    p.add_argument("--coffer-bin", default=os.environ.get("COFFER_BIN") or os.path.join(
        os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target")), "release", "coffer"))
    p.add_argument("--loadgen-bin", help="the coffer-loadgen binary (default: next to --coffer-bin)")
    p.add_argument("--out", help="report path (default: bench/RESULTS.md; a temp file with --smoke)")
    p.add_argument("--duration", type=int, help="seconds per load run")
    p.add_argument("--repeats", type=int, help="repeats per case and concurrency")
    p.add_argument("--cases", help="comma-separated case names (default: all)")
    p.add_argument("--throughput-only", action="store_true",
                   help="skip the memory, start-up and round-trip stages")
    p.add_argument("--note", default="", help="free text added to the report (e.g. machine load)")
    p.add_argument("--render", metavar="JSON", help="only re-render the report of a saved run")
    args = p.parse_args()

    if args.render:
        with open(args.render) as f:
            data = json.load(f)
        if args.note:
            data["info"]["note"] = args.note
        out_path = args.out or os.path.splitext(args.render)[0] + ".md"
        with open(out_path, "w") as f:
            f.write(report.render(data))
        return

    if not os.path.isfile(args.coffer_bin):
        sys.exit(f"coffer binary not found at {args.coffer_bin}: "
                 "cargo build --release --bin coffer (or pass --coffer-bin)")
    load.LOADGEN_BIN = args.loadgen_bin or os.path.join(os.path.dirname(args.coffer_bin), "coffer-loadgen")
    try:
        load.check_generator()
    except RuntimeError as e:
        sys.exit(str(e))
    scale = Scale(args.smoke, args)
    selected = args.cases.split(",") if args.cases else [c.name for c in cases.ALL]
    unknown = [c for c in selected if c not in cases.BY_NAME]
    if unknown:
        sys.exit(f"unknown cases {unknown}; known: {list(cases.BY_NAME)}")
    out_path = args.out or (os.path.join(tempfile.gettempdir(), "coffer-bench-smoke.md") if args.smoke
                            else os.path.join(REPO, "bench", "RESULTS.md"))

    workdir = tempfile.mkdtemp(prefix="coffer-bench-")
    began = time.time()
    info = dict(machine=machine_info(), date=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                coffer=servers.coffer_version(args.coffer_bin), coffer_bin=args.coffer_bin,
                commit=git_commit(), openbao=servers.bao_version(), generator_version=load.generator_version(),
                generator=load.generator(), pinned=servers.can_pin(), smoke=args.smoke,
                seconds=scale.seconds, repeats=scale.repeats, warmup=scale.warmup, connections=scale.connections,
                list_entries=scale.list_entries, note=args.note)
    results, rss = [], {}
    ok = False
    try:
        log(f"workdir {workdir}; generator {info['generator']}; pinned {info['pinned']}")
        throughput("memory", memory_pair(args.coffer_bin), selected, scale, workdir, results, rss)
        durable = [c for c in cases.DURABLE if c in selected]
        throughput("durable", durable_pair(args.coffer_bin), durable, scale, workdir, results, rss)
        fill, starts, rts = {}, {}, {}
        if not args.throughput_only:
            fill = memory_after_writes(args.coffer_bin, scale, workdir)
            starts = startup(args.coffer_bin, scale, workdir)
            rts = round_trips(args.coffer_bin, scale, workdir)
        info["load_after"] = os.getloadavg()
        info["elapsed_s"] = round(time.time() - began)
        data = dict(info=info, results=results, rss_after_start=rss, fill=fill, startup=starts,
                    round_trips=rts, fill_writes=scale.fill_writes)
        os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
        with open(out_path, "w") as f:
            f.write(report.render(data))
        with open(os.path.splitext(out_path)[0] + ".json", "w") as f:
            json.dump(data, f, indent=1)
        log(f"report written to {out_path} ({info['elapsed_s']} s)")
        ok = True
    finally:
        if ok or not os.environ.get("COFFER_BENCH_KEEP"):
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            log(f"kept {workdir} for inspection")


if __name__ == "__main__":
    main()
