//! The local broker: Nisshi, a Kafka-protocol broker in Rust, run as a child process with its
//! data in SQLite under a data directory (so it survives a restart). It is installed by the
//! set-up command (`cargo xtask up` / `cargo xtask test`), never at run time.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};

/// Where the set-up command installs Nisshi (`cargo install --root`), shared by every clone.
pub fn default_install_root() -> PathBuf {
    let cache = std::env::var_os("PRESAGE_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache/presage")))
        .unwrap_or_else(|| PathBuf::from(".presage-cache"));
    cache.join("nisshi")
}

/// The Nisshi binary: `PRESAGE_NISSHI`, else the set-up command's install, else `nisshi` on PATH.
pub fn find_nisshi() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PRESAGE_NISSHI") {
        return Some(PathBuf::from(path));
    }
    let installed = default_install_root().join("bin/nisshi");
    if installed.is_file() {
        return Some(installed);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("nisshi"))
            .find(|candidate| candidate.is_file())
    })
}

/// A port nobody listens on right now.
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The command that runs Nisshi on `127.0.0.1:port` with its data (SQLite) and its log
/// (`nisshi.log`, appended) in `data_dir`, created if missing. Shared by [`LocalBroker`] and
/// `presage up`'s supervisor, which spawns it in its own process group.
pub fn broker_command(binary: &Path, data_dir: &Path, port: u16) -> anyhow::Result<Command> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating broker data directory {}", data_dir.display()))?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(data_dir.join("nisshi.log"))
        .context("opening broker log")?;
    let url = format!("tcp://127.0.0.1:{port}");
    let mut command = Command::new(binary);
    command
        .args([
            "broker",
            "--listener-url",
            &url,
            "--advertised-listener-url",
            &url,
        ])
        // SQLite paths are relative to the broker's working directory.
        .args(["--storage-engine", "sqlite://presage.db"])
        .current_dir(data_dir)
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log);
    Ok(command)
}

/// A running Nisshi broker; stopped when dropped.
pub struct LocalBroker {
    child: Child,
    port: u16,
    data_dir: PathBuf,
}

impl LocalBroker {
    pub fn start(binary: &Path, data_dir: &Path, port: u16) -> anyhow::Result<Self> {
        // Another process on the port would answer our readiness probe: refuse it up front.
        if let Err(err) = TcpListener::bind(("127.0.0.1", port)) {
            bail!("port {port} is not free for the local broker ({err}): pick another with --port");
        }
        let child = broker_command(binary, data_dir, port)?
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        let mut broker = Self {
            child,
            port,
            data_dir: data_dir.to_path_buf(),
        };
        broker.wait_until_listening(Duration::from_secs(60))?;
        Ok(broker)
    }

    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    fn wait_until_listening(&mut self, limit: Duration) -> anyhow::Result<()> {
        let address: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "broker exited with {status} before listening; see {}",
                    self.data_dir.join("nisshi.log").display()
                );
            }
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(anyhow!(
                    "broker did not listen on {address} within {limit:?}"
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Stops the broker as an operator would: SIGTERM, so it finishes what it acknowledged
    /// (Nisshi exits in well under a second), then SIGKILL after 10 s.
    pub fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        // SAFETY: kill(2) on our own child's pid with a valid signal.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Kills the broker with SIGKILL: what a crash or an OOM kill does.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for LocalBroker {
    fn drop(&mut self) {
        self.stop();
    }
}
