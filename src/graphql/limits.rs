//! Limits on what a client may send, checked before and after parsing: the size, token
//! count and nesting of the document text, and the aliases of the parsed document. Depth
//! and complexity are counted by async-graphql itself during validation.
//!
//! The text checks come first because async-graphql's parser bounds the nesting of
//! selection sets but not of values: a list literal nested a few thousand deep overflowed
//! the stack of the worker thread and aborted the process, and a megabyte of repeated
//! fields was turned into ~80 MB of syntax tree before any limit ran. A single pass over
//! the bytes, with no allocation, refuses both before anything is built; every later
//! recursion over the document's text (parsing, validation, argument coercion, the
//! response pass) is then bounded by [`MAX_NESTING`]. What fragments spread is bounded
//! after parsing, by [`check_expanded_size`]: a few spreads of spreads multiply.

use async_graphql::ServerError;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// Deepest nesting of `{`, `[` and `(` in a document. Real operations stay far below:
/// the standard introspection queries nest about 20 deep, value literals a handful.
pub(crate) const MAX_NESTING: usize = 64;

/// What the document text may be: its size and how many lexical tokens it holds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TextLimits {
    pub max_bytes: usize,
    pub max_tokens: usize,
}

/// Refuses a document that is too large, has too many tokens or nests too deeply, without
/// parsing it; returns its token count. Strings, block strings and comments are skipped
/// as the GraphQL lexer skips them, so brackets inside them do not count.
pub(crate) fn check_document_text(text: &str, limits: TextLimits) -> Result<usize, ServerError> {
    if text.len() > limits.max_bytes {
        return Err(too_complex(format!(
            "Query is too large (at most {} bytes).",
            limits.max_bytes
        )));
    }
    let bytes = text.as_bytes();
    let mut tokens = 0usize;
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            b'"' => i = skip_string(bytes, i),
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(too_complex(format!(
                        "Query nests too deeply (at most {MAX_NESTING} levels of brackets)."
                    )));
                }
                i += 1;
            }
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'.' if bytes[i..].starts_with(b"...") => i += 3,
            _ if b.is_ascii_alphabetic() || b == b'_' => {
                i += 1;
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                    i += 1;
                }
            }
            b'-' | b'0'..=b'9' => i = skip_number(bytes, i),
            // Other punctuators (`! $ & : = @ |`), and anything the parser will refuse.
            _ => i += 1,
        }
        tokens += 1;
        if tokens > limits.max_tokens {
            return Err(too_complex(format!(
                "Query has too many tokens (at most {}).",
                limits.max_tokens
            )));
        }
    }
    Ok(tokens)
}

/// The index just past the number starting at `start`, as the GraphQL lexer reads one:
/// `-?digits`, then `.digits` and an exponent if present. A `-` or `.` that does not fit
/// starts the next token, so `0-0-0` counts as the three values the parser makes of it.
fn skip_number(bytes: &[u8], start: usize) -> usize {
    let digits = |mut i: usize| {
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            i += 1;
        }
        i
    };
    let mut i = start;
    if bytes[i] == b'-' {
        i += 1;
    }
    i = digits(i);
    if i + 1 < bytes.len() && bytes[i] == b'.' && bytes[i + 1].is_ascii_digit() {
        i = digits(i + 1);
    }
    if i < bytes.len() && matches!(bytes[i], b'e' | b'E') {
        let mut j = i + 1;
        if j < bytes.len() && matches!(bytes[j], b'+' | b'-') {
            j += 1;
        }
        if j < bytes.len() && bytes[j].is_ascii_digit() {
            i = digits(j);
        }
    }
    i.max(start + 1)
}

