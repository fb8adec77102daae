//! What a template may ask of the parser: its size, the nodes its aliases repeat, how deep its
//! YAML nests and how deep a rule expression nests. Anyone who can write to the templates topic
//! can send a template, so none of these may be left to the input: each bound is checked before
//! the work it protects, and going past it is a mistake reported with a position like any other.

use yaml_rust2::parser::Event;

/// The largest template, in bytes of UTF-8. Checked before any YAML is read; the shipped
/// templates are a few KiB.
pub const MAX_TEMPLATE_BYTES: usize = 1 << 20;

/// How deep mappings and sequences may nest. yaml_serde gives up at 128 levels; yaml-rust2's
/// loader recurses once per level, so a bound is needed before either reads the text.
pub const MAX_YAML_DEPTH: usize = 64;

/// How many nodes aliases (`*name`) may repeat in total, counting every node of each anchored
/// value they stand for (nested aliases included). Without it a few hundred bytes of anchors
/// that name each other ten times ("billion laughs") expand to billions of nodes; yaml_serde
/// stops repeating after 100 jumps per event of the document, which still lets one anchored
/// list of a thousand items be repeated a hundred thousand times.
pub const MAX_ALIAS_NODES: usize = 10_000;

/// How deep a rule expression may nest: each parenthesis, prefix `!` or `-`, function call,
/// operand of an operator and operator of a chain counts one level (see `rules::parser`).
pub const MAX_RULE_DEPTH: usize = 64;

/// The largest compiled regular expression of a selector's `=~`/`!~` matcher (the regex
/// crate's own measure, which is about what it holds). The regex crate allows 10 MiB: one
/// `\w{200}` held 11 MB and allocated 38 MB to compile, and a template may hold many selectors,
/// each kept compiled by the services that match with it. Usual matchers hold a few KiB to
/// 64 KiB (`\w+`); a bounded repeat of a Unicode class is what goes past this.
pub const MAX_REGEX_BYTES: usize = 256 << 10;

/// How many cache bytes one regex may use while matching (the regex crate's lazy DFA; 2 MiB
/// by default). Past it the cache is cleared and matching goes on, slower.
pub const MAX_REGEX_CACHE_BYTES: usize = 1 << 20;

/// The template's size is refused before anything reads it.
pub(crate) fn check_size(text: &str) -> Result<(), String> {
    if text.len() > MAX_TEMPLATE_BYTES {
        return Err(format!(
            "the template is {} bytes: expected at most {MAX_TEMPLATE_BYTES} bytes",
            text.len()
        ));
    }
    Ok(())
}

/// The first bound a YAML text breaks (its size, nesting or alias expansion), with the
/// position where it breaks it; for YAML read outside a template, before yaml_serde reads it.
pub(crate) fn first_breach(text: &str) -> Option<((usize, usize), String)> {
    if let Err(message) = check_size(text) {
        return Some(((1, 1), message));
    }
    let mut parser = yaml_rust2::parser::Parser::new_from_str(text);
    let mut watch = Watch::default();
    let at = |m: &yaml_rust2::scanner::Marker| (m.line(), m.col() + 1);
    loop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => return None,
            Ok((event, marker)) => {
                if let Err(message) = watch.observe(&event) {
                    return Some((at(&marker), message));
                }
            }
            Err(e) if is_scanner_depth_limit(&e) => return Some((at(e.marker()), too_deep())),
            // Not YAML: whoever reads it next says why.
            Err(_) => return None,
        }
    }
}

/// The message for nesting past `MAX_YAML_DEPTH`.
pub(crate) fn too_deep() -> String {
    format!(
        "mappings and lists nest more than {MAX_YAML_DEPTH} levels deep here: expected at most \
         {MAX_YAML_DEPTH}"
    )
}

/// yaml-rust2's scanner refuses deep flow collections (`[[[[...`) itself, before any event of
/// them; that refusal is this bound too. It must not be left to yaml_serde, whose parser takes
/// time quadratic in that depth to refuse it (5 s for 20,000 `[`).
pub(crate) fn is_scanner_depth_limit(error: &yaml_rust2::ScanError) -> bool {
    error.info().contains("recursion limit exceeded")
}

/// Follows the YAML events of one document and says when one goes past a bound.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    /// Nodes so far, with each alias counted as the nodes it repeats.
    nodes: usize,
    /// Nodes repeated by aliases so far.
    repeated: usize,
    /// Per open collection: its anchor id (0 for none) and `nodes` when it opened.
    open: Vec<(usize, usize)>,
    /// Anchor id → how many nodes its value is, once known.
    sizes: std::collections::HashMap<usize, usize>,
}

impl Watch {
    /// Takes the next event; an error says which bound it broke.
    pub(crate) fn observe(&mut self, event: &Event) -> Result<(), String> {
        match event {
            Event::Scalar(_, _, anchor, _) => {
                self.nodes += 1;
                if *anchor != 0 {
                    self.sizes.insert(*anchor, 1);
                }
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) => {
                if self.open.len() >= MAX_YAML_DEPTH {
                    return Err(too_deep());
                }
                self.nodes += 1;
                self.open.push((*anchor, self.nodes - 1));
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some((anchor, start)) = self.open.pop() {
                    if anchor != 0 {
                        self.sizes.insert(anchor, self.nodes - start);
                    }
                }
            }
            Event::Alias(anchor) => {
                // An alias of a value still open (which YAML does not allow) counts what it
                // has so far.
                let size = self.sizes.get(anchor).copied().unwrap_or_else(|| {
                    self.open
                        .iter()
                        .find(|(a, _)| a == anchor)
                        .map_or(1, |(_, start)| self.nodes - start)
                });
                self.nodes = self.nodes.saturating_add(size);
                self.repeated = self.repeated.saturating_add(size);
                if self.repeated > MAX_ALIAS_NODES {
                    return Err(format!(
                        "aliases repeat more than {MAX_ALIAS_NODES} nodes by this one: expected \
                         anchors (&name) and aliases (*name) that expand to at most \
                         {MAX_ALIAS_NODES} nodes in total"
                    ));
                }
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_breach(text: &str) -> Option<String> {
        super::first_breach(text).map(|(_, message)| message)
    }

    #[test]
    fn an_alias_counts_every_node_of_its_anchor_including_nested_aliases() {
        // a is 3 nodes ([, x, y); b is [*a, *a]: 1 + 2 × 3 = 7, of which 6 repeated; then c
        // repeats b k times: 6 + 7k nodes, over 10,000 from k = 1,428.
        let text = |k: usize| {
            format!(
                "a: &a [x, y]\nb: &b [*a, *a]\nc: [{}]\n",
                vec!["*b"; k].join(", ")
            )
        };
        let breach = first_breach(&text(1_428)).expect("10,002 repeated nodes");
        assert!(breach.contains("aliases repeat"), "{breach}");
        assert_eq!(first_breach(&text(1_427)), None, "9,995 repeated nodes");
    }

    #[test]
    fn nesting_is_counted_per_open_collection() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert_eq!(first_breach(&deep(MAX_YAML_DEPTH)), None);
        assert!(first_breach(&deep(MAX_YAML_DEPTH + 1)).is_some());
    }
}
