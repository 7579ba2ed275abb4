//! Null propagation of field errors, as the GraphQL spec asks (§6.4.4, "Handling Field
//! Errors"): a field that fails becomes `null` when its type is nullable; when it is
//! non-null, the `null` moves up to the nearest nullable parent, up to `data` itself.
//!
//! async-graphql 7.2 instead leaves a failed field out of its parent object (at any
//! depth), so a client reading `cart: Cart!` found no `cart` at all and no `null` in its
//! place. This pass repairs a response after execution from the error paths, the
//! operation and the output types of the schema. It runs only when some error has a path,
//! so a response without field errors costs nothing.

use std::collections::{HashMap, HashSet};

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationType, Selection, SelectionSet,
    ServiceDocument, Type, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Name, PathSegment, Response, Value};

/// The output types of the schema: for each object or interface, its fields' types.
pub(crate) struct OutputTypes {
    fields: HashMap<String, HashMap<String, Type>>,
    query: String,
    mutation: String,
    subscription: String,
}

impl OutputTypes {
    /// Reads the types from the schema's SDL (which async-graphql prints whatever the
    /// introspection setting, unlike an introspection query).
    pub(crate) fn from_sdl(sdl: &str) -> Self {
        let mut types = OutputTypes {
            fields: HashMap::new(),
            query: "Query".to_owned(),
            mutation: "Mutation".to_owned(),
            subscription: "Subscription".to_owned(),
        };
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
            tracing::error!("the schema's own SDL does not parse: null propagation is off");
            return types;
        };
        types.read(document);
        types
    }

    fn read(&mut self, document: ServiceDocument) {
        for definition in document.definitions {
            match definition {
                TypeSystemDefinition::Schema(schema) => {
                    let schema = schema.node;
                    let name = |n: Option<async_graphql::Positioned<Name>>, default: &str| {
                        n.map_or_else(|| default.to_owned(), |n| n.node.to_string())
                    };
                    self.query = name(schema.query, "Query");
                    self.mutation = name(schema.mutation, "Mutation");
                    self.subscription = name(schema.subscription, "Subscription");
                }
                TypeSystemDefinition::Type(definition) => {
                    let definition = definition.node;
                    let fields = match definition.kind {
                        TypeKind::Object(object) => object.fields,
                        TypeKind::Interface(interface) => interface.fields,
                        _ => continue,
                    };
                    let fields = fields
                        .into_iter()
                        .map(|f| (f.node.name.node.to_string(), f.node.ty.node))
                        .collect();
                    self.fields.insert(definition.name.node.to_string(), fields);
                }
                TypeSystemDefinition::Directive(_) => {}
            }
        }
    }

    fn field_type(&self, parent: &str, field: &str) -> Option<&Type> {
        self.fields.get(parent)?.get(field)
    }
}

/// Applies null propagation to `response`, which executed `operation_name` of `document`.
pub(crate) fn propagate_nulls(
    response: &mut Response,
    document: &ExecutableDocument,
    operation_name: Option<&str>,
    types: &OutputTypes,
) {
    if response.errors.iter().all(|e| e.path.is_empty()) {
        return;
    }
    let Some((root_type, root_set)) = root_of(document, operation_name, types) else {
        return;
    };
    let walker = PathWalker {
        document,
        types,
        root_type,
        root_set,
    };
    let mut null_points: Vec<&[PathSegment]> = response
        .errors
        .iter()
        .filter(|e| !e.path.is_empty())
        .filter_map(|e| walker.null_point(&e.path))
        .collect();
    // Shallow points first, so a point inside a nulled subtree is seen to be gone.
    null_points.sort_by_key(|p| p.len());
    let mut nulled: Vec<&[PathSegment]> = Vec::new();
    for point in null_points {
        if nulled.iter().any(|done| point.starts_with(done)) {
            continue;
        }
        if point.is_empty() {
            response.data = Value::Null;
            return;
        }
        set_null(&mut response.data, point);
        nulled.push(point);
    }
}

/// The root type and selection set of the operation that ran.
fn root_of<'a>(
    document: &'a ExecutableDocument,
    operation_name: Option<&str>,
    types: &'a OutputTypes,
) -> Option<(&'a str, &'a SelectionSet)> {
    let (ty, set) = selected_operation(document, operation_name)?;
    let root = match ty {
        OperationType::Query => &types.query,
        OperationType::Mutation => &types.mutation,
        OperationType::Subscription => &types.subscription,
    };
    Some((root.as_str(), set))
}

struct PathWalker<'a> {
    document: &'a ExecutableDocument,
    types: &'a OutputTypes,
    root_type: &'a str,
    root_set: &'a SelectionSet,
}

