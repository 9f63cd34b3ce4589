"""The benchmark cases: what each one sets up on a server and the request it then repeats.

A case's ``setup`` runs on a server right before that case's first load run there (so the audit
case, which changes every later request, runs last). It returns a ``Spec``: the wrk script and
its arguments. ``probe`` issues the same request once through ``api.Client`` (for the storage
round-trip table). Both servers get the identical setup and the identical request.
"""

import os

import api

# The ACL-heavy case: a token holding POLICIES policies of PATHS_PER_POLICY rules each.
POLICIES = 50
PATHS_PER_POLICY = 20
SECRET = {"data": {"username": "app", "password": "correct-horse-battery-staple"}}


class Spec:
    """One repeated request: ``script`` is fixed.lua, counter.lua or cas.lua."""

    def __init__(self, script, method, path, token, body="", prefix="", cas_path=None):
        self.script = script
        self.method = method
        self.path = path
        self.token = token
        self.body = body
        self.prefix = prefix
        self.cas_path = cas_path  # metadata path whose current_version seeds cas.lua

    def args(self, server, run_id):
        if self.script == "fixed":
            return [self.method, self.path, self.token, self.body]
        if self.script == "counter":
            return [self.method, self.path, self.token, self.body, f"{self.prefix}{run_id}-"]
        version = api.Client(server.port, server.token).get(self.cas_path).json()["data"]["current_version"]
        return [self.method, self.path, self.token, self.body, str(version)]


def _kv_read(server, client, scale):
    client.post("/v1/secret/data/bench/read", SECRET)
    return Spec("fixed", "GET", "/v1/secret/data/bench/read", server.token)


def _kv_write_new(server, client, scale):
    return Spec("counter", "POST", "/v1/secret/data/bench/new/{n}", server.token,
                '{"data":{"value":"v{n}"}}', prefix="w")


def _kv_write_cas(server, client, scale):
    client.post("/v1/secret/data/bench/cas", {"data": {"value": "0"}})
    return Spec("cas", "POST", "/v1/secret/data/bench/cas", server.token,
                '{"options":{"cas":{cas}},"data":{"value":"x"}}',
                cas_path="/v1/secret/metadata/bench/cas")


def _kv_list(server, client, scale):
    for i in range(scale.list_entries):
        client.post(f"/v1/secret/data/bench/list/key-{i:04d}", {"data": {"v": str(i)}})
    return Spec("fixed", "GET", "/v1/secret/metadata/bench/list/?list=true", server.token)


def _token_lookup_self(server, client, scale):
    token = client.post("/v1/auth/token/create", {"policies": ["default"], "ttl": "768h"}).json()
    return Spec("fixed", "GET", "/v1/auth/token/lookup-self", token["auth"]["client_token"])


def _token_create(server, client, scale):
    return Spec("fixed", "POST", "/v1/auth/token/create", server.token,
                '{"policies":["default"],"ttl":"1h"}')


def _sys_health(server, client, scale):
    return Spec("fixed", "GET", "/v1/sys/health", server.token)


def acl_policy(i):
    """Policy i: 20 rules mixing exact paths, globs and `+` segments, as real policies do."""
    rules = []
    for j in range(PATHS_PER_POLICY):
        kind = j % 4
        if kind == 0:
            rules.append(f'path "secret/data/acl/p{i}/k{j}" {{ capabilities = ["read"] }}')
        elif kind == 1:
            rules.append(f'path "secret/data/acl/p{i}/g{j}/*" {{ capabilities = ["read", "list"] }}')
        elif kind == 2:
            rules.append(f'path "secret/data/acl/+/s{i}-{j}" {{ capabilities = ["read"] }}')
        else:
            rules.append(f'path "secret/metadata/acl/p{i}/k{j}" {{ capabilities = ["list"] }}')
    return "\n".join(rules)


def _acl_read(server, client, scale):
    names = []
    for i in range(POLICIES):
        name = f"bench-acl-{i}"
        client.put(f"/v1/sys/policies/acl/{name}", {"policy": acl_policy(i)})
        names.append(name)
    # Reached through the glob of the last policy: every table of the ACL is consulted.
    target = f"secret/data/acl/p{POLICIES - 1}/g17/app"
    client.post(f"/v1/{target}", SECRET)
    token = client.post("/v1/auth/token/create", {"policies": names, "ttl": "768h"}).json()
    return Spec("fixed", "GET", f"/v1/{target}", token["auth"]["client_token"])


def _audit_read(server, client, scale):
    path = os.path.join(server.workdir, f"{server.name}-audit.log")
    client.put("/v1/sys/audit/bench-file", {"type": "file", "options": {"file_path": path}})
    client.post("/v1/secret/data/bench/audited", SECRET)
    return Spec("fixed", "GET", "/v1/secret/data/bench/audited", server.token)


class Case:
    def __init__(self, name, title, setup):
        self.name = name
        self.title = title
        self._setup = setup

    def setup(self, server, scale):
        return self._setup(server, api.Client(server.port, server.token), scale)


ALL = [
    Case("kv_read", "KV v2 read", _kv_read),
    Case("kv_write_new", "KV v2 write, new keys", _kv_write_new),
    Case("kv_write_cas", "KV v2 write, cas update of one key", _kv_write_cas),
    Case("kv_list", "KV v2 LIST of 1000 entries", _kv_list),
    Case("token_lookup_self", "token lookup-self", _token_lookup_self),
    Case("token_create", "token create", _token_create),
    Case("sys_health", "sys/health", _sys_health),
    Case("acl_read", f"KV read, token of {POLICIES} policies x {PATHS_PER_POLICY} paths", _acl_read),
    # Last: once enabled, the audit device logs every later request of that server.
    Case("audit_read", "KV read with a file audit device", _audit_read),
]
BY_NAME = {c.name: c for c in ALL}

# The durable comparison (coffer embedded vs OpenBao raft) is about writes; a read for scale.
DURABLE = ["kv_read", "kv_write_new", "kv_write_cas", "token_create"]
