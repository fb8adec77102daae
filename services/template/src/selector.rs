//! Metric selectors: `<source>.<metric>` with optional Prometheus-style label matchers,
//! `api.http_requests_total{method="GET",code=~"5.."}`. Operators are `=`, `!=`, `=~` and
//! `!~`; regular expressions are anchored at both ends, as in Prometheus, so `code=~"5.."`
//! matches `503` and not `1503`. A label that is absent reads as the empty string.

use std::collections::BTreeMap;
use std::fmt;

use regex::{Regex, RegexBuilder};

use crate::bounds::{MAX_REGEX_BYTES, MAX_REGEX_CACHE_BYTES, MAX_RULE_DEPTH};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    Equal,
    NotEqual,
    Matches,
    NotMatches,
}

impl MatchOp {
    fn symbol(&self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Matches => "=~",
            MatchOp::NotMatches => "!~",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Matcher {
    pub label: String,
    pub op: MatchOp,
    pub value: String,
    regex: Option<Regex>,
}

impl Matcher {
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        let actual = labels.get(&self.label).map_or("", String::as_str);
        match (&self.op, &self.regex) {
            (MatchOp::Equal, _) => actual == self.value,
            (MatchOp::NotEqual, _) => actual != self.value,
            (MatchOp::Matches, Some(re)) => re.is_match(actual),
            (MatchOp::NotMatches, Some(re)) => !re.is_match(actual),
            (_, None) => false,
        }
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Self) -> bool {
        self.label == other.label && self.op == other.op && self.value == other.value
    }
}

/// A parsed selector.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    pub source: String,
    pub metric: String,
    pub matchers: Vec<Matcher>,
}

/// A selector that does not parse; `column` is 1-based, in characters of the selector.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct SelectorError {
    pub column: usize,
    pub message: String,
}

/// A matcher's regex, anchored like Prometheus's, within the template's bounds: compiled size,
/// matching cache and nesting (the same depth as a rule's).
fn compile(value: &str) -> Result<Regex, String> {
    RegexBuilder::new(&format!("^(?:{value})$"))
        .size_limit(MAX_REGEX_BYTES)
        .dfa_size_limit(MAX_REGEX_CACHE_BYTES)
        .nest_limit(MAX_RULE_DEPTH as u32)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => format!(
                "it compiles to more than {limit} bytes: expected a smaller pattern (a bounded \
                 repeat of a Unicode class such as \\w{{20}} is large; \\w+ or an ASCII class \
                 such as [a-z0-9_]{{20}} is not)"
            ),
            other => other.to_string(),
        })
}

impl Selector {
    pub fn parse(text: &str) -> Result<Selector, SelectorError> {
        let chars: Vec<char> = text.chars().collect();
        let mut at = 0;
        let err = |column: usize, message: String| SelectorError {
            column: column + 1,
            message,
        };
        let name_end = chars.iter().position(|c| *c == '{').unwrap_or(chars.len());
        let name: String = chars[..name_end].iter().collect();
        let name = name.trim();
        let Some((source, metric)) = name.split_once('.') else {
            return Err(err(
                0,
                format!("{name:?} is not <source id>.<metric>: expected something like api.http_requests_total"),
            ));
        };
        if source.is_empty() || metric.is_empty() || !name.chars().all(is_name_char) {
            return Err(err(
                0,
                format!("{name:?} is not <source id>.<metric>: expected letters, digits, _, : and . only"),
            ));
        }
        at += name_end;
        let mut matchers = Vec::new();
        if at < chars.len() {
            at += 1; // '{'
            loop {
                skip_spaces(&chars, &mut at);
                if chars.get(at) == Some(&'}') {
                    at += 1;
                    break;
                }
                let label_start = at;
                while chars
                    .get(at)
                    .is_some_and(|c| c.is_ascii_alphanumeric() || *c == '_')
                {
                    at += 1;
                }
                let label: String = chars[label_start..at].iter().collect();
                if label.is_empty() {
                    return Err(err(at, "expected a label name".into()));
                }
                skip_spaces(&chars, &mut at);
                let op = match (chars.get(at), chars.get(at + 1)) {
                    (Some('='), Some('~')) => MatchOp::Matches,
                    (Some('!'), Some('~')) => MatchOp::NotMatches,
                    (Some('!'), Some('=')) => MatchOp::NotEqual,
                    (Some('='), _) => MatchOp::Equal,
                    _ => {
                        return Err(err(
                            at,
                            format!("expected =, !=, =~ or !~ after label {label:?}"),
                        ))
                    }
                };
                at += if op == MatchOp::Equal { 1 } else { 2 };
                skip_spaces(&chars, &mut at);
                let value = quoted(&chars, &mut at).map_err(|m| err(at, m))?;
                let regex = match op {
                    MatchOp::Matches | MatchOp::NotMatches => {
                        Some(compile(&value).map_err(|e| {
                            err(at, format!("label {label:?}: bad regular expression: {e}"))
                        })?)
                    }
                    _ => None,
                };
                matchers.push(Matcher {
                    label,
                    op,
                    value,
                    regex,
                });
                skip_spaces(&chars, &mut at);
                match chars.get(at) {
                    Some(',') => at += 1,
                    Some('}') => {
                        at += 1;
                        break;
                    }
                    _ => return Err(err(at, "expected , or } after a label matcher".into())),
                }
            }
            skip_spaces(&chars, &mut at);
            if at < chars.len() {
                return Err(err(at, "unexpected text after the closing }".into()));
            }
        }
        Ok(Selector {
            source: source.to_string(),
            metric: metric.to_string(),
            matchers,
        })
    }

