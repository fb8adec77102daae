//! The full check of a template file: the template crate's validation, then every recipe's
//! query planned by DataFusion, the same planning the recipe-processor does. A query that does
//! not plan is refused with DataFusion's message at the recipe's line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use presage_template::authority::Allow;
use presage_template::Template;

/// The template, or every problem as `file:line:column: message`.
pub fn check_file(path: &Path) -> Result<Template, Vec<String>> {
    let file = path.display().to_string();
    let template = presage_template::load(path).map_err(|errors| {
        errors
            .errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
    })?;
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let problems: Vec<String> = presage_recipe_processor::plan_template(&template)
        .into_iter()
        .map(|(index, recipe, error)| {
            let recipe_path = format!("dynamic_metadata.metric_recipes[{index}]");
            let has_sql = template.dynamic_metadata.metric_recipes[index]
                .sql
                .is_some();
            let at = if has_sql {
                presage_template::position_of(&text, &format!("{recipe_path}.sql"))
            } else {
                presage_template::position_of(&text, &format!("{recipe_path}.from"))
            }
            .or_else(|| presage_template::position_of(&text, &recipe_path));
            let (line, column) = at.unwrap_or((0, 0));
            let what = if has_sql { "sql" } else { "generated query" };
            format!("{file}:{line}:{column}: {what} of recipe {recipe:?} does not plan: {error}")
        })
        .collect();
    if problems.is_empty() {
        Ok(template)
    } else {
        Err(problems)
    }
}

/// What `template` (read from `path`) asks for that `allow` does not grant, each as
/// `file:line:column: message` at the node that asks it; relative hook paths resolved against
/// `cwd`, as the applier running there would.
pub fn check_granted(path: &Path, template: &Template, allow: &Allow, cwd: &Path) -> Vec<String> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).unwrap_or_default();
    allow
        .check(template, cwd)
        .into_iter()
        .map(|violation| {
            let (line, column) =
                presage_template::position_of(&text, &violation.at).unwrap_or((0, 0));
            format!(
                "{file}:{line}:{column}: {} by the allow-list (rule `{}`, at {})",
                violation.why, violation.rule, violation.at
            )
        })
        .collect()
}

#[derive(Debug, clap::Args)]
pub struct CompileArgs {
    /// The template file.
    pub file: PathBuf,
    /// Only this recipe.
    #[arg(long)]
    pub recipe: Option<String>,
}

/// `presage compile`: per recipe, the SQL that runs and DataFusion's plans for it.
pub fn compile(args: &CompileArgs) -> ExitCode {
    let template = match check_file(&args.file) {
        Ok(template) => template,
        Err(problems) => {
            for problem in problems {
                eprintln!("{problem}");
            }
            return ExitCode::FAILURE;
        }
    };
    let plans = presage_recipe_processor::explain_template(&template);
    let mut shown = 0;
    for plan in plans.into_iter().flatten() {
        if args.recipe.as_ref().is_some_and(|r| *r != plan.recipe) {
            continue;
        }
        shown += 1;
        println!("== recipe {} ==", plan.recipe);
        println!("-- SQL (runs once per close, over every window closing together)");
        println!("{}", pretty_sql(&plan.sql));
        println!("-- optimized logical plan");
        println!("{}", plan.logical.trim_end());
        println!("-- physical plan");
        println!("{}\n", plan.physical.trim_end());
    }
    if shown == 0 {
        eprintln!(
            "no recipe {:?} in {}",
            args.recipe.as_deref().unwrap_or_default(),
            args.file.display()
        );
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}

/// One common table expression per line, so a long query reads top to bottom.
fn pretty_sql(sql: &str) -> String {
    sql.replace("), ", "),\n  ")
        .replace(") SELECT ", ")\nSELECT ")
}
