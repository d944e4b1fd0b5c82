//! NSX's search API (`GET /policy/api/v1/search/query?query=...`) over the policy tree.
//!
//! The query language is the part of NSX's (Lucene's) syntax that its clients send:
//! `field:value` terms joined by `AND` and `OR` (`AND` binds tighter; terms side by side
//! mean `AND`), parentheses, `NOT` before a term, values with `*` and `?` wildcards, a
//! backslash escaping the next character (VMware's Terraform provider escapes
//! `()[]+-=&|><!{}^~*?:/` in names and paths), and `"quoted phrases"`. A field is any field
//! of the object as GET shows it, `a.b` reaching into nested objects and lists
//! (`tags.tag`); a bare value matches `display_name`, `id` or `description`. Matching
//! ignores case. Anything else (ranges, fuzzy `~`, boosts `^`) is refused with a message
//! saying what is supported.

use serde_json::Value;
use strait_model::path::Kind;
use strait_model::problems::codes;

use crate::list::{page, ListQuery, ListResult};
use crate::tree::render;
use crate::{Policy, PolicyError};

/// Longest query accepted.
pub const QUERY_MAX_CHARS: usize = 4096;
/// Most terms in a query.
const TERMS_MAX: usize = 64;
/// Deepest nesting of parentheses.
const DEPTH_MAX: usize = 16;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
enum Query {
    /// `field:pattern`, or a bare pattern (`field` None).
    Term {
        field: Option<String>,
        pattern: Vec<Piece>,
    },
    Not(Box<Query>),
    And(Vec<Query>),
    Or(Vec<Query>),
}

/// One element of a value pattern.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    /// A literal character (lower-cased).
    Char(char),
    /// `?`: one character.
    One,
    /// `*`: any characters.
    Any,
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word {
        field: Option<String>,
        pattern: Vec<Piece>,
    },
    And,
    Or,
    Not,
    Open,
    Close,
}

fn refused(message: String) -> PolicyError {
    PolicyError::invalid("query", codes::FIELD, message)
}

const SUPPORTED: &str = "strait supports field:value terms (value wildcards * and ?, \\ escapes, \"phrases\"), AND, OR, NOT and parentheses, e.g. resource_type:Tier0 AND display_name:edge*";

fn tokens(query: &str) -> Result<Vec<Token>, PolicyError> {
    let mut out = Vec::new();
    let mut chars = query.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' => {
                chars.next();
                out.push(Token::Open);
            }
            ')' => {
                chars.next();
                out.push(Token::Close);
            }
            _ => {
                // A word: up to unescaped whitespace or parenthesis; the first unescaped
                // colon separates the field.
                let mut field: Option<String> = None;
                let mut raw = String::new();
                let mut pattern = Vec::new();
                let mut quoted = false;
                while let Some(&c) = chars.peek() {
                    if !quoted && (c.is_whitespace() || c == '(' || c == ')') {
                        break;
                    }
                    chars.next();
                    match c {
                        '\\' => match chars.next() {
                            Some(e) => {
                                raw.push(e);
                                pattern.extend(e.to_lowercase().map(Piece::Char));
                            }
                            None => return Err(refused(format!("the query ends with a lone backslash; {SUPPORTED}"))),
                        },
                        '"' => quoted = !quoted,
                        ':' if !quoted && field.is_none() => {
                            if raw.is_empty() {
                                return Err(refused(format!("a term starts with ':' and names no field; {SUPPORTED}")));
                            }
                            field = Some(std::mem::take(&mut raw));
                            pattern.clear();
                        }
                        '*' if !quoted => pattern.push(Piece::Any),
                        '?' if !quoted => pattern.push(Piece::One),
                        '[' | ']' | '{' | '}' | '~' | '^' if !quoted => {
                            return Err(refused(format!(
                                "{c:?} (ranges, fuzzy or boosted terms) is not supported; escape it with \\ to search for it; {SUPPORTED}"
                            )))
                        }
                        c => {
                            raw.push(c);
                            pattern.extend(c.to_lowercase().map(Piece::Char));
                        }
                    }
                }
                if quoted {
                    return Err(refused(format!("a quote is not closed; {SUPPORTED}")));
                }
                let token = match (field.is_none(), raw.as_str()) {
                    (true, "AND") | (true, "&&") => Token::And,
                    (true, "OR") | (true, "||") => Token::Or,
                    (true, "NOT") => Token::Not,
                    _ => {
                        if field.is_some() && pattern.is_empty() {
                            return Err(refused(format!(
                                "the term {}: has no value; {SUPPORTED}",
                                field.unwrap_or_default()
                            )));
                        }
                        Token::Word { field, pattern }
                    }
                };
                out.push(token);
            }
        }
        if out.len() > TERMS_MAX * 2 {
            return Err(refused(format!(
                "the query has more than {TERMS_MAX} terms; narrow it"
            )));
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn or(&mut self, depth: usize) -> Result<Query, PolicyError> {
        let mut alternatives = vec![self.and(depth)?];
        while self.peek() == Some(&Token::Or) {
            self.at += 1;
            alternatives.push(self.and(depth)?);
        }
        Ok(if alternatives.len() == 1 {
            alternatives.remove(0)
        } else {
            Query::Or(alternatives)
        })
    }

    fn and(&mut self, depth: usize) -> Result<Query, PolicyError> {
        let mut all = vec![self.unary(depth)?];
        loop {
            match self.peek() {
                Some(Token::And) => {
                    self.at += 1;
                    all.push(self.unary(depth)?);
                }
                // Side by side: AND.
                Some(Token::Word { .. } | Token::Not | Token::Open) => all.push(self.unary(depth)?),
                _ => break,
            }
        }
        Ok(if all.len() == 1 {
            all.remove(0)
        } else {
            Query::And(all)
        })
    }

    fn unary(&mut self, depth: usize) -> Result<Query, PolicyError> {
        let token = self.peek().cloned();
        self.at += 1;
        match token {
            Some(Token::Not) => Ok(Query::Not(Box::new(self.unary(depth)?))),
            Some(Token::Open) => {
                if depth >= DEPTH_MAX {
                    return Err(refused(format!("parentheses nest deeper than {DEPTH_MAX}")));
                }
                let inner = self.or(depth + 1)?;
                if self.peek() != Some(&Token::Close) {
                    return Err(refused(format!("a parenthesis is not closed; {SUPPORTED}")));
                }
                self.at += 1;
                Ok(inner)
            }
            Some(Token::Word { field, pattern }) => Ok(Query::Term { field, pattern }),
            Some(Token::And | Token::Or) => Err(refused(format!(
                "AND or OR needs a term on both sides; {SUPPORTED}"
            ))),
            Some(Token::Close) => Err(refused(format!("a ')' has no '('; {SUPPORTED}"))),
            None => Err(refused(format!(
                "the query ends where a term was expected; {SUPPORTED}"
            ))),
        }
    }
}

