"""RESULTS.md from a run's data: medians of the repeats, ratios coffer / OpenBao, targets."""

import statistics

import cases

# DESIGN.md's storage round-trip budget per request, at steady state.
BUDGET = {"kv_read": 1, "kv_write_new": 2, "kv_write_cas": 2, "token_lookup_self": 1,
          "acl_read": 1, "audit_read": 1}
# Issue 9's targets on throughput (ratio of req/s) and p99 (ratio of p99) at c=16.
TARGETS = {("memory", "kv_read"): (3.0, 1 / 3), ("memory", "token_lookup_self"): (3.0, 1 / 3),
           ("durable", "kv_write_new"): (2.0, None), ("durable", "kv_write_cas"): (2.0, None)}
PAIRS = {"memory": ("coffer memory", "OpenBao dev (inmem)"),
         "durable": ("coffer embedded (redb, fsync)", "OpenBao raft (single node)")}


def medians(results):
    """{(pair, case, connections, flavor): {rps, p50_ms, p99_ms, non2xx, requests}}."""
    groups = {}
    for r in results:
        groups.setdefault((r["pair"], r["case"], r["connections"], r["flavor"]), []).append(r)
    out = {}
    for key, rs in groups.items():
        out[key] = {f: statistics.median(r[f] for r in rs) for f in ("rps", "p50_ms", "p99_ms")}
        out[key]["non2xx_share"] = sum(r["non2xx"] for r in rs) / max(1, sum(r["requests"] for r in rs))
        out[key]["errors"] = sum(r["errors"] for r in rs)
    return out


def ratio(a, b):
    return a / b if b else float("nan")


def fmt_ratio(x):
    return "n/a" if x != x else f"{x:.2f}x"


def verdict(ok):
    return "met" if ok else "**missed**"


def case_title(name, info):
    title = cases.BY_NAME[name].title
    return title.replace("1000", str(info["list_entries"])) if name == "kv_list" else title


def throughput_table(m, pair, info, connections):
    coffer, bao = PAIRS[pair]
    lines = [f"| case | c | coffer req/s | OpenBao req/s | ratio | coffer p50 / p99 ms | "
             f"OpenBao p50 / p99 ms | p99 ratio | non-2xx coffer / OpenBao |",
             "|---|---|---|---|---|---|---|---|---|"]
    names = [c.name for c in cases.ALL]
    for name in names:
        for c in connections:
            co, bo = m.get((pair, name, c, "coffer")), m.get((pair, name, c, "openbao"))
            if not co or not bo:
                continue
            lines.append(
                f"| {case_title(name, info)} | {c} | {co['rps']:,.0f} | {bo['rps']:,.0f} | "
                f"{fmt_ratio(ratio(co['rps'], bo['rps']))} | {co['p50_ms']:.2f} / {co['p99_ms']:.2f} | "
                f"{bo['p50_ms']:.2f} / {bo['p99_ms']:.2f} | {fmt_ratio(ratio(co['p99_ms'], bo['p99_ms']))} | "
                f"{co['non2xx_share']:.0%} / {bo['non2xx_share']:.0%} |")
    return f"### {coffer} vs {bao}\n\n" + "\n".join(lines) + "\n"


