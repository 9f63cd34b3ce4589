//! The harness's own promises: every server gets its own port and directory, and a server's
//! process dies with its `Server`, also when the test panics.

use std::thread;

use coffer_blackbox::{Flavor, Server, ServerOptions};

fn process_exists(pid: u32) -> bool {
    let pid = libc::pid_t::try_from(pid).expect("pid fits pid_t");
    // SAFETY: signal 0 only checks whether the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

#[test]
fn dropping_a_server_kills_its_process() {
    let server = Server::dev(Flavor::OpenBao);
    let pid = server.pid().expect("running");
    assert!(process_exists(pid));
    drop(server);
    assert!(
        !process_exists(pid),
        "server process {pid} outlived its Server"
    );
}

#[test]
fn a_panicking_test_still_kills_its_server() {
    let (pid_tx, pid_rx) = std::sync::mpsc::channel();
    let outcome = thread::spawn(move || {
        let server = Server::dev(Flavor::OpenBao);
        pid_tx
            .send(server.pid().expect("running"))
            .expect("send pid");
        panic!("deliberate panic with a live server");
    })
    .join();
    assert!(outcome.is_err(), "the thread was meant to panic");
    let pid = pid_rx.recv().expect("pid");
    assert!(
        !process_exists(pid),
        "server process {pid} outlived a panicking test"
    );
}

#[test]
fn servers_started_in_parallel_get_their_own_ports() {
    let servers: Vec<Server> = thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| Server::with_config(Flavor::OpenBao, ServerOptions::memory())))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("start"))
            .collect()
    });
    let mut ports: Vec<u16> = servers.iter().map(Server::port).collect();
    ports.sort_unstable();
    ports.dedup();
    assert_eq!(ports.len(), servers.len(), "ports shared: {ports:?}");
    for server in &servers {
        server.http().get("/v1/sys/health", None).assert_status(501);
    }
}

#[test]
fn kill9_then_restart_serves_the_same_address_and_data_dir() {
    let mut server = Server::with_config(Flavor::OpenBao, ServerOptions::persistent());
    let keys = server.init(1, 1);
    let addr = server.addr().to_owned();
    let old_pid = server.pid().expect("running");
    server.kill9();
    assert!(!process_exists(old_pid));
    assert!(server.pid().is_none());
    server.restart();
    assert_eq!(server.addr(), addr);
    let status = server.http().get("/v1/sys/seal-status", None);
    status.assert_status(200);
    assert_eq!(status.json["initialized"], true, "{status}");
    server.unseal(&keys.keys);
}
