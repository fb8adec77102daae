//! Recipe SQL is a query and nothing else. A template whose `sql` writes a file (`COPY … TO`),
//! declares a table over one (`CREATE EXTERNAL TABLE … LOCATION`) or reads one as a table
//! (`SELECT * FROM '<path>'`) is refused at validation; and handed straight to the engine,
//! bypassing validation, the same SQL neither writes the file nor returns its contents.
//! Real files in a fresh directory each test.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use datafusion::prelude::SessionContext;
use presage_recipe_processor::engine::{PreparedQuery, Runtime};
use presage_recipe_processor::explain_template;
use presage_recipe_processor::table::{samples_schema, signals_schema};
use presage_template::{parse, RECIPE_TABLES};

/// What the secret file holds; no output of the engine may contain it.
const CANARY: &str = "canary-7f3a9c";

/// A fresh directory holding `secret.csv` (a real CSV a query could read), and where a `COPY`
/// would write `x.csv`.
struct Files {
    dir: PathBuf,
}

impl Files {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "presage-recipe-sql-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("secret.csv"), format!("app,value\n{CANARY},42\n"))
            .expect("secret file");
        Files { dir }
    }

    fn secret(&self) -> PathBuf {
        self.dir.join("secret.csv")
    }

    fn target(&self) -> PathBuf {
        self.dir.join("x.csv")
    }

    /// The hostile statements: what each does, its text, and what the engine's own refusal
    /// says (the statement refused as such, not merely for the shape of what it returns).
    fn hostile(&self) -> Vec<(&'static str, String, &'static str)> {
        let (secret, target) = (path(&self.secret()), path(&self.target()));
        vec![
            (
                "copy",
                format!("COPY (SELECT 1 AS a) TO '{target}'"),
                "DML not supported: COPY",
            ),
            (
                "copy with options",
                format!("COPY (SELECT 1 AS a) TO '{target}' STORED AS CSV"),
                "DML not supported: COPY",
            ),
            (
                "external table",
                format!(
                    "CREATE EXTERNAL TABLE leak (app VARCHAR, value DOUBLE) STORED AS CSV \
                     LOCATION '{secret}' OPTIONS ('format.has_header' 'true')"
                ),
                "DDL not supported: CreateExternalTable",
            ),
            (
                "file as table",
                format!("SELECT app, 0 AS window_start, value FROM '{secret}'"),
                "not found",
            ),
            (
                "file joined to samples",
                format!(
                    "SELECT s.app, s.window_start, 1.0 AS value FROM samples s \
                     JOIN '{secret}' f ON s.app = f.app"
                ),
                "not found",
            ),
            (
                "external table then read",
                format!(
                    "CREATE EXTERNAL TABLE leak STORED AS CSV LOCATION '{secret}'; \
                     SELECT app, 0 AS window_start, value FROM leak"
                ),
                "single SQL statement",
            ),
        ]
    }
}

impl Drop for Files {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn path(p: &Path) -> String {
    p.to_str().expect("utf-8 temp path").to_string()
}

fn template(sql: &str) -> String {
    let quoted = sql.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        "app: a\n\
         dynamic_metadata:\n\
         \x20 sources:\n\
         \x20   - {{ id: api, kind: prometheus, url: \"http://x\" }}\n\
         \x20 metric_recipes:\n\
         \x20   - name: custom\n\
         \x20     from: api.http_requests_total\n\
         \x20     sql: \"{quoted}\"\n\
         \x20     window: {{ tumble: 1m }}\n"
    )
}

/// Plans `sql` as the recipe-processor does, with no validation before it.
fn engine(sql: &str) -> Result<PreparedQuery, String> {
    let runtime = Runtime::new().expect("runtime");
    PreparedQuery::prepare(&runtime, sql, samples_schema(&[]), signals_schema(&[]), &[])
        .map_err(|e| e.to_string())
}