def headline(m, info, data):
    """The README's table: c=16 ratios per case plus memory and start-up."""
    c = 16 if 16 in info["connections"] else info["connections"][0]
    lines = [f"| case (c={c}) | coffer req/s | OpenBao req/s | req/s ratio | p99 ratio (lower is better) |",
             "|---|---|---|---|---|"]
    for pair in ("memory", "durable"):
        for case in cases.ALL:
            co, bo = m.get((pair, case.name, c, "coffer")), m.get((pair, case.name, c, "openbao"))
            if not co or not bo:
                continue
            label = case_title(case.name, info) + (" (durable)" if pair == "durable" else "")
            lines.append(f"| {label} | {co['rps']:,.0f} | {bo['rps']:,.0f} | "
                         f"{fmt_ratio(ratio(co['rps'], bo['rps']))} | "
                         f"{fmt_ratio(ratio(co['p99_ms'], bo['p99_ms']))} |")
    fill = data["fill"]
    if "coffer" in fill and "openbao" in fill:
        lines.append(f"| peak RSS after start | {fill['coffer']['start_hwm'] / 1024:.1f} MiB | "
                     f"{fill['openbao']['start_hwm'] / 1024:.1f} MiB | "
                     f"{fmt_ratio(ratio(fill['coffer']['start_hwm'], fill['openbao']['start_hwm']))} | |")
    st = data["startup"]
    if st.get("coffer") and st.get("openbao"):
        co, bo = statistics.median(st["coffer"]), statistics.median(st["openbao"])
        lines.append(f"| time to first 200 | {co * 1e3:.0f} ms | {bo * 1e3:.0f} ms | {fmt_ratio(ratio(co, bo))} | |")
    return "\n".join(lines) + "\n"


def targets(m, info, data):
    c = 16 if 16 in info["connections"] else info["connections"][0]
    lines = ["| target | measured | verdict |", "|---|---|---|"]
    for (pair, name), (rps_t, p99_t) in TARGETS.items():
        co, bo = m.get((pair, name, c, "coffer")), m.get((pair, name, c, "openbao"))
        if not co or not bo:
            continue
        r = ratio(co["rps"], bo["rps"])
        lines.append(f"| {case_title(name, info)} ({pair}), c={c}: req/s >= {rps_t:g}x | "
                     f"{fmt_ratio(r)} | {verdict(r >= rps_t)} |")
        if p99_t:
            q = ratio(co["p99_ms"], bo["p99_ms"])
            lines.append(f"| {case_title(name, info)} ({pair}), c={c}: p99 <= 1/3 | "
                         f"{fmt_ratio(q)} | {verdict(q <= p99_t)} |")
    fill, st = data["fill"], data["startup"]
    if "coffer" in fill and "openbao" in fill:
        r = ratio(fill["coffer"]["start_hwm"], fill["openbao"]["start_hwm"])
        lines.append(f"| peak RSS after start <= 1/5 of OpenBao's | {fmt_ratio(r)} | {verdict(r <= 0.2)} |")
    if st.get("coffer") and st.get("openbao"):
        r = ratio(statistics.median(st["coffer"]), statistics.median(st["openbao"]))
        lines.append(f"| time to first 200 <= 1/10 of OpenBao's | {fmt_ratio(r)} | {verdict(r <= 0.1)} |")
    if not data["round_trips"]:
        return "\n".join(lines) + "\n"
    over = [f"{b}/{n}={v}" for b, per in data["round_trips"].items() for n, v in per.items()
            if n in BUDGET and (v is None or v > BUDGET[n])]
    lines.append(f"| storage round trips within DESIGN.md's budget | "
                 f"{'all within' if not over else ', '.join(over)} | {verdict(not over)} |")
    return "\n".join(lines) + "\n"


