//! The local broker as a supervised child. `presage_runner::broker::LocalBroker` starts it for
//! the tests, but owns its child privately; `presage up` needs the child itself, to start it in
//! its own process group, to notice it die and restart it, and to stop it last. The command
//! line is the runner's ([`broker_command`]), and so is the data directory, which is what a
//! restart keeps.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Child;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

use presage_runner::broker::broker_command;

use super::process::spawn_isolated;

#[derive(Debug, Clone)]
pub struct LocalBroker {
    pub nisshi: PathBuf,
    pub data_dir: PathBuf,
    pub port: u16,
}

impl LocalBroker {
    pub fn bootstrap(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn log_path(&self) -> PathBuf {
        self.data_dir.join("nisshi.log")
    }

    /// The first start: refuses a busy port, then waits until the broker listens, so topics
    /// can be created.
    pub fn start(&self, limit: Duration) -> anyhow::Result<Child> {
        // Another process on the port would answer the readiness probe: refuse it up front.
        if let Err(err) = TcpListener::bind(("127.0.0.1", self.port)) {
            bail!(
                "port {} is not free for the local broker ({err}): pick another with --port",
                self.port
            );
        }
        let mut child = self.spawn()?;
        if let Err(err) = self.wait_until_listening(&mut child, limit) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(err);
        }
        Ok(child)
    }

    /// Starts the broker process, appending to its log. A restart does not wait for it to
    /// listen: the services' clients reconnect by themselves, and the supervisor must keep
    /// watching the other children meanwhile.
    pub fn spawn(&self) -> anyhow::Result<Child> {
        let mut command = broker_command(&self.nisshi, &self.data_dir, self.port)?;
        spawn_isolated(&mut command).with_context(|| format!("starting {}", self.nisshi.display()))
    }

    fn wait_until_listening(&self, child: &mut Child, limit: Duration) -> anyhow::Result<()> {
        let address: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = child.try_wait()? {
                bail!(
                    "broker exited with {status} before listening; see {}",
                    self.log_path().display()
                );
            }
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("broker did not listen on {address} within {limit:?}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}