fn parse(query: &str) -> Result<Query, PolicyError> {
    if query.chars().count() > QUERY_MAX_CHARS {
        return Err(refused(format!(
            "the query is longer than {QUERY_MAX_CHARS} characters"
        )));
    }
    let tokens = tokens(query)?;
    if tokens.is_empty() {
        return Err(refused(format!("the query is empty; {SUPPORTED}")));
    }
    let mut p = Parser { tokens, at: 0 };
    let q = p.or(0)?;
    if p.at < p.tokens.len() {
        return Err(refused(format!("unexpected ')' in the query; {SUPPORTED}")));
    }
    Ok(q)
}

/// Whether `text` (lower-cased here) matches `pattern`: iterative wildcard matching with
/// one backtrack point, linear in practice and never recursive.
fn matches_pattern(pattern: &[Piece], text: &str) -> bool {
    let text: Vec<char> = text.chars().flat_map(char::to_lowercase).collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(Piece::Any) => {
                star = Some((p, t));
                p += 1;
            }
            Some(Piece::One) => {
                p += 1;
                t += 1;
            }
            Some(Piece::Char(c)) if text.get(t) == Some(c) => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern
        .get(p..)
        .is_some_and(|rest| rest.iter().all(|x| *x == Piece::Any))
}

/// Every scalar at `field` (dotted) in `v`, as text; lists are searched element by element.
fn values_at<'a>(v: &'a Value, field: &str, out: &mut Vec<std::borrow::Cow<'a, str>>) {
    let (head, rest) = match field.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (field, None),
    };
    let Some(x) = v.get(head) else { return };
    let mut visit = |x: &'a Value| match (rest, x) {
        (Some(r), _) => values_at(x, r, out),
        (None, Value::String(s)) => out.push(std::borrow::Cow::Borrowed(s)),
        (None, Value::Bool(_) | Value::Number(_)) => {
            out.push(std::borrow::Cow::Owned(x.to_string()))
        }
        _ => {}
    };
    match x {
        Value::Array(items) => items.iter().for_each(&mut visit),
        x => visit(x),
    }
}

fn eval(q: &Query, object: &Value) -> bool {
    match q {
        Query::Term {
            field: Some(f),
            pattern,
        } => {
            let mut values = Vec::new();
            values_at(object, f, &mut values);
            values.iter().any(|v| matches_pattern(pattern, v))
        }
        Query::Term {
            field: None,
            pattern,
        } => ["display_name", "id", "description"]
            .iter()
            .filter_map(|f| object.get(*f).and_then(Value::as_str))
            .any(|v| matches_pattern(pattern, v)),
        Query::Not(inner) => !eval(inner, object),
        Query::And(all) => all.iter().all(|x| eval(x, object)),
        Query::Or(any) => any.iter().any(|x| eval(x, object)),
    }
}

