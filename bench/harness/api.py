"""A small keep-alive HTTP client for setting servers up and reading round-trip headers.

Only setup and probes go through here; measured load comes from wrk (or ``load.py``'s fallback).
"""

import http.client
import json
import time

ROUND_TRIPS_HEADER = "x-coffer-storage-round-trips"


def probe_health(port):
    """The status of GET /v1/sys/health, or None while nothing answers."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        conn.request("GET", "/v1/sys/health")
        status = conn.getresponse().status
        conn.close()
        return status
    except OSError:
        return None


class Resp:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body) if self.body else None

    def round_trips(self):
        value = self.headers.get(ROUND_TRIPS_HEADER)
        return int(value) if value is not None else None


class Client:
    def __init__(self, port, token="root"):
        self.port = port
        self.token = token
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)

    def call(self, method, path, body=None, token=None, ok=(200, 204)):
        headers = {"X-Vault-Token": token or self.token}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        for attempt in range(3):
            try:
                self.conn.request(method, path, body=data, headers=headers)
                r = self.conn.getresponse()
                resp = Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, r.read())
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                if attempt == 2:
                    raise
                time.sleep(0.2)
        if ok and resp.status not in ok:
            raise RuntimeError(f"{method} {path} -> {resp.status}: {resp.body[:500]!r}")
        return resp

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body if body is not None else {}, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body if body is not None else {}, **kw)


def init_unseal(server):
    """One-share init, unseal, wait until active; sets the server's root token."""
    c = Client(server.port)
    keys = c.put("/v1/sys/init", {"secret_shares": 1, "secret_threshold": 1}).json()
    c.put("/v1/sys/unseal", {"key": keys["keys"][0]})
    server.token = keys["root_token"]
    server.wait_http()


def ensure_kv2(server, path="secret"):
    c = Client(server.port, server.token)
    mounts = c.get("/v1/sys/mounts").json()
    table = mounts.get("data", mounts)
    if f"{path}/" not in table:
        c.post(f"/v1/sys/mounts/{path}", {"type": "kv", "options": {"version": "2"}})
    # A fresh KV v2 mount upgrades itself in the background on OpenBao; wait until it serves.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        r = c.get(f"/v1/{path}/config", ok=None)
        if r.status == 200:
            return
        time.sleep(0.1)
    raise RuntimeError(f"{server.name}: {path}/ never became ready")
