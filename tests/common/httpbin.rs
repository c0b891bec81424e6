//! httpbin under gunicorn: a real HTTP server that this project did not
//! write (the articles' upstream), for the tests of external upstreams.
//!
//! `scripts/install-httpbin` puts pinned versions into a virtual environment
//! under `target/` the first time a test needs it (it needs python3 with
//! venv and pip, and PyPI); `.ci/run` calls it before the tests, so that
//! their own time is the server's. Each [`Httpbin`] is a gunicorn process
//! group on 127.0.0.1, on a port the kernel picks, killed when it is dropped.

use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Once, mpsc};
use std::time::Duration;

/// The longest gunicorn may take to say where it listens (it imports
/// httpbin first: about a second on an idle 2-core machine).
const READY_WITHIN: Duration = Duration::from_secs(60);

/// A running httpbin, stopped (its whole process group) on drop.
pub struct Httpbin {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Httpbin {
    /// Installs httpbin if needed, starts it, and waits for gunicorn's
    /// readiness line; panics with the reason if it cannot.
    pub fn start() -> Self {
        let venv = install();
        // --preload imports httpbin before binding, so that "Listening at"
        // means the app is loaded; gthread workers let the executors'
        // concurrent requests be served at once, as they would be by any
        // production server.
        let mut child = Command::new(venv.join("bin/gunicorn"))
            .args([
                "--no-control-socket",
                "--preload",
                "--bind",
                "127.0.0.1:0",
                "--worker-class",
                "gthread",
                "--workers",
                "1",
                "--threads",
                "32",
                "--log-level",
                "info",
                "httpbin:app",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so that drop stops the workers too.
            .process_group(0)
            .spawn()
            .expect("gunicorn starts from the httpbin venv");
        let stderr = child.stderr.take().expect("piped stderr");
        let (ready, port) = mpsc::channel();
        std::thread::spawn(move || {
            let mut ready = Some(ready);
            // Keeps draining the log after the readiness line, so that
            // gunicorn never blocks on a full pipe.
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(at) = line.find("Listening at: http://") {
                    let address = &line[at + "Listening at: http://".len()..];
                    let address = address.split_whitespace().next().unwrap_or("").to_owned();
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(address);
                    }
                }
            }
        });
        let address = match port.recv_timeout(READY_WITHIN) {
            Ok(address) => address,
            Err(_) => {
                let _ = kill_group(&mut child);
                panic!("gunicorn did not say where it listens within {READY_WITHIN:?}");
            }
        };
        Httpbin {
            child,
            base: format!("http://{address}"),
        }
    }

    /// The URL of `path` (which starts with `/`) on this server.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }
}

impl Drop for Httpbin {
    fn drop(&mut self) {
        let _ = kill_group(&mut self.child);
    }
}

fn kill_group(child: &mut Child) -> std::io::Result<()> {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    let group = Pid::from_raw(i32::try_from(child.id()).unwrap_or(i32::MAX));
    let _ = killpg(group, Signal::SIGKILL);
    child.wait().map(drop)
}

/// Runs `scripts/install-httpbin` once per test process (it returns at once
/// when the pinned venv is there) and returns the venv.
fn install() -> PathBuf {
    static INSTALL: Once = Once::new();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let venv = root.join("target/httpbin-venv");
    INSTALL.call_once(|| {
        let status = Command::new(root.join("scripts/install-httpbin"))
            .arg(&venv)
            .status()
            .expect("scripts/install-httpbin runs");
        assert!(
            status.success(),
            "scripts/install-httpbin failed ({status}): it needs python3 with venv and pip, and PyPI"
        );
    });
    venv
}
