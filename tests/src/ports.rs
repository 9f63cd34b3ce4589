//! Free TCP ports on 127.0.0.1 for test servers.
//!
//! A port is free when binding it succeeds; the listener is dropped at once so the server can
//! take it. Between that moment and the server's bind another program may take it, so servers
//! retry on "address in use" (see `server.rs`). Within one test process a port is never handed
//! out twice, which rules out collisions between tests running in parallel threads.

use std::collections::BTreeSet;
use std::net::TcpListener;
use std::sync::Mutex;

static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// One port nobody in this process has been given.
pub fn free_port() -> u16 {
    loop {
        let port = probe(0).expect("bind 127.0.0.1:0");
        if reserve(&[port]) {
            return port;
        }
    }
}

/// A listener on a port nobody in this process has been given, bound at once: for servers that
/// run inside the test process, where nothing needs to retry a bind that another program won.
pub fn bound_listener() -> TcpListener {
    loop {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        if reserve(&[port]) {
            return listener;
        }
    }
}

/// A port `p` such that `p + 1` is free too: `bao server -dev` also listens on `p + 1` for its
/// cluster port.
pub fn free_port_pair() -> u16 {
    loop {
        let port = probe(0).expect("bind 127.0.0.1:0");
        let Some(next) = port.checked_add(1) else {
            continue;
        };
        if probe(next).is_some() && reserve(&[port, next]) {
            return port;
        }
    }
}

fn probe(port: u16) -> Option<u16> {
    let listener = TcpListener::bind(("127.0.0.1", port)).ok()?;
    listener.local_addr().ok().map(|addr| addr.port())
}

fn reserve(ports: &[u16]) -> bool {
    let mut handed_out = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
    if ports.iter().any(|p| handed_out.contains(p)) {
        return false;
    }
    handed_out.extend(ports);
    true
}
