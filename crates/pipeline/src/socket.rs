//! The client sockets of both fetch paths: TCP_NODELAY, and a per-socket
//! local port range that keeps `connect()` cheap with many connections open.
//!
//! Linux's loopback ephemeral ports are split in two: `connect()` autobinds
//! to an even port first, and only after scanning every even port moves to
//! the odd ones. Past about 14,000 connections open to one address every
//! `connect()` scans all the even ports in kernel CPU (660 us per request at
//! 19,000 open connections, against 40-50 us below 14,000), and the batches
//! behind them time out. Setting `IP_LOCAL_PORT_RANGE` on the socket (Linux
//! 6.3 and later) makes the kernel skip the even/odd split for it, so the
//! search stays short at any count.

use socket2::{Domain, Protocol, Socket, Type};
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
#[cfg(target_os = "linux")]
use std::sync::OnceLock;

/// `IP_LOCAL_PORT_RANGE` from `linux/in.h`; libc does not name it yet.
#[cfg(target_os = "linux")]
const IP_LOCAL_PORT_RANGE: libc::c_int = 51;

// The macros name each other unqualified, so both are imported.
#[cfg(target_os = "linux")]
use nix::{setsockopt_impl, sockopt_impl};

#[cfg(target_os = "linux")]
sockopt_impl!(
    /// The socket's own ephemeral port range: the upper bound in the high 16
    /// bits, the lower in the low 16.
    LocalPortRange,
    SetOnly,
    libc::IPPROTO_IP,
    IP_LOCAL_PORT_RANGE,
    u32
);

/// A TCP socket for one client connection to `addr`, not yet connected:
/// TCP_NODELAY is set (requests are one small write each) and, where the
/// kernel supports it, the socket's own local port range (see the module doc).
pub fn client_socket(addr: SocketAddr) -> io::Result<Socket> {
    configured(Socket::new(
        Domain::for_address(addr),
        Type::STREAM,
        Some(Protocol::TCP),
    )?)
}

/// A [`client_socket`] in non-blocking mode from the start, for an async
/// runtime: the flag goes with the `socket()` call itself, which saves the
/// two `fcntl` calls that switching it afterwards costs on every request.
pub fn nonblocking_client_socket(addr: SocketAddr) -> io::Result<Socket> {
    configured(Socket::new(
        Domain::for_address(addr),
        Type::STREAM.nonblocking(),
        Some(Protocol::TCP),
    )?)
}

fn configured(socket: Socket) -> io::Result<Socket> {
    socket.set_tcp_nodelay(true)?;
    widen_local_port_range(&socket);
    Ok(socket)
}

/// Starts a non-blocking connect to `addr` on a [`client_socket`]: the
/// stream it returns is connecting (or connected), in non-blocking mode,
/// for an async runtime to adopt; [`connected`] then waits for the
/// connection on the runtime's own reactor.
pub fn start_connect(addr: SocketAddr) -> io::Result<std::net::TcpStream> {
    let socket = nonblocking_client_socket(addr)?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(err) if err.raw_os_error() == Some(libc::EINPROGRESS) => {}
        Err(err) => return Err(err),
    }
    Ok(socket.into())
}

/// Waits until a stream from [`start_connect`] is connected, and returns the
/// connect's error if it failed.
///
/// It writes zero bytes: the kernel answers "would block" until the
/// connection is established, so the runtime parks the task on the
/// socket's writability, as its own `connect` would; after that the empty
/// write succeeds, or fails with the connect's error (a refused connection).
pub async fn connected<S: futures_io::AsyncWrite + Unpin>(stream: &mut S) -> io::Result<()> {
    poll_fn(|cx| Pin::new(&mut *stream).poll_write(cx, &[])).await?;
    Ok(())
}

/// Sets the socket's local port range to the system's whole range, which
/// switches off the even/odd split for it. The kernel only skips the split
/// for a non-zero per-socket range (0/0 is "unset"), so the bounds are
/// spelled out, read once from `ip_local_port_range`. An older kernel
/// rejects the option; that only costs speed, so the error is ignored.
fn widen_local_port_range(socket: &Socket) {
    #[cfg(target_os = "linux")]
    {
        static RANGE: OnceLock<u32> = OnceLock::new();
        let range = *RANGE.get_or_init(system_port_range);
        let _ = nix::sys::socket::setsockopt(socket, LocalPortRange, &range);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = socket;
}

/// The system's ephemeral port range as `IP_LOCAL_PORT_RANGE` takes it;
/// where it cannot be read, 1-65535, which the kernel clamps to the
/// system's range all the same.
#[cfg(target_os = "linux")]
fn system_port_range() -> u32 {
    let bounds = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|text| {
            let mut fields = text.split_whitespace().map(|field| field.parse::<u16>());
            match (fields.next(), fields.next()) {
                (Some(Ok(low)), Some(Ok(high))) => Some((low, high)),
                _ => None,
            }
        });
    let (low, high) = bounds.unwrap_or((1, u16::MAX));
    (u32::from(high) << 16) | u32::from(low)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn a_client_socket_connects_with_nodelay() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        let socket = client_socket(addr).expect("socket");
        socket.connect(&addr.into()).expect("connect");
        assert!(socket.tcp_nodelay().expect("nodelay"));
        let (_, peer) = listener.accept().expect("accept");
        assert_eq!(
            peer,
            socket
                .local_addr()
                .expect("local")
                .as_socket()
                .expect("inet")
        );
    }

    #[test]
    fn an_async_client_socket_is_nonblocking_from_the_start() {
        let addr: SocketAddr = "127.0.0.1:9".parse().expect("addr");
        let socket = nonblocking_client_socket(addr).expect("socket");
        assert!(socket.nonblocking().expect("flags"));
        assert!(socket.tcp_nodelay().expect("nodelay"));
        assert!(
            !client_socket(addr)
                .expect("socket")
                .nonblocking()
                .expect("flags")
        );
    }
}