/// Whether `object` (as GET shows it) matches `query`; the query's error if it is not one
/// strait accepts. What [`Policy::search`] applies to every object (public for fuzzing and
/// for callers filtering objects they already hold).
pub fn query_matches(query: &str, object: &Value) -> Result<bool, PolicyError> {
    Ok(eval(&parse(query)?, object))
}

impl Policy {
    /// The objects matching an NSX search query (see the module documentation), as GET
    /// shows them, paged like a collection.
    pub fn search(&self, query: &str, q: &ListQuery) -> Result<ListResult, PolicyError> {
        let query = parse(query)?;
        let items = self.store.read(|tx| -> Result<Vec<Value>, PolicyError> {
            let mut items = Vec::new();
            for kind in Kind::ALL {
                for o in tx.object_bodies(kind.as_str(), None)? {
                    let v = render(&o, kind);
                    if eval(&query, &v) {
                        items.push(v);
                    }
                }
            }
            Ok(items)
        })?;
        page(items, q)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn hit(query: &str, object: &Value) -> bool {
        eval(&parse(query).unwrap(), object)
    }

    #[test]
    fn the_terraform_providers_queries() {
        let svc = json!({"resource_type": "IPSecVpnService", "id": "my-vpn", "display_name": "my-vpn",
            "marked_for_delete": false, "path": "/infra/tier-0s/t0/ipsec-vpn-services/my-vpn",
            "parent_path": "/infra/tier-0s/t0"});
        for q in [
            r"resource_type:IPSecVpnService AND display_name:my\-vpn* AND marked_for_delete:false AND parent_path:\/infra\/tier\-0s\/t0* AND path:\/infra*",
            r"id:my\-vpn AND marked_for_delete:false AND path:\/infra*",
            r"resource_type:IPSecVpnService AND display_name:* AND marked_for_delete:false AND path:\/infra*",
        ] {
            assert!(hit(q, &svc), "{q}");
        }
        for q in [
            r"resource_type:Tier0 AND display_name:my\-vpn*",
            r"resource_type:IPSecVpnService AND parent_path:\/infra\/tier\-0s\/t1*",
            r"id:my\-vp AND marked_for_delete:false",
            r"marked_for_delete:true",
        ] {
            assert!(!hit(q, &svc), "{q}");
        }
    }

    #[test]
    fn operators_groups_wildcards_and_nested_fields() {
        let o = json!({"resource_type": "Tier0", "id": "edge", "display_name": "Edge Gateway",
            "description": "the edge", "tags": [{"scope": "site", "tag": "paris"}], "_revision": 3});
        assert!(hit("resource_type:Tier1 OR resource_type:Tier0", &o));
        assert!(hit(
            "(resource_type:Tier1 OR id:edge) AND display_name:edge*",
            &o
        ));
        assert!(
            !hit("resource_type:Tier1 OR id:edge AND display_name:x*", &o),
            "AND binds tighter"
        );
        assert!(hit("NOT resource_type:Tier1 tags.tag:par?s", &o));
        assert!(hit("display_name:\"edge gateway\"", &o));
        assert!(hit("display_name:*gate*", &o));
        assert!(hit("_revision:3", &o));
        assert!(hit("paris OR edge", &o), "bare words search names and ids");
        assert!(!hit("nosuchfield:*", &o));
    }

    #[test]
    fn unsupported_syntax_is_refused_saying_what_is_supported() {
        for (q, want) in [
            ("_revision:[1 TO 3]", "ranges"),
            ("display_name:edge~", "fuzzy"),
            ("(id:a", "not closed"),
            ("id:a)", "')'"),
            ("AND id:a", "both sides"),
            ("id:", "no value"),
            ("", "empty"),
            ("display_name:\"open", "quote"),
            ("id:a\\", "backslash"),
        ] {
            let e = parse(q).unwrap_err().to_string();
            assert!(e.contains(want), "{q:?}: {e}");
            assert!(e.contains("field:value"), "{q:?}: {e}");
        }
        let long = "id:a AND ".repeat(100) + "id:a";
        assert!(parse(&long).unwrap_err().to_string().contains("terms"));
        let deep = "(".repeat(40) + "id:a" + &")".repeat(40);
        assert!(parse(&deep).unwrap_err().to_string().contains("deeper"));
    }

    #[test]
    fn wildcard_matching_does_not_backtrack_exponentially() {
        // 30 stars against 4,000 characters: exponential backtracking would never end;
        // one backtrack point makes it at most patterns x text steps.
        let pattern: Vec<Piece> = std::iter::repeat_n([Piece::Any, Piece::Char('a')], 30)
            .flatten()
            .chain([Piece::Char('b')])
            .collect();
        let text = "a".repeat(4000);
        assert!(!matches_pattern(&pattern, &text));
        assert!(matches_pattern(&pattern, &(text + "b")));
    }
}
