//! Limits on what a client may send, checked before and after parsing: the size, token
//! count and nesting of the document text, and the aliases of the parsed document. Depth
//! and complexity are counted by async-graphql itself during validation.
//!
//! The text checks come first because async-graphql's parser bounds the nesting of
//! selection sets but not of values: a list literal nested a few thousand deep overflowed
//! the stack of the worker thread and aborted the process, and a megabyte of repeated
//! fields was turned into ~80 MB of syntax tree before any limit ran. A single pass over
//! the bytes, with no allocation, refuses both before anything is built; every later
//! recursion over the document (parsing, validation, argument coercion, the response
//! pass) is then bounded by [`MAX_NESTING`].

use async_graphql::ServerError;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// Deepest nesting of `{`, `[` and `(` in a document. Real operations stay far below:
/// the standard introspection queries nest about 20 deep, value literals a handful.
pub const MAX_NESTING: usize = 64;

/// What the document text may be: its size and how many lexical tokens it holds.
#[derive(Debug, Clone, Copy)]
pub struct TextLimits {
    pub max_bytes: usize,
    pub max_tokens: usize,
}

/// Refuses a document that is too large, has too many tokens or nests too deeply, without
/// parsing it. Strings, block strings and comments are skipped as the GraphQL lexer
/// skips them, so brackets inside them do not count.
pub fn check_document_text(text: &str, limits: TextLimits) -> Result<(), ServerError> {
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
            _ if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' => {
                // A name or a number (with its sign, fraction and exponent): one token.
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || matches!(bytes[i], b'_' | b'.' | b'-' | b'+'))
                {
                    i += 1;
                }
            }
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
    Ok(())
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

/// Refuses documents with more than `max` aliased fields: `__typename` costs nothing in
/// the complexity count, so thousands of aliases of it would otherwise pass.
pub fn check_aliases(document: &ExecutableDocument, max: usize) -> Result<(), ServerError> {
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
pub fn check_document_text_values(document: &ExecutableDocument) -> Result<(), ServerError> {
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
    while let Some(value) = values.pop() {
        if value.push_children_or_has_nul(&mut values) {
            return Err(nul_refused());
        }
    }
    Ok(())
}

/// The same for the request's variables.
pub fn check_variable_text(variables: &async_graphql::Variables) -> Result<(), ServerError> {
    let mut values: Vec<ValueRef> = variables.values().map(ValueRef::Const).collect();
    while let Some(value) = values.pop() {
        if value.push_children_or_has_nul(&mut values) {
            return Err(nul_refused());
        }
    }
    Ok(())
}

/// A value of the document (which may name variables) or a constant one, walked with an
/// explicit stack so that no nesting can exhaust the thread's stack.
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

pub fn with_code(mut error: ServerError, code: &str) -> ServerError {
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code);
    error
}
