//! The measured schema's one extension: it keeps the operation's cost (complexity and
//! depth, as async-graphql's validation counts them) for `extensions.cost` and the
//! operation's span, and while traces are on, gives each root field a span of its own.
//!
//! Any extension makes async-graphql build a `ResolveInfo` for every field it resolves,
//! so the plain schema has none: this one serves requests that ask for their cost
//! (`x-include-query-cost: 1`) and requests whose trace is kept while traces are
//! exported (`documents::CheckedSchema` picks the schema).

use std::sync::{Arc, Mutex};

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextResolve, NextValidation, ResolveInfo,
};
use async_graphql::{ServerError, ServerResult, ValidationResult, Value};
use tracing::Instrument;

use crate::telemetry::{TRACE_ONLY, traces_enabled};

/// What validation counted, for the request whose data holds the slot.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cost {
    pub complexity: usize,
    pub depth: usize,
}

/// Where the extension leaves the cost; put into a request's data by
/// `CheckedSchema::run`, read back after execution.
#[derive(Clone, Default)]
pub(crate) struct CostSlot(Arc<Mutex<Option<Cost>>>);

impl CostSlot {
    pub(crate) fn get(&self) -> Option<Cost> {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The extension, with the limits it applies itself: async-graphql compares the cost
/// with the schema's limits before an extension sees it, so the measured schema has
/// none of its own and this refuses the same operations with the same messages.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Measure {
    pub max_complexity: usize,
    pub max_depth: usize,
}

impl ExtensionFactory for Measure {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_trait::async_trait]
impl Extension for Measure {
    /// The cost is kept before it is compared with the limits, so an operation refused
    /// as too complex still learns what it asked for.
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        if let Some(slot) = ctx.data_opt::<CostSlot>() {
            *slot
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Cost {
                complexity: result.complexity,
                depth: result.depth,
            });
        }
        if result.complexity > self.max_complexity {
            return Err(vec![ServerError::new("Query is too complex.", None)]);
        }
        if result.depth > self.max_depth {
            return Err(vec![ServerError::new("Query is nested too deep.", None)]);
        }
        Ok(result)
    }

    /// A span for each root field: its resolver calls the room that does the I/O, and
    /// the fields under it resolve inside the same future, so their statements are its
    /// children (DataLoader batches have spans of their own, `graphql::loaders`).
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if !traces_enabled()
            || info.path_node.parent.is_some()
            || info.is_for_introspection
            || !crate::telemetry::traces::current_is_sampled()
        {
            return next.run(ctx, info).await;
        }
        let span = tracing::info_span!(
            target: TRACE_ONLY,
            "resolver",
            otel.name = format!("{}.{}", info.parent_type, info.name),
            graphql.field.path = %info.path_node,
        );
        next.run(ctx, info).instrument(span).await
    }
}
