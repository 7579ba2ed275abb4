//! When a cached document may skip async-graphql's full validation.
//!
//! async-graphql validates every request's document against the schema, cached or not:
//! twenty-odd rules walked over the whole document, a fifth of the server's work for a
//! product page (bench/RESULTS.md). All of those rules but one depend on the document
//! alone, so once a document has passed them it passes them again; the one that does
//! not (`ArgumentsOfCorrectType`) checks the request's variable values against the
//! arguments they feed. So a document that passed once runs with the schema in
//! `ValidationMode::Fast` (which still counts complexity and depth against the limits,
//! and still refuses fragment cycles) when every variable value of this request is
//! plainly valid for its declared type. Only variables of the built-in scalars (and
//! lists of them) are judged here, by the same tests as async-graphql's; a document with
//! an enum, input-object or custom-scalar variable, or a value in any doubt, goes
//! through the full validation every time, whose errors are then exactly what they
//! always were.

use std::sync::atomic::{AtomicBool, Ordering};

use async_graphql::parser::types::{BaseType, DocumentOperations, ExecutableDocument, Type};
use async_graphql::{Name, Value, Variables};

/// What is known of one cached document's validation.
pub(crate) struct Revalidation {
    /// The variables of its one operation (name, type, whether it has a default), when
    /// all are of built-in scalar types; `None` otherwise (validated in full every time).
    variables: Option<Vec<(Name, Type, bool)>>,
    /// It passed the full validation once.
    passed: AtomicBool,
}

impl Revalidation {
    pub(crate) fn of(document: &ExecutableDocument) -> Self {
        let operation = match &document.operations {
            DocumentOperations::Single(operation) => Some(operation),
            DocumentOperations::Multiple(operations) if operations.len() == 1 => {
                operations.values().next()
            }
            DocumentOperations::Multiple(_) => None,
        };
        let variables = operation.and_then(|operation| {
            operation
                .node
                .variable_definitions
                .iter()
                .map(|definition| {
                    let definition = &definition.node;
                    let ty = &definition.var_type.node;
                    let has_default = definition.default_value.is_some();
                    is_built_in(ty).then(|| (definition.name.node.clone(), ty.clone(), has_default))
                })
                .collect::<Option<Vec<_>>>()
        });
        Revalidation {
            variables,
            passed: AtomicBool::new(false),
        }
    }

    /// Whether this request's variables let the document skip the full validation.
    pub(crate) fn may_skip(&self, values: &Variables) -> bool {
        let Some(variables) = &self.variables else {
            return false;
        };
        self.passed.load(Ordering::Relaxed)
            && variables.iter().all(|(name, ty, has_default)| {
                // A missing value is the default's or execution's business, as in the
                // full validation. An explicit null for a variable with a default is
                // judged there too: a nullable variable with a default may feed a
                // non-null argument, and an explicit null wins over the default.
                values.get(name).is_none_or(|value| {
                    !(*has_default && matches!(value, Value::Null)) && plainly_valid(ty, value)
                })
            })
    }

    /// The document passed the full validation.
    pub(crate) fn passed(&self) {
        self.passed.store(true, Ordering::Relaxed);
    }
}

const BUILT_IN: [&str; 5] = ["ID", "String", "Int", "Float", "Boolean"];

fn is_built_in(ty: &Type) -> bool {
    match &ty.base {
        BaseType::Named(name) => BUILT_IN.contains(&name.as_str()),
        BaseType::List(inner) => is_built_in(inner),
    }
}

/// async-graphql's test of an input value (`is_valid_input_value` with the built-in
/// scalars' `is_valid`), where it is certain; `false` sends the request through the
/// full validation, which decides.
fn plainly_valid(ty: &Type, value: &Value) -> bool {
    if let Value::Null = value {
        return ty.nullable;
    }
    match &ty.base {
        BaseType::List(inner) => match value {
            Value::List(items) => items.iter().all(|item| plainly_valid(inner, item)),
            // A single value for a list is coerced; the full validation judges that.
            _ => false,
        },
        BaseType::Named(name) => match (name.as_str(), value) {
            ("ID", Value::String(_)) | ("String", Value::String(_)) => true,
            ("ID", Value::Number(n)) => n.is_i64(),
            ("Int", Value::Number(n)) => n.as_i64().is_some_and(|n| i32::try_from(n).is_ok()),
            ("Float", Value::Number(_)) | ("Boolean", Value::Boolean(_)) => true,
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn revalidation(query: &str) -> Revalidation {
        Revalidation::of(&async_graphql::parser::parse_query(query).unwrap())
    }

    fn variables(json: serde_json::Value) -> Variables {
        Variables::from_json(json)
    }

    #[test]
    fn only_a_document_that_passed_may_skip() {
        let document = revalidation("query($id: ID!) { product(id: $id) { id } }");
        let good = variables(serde_json::json!({ "id": "UHJvZHVjdDox" }));
        assert!(!document.may_skip(&good), "not validated yet");
        document.passed();
        assert!(document.may_skip(&good));
    }

    #[test]
    fn values_in_doubt_go_through_the_full_validation() {
        let document = revalidation(
            "query($id: ID!, $n: Int, $f: Float, $b: Boolean!, $s: [String!]) {
                product(id: $id) { id } }",
        );
        document.passed();
        let may = |json| document.may_skip(&variables(json));
        assert!(may(
            serde_json::json!({ "id": "a", "n": 5, "f": 1.5, "b": true, "s": ["x"] })
        ));
        assert!(may(serde_json::json!({ "id": 7, "n": null, "b": false })));
        assert!(
            may(serde_json::json!({})),
            "missing values are not judged here"
        );
        for bad in [
            serde_json::json!({ "id": null }),
            serde_json::json!({ "id": 1.5 }),
            serde_json::json!({ "id": true }),
            serde_json::json!({ "n": "5" }),
            serde_json::json!({ "n": 3_000_000_000_i64 }),
            serde_json::json!({ "b": "true" }),
            serde_json::json!({ "s": "x" }),
            serde_json::json!({ "s": [null] }),
            serde_json::json!({ "f": "1" }),
        ] {
            assert!(!may(bad.clone()), "{bad}");
        }
    }

    #[test]
    fn a_null_for_a_variable_with_a_default_is_validated_in_full() {
        let document = revalidation("query($id: ID = \"x\") { product(id: $id) { id } }");
        document.passed();
        assert!(document.may_skip(&variables(serde_json::json!({ "id": "y" }))));
        assert!(document.may_skip(&variables(serde_json::json!({}))));
        assert!(!document.may_skip(&variables(serde_json::json!({ "id": null }))));
    }

    #[test]
    fn other_variable_types_and_several_operations_are_always_validated() {
        for query in [
            "query($s: ProductSort) { products(sort: $s) { totalCount } }",
            "mutation($i: AddToCartInput!) { addToCart(input: $i) { cart { id } } }",
            "query A { me { id } } query B { me { id } }",
        ] {
            let document = revalidation(query);
            document.passed();
            assert!(
                !document.may_skip(&variables(serde_json::json!({}))),
                "{query}"
            );
        }
        let plain = revalidation("{ me { id } }");
        plain.passed();
        assert!(plain.may_skip(&variables(serde_json::json!({}))));
    }
}