#[test]
fn hostile_sql_is_refused_at_validation_at_the_sql_line() {
    let files = Files::new();
    for (what, sql, _) in files.hostile() {
        let errors = match parse(&template(&sql), "hostile.yaml") {
            Ok(_) => panic!("{what}: validation accepted {sql}"),
            Err(e) => e,
        };
        assert_eq!(errors.len(), 1, "{what}: {errors}");
        let e = &errors.errors[0];
        assert_eq!(
            (e.file.as_str(), e.line),
            ("hostile.yaml", 8),
            "{what}: {e}"
        );
        assert!(e.column >= 13, "{what}: {e}");
        assert!(
            e.message.starts_with("sql of recipe \"custom\""),
            "{what}: {e}"
        );
    }
    assert!(!files.target().exists(), "validation wrote a file");
}

#[test]
fn the_engine_handed_hostile_sql_directly_neither_writes_nor_reads_the_file() {
    let files = Files::new();
    for (what, sql, says) in files.hostile() {
        let refusal = match engine(&sql) {
            Ok(query) => panic!("{what}: the engine planned {sql}: {query:?}"),
            Err(e) => e,
        };
        assert!(
            refusal.contains(says),
            "{what}: {refusal}\n  should say: {says}"
        );
        assert!(!refusal.contains(CANARY), "{what}: {refusal}");
        assert!(
            !files.target().exists(),
            "{what}: the engine wrote {}",
            files.target().display()
        );
    }
    // The secret is still there and still only the test's.
    let secret = std::fs::read_to_string(files.secret()).expect("secret");
    assert!(secret.contains(CANARY));
}

/// The threat is real: the same statements in a default DataFusion session write and read the
/// files. Without this the test above could pass because DataFusion cannot do it anyway.
#[test]
fn a_default_session_would_have_written_and_read_the_files() {
    let files = Files::new();
    let (secret, target) = (path(&files.secret()), path(&files.target()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let context = SessionContext::new();
        let copy = format!("COPY (SELECT 1 AS a) TO '{target}' STORED AS CSV");
        context
            .sql(&copy)
            .await
            .expect("plan")
            .collect()
            .await
            .expect("copy");
        let create = format!(
            "CREATE EXTERNAL TABLE leak STORED AS CSV LOCATION '{secret}' \
             OPTIONS ('format.has_header' 'true')"
        );
        context.sql(&create).await.expect("create");
        let rows = context
            .sql("SELECT app FROM leak")
            .await
            .expect("plan")
            .collect()
            .await
            .expect("read");
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&rows)
            .expect("format")
            .to_string();
        assert!(text.contains(CANARY), "{text}");
    });
    assert!(files.target().exists(), "COPY wrote nothing");
}

#[test]
fn the_engine_refuses_table_functions_and_statements_on_its_own() {
    for (sql, says) in [
        (
            "SELECT 'a' AS app, 0 AS window_start, CAST(value AS DOUBLE) AS value \
             FROM generate_series(1, 3) AS t(value)",
            "generate_series",
        ),
        ("SET datafusion.execution.batch_size = 1", "Statement"),
        ("DROP TABLE samples", "DDL"),
        ("INSERT INTO samples SELECT * FROM samples", "DML"),
    ] {
        let refusal = engine(sql).expect_err(sql);
        assert!(refusal.contains(says), "{sql}: {refusal}");
    }
}

