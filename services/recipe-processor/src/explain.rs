//! What runs for each recipe: the generated (or given) SQL and DataFusion's plans. Used by
//! `presage compile` to show it, and by `presage validate` to refuse a query that does not plan.

use presage_template::Template;

use crate::compile::compile;
use crate::engine::{PreparedQuery, Runtime};
use crate::table::{samples_schema, signals_schema};

#[derive(Debug, Clone, PartialEq)]
pub struct RecipePlan {
    pub recipe: String,
    pub sql: String,
    /// DataFusion's optimised logical plan.
    pub logical: String,
    /// The physical plan that runs at every close.
    pub physical: String,
}

/// Plans every recipe of the template: one result per recipe, in template order. An error is
/// DataFusion's (or the compiler's) message.
pub fn explain_template(template: &Template) -> Vec<Result<RecipePlan, String>> {
    let runtime = match Runtime::new() {
        Ok(runtime) => runtime,
        Err(err) => {
            return template
                .dynamic_metadata
                .metric_recipes
                .iter()
                .map(|_| Err(err.to_string()))
                .collect()
        }
    };
    template
        .dynamic_metadata
        .metric_recipes
        .iter()
        .map(|recipe| {
            let compiled = compile(recipe).map_err(|e| e.to_string())?;
            let aliases: Vec<String> = compiled.joins.iter().map(|(_, a)| a.clone()).collect();
            let query = PreparedQuery::prepare(
                &runtime,
                &compiled.sql,
                samples_schema(&compiled.label_columns),
                signals_schema(&aliases),
                &compiled.group_by,
            )
            .map_err(|e| e.to_string())?;
            let (logical, physical) = query.explain();
            Ok(RecipePlan {
                recipe: compiled.name,
                sql: compiled.sql,
                logical,
                physical,
            })
        })
        .collect()
}

/// The recipes whose query does not plan: (index in `metric_recipes`, recipe name, why).
pub fn plan_template(template: &Template) -> Vec<(usize, String, String)> {
    explain_template(template)
        .into_iter()
        .enumerate()
        .filter_map(|(i, result)| {
            result.err().map(|e| {
                (
                    i,
                    template.dynamic_metadata.metric_recipes[i].name.clone(),
                    e,
                )
            })
        })
        .collect()
}