impl PathWalker<'_> {
    /// The prefix of `path` that becomes null: the failed position itself when it is
    /// nullable, else its nearest nullable ancestor; empty for `data`. `None` when the
    /// path cannot be followed through the operation (then nothing is changed).
    fn null_point<'p>(&self, path: &'p [PathSegment]) -> Option<&'p [PathSegment]> {
        let nullable = self.nullability_along(path)?;
        let mut end = path.len();
        while end > 0 && !nullable[end - 1] {
            end -= 1;
        }
        Some(&path[..end])
    }

    /// Whether each position along `path` (each field or list item) may be null.
    fn nullability_along(&self, path: &[PathSegment]) -> Option<Vec<bool>> {
        let mut nullable = Vec::with_capacity(path.len());
        // The selection sets that apply at the current position, with their parent type.
        let mut sets: Vec<(&str, &SelectionSet)> = vec![(self.root_type, self.root_set)];
        let mut current: Option<&Type> = None;
        for segment in path {
            match segment {
                PathSegment::Field(key) => {
                    let fields = self.fields_with_key(&sets, key);
                    let (parent, field) = fields.first()?;
                    let ty = self.types.field_type(parent, field.name.node.as_str())?;
                    // Fields on different types may share a response key with different
                    // nullability (async-graphql does not refuse it): a null may stop
                    // here only if none of them is non-null.
                    let all_nullable = fields.iter().all(|(parent, field)| {
                        self.types
                            .field_type(parent, field.name.node.as_str())
                            .is_none_or(|ty| ty.nullable)
                    });
                    nullable.push(all_nullable);
                    let named = named_type(ty);
                    sets = fields
                        .iter()
                        .map(|(_, f)| (named, &f.selection_set.node))
                        .collect();
                    current = Some(ty);
                }
                PathSegment::Index(_) => {
                    let BaseType::List(item) = &current?.base else {
                        return None;
                    };
                    nullable.push(item.nullable);
                    current = Some(item);
                }
            }
        }
        Some(nullable)
    }

    /// The fields answering under response key `key` in `sets`, through inline fragments
    /// and fragment spreads, each with the type it is selected on.
    fn fields_with_key<'s>(
        &'s self,
        sets: &[(&'s str, &'s SelectionSet)],
        key: &str,
    ) -> Vec<(&'s str, &'s async_graphql::parser::types::Field)> {
        let mut found = Vec::new();
        let mut seen_fragments: HashSet<&str> = HashSet::new();
        let mut stack: Vec<(&str, &SelectionSet)> = sets.to_vec();
        while let Some((parent, set)) = stack.pop() {
            for item in &set.items {
                match &item.node {
                    Selection::Field(field) => {
                        if field.node.response_key().node.as_str() == key {
                            found.push((parent, &field.node));
                        }
                    }
                    Selection::InlineFragment(fragment) => {
                        let on = fragment
                            .node
                            .type_condition
                            .as_ref()
                            .map_or(parent, |c| c.node.on.node.as_str());
                        stack.push((on, &fragment.node.selection_set.node));
                    }
                    Selection::FragmentSpread(spread) => {
                        let name = spread.node.fragment_name.node.as_str();
                        if !seen_fragments.insert(name) {
                            continue;
                        }
                        if let Some(fragment) = self.document.fragments.get(name) {
                            let on = fragment.node.type_condition.node.on.node.as_str();
                            stack.push((on, &fragment.node.selection_set.node));
                        }
                    }
                }
            }
        }
        // A field selected on a concrete type may not be in an interface's field list:
        // keep the ones the schema knows first.
        found.sort_by_key(|(parent, field)| {
            self.types
                .field_type(parent, field.name.node.as_str())
                .is_none()
        });
        found
    }
}

fn named_type(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(item) => named_type(item),
    }
}

/// Sets the value at `path` to null. async-graphql answers an object whose every field
/// failed with `null` instead of an object: such a `null` on the way becomes an object
/// again, since the point to null lies inside it.
fn set_null(data: &mut Value, path: &[PathSegment]) {
    let mut value = data;
    for segment in path {
        match segment {
            PathSegment::Field(key) => {
                if matches!(value, Value::Null) {
                    *value = Value::Object(Default::default());
                }
                let Value::Object(object) = value else {
                    return;
                };
                value = object.entry(Name::new(key)).or_insert(Value::Null);
            }
            PathSegment::Index(index) => {
                let Value::List(items) = value else {
                    return;
                };
                let Some(item) = items.get_mut(*index) else {
                    return;
                };
                value = item;
            }
        }
    }
    *value = Value::Null;
}

/// The operation `name` selects (or the only one), with its type and selection set.
pub(crate) fn selected_operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<(OperationType, &'a SelectionSet)> {
    let operation = match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => &op.node,
        (DocumentOperations::Multiple(ops), Some(name)) => &ops.get(name)?.node,
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => &ops.values().next()?.node,
        (DocumentOperations::Multiple(_), None) => return None,
    };
    Some((operation.ty, &operation.selection_set.node))
}