#[test]
fn queries_over_the_recipes_tables_still_plan() {
    assert_eq!(
        RECIPE_TABLES,
        [
            presage_recipe_processor::table::SAMPLES,
            presage_recipe_processor::table::SIGNALS
        ],
        "validation allows the tables the engine registers"
    );
    engine(
        "WITH w AS (SELECT * FROM samples) SELECT w.app, w.window_start, avg(w.value) AS value \
         FROM w LEFT JOIN signals g ON w.app = g.app \
         WHERE w.value > (SELECT min(value) FROM samples) GROUP BY w.app, w.window_start",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // Every shipped template's recipes plan, `sql:` included.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../templates");
    let mut planned = 0;
    for entry in std::fs::read_dir(&dir).expect("templates") {
        let p = entry.expect("entry").path();
        if p.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let t = presage_template::load(&p).unwrap_or_else(|e| panic!("{e}"));
        for plan in explain_template(&t) {
            plan.unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            planned += 1;
        }
    }
    assert!(planned > 0);
}

/// Mutated queries, hostile and not: validation never panics or stalls on them, whatever it
/// accepts the engine never refuses for authority (validation is at least as strict), and
/// nothing ever writes the target file, even when the accepted plans run. A fixed seed, so a
/// failure reproduces; `PRESAGE_SQL_CASES` sets how many (default 2,000).
#[test]
fn mutated_queries_never_get_past_validation_to_a_refusal_of_authority_or_a_file() {
    let files = Files::new();
    let (secret, target) = (path(&files.secret()), path(&files.target()));
    let seeds = [
        "SELECT app, window_start, avg(value) AS value FROM samples GROUP BY app, window_start"
            .to_string(),
        "WITH w AS (SELECT * FROM samples) SELECT app, window_start, max(value) AS value \
         FROM w GROUP BY app, window_start"
            .to_string(),
        format!("COPY (SELECT 1 AS a) TO '{target}' STORED AS CSV"),
        format!("SELECT app, 0 AS window_start, value FROM '{secret}'"),
        format!("CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '{secret}'"),
    ];
    let pieces = [
        "COPY ",
        " TO ",
        "(",
        ")",
        ";",
        ",",
        " SELECT ",
        " FROM ",
        " samples ",
        " signals ",
        " WITH x AS (SELECT 1) ",
        " UNION ALL ",
        " INSERT INTO samples ",
        " SET a = 1 ",
        " read_csv(",
        " generate_series(1, 3) ",
        " information_schema.tables ",
        " AS t ",
        " JOIN ",
        " ON 1 = 1 ",
        " WHERE ",
        " EXPLAIN ",
        " INTO t ",
        " TABLE ",
        " LATERAL ",
        " CREATE TABLE t AS ",
        " DROP TABLE samples ",
        " x ",
        "'",
        "\"",
        " 1 ",
    ];
    let pieces: Vec<String> = pieces
        .iter()
        .map(|p| p.to_string())
        .chain([format!(" '{target}' "), format!(" '{secret}' ")])
        .collect();
    let cases: usize = std::env::var("PRESAGE_SQL_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let runtime = Runtime::new().expect("runtime");
    let mut random = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = |bound: usize| {
        // xorshift64: enough spread for picking edits, and no dependency.
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        (random % bound as u64) as usize
    };
    let (mut accepted, mut slowest) = (0, std::time::Duration::ZERO);
    for case in 0..cases {
        let mut sql: Vec<char> = seeds[next(seeds.len())].chars().collect();
        for _ in 0..1 + next(4) {
            let at = next(sql.len() + 1);
            match next(3) {
                0 => {
                    let piece = &pieces[next(pieces.len())];
                    sql.splice(at..at, piece.chars());
                }
                1 if at < sql.len() => {
                    let end = (at + 1 + next(8)).min(sql.len());
                    sql.drain(at..end);
                }
                _ => {
                    let piece = &pieces[next(pieces.len())];
                    let end = (at + next(12)).min(sql.len());
                    sql.splice(at..end, piece.chars());
                }
            }
        }
        let sql: String = sql.into_iter().collect();
        let started = std::time::Instant::now();
        let valid = parse(&template(&sql), "fuzz.yaml").is_ok();
        slowest = slowest.max(started.elapsed());
        if valid {
            accepted += 1;
            let runs = PreparedQuery::prepare(
                &runtime,
                &sql,
                samples_schema(&[]),
                signals_schema(&[]),
                &[],
            )
            .map_err(|e| e.to_string())
            .and_then(|q| {
                q.run(&runtime, Vec::new(), Vec::new())
                    .map_err(|e| e.to_string())
            });
            if let Err(refusal) = runs {
                assert!(
                    !refusal.contains("not supported") && !refusal.contains("the query reads"),
                    "case {case}: validation accepted what the engine refuses for authority: \
                     {sql}\n{refusal}"
                );
            }
        }
        assert!(
            !files.target().exists(),
            "case {case} wrote the file: {sql}"
        );
    }
    assert!(
        slowest < std::time::Duration::from_secs(1),
        "validation took {slowest:?} on one case"
    );
    eprintln!("{cases} mutated queries, {accepted} accepted, slowest validation {slowest:?}");
}
