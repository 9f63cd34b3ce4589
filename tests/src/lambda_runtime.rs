//! The real `coffer-lambda` (or `coffer-admin-lambda`) binary under a local Lambda: a Runtime
//! API and a Function URL.
//!
//! [`LambdaFunction::start`] serves the Lambda Runtime API (`/2018-06-01/runtime/...`, what
//! `lambda_runtime` polls) on one free port and a Function URL emulation on another, then
//! spawns the binary with `AWS_LAMBDA_RUNTIME_API` pointing at the first. A plain HTTP request
//! to the Function URL (from hvac, the bao CLI, [`Http`]) becomes a Function URL event
//! (payload v2, as AWS builds it: lower-cased headers, the body base64-encoded unless it is
//! text), waits for the function's answer, and goes back as an HTTP response. One invocation
//! runs at a time, as in one Lambda instance.
//!
//! The child is killed by pid when the guard drops, also when the test panics (its log is
//! printed then). [`LambdaFunction::init_duration`] and [`LambdaFunction::first_response`]
//! time the cold start from the spawn; tests print them, never assert on them.

use std::collections::{HashMap, VecDeque};
use std::fs::{self, File};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use tempfile::TempDir;

use crate::{binaries, ports, process, Http};

/// How long an invocation may take before the Function URL answers 504, as AWS does at the
/// function's timeout.
const INVOCATION_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a fresh process may take to poll for its first invocation.
const INIT_TIMEOUT: Duration = Duration::from_secs(60);
const FUNCTION_NAME: &str = "coffer";

/// `COFFER_LAMBDA_BIN`, or `coffer-lambda` next to the test executable's profile directory
/// (`<target>/debug/deps/<test>` → `<target>/debug/coffer-lambda`).
pub fn coffer_lambda_bin() -> PathBuf {
    function_bin("COFFER_LAMBDA_BIN", "coffer-lambda")
}

/// `COFFER_ADMIN_LAMBDA_BIN`, or `coffer-admin-lambda` beside `coffer-lambda`.
pub fn coffer_admin_lambda_bin() -> PathBuf {
    function_bin("COFFER_ADMIN_LAMBDA_BIN", "coffer-admin-lambda")
}

fn function_bin(var: &str, name: &str) -> PathBuf {
    let path = match std::env::var_os(var) {
        Some(path) => PathBuf::from(path),
        None => std::env::current_exe()
            .expect("current_exe")
            .parent()
            .and_then(Path::parent)
            .expect("test executable lives in <target>/<profile>/deps")
            .join(name),
    };
    assert!(
        path.is_file(),
        "{name} not found at {}: run `scripts/setup` (or `cargo build --bins`)",
        path.display()
    );
    path
}

