//! A tiny HTTP/1.1 server for the load tests, on its own thread and tokio
//! runtime: it answers every request `ok` after a delay, in one of the
//! behaviours of [`Behaviour`].

#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{CONNECTION, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{Notify, oneshot};

/// How the server answers.
#[derive(Debug, Clone, Copy, Default)]
pub struct Behaviour {
    /// Delay before each answer.
    pub delay: Duration,
    /// Block the server's only thread for the delay, so that it answers one
    /// request at a time: at most `1 / delay` requests per second.
    pub serial: bool,
    /// Answer with `Connection: close`, as a prefork sync worker does.
    pub close: bool,
    /// After this many requests, accept requests but never answer them.
    pub stall_after: Option<u64>,
    /// After this many requests, stop: the listener and every connection close.
    pub die_after: Option<u64>,
    /// Answer with this status instead of 200.
    pub status: Option<u16>,
}

/// A running test server; dropping it stops it.
pub struct TestServer {
    addr: SocketAddr,
    requests: Arc<AtomicU64>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

struct State {
    behaviour: Behaviour,
    requests: Arc<AtomicU64>,
    died: Notify,
}

impl TestServer {
    /// Binds 127.0.0.1:0 and starts serving; the socket listens when this returns.
    pub fn start(behaviour: Behaviour) -> TestServer {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        listener
            .set_nonblocking(true)
            .expect("non-blocking listener");
        let addr = listener.local_addr().expect("bound address");
        let requests = Arc::new(AtomicU64::new(0));
        let state = Arc::new(State {
            behaviour,
            requests: Arc::clone(&requests),
            died: Notify::new(),
        });
        let (shutdown, shutdown_signal) = oneshot::channel();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("test server runtime");
            runtime.block_on(async move {
                let listener = TcpListener::from_std(listener).expect("tokio listener");
                tokio::select! {
                    () = accept_loop(listener, Arc::clone(&state)) => {}
                    _ = shutdown_signal => {}
                    () = state.died.notified() => {}
                }
            });
            // Dropping the runtime closes the listener and every connection.
        });
        TestServer {
            addr,
            requests,
            shutdown: Some(shutdown),
            thread: Some(thread),
        }
    }

    /// `http://ADDR` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Requests received so far, the load run's probe included.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn accept_loop(listener: TcpListener, state: Arc<State>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(Arc::clone(&state), request));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    state: Arc<State>,
    _request: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let behaviour = state.behaviour;
    let count = state.requests.fetch_add(1, Ordering::Relaxed) + 1;
    if behaviour.stall_after.is_some_and(|limit| count > limit) {
        std::future::pending::<()>().await;
    }
    if behaviour.die_after.is_some_and(|limit| count > limit) {
        state.died.notify_one();
        std::future::pending::<()>().await;
    }
    if behaviour.serial {
        // Deliberately blocks the server's only thread: one request at a time.
        std::thread::sleep(behaviour.delay);
    } else if !behaviour.delay.is_zero() {
        tokio::time::sleep(behaviour.delay).await;
    }
    let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
    if let Some(status) = behaviour.status {
        *response.status_mut() = hyper::StatusCode::from_u16(status).expect("a valid status");
    }
    if behaviour.close {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    Ok(response)
}
