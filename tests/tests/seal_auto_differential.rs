//! An auto-sealed coffer (pkcs11 on SoftHSM2) against an auto-sealed OpenBao 2.7 (its `transit`
//! seal, served by a second, dev-mode OpenBao: the PyPI build has no pkcs11 or awskms seal):
//! the same steps, and the answers must have the same shape and the same values where the seal
//! type does not decide them.

use coffer_blackbox::shape::assert_same_shape;
use coffer_blackbox::softhsm::SoftHsm;
use coffer_blackbox::{Flavor, Server, ServerOptions};
use serde_json::{json, Value};

/// An OpenBao sealed by transit, and the dev OpenBao that serves the transit key.
fn openbao_transit() -> (Server, Server) {
    let provider = Server::dev(Flavor::OpenBao);
    let http = provider.http();
    http.post(
        "/v1/sys/mounts/transit",
        Some("root"),
        &json!({"type": "transit"}),
    )
    .assert_status(204);
    http.post("/v1/transit/keys/autounseal", Some("root"), &json!({}))
        .assert_status(200);
    let block = format!(
        "seal \"transit\" {{\n  address = {:?}\n  token = \"root\"\n  key_name = \"autounseal\"\n  \
         mount_path = \"transit/\"\n}}",
        provider.addr()
    );
    let server = Server::with_config(Flavor::OpenBao, ServerOptions::persistent().line(&block));
    (server, provider)
}

/// The answers to compare: seal-status before init, init, seal-status after, a malformed
/// init, seal-status after an operator seal, one recovery key, a wrong one at the threshold.
fn steps(server: &Server) -> Vec<(&'static str, u16, Value)> {
    let http = server.http();
    let mut out = Vec::new();
    let mut record = |what: &'static str, resp: coffer_blackbox::Resp| {
        out.push((what, resp.status, resp.json.clone()));
        resp
    };
    record(
        "seal-status before init",
        http.get("/v1/sys/seal-status", None),
    );
    record(
        "init with secret shares",
        http.put(
            "/v1/sys/init",
            None,
            &json!({"secret_shares": 3, "secret_threshold": 2}),
        ),
    );
    record(
        "init with a threshold above the shares",
        http.put(
            "/v1/sys/init",
            None,
            &json!({"recovery_shares": 1, "recovery_threshold": 2}),
        ),
    );
    let init = record(
        "init",
        http.put(
            "/v1/sys/init",
            None,
            &json!({"recovery_shares": 3, "recovery_threshold": 2}),
        ),
    );
    let root = init.json["root_token"]
        .as_str()
        .expect("root token")
        .to_owned();
    let keys: Vec<String> = init.json["recovery_keys_base64"]
        .as_array()
        .expect("recovery keys")
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    server.wait_active();
    record(
        "seal-status after init",
        http.get("/v1/sys/seal-status", None),
    );
    record(
        "rotate root keys on an auto seal: status",
        http.get("/v1/sys/rotate/recovery/init", Some(&root)),
    );
    http.put("/v1/sys/seal", Some(&root), &json!({}))
        .assert_status(204);
    record(
        "seal-status after seal",
        http.get("/v1/sys/seal-status", None),
    );
    record(
        "unseal without migrate flag on a non-migrating store, one key",
        http.put("/v1/sys/unseal", None, &json!({"key": keys[0]})),
    );
    let mut wrong = keys[1].clone().into_bytes();
    wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
    record(
        "a wrong recovery key at the threshold",
        http.put(
            "/v1/sys/unseal",
            None,
            &json!({"key": String::from_utf8(wrong).unwrap()}),
        ),
    );
    record(
        "seal-status after the wrong key",
        http.get("/v1/sys/seal-status", None),
    );
    http.put("/v1/sys/unseal", None, &json!({"key": keys[0]}))
        .assert_status(200);
    record(
        "unseal with the threshold of recovery keys",
        http.put("/v1/sys/unseal", None, &json!({"key": keys[2]})),
    );
    out
}

#[test]
fn auto_sealed_answers_match_openbao_transit_sealed_answers() {
    let (openbao, _provider) = openbao_transit();
    let hsm = SoftHsm::start("coffer-diff", "2468");
    let coffer = Server::with_config(
        Flavor::Coffer,
        ServerOptions::persistent()
            .line(&hsm.seal_block("diff-root"))
            .env(hsm.env()),
    );
    let theirs = steps(&openbao);
    let ours = steps(&coffer);
    for ((what, their_status, their_body), (_, our_status, our_body)) in theirs.iter().zip(&ours) {
        assert_eq!(
            their_status, our_status,
            "{what}: OpenBao {their_body} / coffer {our_body}"
        );
        assert_same_shape(what, their_body, our_body);
        for field in [
            "initialized",
            "sealed",
            "t",
            "n",
            "progress",
            "recovery_seal",
            "migration",
        ] {
            assert_eq!(
                their_body.get(field),
                our_body.get(field),
                "{what}: {field}: OpenBao {their_body} / coffer {our_body}"
            );
        }
        if *our_status >= 400 && !what.contains("secret shares") {
            assert_eq!(their_body["errors"], our_body["errors"], "{what}");
        }
    }
}
