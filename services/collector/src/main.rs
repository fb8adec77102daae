//! presage-collector: reads every source of every published template on its interval and
//! publishes raw samples to `presage.metrics.raw`. The I/O (HTTP, /proc) lives here; parsing and
//! scheduling live in the core.

use std::time::Duration;

use clap::Parser;
use presage_collector::readers::Readers;
use presage_collector::{to_raw_samples, Schedule, SourceReader};
use presage_runner::publisher::Publisher;
use presage_runner::templates::TemplateFeed;
use presage_runner::{KafkaArgs, Outgoing, Shutdown, TemplateBook};

/// Gathers host, application and external signals and publishes them as Avro events.
#[derive(Debug, Parser)]
#[command(name = "presage-collector", version)]
struct Args {
    #[command(flatten)]
    kafka: KafkaArgs,
}

fn main() -> anyhow::Result<()> {
    presage_runner::logging::init();
    let args = Args::parse();
    let shutdown = Shutdown::on_signals()?;
    let topic = args.kafka.topics().raw();
    let feed = TemplateFeed::open(&args.kafka, "collector")?;
    let mut book = TemplateBook::default();
    feed.read_to_end(&mut book)?;
    let publisher = Publisher::new(&args.kafka)?;
    let mut schedule = Schedule::default();
    let mut reader = Readers::default();
    tracing::info!(templates = book.len(), topic = %topic, "collector starting");

    while !shutdown.requested() {
        feed.poll_new(&mut book);
        let now = presage_runner::dlq::now_ms();
        let mut records = Vec::new();
        for loaded in book.all() {
            let template = &loaded.template;
            for source in schedule.due(&template.app, &template.dynamic_metadata.sources, now) {
                let readings = match reader.read(source, now) {
                    Ok(readings) => readings,
                    Err(err) => {
                        tracing::warn!(app = %template.app, source = %source.id, error = %err, "source read failed");
                        continue;
                    }
                };
                for sample in to_raw_samples(&template.app, &loaded.version, &source.id, readings) {
                    // Stamped with the sample's event time: `presage backtest --from --to`
                    // finds a time range of the raw topic by record timestamp.
                    records.push(Outgoing::event(topic.clone(), &sample)?.at(sample.event_time_ms));
                }
            }
        }
        if !records.is_empty() {
            publisher.send_all(&records)?;
            tracing::debug!(samples = records.len(), "published");
        }
        shutdown.sleep(Duration::from_millis(50));
    }
    publisher.flush();
    Ok(())
}
