//! `coffer-loadgen`: the load generator of `bench/run`.
//!
//! Why our own rather than wrk: on this machine wrk's latency statistics do not add up (at one
//! connection its mean latency times its request count came out several times longer than the
//! run itself), so its p99 could not carry a target. This one is as simple as a closed loop can
//! be: each of `--connections` keep-alive HTTP/1.1 connections sends its next request as soon as
//! the previous response is fully read, and every latency is kept, so the percentiles are exact
//! and the printed `mean_us` lets the harness check Little's law (mean latency x throughput must
//! come out at the number of connections).
//!
//! It runs on one thread (a current-thread runtime), like `wrk -t1`, so the harness can pin it to
//! the load core. It prints one line, `COFFER_BENCH {json}`, in the shape the Lua scripts of
//! `bench/lua` print for wrk.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// The same request every time.
    Fixed,
    /// `{n}` in the path and body becomes `<prefix><counter>`: a new key per request.
    Counter,
    /// `{cas}` in the body becomes the highest `"version":N` any 200 response has shown so far.
    Cas,
}

#[derive(Parser, Debug)]
#[command(
    name = "coffer-loadgen",
    about = "Closed-loop HTTP/1.1 load for bench/run"
)]
struct Args {
    /// Server address, `host:port`.
    #[arg(long)]
    addr: String,
    #[arg(long, default_value_t = 1)]
    connections: usize,
    /// Seconds of load.
    #[arg(long, default_value_t = 4.0)]
    duration: f64,
    #[arg(long, default_value = "GET")]
    method: String,
    #[arg(long)]
    path: String,
    /// Sent as `X-Vault-Token` (empty: no header).
    #[arg(long, default_value = "")]
    token: String,
    /// Request body (JSON); empty: none.
    #[arg(long, default_value = "")]
    body: String,
    #[arg(long, value_enum, default_value_t = Mode::Fixed)]
    mode: Mode,
    /// Counter mode: what `{n}` starts with, so runs never reuse a key.
    #[arg(long, default_value = "")]
    prefix: String,
    /// Cas mode: the version the first request checks against.
    #[arg(long, default_value_t = 0)]
    cas_start: u64,
    /// Seconds before a request counts as a timeout (and its connection is replaced).
    #[arg(long, default_value_t = 10.0)]
    timeout: f64,
}

/// What every connection shares: the request template and the counters of the two dynamic modes.
struct Plan {
    args: Args,
    method: http::Method,
    counter: AtomicU64,
    version: AtomicU64,
    deadline: Instant,
    timeout: Duration,
}

/// One connection's results.
#[derive(Default)]
struct Tally {
    latencies_us: Vec<u64>,
    non2xx: u64,
    socket_errors: u64,
}

impl Plan {
    fn request(&self) -> anyhow::Result<http::Request<Full<Bytes>>> {
        let a = &self.args;
        let (path, body) = match a.mode {
            Mode::Fixed => (a.path.clone(), a.body.clone()),
            Mode::Counter => {
                let n = self.counter.fetch_add(1, Ordering::Relaxed) + 1;
                let key = format!("{}{n}", a.prefix);
                (a.path.replace("{n}", &key), a.body.replace("{n}", &key))
            }
            Mode::Cas => {
                let v = self.version.load(Ordering::Relaxed);
                (a.path.clone(), a.body.replace("{cas}", &v.to_string()))
            }
        };
        let mut req = http::Request::builder()
            .method(self.method.clone())
            .uri(path)
            .header(http::header::HOST, &a.addr);
        if !a.token.is_empty() {
            req = req.header("X-Vault-Token", &a.token);
        }
        if !body.is_empty() {
            req = req.header(http::header::CONTENT_TYPE, "application/json");
        }
        Ok(req.body(Full::new(Bytes::from(body)))?)
    }

    /// Cas mode: remembers the version a successful write reports.
    fn observe(&self, body: &[u8]) {
        const FIELD: &[u8] = b"\"version\":";
        let Some(at) = body.windows(FIELD.len()).position(|w| w == FIELD) else {
            return;
        };
        let digits: Vec<u8> = body[at + FIELD.len()..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .copied()
            .collect();
        if let Some(v) = std::str::from_utf8(&digits)
            .ok()
            .and_then(|s| s.parse().ok())
        {
            self.version.fetch_max(v, Ordering::Relaxed);
        }
    }
}

/// One keep-alive connection, reconnecting after a failure, until the deadline.
async fn connection(plan: Arc<Plan>) -> Tally {
    let mut tally = Tally::default();
    while Instant::now() < plan.deadline {
        let mut sender = match connect(&plan.args.addr).await {
            Ok(s) => s,
            Err(_) => {
                tally.socket_errors += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        while Instant::now() < plan.deadline {
            let Ok(req) = plan.request() else {
                tally.socket_errors += 1;
                return tally;
            };
            let start = Instant::now();
            let outcome = tokio::time::timeout(plan.timeout, async {
                let resp = sender.send_request(req).await?;
                let status = resp.status();
                let body = resp.into_body().collect().await?.to_bytes();
                Ok::<_, hyper::Error>((status, body))
            })
            .await;
            match outcome {
                Ok(Ok((status, body))) => {
                    tally.latencies_us.push(start.elapsed().as_micros() as u64);
                    if !status.is_success() && !status.is_redirection() {
                        tally.non2xx += 1;
                    } else if plan.args.mode == Mode::Cas {
                        plan.observe(&body);
                    }
                }
                _ => {
                    tally.socket_errors += 1;
                    break;
                }
            }
        }
    }
    tally
}

async fn connect(addr: &str) -> anyhow::Result<http1::SendRequest<Full<Bytes>>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.connections == 0 {
        bail!("--connections must be at least 1");
    }
    if !(args.duration > 0.0 && args.timeout > 0.0) {
        bail!("--duration and --timeout must be positive");
    }
    let method = http::Method::from_bytes(args.method.as_bytes()).context("--method")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let began = Instant::now();
        let plan = Arc::new(Plan {
            method,
            counter: AtomicU64::new(0),
            version: AtomicU64::new(args.cas_start),
            deadline: began + Duration::from_secs_f64(args.duration),
            timeout: Duration::from_secs_f64(args.timeout),
            args,
        });
        let tasks: Vec<_> = (0..plan.args.connections)
            .map(|_| tokio::spawn(connection(plan.clone())))
            .collect();
        let mut all = Tally::default();
        for task in tasks {
            let t = task.await?;
            all.latencies_us.extend(t.latencies_us);
            all.non2xx += t.non2xx;
            all.socket_errors += t.socket_errors;
        }
        let took = began.elapsed();
        all.latencies_us.sort_unstable();
        let n = all.latencies_us.len();
        let mean = if n == 0 {
            0
        } else {
            all.latencies_us.iter().sum::<u64>() / n as u64
        };
        let report = serde_json::json!({
            "requests": n,
            "duration_us": took.as_micros() as u64,
            "p50_us": percentile(&all.latencies_us, 50.0),
            "p99_us": percentile(&all.latencies_us, 99.0),
            "mean_us": mean,
            "max_us": all.latencies_us.last().copied().unwrap_or(0),
            "non2xx": all.non2xx,
            "socket_errors": all.socket_errors,
        });
        println!("COFFER_BENCH {report}");
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&v, 100.0), 100);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 99.0), 0);
    }
}
