//! The web console: one static page at `/console` that drives the admin API from the browser.
//!
//! The page carries no data and needs no credential to load; the operator types the admin
//! credential into it, and the page keeps it in `sessionStorage` (this tab only) and sends it
//! as a bearer token with every API call. Create's root token and keys are shown in the page
//! once and exist nowhere else: a reload shows only the list.

use axum::response::Html;
use axum::routing::get;
use axum::Router;

use super::api::Admin;

pub(super) fn router(_admin: Admin) -> Router<Admin> {
    Router::new().route("/console", get(|| async { Html(PAGE) }))
}

const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Coffer console</title>
<style>
 body { font-family: sans-serif; margin: 2em; }
 table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: .3em .6em; }
 #created { background: #fff6d5; padding: 1em; margin: 1em 0; }
 #error { color: #a00; }
</style>
</head>
<body>
<h1>Coffer stores</h1>
<p><label>Admin credential <input id="credential" type="password" autocomplete="off"></label>
<button id="login">Use</button></p>
<p><label>Plan <input id="plan" placeholder="default plan"></label>
<button id="create">Create store</button></p>
<div id="error"></div>
<div id="created" hidden>
 <p><strong>Shown once.</strong> Store <code id="created-id"></code> at <code id="created-endpoint"></code></p>
 <p>Root token: <code id="created-root-token"></code></p>
 <ol id="created-keys"></ol>
</div>
<table>
 <thead><tr><th>ID</th><th>Endpoint</th><th>Plan</th><th>Created</th><th>Seal</th><th>Sealed</th><th>Secrets</th><th>Req/s</th><th></th></tr></thead>
 <tbody id="stores"></tbody>
</table>
<script>
const $ = (id) => document.getElementById(id);
function credential() { return sessionStorage.getItem("coffer-admin") || ""; }
async function call(method, path, body) {
  const resp = await fetch(path, {
    method,
    headers: { "Authorization": "Bearer " + credential(), "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await resp.json().catch(() => ({}));
  if (!resp.ok) { throw new Error((json.errors || [resp.statusText]).join("; ")); }
  $("error").textContent = "";
  return json;
}
function cell(row, text) { const td = document.createElement("td"); td.textContent = text; row.appendChild(td); return td; }
async function refresh() {
  if (!credential()) { return; }
  try {
    const { stores } = await call("GET", "/v1/stores");
    const body = $("stores");
    body.replaceChildren();
    for (const s of stores) {
      const row = document.createElement("tr");
      row.dataset.store = s.id;
      [s.id, s.endpoint, s.plan.name, s.created, s.seal_type, String(s.sealed), String(s.secret_count), String(s.request_rate)]
        .forEach((t) => cell(row, t));
      const actions = cell(row, "");
      const plan = document.createElement("input");
      plan.className = "new-plan"; plan.placeholder = "plan"; actions.appendChild(plan);
      const up = document.createElement("button");
      up.className = "upgrade"; up.textContent = "Upgrade";
      up.onclick = () => run(() => call("POST", `/v1/stores/${s.id}/plan`, { plan: plan.value }));
      actions.appendChild(up);
      const del = document.createElement("button");
      del.className = "delete"; del.textContent = "Delete";
      del.onclick = () => {
        if (confirm(`Delete store ${s.id} and every secret in it? This cannot be undone.`)) {
          run(() => call("DELETE", `/v1/stores/${s.id}?confirm=${s.id}`));
        }
      };
      actions.appendChild(del);
      body.appendChild(row);
    }
  } catch (e) { $("error").textContent = e.message; }
}
async function run(action) {
  try { await action(); } catch (e) { $("error").textContent = e.message; }
  await refresh();
}
$("login").onclick = () => { sessionStorage.setItem("coffer-admin", $("credential").value); $("credential").value = ""; refresh(); };
$("create").onclick = () => run(async () => {
  const plan = $("plan").value;
  const c = await call("POST", "/v1/stores", plan ? { plan } : {});
  $("created-id").textContent = c.id;
  $("created-endpoint").textContent = c.endpoint;
  $("created-root-token").textContent = c.root_token;
  const keys = $("created-keys");
  keys.replaceChildren();
  for (const k of (c.keys_base64.length ? c.keys_base64 : c.recovery_keys_base64)) {
    const li = document.createElement("li"); li.className = "key"; li.textContent = k; keys.appendChild(li);
  }
  $("created").hidden = false;
});
refresh();
</script>
</body>
</html>
"#;