/// The table and the seal key (`alias/coffer-seal`) in moto, exactly as
/// `localstack/start-emulator.sh` creates them for a user (same script), and as the deploy
/// template gives them to the functions.
pub fn create_template_resources(moto: &crate::moto::Moto, table: &str) {
    let output = Command::new(binaries::python_bin())
        .arg(binaries::repo_root().join("localstack/create_resources.py"))
        .args([&moto.endpoint(), table])
        .envs(moto.client_env())
        .env("AWS_DEFAULT_REGION", crate::moto::REGION)
        .output()
        .expect("run create_resources.py");
    assert!(
        output.status.success(),
        "create_resources.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The seal key alias `create_template_resources` creates.
pub const TEMPLATE_SEAL_KEY: &str = "alias/coffer-seal";

/// A function's environment as the deploy template sets it (DynamoDB table, awskms seal with
/// the template's key), pointed at moto.
pub fn template_env(moto: &crate::moto::Moto, table: &str) -> Vec<(String, String)> {
    let mut env = moto.client_env();
    for (k, v) in [
        ("COFFER_STORAGE", "dynamodb"),
        ("COFFER_DYNAMODB_TABLE", table),
        ("COFFER_SEAL", "awskms"),
        ("COFFER_AWSKMS_KEY_ID", TEMPLATE_SEAL_KEY),
        ("COFFER_LOG_LEVEL", "info"),
    ] {
        env.push((k.into(), v.into()));
    }
    env.push(("COFFER_DYNAMODB_ENDPOINT".into(), moto.endpoint()));
    env.push(("COFFER_AWSKMS_ENDPOINT".into(), moto.endpoint()));
    env
}

/// What the function answered to one invocation.
enum Outcome {
    Response(Vec<u8>),
    /// The function reported an error; AWS keeps its payload from the caller (502).
    Error,
}

struct Invocation {
    event: String,
    reply: mpsc::Sender<Outcome>,
}

/// State shared by the two servers' threads and the guard.
#[derive(Default)]
struct Shared {
    queue: Mutex<VecDeque<Invocation>>,
    queued: Condvar,
    pending: Mutex<HashMap<String, mpsc::Sender<Outcome>>>,
    first_poll: Mutex<Option<Instant>>,
    first_response: Mutex<Option<Instant>>,
    init_error: Mutex<Option<String>>,
    shutdown: AtomicBool,
}

/// A running `coffer-lambda` behind a local Runtime API and Function URL. See the module docs.
pub struct LambdaFunction {
    child: Option<Child>,
    dir: TempDir,
    shared: Arc<Shared>,
    runtime_addr: SocketAddr,
    url_addr: SocketAddr,
    spawned_at: Instant,
}

impl LambdaFunction {
    /// Starts the servers and spawns the function with `env` (its `COFFER_*` settings and AWS
    /// client environment) on top of what the Lambda service sets. Returns at once; the first
    /// request waits for the function's init.
    pub fn start(env: &[(String, String)]) -> LambdaFunction {
        LambdaFunction::start_bin(&coffer_lambda_bin(), env)
    }

    /// [`start`](Self::start) for another function binary (`coffer-admin-lambda`).
    pub fn start_bin(bin: &Path, env: &[(String, String)]) -> LambdaFunction {
        let dir = tempfile::Builder::new()
            .prefix("coffer-lambda-")
            .tempdir()
            .expect("create temp dir");
        let shared = Arc::new(Shared::default());
        let runtime = bind();
        let url = bind();
        let runtime_addr = runtime.local_addr().expect("runtime addr");
        let url_addr = url.local_addr().expect("url addr");
        serve(runtime, shared.clone(), runtime_api);
        serve(url, shared.clone(), function_url);

        let log = File::create(dir.path().join("function.log")).expect("create log");
        let mut cmd = Command::new(bin);
        process::hermetic_env(&mut cmd);
        cmd.env("AWS_LAMBDA_RUNTIME_API", runtime_addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION_NAME)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/coffer")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log"))
            .stderr(log);
        let spawned_at = Instant::now();
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
        LambdaFunction {
            child: Some(child),
            dir,
            shared,
            runtime_addr,
            url_addr,
            spawned_at,
        }
    }

    /// The Function URL: "http://127.0.0.1:PORT", a `VAULT_ADDR` for any client.
    pub fn addr(&self) -> String {
        format!("http://{}", self.url_addr)
    }

    /// "127.0.0.1:PORT" of the Runtime API the function polls.
    pub fn runtime_api(&self) -> SocketAddr {
        self.runtime_addr
    }

    pub fn http(&self) -> Http {
        Http::new(&self.addr(), None)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Everything the function printed.
    pub fn log(&self) -> String {
        fs::read_to_string(self.dir.path().join("function.log")).unwrap_or_default()
    }

    /// Spawn to the first poll for an invocation: the function's init phase (config, AWS
    /// clients, seal unwrap, keyring). Waits for it; panics if the process exits first.
    pub fn init_duration(&mut self) -> Duration {
        let deadline = Instant::now() + INIT_TIMEOUT;
        loop {
            if let Some(at) = *lock(&self.shared.first_poll) {
                return at - self.spawned_at;
            }
            if let Some(status) = self.try_exit_status() {
                panic!(
                    "coffer-lambda exited ({status}) during init\n{}",
                    self.log()
                );
            }
            assert!(
                Instant::now() < deadline,
                "coffer-lambda did not poll for an invocation within {INIT_TIMEOUT:?}\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Spawn to the end of the first invocation's response, if one was answered.
    pub fn first_response(&self) -> Option<Duration> {
        lock(&self.shared.first_response).map(|at| at - self.spawned_at)
    }

    /// Waits for the process to exit (a refused start-up) and returns its status.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_exit_status() {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "coffer-lambda still running after {timeout:?}\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// An init error the function reported to the Runtime API, if any.
    pub fn init_error(&self) -> Option<String> {
        lock(&self.shared.init_error).clone()
    }

    fn try_exit_status(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }

    /// Runs an hvac `script` against the Function URL: it finds `client` (an `hvac.Client`
    /// for [`addr`](Self::addr) with `token`) and assigns `result`, returned as JSON.
    #[track_caller]
    pub fn hvac(&self, token: Option<&str>, script: &str) -> Value {
        static SEQUENCE: AtomicU64 = AtomicU64::new(0);
        let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let scratch = self.dir.path().join("hvac");
        fs::create_dir_all(&scratch).expect("scratch dir");
        let script_path = scratch.join(format!("script-{n}.py"));
        let prelude_path = scratch.join("prelude.py");
        fs::write(&script_path, script).expect("write hvac script");
        fs::write(&prelude_path, HVAC_PRELUDE).expect("write hvac prelude");
        let mut cmd = Command::new(binaries::python_bin());
        cmd.arg(&prelude_path)
            .env("COFFER_TEST_SCRIPT", &script_path);
        process::hermetic_env(&mut cmd);
        cmd.env("COFFER_TEST_ADDR", self.addr())
            .env("COFFER_TEST_TOKEN", token.unwrap_or_default())
            .env("HOME", &scratch)
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .current_dir(&scratch);
        let output = process::run(cmd, &scratch);
        assert!(
            output.success(),
            "hvac script failed\n--- script ---\n{script}\n{output}\n--- function log ---\n{}",
            self.log()
        );
        let last = output.stdout.lines().last().unwrap_or_default();
        serde_json::from_str(last)
            .unwrap_or_else(|e| panic!("hvac result is not JSON ({e})\n{output}"))
    }
}

/// hvac's prelude (as `hvac.rs` has for `Server`): `client`, then the test's script, then
/// its `result` as JSON on the last line.
const HVAC_PRELUDE: &str = r#"
import json, os, textwrap
import hvac

client = hvac.Client(url=os.environ["COFFER_TEST_ADDR"], token=os.environ["COFFER_TEST_TOKEN"] or None)
result = None
with open(os.environ["COFFER_TEST_SCRIPT"]) as _f:
    exec(compile(textwrap.dedent(_f.read()), "<test script>", "exec"))
print()
print(json.dumps(result))
"#;

impl Drop for LambdaFunction {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if thread::panicking() {
            eprintln!(
                "===== coffer-lambda (url {}, runtime {}) =====\n{}\n===== end of coffer-lambda =====",
                self.url_addr,
                self.runtime_addr,
                self.log()
            );
        }
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.queued.notify_all();
        // Wake both accept loops so their threads see the flag and end.
        for addr in [self.runtime_addr, self.url_addr] {
            let _ = TcpStream::connect_timeout(&addr, Duration::from_millis(200));
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn bind() -> TcpListener {
    // Bound while the port is chosen (a port probed then re-bound could be taken in between,
    // e.g. as another connection's ephemeral port), and recorded so no other server of this
    // process is handed it.
    ports::bound_listener()
}

type Handler = fn(&Shared, &Request, SocketAddr) -> Response;

/// Accepts connections until shutdown; one thread per connection, requests served in turn on
/// each (keep-alive), as hyper's and requests' connection pools expect.
fn serve(listener: TcpListener, shared: Arc<Shared>, handler: Handler) {
    thread::spawn(move || {
        for stream in listener.incoming() {
            if shared.shutdown.load(Ordering::SeqCst) {
                return;
            }
            let Ok(stream) = stream else { continue };
            let shared = shared.clone();
            thread::spawn(move || connection(stream, &shared, handler));
        }
    });
}

fn connection(stream: TcpStream, shared: &Shared, handler: Handler) {
    let peer = match stream.peer_addr() {
        Ok(peer) => peer,
        Err(_) => return,
    };
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut writer = write_half;
    while !shared.shutdown.load(Ordering::SeqCst) {
        let Some(request) = read_request(&mut reader) else {
            break;
        };
        let response = handler(shared, &request, peer);
        if write_response(&mut writer, &response, &request.method).is_err() {
            break;
        }
        if request
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
        {
            break;
        }
    }
    let _ = writer.shutdown(Shutdown::Both);
}

/// One HTTP/1.1 request, read whole.
struct Request {
    method: String,
    target: String,
    /// In arrival order, names as sent.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn new(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Response {
        self.headers.push((name.to_owned(), value.into()));
        self
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_owned();
    let target = parts.next()?.to_owned();
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':')?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let mut request = Request {
        method,
        target,
        headers,
        body: Vec::new(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|t| t.eq_ignore_ascii_case("chunked"))
    {
        request.body = read_chunked(reader)?;
    } else if let Some(len) = request.header("content-length") {
        let len: usize = len.parse().ok()?;
        let mut body = vec![0; len];
        reader.read_exact(&mut body).ok()?;
        request.body = body;
    }
    Some(request)
}

fn read_chunked(reader: &mut BufReader<TcpStream>) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).ok()?;
        let size = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

fn write_response(w: &mut TcpStream, response: &Response, method: &str) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (name, value) in &response.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", response.body.len()));
    w.write_all(head.as_bytes())?;
    if method != "HEAD" {
        w.write_all(&response.body)?;
    }
    w.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

fn epoch_ms() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or_default()
}

/// The Lambda Runtime API, as much of it as `lambda_runtime` uses.
fn runtime_api(shared: &Shared, request: &Request, _peer: SocketAddr) -> Response {
    const PREFIX: &str = "/2018-06-01/runtime/";
    let Some(route) = request.target.strip_prefix(PREFIX) else {
        return Response::new(404, "not a runtime API path");
    };
    match (request.method.as_str(), route) {
        ("GET", "invocation/next") => next_invocation(shared),
        ("POST", "init/error") => {
            *lock(&shared.init_error) = Some(String::from_utf8_lossy(&request.body).into_owned());
            Response::new(202, "{}")
        }
        ("POST", route) => {
            let Some((id, kind)) = route
                .strip_prefix("invocation/")
                .and_then(|r| r.rsplit_once('/'))
            else {
                return Response::new(404, "unknown runtime route");
            };
            let outcome = match kind {
                "response" => Outcome::Response(request.body.clone()),
                "error" => Outcome::Error,
                _ => return Response::new(404, "unknown runtime route"),
            };
            match lock(&shared.pending).remove(id) {
                Some(reply) => {
                    let _ = reply.send(outcome);
                    Response::new(202, "{}")
                }
                None => Response::new(400, "unknown request id"),
            }
        }
        _ => Response::new(404, "unknown runtime route"),
    }
}

/// Long-polls for an invocation, as the real Runtime API does.
fn next_invocation(shared: &Shared) -> Response {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    lock(&shared.first_poll).get_or_insert_with(Instant::now);
    let mut queue = lock(&shared.queue);
    let invocation = loop {
        if let Some(invocation) = queue.pop_front() {
            break invocation;
        }
        if shared.shutdown.load(Ordering::SeqCst) {
            return Response::new(503, "shutting down");
        }
        queue = shared
            .queued
            .wait_timeout(queue, Duration::from_millis(200))
            .unwrap_or_else(|e| e.into_inner())
            .0;
    };
    drop(queue);
    let id = format!("local-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
    lock(&shared.pending).insert(id.clone(), invocation.reply);
    let deadline = epoch_ms() + INVOCATION_TIMEOUT.as_millis();
    Response::new(200, invocation.event)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", id)
        .header("lambda-runtime-deadline-ms", deadline.to_string())
        .header(
            "lambda-runtime-invoked-function-arn",
            format!("arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION_NAME}"),
        )
        .header(
            "lambda-runtime-trace-id",
            "Root=1-00000000-000000000000000000000000;Sampled=0",
        )
}

/// A Function URL: HTTP in, a payload v2 event to the function, its answer back as HTTP.
fn function_url(shared: &Shared, request: &Request, peer: SocketAddr) -> Response {
    let event = function_url_event(request, peer);
    let (reply, answer) = mpsc::channel();
    lock(&shared.queue).push_back(Invocation { event, reply });
    shared.queued.notify_all();
    let outcome = match answer.recv_timeout(INVOCATION_TIMEOUT) {
        Ok(outcome) => outcome,
        Err(_) => return Response::new(504, r#"{"Message":"Request timeout"}"#),
    };
    lock(&shared.first_response).get_or_insert_with(Instant::now);
    match outcome {
        Outcome::Response(body) => http_response(&body),
        Outcome::Error => Response::new(502, r#"{"Message":"Internal Server Error"}"#)
            .header("content-type", "application/json"),
    }
}

/// Content types a Function URL passes as text; any other body is base64-encoded.
fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type.map(str::to_ascii_lowercase) else {
        return false;
    };
    ct.starts_with("text/")
        || ["json", "xml", "javascript", "x-www-form-urlencoded", "yaml"]
            .iter()
            .any(|t| ct.contains(t))
}

fn function_url_event(request: &Request, peer: SocketAddr) -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let (path, query) = request
        .target
        .split_once('?')
        .unwrap_or((&request.target, ""));
    let mut headers = Map::new();
    for (name, value) in &request.headers {
        let name = name.to_ascii_lowercase();
        let joined = match headers.get(&name).and_then(Value::as_str) {
            Some(previous) => format!("{previous},{value}"),
            None => value.clone(),
        };
        headers.insert(name, json!(joined));
    }
    headers.insert("x-forwarded-for".into(), json!(peer.ip().to_string()));
    headers.insert("x-forwarded-proto".into(), json!("https"));
    let mut params = Map::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let (k, v) = (k.into_owned(), v.into_owned());
        let joined = match params.get(&k).and_then(Value::as_str) {
            Some(previous) => format!("{previous},{v}"),
            None => v,
        };
        params.insert(k, json!(joined));
    }
    let text = is_text(request.header("content-type"));
    let body = match (request.body.is_empty(), text) {
        (true, _) => Value::Null,
        (false, true) => json!(String::from_utf8_lossy(&request.body)),
        (false, false) => json!(BASE64.encode(&request.body)),
    };
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "cofferlocal",
            "domainName": "cofferlocal.lambda-url.us-east-1.on.aws",
            "domainPrefix": "cofferlocal",
            "http": {
                "method": request.method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": peer.ip().to_string(),
                "userAgent": request.header("user-agent").unwrap_or_default(),
            },
            "requestId": format!("url-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
            "routeKey": "$default",
            "stage": "$default",
            "time": "03/Dec/2026:10:15:30 +0000",
            "timeEpoch": epoch_ms() as u64,
        },
        "body": body,
        "isBase64Encoded": !request.body.is_empty() && !text,
    });
    if !params.is_empty() {
        event["queryStringParameters"] = Value::Object(params);
    }
    event.to_string()
}

/// The function's payload v2 response (`statusCode`, `headers`, `cookies`, `body`,
/// `isBase64Encoded`) as an HTTP response.
fn http_response(payload: &[u8]) -> Response {
    let Ok(payload) = serde_json::from_slice::<Value>(payload) else {
        return Response::new(502, r#"{"Message":"Internal Server Error"}"#);
    };
    let status = payload["statusCode"]
        .as_u64()
        .and_then(|s| u16::try_from(s).ok())
        .unwrap_or(502);
    let body = match payload["body"].as_str() {
        None => Vec::new(),
        Some(text) if payload["isBase64Encoded"] == true => BASE64
            .decode(text)
            .unwrap_or_else(|_| text.as_bytes().to_vec()),
        Some(text) => text.as_bytes().to_vec(),
    };
    let mut response = Response::new(status, body);
    for field in ["headers", "multiValueHeaders"] {
        if let Some(headers) = payload[field].as_object() {
            for (name, value) in headers {
                let values = match value {
                    Value::Array(values) => values.clone(),
                    other => vec![other.clone()],
                };
                for value in values.iter().filter_map(Value::as_str) {
                    if !name.eq_ignore_ascii_case("content-length") {
                        response = response.header(name, value);
                    }
                }
            }
        }
    }
    if let Some(cookies) = payload["cookies"].as_array() {
        for cookie in cookies.iter().filter_map(Value::as_str) {
            response = response.header("set-cookie", cookie);
        }
    }
    response
}