/// The index just past the string starting at `start` (a `"…"` with escapes, or a
/// `"""…"""` block string where only `\"""` escapes); the end of the text when unclosed.
fn skip_string(bytes: &[u8], start: usize) -> usize {
    if bytes[start..].starts_with(b"\"\"\"") {
        let mut i = start + 3;
        while i < bytes.len() {
            if bytes[i..].starts_with(b"\\\"\"\"") {
                i += 4;
            } else if bytes[i..].starts_with(b"\"\"\"") {
                return i + 3;
            } else {
                i += 1;
            }
        }
        return bytes.len();
    }
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            // A string literal ends at the line's end; the parser reports it.
            b'\n' | b'\r' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Refuses a document whose operations, with every fragment spread expanded, hold more
/// than `max` selections. Fragments that spread each other several times multiply:
/// twenty of them, each spreading the next four times, are 300 tokens that expand to 4^20
/// selections, which async-graphql's depth and complexity passes walk spread by spread.
/// Each fragment's expanded size is computed once here, without recursion.
pub(crate) fn check_expanded_size(
    document: &ExecutableDocument,
    max: usize,
) -> Result<(), ServerError> {
    use std::collections::HashMap;
    // Each fragment's own selections and the fragments it spreads (with repeats).
    let mut own: HashMap<&str, (usize, Vec<&str>)> = HashMap::new();
    for (name, fragment) in &document.fragments {
        own.insert(name.as_str(), tally(&fragment.node.selection_set.node));
    }
    let mut expanded: HashMap<&str, usize> = HashMap::new();
    for &start in own.keys() {
        // Depth-first with an explicit stack; a fragment on the stack again is a cycle.
        let mut stack: Vec<&str> = vec![start];
        let mut on_stack: std::collections::HashSet<&str> = [start].into();
        while let Some(&name) = stack.last() {
            if expanded.contains_key(name) {
                stack.pop();
                on_stack.remove(name);
                continue;
            }
            let (count, spreads) = &own[name];
            let pending = spreads
                .iter()
                .find(|s| own.contains_key(**s) && !expanded.contains_key(**s));
            match pending {
                Some(&next) => {
                    if !on_stack.insert(next) {
                        return Err(with_code(
                            ServerError::new(format!("Fragment \"{next}\" spreads itself."), None),
                            "BAD_USER_INPUT",
                        ));
                    }
                    stack.push(next);
                }
                None => {
                    let size = spreads.iter().fold(*count, |sum, s| {
                        sum.saturating_add(expanded.get(s).copied().unwrap_or(0))
                    });
                    expanded.insert(name, size);
                }
            }
        }
    }
    for (_, operation) in document.operations.iter() {
        let (count, spreads) = tally(&operation.node.selection_set.node);
        let size = spreads.iter().fold(count, |sum, s| {
            sum.saturating_add(expanded.get(s).copied().unwrap_or(0))
        });
        if size > max {
            return Err(too_complex(format!(
                "Query is too large once its fragments are expanded (at most {max} selections)."
            )));
        }
    }
    Ok(())
}

/// The selections in `set` (fields and inline fragments, at any depth) and the names of
/// the fragments it spreads, each as often as it is spread.
fn tally(set: &SelectionSet) -> (usize, Vec<&str>) {
    let mut count = 0usize;
    let mut spreads = Vec::new();
    let mut sets = vec![set];
    while let Some(set) = sets.pop() {
        for item in &set.items {
            count += 1;
            match &item.node {
                Selection::Field(field) => sets.push(&field.node.selection_set.node),
                Selection::InlineFragment(fragment) => sets.push(&fragment.node.selection_set.node),
                Selection::FragmentSpread(spread) => {
                    spreads.push(spread.node.fragment_name.node.as_str());
                }
            }
        }
    }
    (count, spreads)
}

/// Refuses documents with more than `max` aliased fields: `__typename` costs nothing in
/// the complexity count, so thousands of aliases of it would otherwise pass.
pub(crate) fn check_aliases(document: &ExecutableDocument, max: usize) -> Result<(), ServerError> {
    let aliases: usize = selection_sets(document).map(count_aliases).sum();
    if aliases <= max {
        return Ok(());
    }
    Err(too_complex(format!(
        "Query has too many aliases (at most {max})."
    )))
}

fn count_aliases(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some())
                    + count_aliases(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => count_aliases(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

/// Refuses text with a NUL character anywhere in the document's values (arguments,
/// directives, variable defaults). PostgreSQL cannot store NUL in text and SQLite would,
/// so refusing it here, for every argument at once, keeps the two backends alike.
pub(crate) fn check_document_text_values(document: &ExecutableDocument) -> Result<(), ServerError> {
    let mut values: Vec<ValueRef> = Vec::new();
    for (_, operation) in document.operations.iter() {
        let operation = &operation.node;
        for definition in &operation.variable_definitions {
            if let Some(default) = &definition.node.default_value {
                values.push(ValueRef::Const(&default.node));
            }
            push_directive_values(&definition.node.directives, &mut values);
        }
        push_directive_values(&operation.directives, &mut values);
    }
    for fragment in document.fragments.values() {
        push_directive_values(&fragment.node.directives, &mut values);
    }
    let mut sets: Vec<&SelectionSet> = selection_sets(document).collect();
    while let Some(set) = sets.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    for (_, argument) in &field.node.arguments {
                        values.push(ValueRef::Value(&argument.node));
                    }
                    push_directive_values(&field.node.directives, &mut values);
                    sets.push(&field.node.selection_set.node);
                }
                Selection::InlineFragment(fragment) => {
                    push_directive_values(&fragment.node.directives, &mut values);
                    sets.push(&fragment.node.selection_set.node);
                }
                Selection::FragmentSpread(spread) => {
                    push_directive_values(&spread.node.directives, &mut values);
                }
            }
        }
    }
    refuse_nul(values)
}