    /// Whether a sample of `source.metric` with these labels is selected.
    pub fn matches(&self, source: &str, metric: &str, labels: &BTreeMap<String, String>) -> bool {
        self.source == source
            && self.metric == metric
            && self.matchers.iter().all(|m| m.matches(labels))
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.source, self.metric)?;
        if !self.matchers.is_empty() {
            let inner: Vec<String> = self
                .matchers
                .iter()
                .map(|m| format!("{}{}{:?}", m.label, m.op.symbol(), m.value))
                .collect();
            write!(f, "{{{}}}", inner.join(","))?;
        }
        Ok(())
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '.')
}

fn skip_spaces(chars: &[char], at: &mut usize) {
    while chars.get(*at).is_some_and(|c| c.is_whitespace()) {
        *at += 1;
    }
}

/// A double-quoted string with `\"` and `\\` escapes.
fn quoted(chars: &[char], at: &mut usize) -> Result<String, String> {
    if chars.get(*at) != Some(&'"') {
        return Err("expected a double-quoted label value".into());
    }
    *at += 1;
    let mut out = String::new();
    loop {
        match chars.get(*at) {
            None => return Err("unterminated label value: expected a closing \"".into()),
            Some('"') => {
                *at += 1;
                return Ok(out);
            }
            Some('\\') => {
                if let Some(c) = chars.get(*at + 1) {
                    out.push(*c);
                }
                *at += 2;
            }
            Some(c) => {
                out.push(*c);
                *at += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_bare_selector_names_source_and_metric() {
        let s = Selector::parse("api.http_requests_total").unwrap();
        assert_eq!(
            (s.source.as_str(), s.metric.as_str()),
            ("api", "http_requests_total")
        );
        assert!(s.matchers.is_empty());
        assert!(s.matches("api", "http_requests_total", &labels(&[("code", "200")])));
        assert!(!s.matches("api", "other", &labels(&[])));
    }

    #[test]
    fn matchers_follow_prometheus_semantics() {
        let s = Selector::parse(
            r#"api.http_requests_total{method="GET", code=~"5..",path!="/health",zone!~"eu-.*"}"#,
        )
        .unwrap();
        assert_eq!(s.matchers.len(), 4);
        let hit = labels(&[
            ("method", "GET"),
            ("code", "503"),
            ("path", "/x"),
            ("zone", "us-1"),
        ]);
        assert!(s.matches("api", "http_requests_total", &hit));
        let anchored = labels(&[("method", "GET"), ("code", "1503"), ("path", "/x")]);
        assert!(
            !s.matches("api", "http_requests_total", &anchored),
            "regex is anchored"
        );
        let health = labels(&[("method", "GET"), ("code", "500"), ("path", "/health")]);
        assert!(!s.matches("api", "http_requests_total", &health));
        let eu = labels(&[("method", "GET"), ("code", "500"), ("zone", "eu-west")]);
        assert!(!s.matches("api", "http_requests_total", &eu));
    }

    #[test]
    fn an_absent_label_reads_as_empty() {
        let s = Selector::parse(r#"a.m{zone=""}"#).unwrap();
        assert!(s.matches("a", "m", &labels(&[])));
        assert!(!s.matches("a", "m", &labels(&[("zone", "x")])));
    }

    #[test]
    fn errors_name_the_column() {
        let e = Selector::parse(r#"api.m{code=5}"#).unwrap_err();
        assert_eq!(e.column, 12, "{e}");
        assert!(e.message.contains("double-quoted"), "{e}");
        let e = Selector::parse(r#"api.m{code=~"("}"#).unwrap_err();
        assert!(e.message.contains("bad regular expression"), "{e}");
        let e = Selector::parse("requests").unwrap_err();
        assert_eq!(e.column, 1);
        let e = Selector::parse(r#"api.m{code="1""#).unwrap_err();
        assert!(e.message.contains("expected , or }"), "{e}");
    }

    #[test]
    fn display_round_trips() {
        let text = r#"api.m{code=~"5..",method="GET"}"#;
        let s = Selector::parse(text).unwrap();
        assert_eq!(Selector::parse(&s.to_string()).unwrap(), s);
    }
}
