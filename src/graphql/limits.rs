//! Operation limits beyond depth and complexity (which async-graphql counts itself).

use async_graphql::ServerError;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};

/// Refuses documents with more than `max` aliased fields: `__typename` costs nothing in
/// the complexity count, so thousands of aliases of it would otherwise pass.
pub fn check_aliases(document: &ExecutableDocument, max: usize) -> Result<(), ServerError> {
    let operations = document
        .operations
        .iter()
        .map(|(_, op)| &op.node.selection_set.node);
    let fragments = document
        .fragments
        .values()
        .map(|f| &f.node.selection_set.node);
    let aliases: usize = operations.chain(fragments).map(count_aliases).sum();
    if aliases <= max {
        return Ok(());
    }
    let mut error = ServerError::new(format!("Query has too many aliases (at most {max})."), None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", "QUERY_TOO_COMPLEX");
    error.extensions = Some(extensions);
    Err(error)
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