/// The same for the request's variables.
pub(crate) fn check_variable_text(variables: &async_graphql::Variables) -> Result<(), ServerError> {
    refuse_nul(variables.values().map(ValueRef::Const).collect())
}

/// Walks `values` and everything inside them with an explicit stack, so that no nesting
/// can exhaust the thread's stack.
fn refuse_nul(mut values: Vec<ValueRef<'_>>) -> Result<(), ServerError> {
    while let Some(value) = values.pop() {
        if value.push_children_or_has_nul(&mut values) {
            return Err(nul_refused());
        }
    }
    Ok(())
}

/// A value of the document (which may name variables) or a constant one.
enum ValueRef<'a> {
    Value(&'a async_graphql_value::Value),
    Const(&'a async_graphql_value::ConstValue),
}

impl<'a> ValueRef<'a> {
    /// Whether this value is text holding a NUL; otherwise its children go on `stack`.
    fn push_children_or_has_nul(self, stack: &mut Vec<ValueRef<'a>>) -> bool {
        use async_graphql_value::{ConstValue, Value};
        match self {
            ValueRef::Value(Value::String(s)) | ValueRef::Const(ConstValue::String(s)) => {
                s.contains('\0')
            }
            ValueRef::Value(Value::List(items)) => {
                stack.extend(items.iter().map(ValueRef::Value));
                false
            }
            ValueRef::Value(Value::Object(fields)) => {
                stack.extend(fields.values().map(ValueRef::Value));
                false
            }
            ValueRef::Const(ConstValue::List(items)) => {
                stack.extend(items.iter().map(ValueRef::Const));
                false
            }
            ValueRef::Const(ConstValue::Object(fields)) => {
                stack.extend(fields.values().map(ValueRef::Const));
                false
            }
            _ => false,
        }
    }
}

fn push_directive_values<'a>(
    directives: &'a [async_graphql::Positioned<async_graphql::parser::types::Directive>],
    values: &mut Vec<ValueRef<'a>>,
) {
    for directive in directives {
        for (_, argument) in &directive.node.arguments {
            values.push(ValueRef::Value(&argument.node));
        }
    }
}

/// The top-level selection sets: each operation's and each fragment's.
fn selection_sets(document: &ExecutableDocument) -> impl Iterator<Item = &SelectionSet> {
    let operations = document
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node);
    let fragments = document
        .fragments
        .values()
        .map(|f| &f.node.selection_set.node);
    operations.chain(fragments)
}

fn too_complex(message: String) -> ServerError {
    with_code(ServerError::new(message, None), "QUERY_TOO_COMPLEX")
}

fn nul_refused() -> ServerError {
    with_code(
        ServerError::new("Text must not contain NUL characters.", None),
        "BAD_USER_INPUT",
    )
}

pub(crate) fn with_code(mut error: ServerError, code: &str) -> ServerError {
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    error
}
