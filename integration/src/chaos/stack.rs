//! The stack a chaos run drives: the local broker (stopped and started again on the same data
//! and port) and the service instances, each a `presage run <service>` child process with its
//! own log.

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use anyhow::Context;
use presage_runner::broker::LocalBroker;
use presage_runner::KafkaArgs;
use presage_runner::KafkaChild;

use crate::services::terminate;

pub struct Stack {
    nisshi: PathBuf,
    broker_dir: PathBuf,
    port: u16,
    broker: Option<LocalBroker>,
    /// The directory the services run in: templates' relative paths resolve here.
    pub workdir: PathBuf,
    bin_dir: PathBuf,
    log_dir: PathBuf,
    /// The settings every instance gets.
    pub kafka: KafkaArgs,
    /// (service, instance number) → its process.
    instances: BTreeMap<(&'static str, usize), Child>,
    /// The operator's allow-list every instance started from now on runs with.
    pub allow: Option<PathBuf>,
}

impl Stack {
    pub fn start(nisshi: &Path, root: &Path, port: u16, bin_dir: &Path) -> anyhow::Result<Self> {
        let broker_dir = root.join("broker");
        let broker = LocalBroker::start(nisshi, &broker_dir, port)?;
        let mut kafka = KafkaArgs::for_brokers(broker.bootstrap());
        // A killed instance leaves its group within seconds; deliveries give up (and are sent
        // again) after 10 s, so an outage exercises the retries.
        kafka.kafka_settings.extend([
            "session.timeout.ms=6000".to_string(),
            "message.timeout.ms=10000".to_string(),
        ]);
        let log_dir = root.join("logs");
        std::fs::create_dir_all(&log_dir)?;
        let workdir = root.join("run");
        std::fs::create_dir_all(&workdir)?;
        Ok(Self {
            nisshi: nisshi.to_path_buf(),
            broker_dir,
            port,
            broker: Some(broker),
            workdir,
            bin_dir: bin_dir.to_path_buf(),
            log_dir,
            kafka,
            instances: BTreeMap::new(),
            allow: None,
        })
    }

    pub fn stop_broker(&mut self) {
        if let Some(mut broker) = self.broker.take() {
            broker.stop();
        }
    }

    pub fn start_broker(&mut self) -> anyhow::Result<()> {
        if self.broker.is_none() {
            self.broker = Some(LocalBroker::start(
                &self.nisshi,
                &self.broker_dir,
                self.port,
            )?);
        }
        Ok(())
    }

    pub fn start_instance(&mut self, service: &'static str, instance: usize) -> anyhow::Result<()> {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_dir.join(format!("{service}-{instance}.log")))?;
        let mut command = Command::new(self.bin_dir.join("presage"));
        if let Some(allow) = &self.allow {
            command.env(presage_template::authority::ALLOW_ENV, allow);
        }
        let child = command
            .args(["run", service])
            .kafka(&self.kafka)
            .current_dir(&self.workdir)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {service} #{instance}"))?;
        self.instances.insert((service, instance), child);
        Ok(())
    }

    /// SIGKILL: nothing runs on the way out.
    pub fn kill(&mut self, service: &'static str, instance: usize) -> bool {
        match self.instances.remove(&(service, instance)) {
            Some(mut child) => {
                let _ = child.kill();
                let _ = child.wait();
                true
            }
            None => false,
        }
    }

    /// SIGTERM, then SIGKILL after 10 s.
    pub fn stop(&mut self, service: &'static str, instance: usize) {
        if let Some(mut child) = self.instances.remove(&(service, instance)) {
            terminate(&mut child);
        }
    }

    pub fn running(&self, service: &'static str, instance: usize) -> bool {
        self.instances.contains_key(&(service, instance))
    }

    /// Instances that exited by themselves (a crash): named, and forgotten.
    pub fn exited(&mut self) -> Vec<String> {
        let mut gone = Vec::new();
        for ((service, instance), child) in self.instances.iter_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                gone.push((*service, *instance, status));
            }
        }
        gone.into_iter()
            .map(|(service, instance, status)| {
                self.instances.remove(&(service, instance));
                format!("{service} #{instance} exited by itself ({status})")
            })
            .collect()
    }

    pub fn stop_all(&mut self) {
        let keys: Vec<(&'static str, usize)> = self.instances.keys().copied().collect();
        for (service, instance) in keys {
            self.stop(service, instance);
        }
    }

    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        for child in self.instances.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
        self.stop_broker();
    }
}
