-- Shared by every case script: prints wrk's totals as one JSON line that bench/harness parses.
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'COFFER_BENCH {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"non2xx":%d,"socket_errors":%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.status, e.connect + e.read + e.write + e.timeout))
end