def round_trip_table(rts):
    backends = list(rts)
    lines = ["| request | budget | " + " | ".join(backends) + " |",
             "|---|---|" + "---|" * len(backends)]
    for case in cases.ALL:
        row = [str(rts[b].get(case.name, "")) for b in backends]
        lines.append(f"| {case.title} | {BUDGET.get(case.name, '-')} | " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def littles_law(data):
    """Whether the latencies measured are consistent with the throughput: in a closed loop,
    mean latency x req/s = connections (coffer-loadgen reports a mean; wrk does not)."""
    ratios = [r["mean_ms"] / 1e3 * r["rps"] / r["connections"] for r in data["results"]
              if r.get("mean_ms") and r.get("connections")]
    if not ratios:
        return ""
    return (f"- Consistency check (Little's law): mean latency x req/s / connections is "
            f"{min(ratios):.3f} to {max(ratios):.3f} over all {len(ratios)} load runs (1 = every "
            f"latency accounted for)")


def render(data):
    info = data["info"]
    m = medians(data["results"])
    mi = info["machine"]
    fill = data["fill"]
    st = data["startup"]
    out = [
        "# Coffer vs OpenBao: benchmark results\n",
        ("**Smoke run** (every case about 1 s, one repeat): checks that the suite works; its "
         "numbers mean nothing.\n" if info["smoke"] else ""),
        f"- Date: {info['date']}; took {info['elapsed_s']} s",
        f"- Machine: {mi['cpu']}, {mi['cores']} cores, {mi['mem_gib']} GiB, Linux {mi['kernel']}; "
        f"load average before {', '.join(f'{x:.2f}' for x in mi['load_before'])}, "
        f"after {', '.join(f'{x:.2f}' for x in info['load_after'])}",
        f"- coffer: `{info['coffer']}` (commit {info['commit']}, `{info['coffer_bin']}`)",
        f"- OpenBao: `{info['openbao']}`; load generator: {info['generator']} ({info.get('generator_version', info.get('wrk'))})",
        littles_law(data),
        f"- Method: both servers of a comparison run at once on 127.0.0.1, "
        f"{'server pinned to core 1, load generator to core 0 (taskset)' if info['pinned'] else 'not pinned'}; "
        f"{info['seconds']} s per run, {info['repeats']} repeat(s) per case and concurrency, "
        + (f"each case first warmed up ({info['warmup']} s of load per server, discarded) and both "
           f"servers idle (under 2% CPU for 1 s) before its runs, " if info.get("warmup") else "")
        + f"the two servers alternating (order flipped each repeat); medians shown. Keep-alive "
        f"connections, one load-generator thread. Ratios are coffer / OpenBao: above 1 is faster for req/s, "
        f"below 1 is better for latency.",
        (f"- Note: {info['note']}" if info["note"] else ""),
        "\n## Headline\n",
        headline(m, info, data),
        "\n## Targets (issue 9)\n",
        targets(m, info, data),
        "\n## Throughput and latency\n",
        throughput_table(m, "memory", info, info["connections"]),
        "\n" + throughput_table(m, "durable", info, info["connections"]),
        "\nThe cas case updates one key from every connection: at c > 1 most writes lose the "
        "check-and-set race (400 on both servers), which the non-2xx column shows.\n",
        "\n## Memory\n",
        "| server | peak RSS after start | RSS after writes | peak RSS after writes | writes |",
        "|---|---|---|---|---|",
    ]
    for flavor, f in fill.items():
        out.append(f"| {flavor} (dev, memory storage) | {f['start_hwm'] / 1024:.1f} MiB | "
                   f"{f['after_rss'] / 1024:.1f} MiB | {f['after_hwm'] / 1024:.1f} MiB | "
                   f"{f['writes']:,} new keys at c=16 ({f['non2xx']} failed) |")
    out.append("\nPeak RSS (VmHWM) right after start of every server of the throughput runs:\n")
    out.append("| server | RSS | peak RSS |\n|---|---|---|")
    for name, (now, peak) in data["rss_after_start"].items():
        out.append(f"| {name} | {now / 1024:.1f} MiB | {peak / 1024:.1f} MiB |")
    out.append("\n## Start-up\n")
    out.append("Time from spawning the process to the first 200 of `GET /v1/sys/health` "
               f"(dev mode; {len(st.get('coffer', []))} starts each):\n")
    out.append("| server | median | min | max |\n|---|---|---|---|")
    for flavor, times in st.items():
        if times:
            out.append(f"| {flavor} | {statistics.median(times) * 1e3:.1f} ms | "
                       f"{min(times) * 1e3:.1f} ms | {max(times) * 1e3:.1f} ms |")
    out.append("\n## Storage round trips per request (coffer)\n")
    out.append("From the `X-Coffer-Storage-Round-Trips` header of the third identical request "
               "(caches warm); dynamodb is coffer against moto's server (counts, not speed).\n")
    out.append(round_trip_table(data["round_trips"]))
    return "\n".join(x for x in out if x != "") + "\n"
