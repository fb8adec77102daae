//! Finds a broker for a test, in this order: `PRESAGE_TEST_BROKERS` if set (each test then gets
//! its own topic prefix), else a fresh local Nisshi on a free port with fresh storage, else (with
//! the `docker` feature, where a Docker engine answers) Apache Kafka through testcontainers.
//! With none of them the test fails loudly: an end-to-end test never passes without a broker.

use presage_runner::broker::{find_nisshi, free_port, LocalBroker};
use presage_runner::KafkaArgs;

pub struct TestBroker {
    pub kafka: KafkaArgs,
    _local: Option<LocalBroker>,
    _container: Option<Box<dyn std::any::Any>>,
    _dir: tempfile::TempDir,
}

impl TestBroker {
    /// A broker with every topic of the topology created.
    pub fn start() -> Self {
        let broker = Self::start_bare();
        broker.create_topics();
        broker
    }

    /// A broker with no Presage topics yet.
    pub fn start_bare() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut container = None;
        let (kafka, local) = match std::env::var("PRESAGE_TEST_BROKERS") {
            Ok(brokers) if !brokers.is_empty() => {
                let prefix = format!("t{}-{}.", std::process::id(), free_port().unwrap_or(0));
                let kafka = KafkaArgs {
                    topic_prefix: prefix,
                    ..KafkaArgs::for_brokers(brokers)
                };
                (kafka, None)
            }
            _ => match find_nisshi() {
                Some(nisshi) => {
                    let port = free_port().expect("free port");
                    let local = LocalBroker::start(&nisshi, &dir.path().join("broker"), port)
                        .expect("starting the local broker");
                    (KafkaArgs::for_brokers(local.bootstrap()), Some(local))
                }
                None => {
                    let (kafka, node) = docker_kafka().expect(
                        "no broker for the end-to-end tests: set PRESAGE_TEST_BROKERS, or install the local broker with `cargo xtask install-broker` (cargo xtask test does it), or enable the `docker` feature where Docker runs",
                    );
                    container = Some(node);
                    (kafka, None)
                }
            },
        };
        Self {
            kafka,
            _local: local,
            _container: container,
            _dir: dir,
        }
    }

    fn create_topics(&self) {
        crate::topics::create_topology(&self.kafka, std::time::Duration::from_secs(10))
            .unwrap_or_else(|err| panic!("{err:#}"));
    }
}

/// Apache Kafka in a container, if the `docker` feature is on and a Docker engine answers.
#[cfg(feature = "docker")]
fn docker_kafka() -> Option<(KafkaArgs, Box<dyn std::any::Any>)> {
    use testcontainers_modules::kafka::apache;
    use testcontainers_modules::testcontainers::runners::SyncRunner;

    let engine = std::process::Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    if !engine {
        return None;
    }
    let node = apache::Kafka::default().start().ok()?;
    let port = node.get_host_port_ipv4(apache::KAFKA_PORT).ok()?;
    Some((
        KafkaArgs::for_brokers(format!("127.0.0.1:{port}")),
        Box::new(node),
    ))
}

#[cfg(not(feature = "docker"))]
fn docker_kafka() -> Option<(KafkaArgs, Box<dyn std::any::Any>)> {
    None
}
