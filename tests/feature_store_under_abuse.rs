//! The feature store under abuse, over real sockets to a real store process:
//! it stays up, keeps answering `/health`, and frees what clients leave behind.

mod common;

use common::StoreProcess;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Idle connections opened at once; the store must hold them all (the file
/// limit is 20,000 per process, and the store runs in its own process).
const IDLE_CONNECTIONS: usize = 15_000;

#[test]
fn malformed_requests_and_oversized_headers_get_errors_not_crashes() {
    let store = StoreProcess::start(&[]);
    let garbage: [&[u8]; 4] = [
        b"\x00\x01\x02 binary junk\r\n\r\n",
        b"GET /features/1 HTTP/9.9\r\n\r\n",
        b"GET\r\n\r\n",
        b"POST /features/1 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
    ];
    for request in garbage {
        let mut stream = TcpStream::connect(store.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request).unwrap();
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        let reply = String::from_utf8_lossy(&reply);
        assert!(
            reply.is_empty() || reply.starts_with("HTTP/1.1 4") || reply.starts_with("HTTP/1.1 5"),
            "{:?} got {reply:?}",
            String::from_utf8_lossy(request)
        );
    }
    // 200 KiB of headers, beyond the store's 64 KiB buffer.
    let mut stream = TcpStream::connect(store.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let huge = format!(
        "GET /health HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(200 * 1024)
    );
    let _ = stream.write_all(huge.as_bytes());
    let mut reply = Vec::new();
    let _ = stream.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(
        reply.is_empty() || reply.starts_with("HTTP/1.1 431"),
        "{reply:.80}"
    );

    assert_eq!(store.status_of("/health"), Some(200));
}

#[test]
fn fifteen_thousand_silent_connections_do_not_stop_the_store() {
    let store = StoreProcess::start(&[]);
    let baseline = store.open_fds();
    let silent: Vec<TcpStream> = (0..IDLE_CONNECTIONS)
        .map(|i| TcpStream::connect(store.addr).unwrap_or_else(|e| panic!("connection {i}: {e}")))
        .collect();
    // The store accepts them all and still answers a new client at once.
    assert_eq!(store.status_of("/health"), Some(200));
    assert_eq!(store.status_of("/features/3?n=2"), Some(200));
    let held = store.wait_for_fds_at_most(0, Duration::ZERO);
    assert!(
        held >= baseline + IDLE_CONNECTIONS / 2,
        "store holds {held} fds"
    );

    drop(silent);
    let left = store.wait_for_fds_at_most(baseline + 16, Duration::from_secs(30));
    assert!(
        left <= baseline + 16,
        "store still holds {left} fds (baseline {baseline})"
    );
}

#[test]
fn clients_that_leave_mid_delay_free_their_connections() {
    let store = StoreProcess::start(&[]);
    let baseline = store.open_fds();
    let leavers: Vec<TcpStream> = (0..200)
        .map(|id| {
            let mut stream = TcpStream::connect(store.addr).unwrap();
            write!(
                stream,
                "GET /features/{id}?delay_ms=60000 HTTP/1.1\r\nHost: x\r\n\r\n"
            )
            .unwrap();
            stream
        })
        .collect();
    let waiting = store.wait_for_fds_at_most(0, Duration::ZERO);
    drop(leavers);
    // Well before the 60 s delays end, the store has let go of the sockets.
    let left = store.wait_for_fds_at_most(baseline + 16, Duration::from_secs(20));
    assert!(
        left <= baseline + 16,
        "store holds {left} fds (baseline {baseline}, {waiting} while waiting)"
    );
    assert_eq!(store.status_of("/health"), Some(200));
}
