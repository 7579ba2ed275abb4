//! The category part of the schema: `Category`, `categories`, `category` and the admin
//! mutations on the tree.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::model::CategoryRow;
use super::service::{CategoryUpdate, NewCategoryInput};
use crate::accounts::model::Role;
use crate::catalog::Catalog;
use crate::catalog::graphql::{
    ProductConnection, ProductFilter, ProductPayload, ProductSort, catalog_reader,
    product_connection,
};
use crate::db::Db;
use crate::error::{AppError, UserError};
use crate::graphql::ids::{NodeKind, encode_id, id_of_kind};
use crate::graphql::loaders::loaders;
use crate::graphql::payload::split;
use crate::graphql::scalars::DateTime;
use crate::graphql::viewer::RoleGuard;

fn catalog<'a>(ctx: &Context<'a>) -> &'a Catalog {
    ctx.data_unchecked::<Catalog>()
}

fn into_graphql(e: AppError) -> async_graphql::Error {
    e.into_graphql()
}

/// Categories by id.
pub(crate) struct CategoryLoader(pub Db);

impl Loader<i64> for CategoryLoader {
    type Value = CategoryRow;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, CategoryRow>, Self::Error> {
        let rows = self
            .0
            .run(async |c| super::repo::find_categories(c, ids).await)
            .await
            .map_err(into_graphql)?;
        Ok(rows.into_iter().map(|r| (r.id, r)).collect())
    }
}

/// The children of each category, by position then name.
pub(crate) struct CategoryChildrenLoader(pub Db);

impl Loader<i64> for CategoryChildrenLoader {
    type Value = Vec<CategoryRow>;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<CategoryRow>>, Self::Error> {
        let rows = self
            .0
            .run(async |c| super::repo::children_of(c, ids).await)
            .await
            .map_err(into_graphql)?;
        let mut by_parent: HashMap<i64, Vec<CategoryRow>> = HashMap::new();
        for row in rows {
            if let Some(parent) = row.parent_id {
                by_parent.entry(parent).or_default().push(row);
            }
        }
        Ok(by_parent)
    }
}

/// The ancestors of each category, root first.
pub(crate) struct CategoryAncestorsLoader(pub Db);

impl Loader<i64> for CategoryAncestorsLoader {
    type Value = Vec<CategoryRow>;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<CategoryRow>>, Self::Error> {
        let pairs = self
            .0
            .run(async |c| super::repo::ancestors_of(c, ids).await)
            .await
            .map_err(into_graphql)?;
        let mut by_category: HashMap<i64, Vec<CategoryRow>> = HashMap::new();
        // Nearest first from the query; the contract lists them root first.
        for (id, ancestor) in pairs.into_iter().rev() {
            by_category.entry(id).or_default().push(ancestor);
        }
        Ok(by_category)
    }
}

/// The categories of each product, by name.
pub(crate) struct ProductCategoriesLoader(pub Db);

impl Loader<i64> for ProductCategoriesLoader {
    type Value = Vec<CategoryRow>;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<CategoryRow>>, Self::Error> {
        let pairs = self
            .0
            .run(async |c| super::repo::categories_of(c, ids).await)
            .await
            .map_err(into_graphql)?;
        let mut by_product: HashMap<i64, Vec<CategoryRow>> = HashMap::new();
        for (product, category) in pairs {
            by_product.entry(product).or_default().push(category);
        }
        Ok(by_product)
    }
}

pub(crate) struct Category(pub CategoryRow);

#[Object]
impl Category {
    pub(crate) async fn id(&self) -> ID {
        encode_id(NodeKind::Category, self.0.id)
    }
    async fn name(&self) -> &str {
        &self.0.name
    }
    /// Unique among all categories: 1 to 64 of a-z, 0-9 and single hyphens between them.
    async fn slug(&self) -> &str {
        &self.0.slug
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Ordering among siblings, ascending; ties by name.
    async fn position(&self) -> i32 {
        self.0.position
    }
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Category>> {
        let Some(parent) = self.0.parent_id else {
            return Ok(None);
        };
        Ok(loaders(ctx)
            .categories()
            .load_one(parent)
            .await?
            .map(Category))
    }
    /// Direct children, ordered by position, then name.
    async fn children(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        let children = loaders(ctx).category_children().load_one(self.0.id).await?;
        Ok(children
            .unwrap_or_default()
            .into_iter()
            .map(Category)
            .collect())
    }
    /// The path from the root down to this category's parent (empty for a root).
    async fn ancestors(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<Category>> {
        let ancestors = loaders(ctx)
            .category_ancestors()
            .load_one(self.0.id)
            .await?;
        Ok(ancestors
            .unwrap_or_default()
            .into_iter()
            .map(Category)
            .collect())
    }
    /// Products in this category or any category below it.
    #[graphql(
        complexity = "crate::graphql::pagination::page_complexity(first, last, child_complexity)"
    )]
    #[expect(
        clippy::too_many_arguments,
        reason = "one parameter per GraphQL argument of the contract"
    )]
    async fn products(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        filter: Option<ProductFilter>,
        sort: Option<ProductSort>,
    ) -> async_graphql::Result<ProductConnection> {
        let page = (first, after, last, before);
        product_connection(ctx, page, filter, sort, Some(self.0.id)).await
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

/// `node(id:)` for categories.
pub(crate) async fn category_node(
    ctx: &Context<'_>,
    id: i64,
) -> Result<Option<Category>, AppError> {
    catalog_reader(ctx, false).await?;
    Ok(catalog(ctx).category(id).await?.map(Category))
}

#[derive(Default)]
pub(crate) struct CategoryQuery;

#[Object]
impl CategoryQuery {
    /// Root categories, or the children of parentId; ordered by position, then name.
    async fn categories(
        &self,
        ctx: &Context<'_>,
        parent_id: Option<ID>,
    ) -> async_graphql::Result<Vec<Category>> {
        catalog_reader(ctx, false).await?;
        let parent = match &parent_id {
            None => None,
            Some(id) => match id_of_kind(id, NodeKind::Category)? {
                Some(id) => Some(id),
                // An id of another kind has no children.
                None => return Ok(Vec::new()),
            },
        };
        let rows = catalog(ctx).categories(parent).await?;
        Ok(rows.into_iter().map(Category).collect())
    }

    /// By id or by slug (exactly one of them).
    async fn category(
        &self,
        ctx: &Context<'_>,
        id: Option<ID>,
        slug: Option<String>,
    ) -> async_graphql::Result<Option<Category>> {
        match (id, slug) {
            (Some(id), None) => match id_of_kind(&id, NodeKind::Category)? {
                Some(id) => Ok(category_node(ctx, id).await?),
                None => {
                    catalog_reader(ctx, false).await?;
                    Ok(None)
                }
            },
            (None, Some(slug)) => {
                catalog_reader(ctx, false).await?;
                if slug.len() > 200 {
                    return Ok(None);
                }
                Ok(catalog(ctx).category_by_slug(&slug).await?.map(Category))
            }
            _ => Err(AppError::bad_input("give exactly one of id and slug").into()),
        }
    }
}

#[derive(InputObject)]
pub(crate) struct CreateCategoryInput {
    name: String,
    /// Derived from the name when omitted.
    slug: Option<String>,
    #[graphql(default_with = "Some(String::new())")]
    description: Option<String>,
    parent_id: Option<ID>,
    #[graphql(default_with = "Some(0)")]
    position: Option<i32>,
}

#[derive(InputObject)]
pub(crate) struct UpdateCategoryInput {
    id: ID,
    name: Option<String>,
    slug: Option<String>,
    description: Option<String>,
    /// Moves the category; null or omitted keeps the parent. Use moveToRoot to make it a root.
    parent_id: Option<ID>,
    #[graphql(default_with = "Some(false)")]
    move_to_root: Option<bool>,
    position: Option<i32>,
}

#[derive(InputObject)]
pub(crate) struct DeleteCategoryInput {
    id: ID,
}

#[derive(InputObject)]
pub(crate) struct SetProductCategoriesInput {
    product_id: ID,
    /// Replaces the product's categories; [] removes all.
    category_ids: Vec<ID>,
}

#[derive(SimpleObject)]
pub(crate) struct CategoryPayload {
    category: Option<Category>,
    user_errors: Vec<UserError>,
}

impl CategoryPayload {
    fn from_result(result: Result<CategoryRow, AppError>) -> async_graphql::Result<Self> {
        let (category, user_errors) = split(result)?;
        Ok(CategoryPayload {
            category: category.map(Category),
            user_errors,
        })
    }
}

#[derive(SimpleObject)]
pub(crate) struct DeleteCategoryPayload {
    deleted_category_id: Option<ID>,
    user_errors: Vec<UserError>,
}

/// Category ids of an input; an id of another kind stays as `None` (no such category).
pub(crate) fn category_ids(ids: &[ID]) -> Result<Vec<Option<i64>>, AppError> {
    ids.iter()
        .map(|id| id_of_kind(id, NodeKind::Category))
        .collect()
}

#[derive(Default)]
pub(crate) struct CategoryMutation;

#[Object]
impl CategoryMutation {
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn create_category(
        &self,
        ctx: &Context<'_>,
        input: CreateCategoryInput,
    ) -> async_graphql::Result<CategoryPayload> {
        let parent = input
            .parent_id
            .as_ref()
            .map(|id| id_of_kind(id, NodeKind::Category))
            .transpose()?;
        let new = NewCategoryInput {
            name: input.name,
            slug: input.slug,
            description: input.description.unwrap_or_default(),
            parent,
            position: input.position.unwrap_or(0),
        };
        CategoryPayload::from_result(catalog(ctx).create_category(new).await)
    }

    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn update_category(
        &self,
        ctx: &Context<'_>,
        input: UpdateCategoryInput,
    ) -> async_graphql::Result<CategoryPayload> {
        let id = id_of_kind(&input.id, NodeKind::Category)?;
        let parent = input
            .parent_id
            .as_ref()
            .map(|id| id_of_kind(id, NodeKind::Category))
            .transpose()?;
        let update = CategoryUpdate {
            name: input.name,
            slug: input.slug,
            description: input.description,
            parent,
            move_to_root: input.move_to_root.unwrap_or(false),
            position: input.position,
        };
        CategoryPayload::from_result(catalog(ctx).update_category(id, update).await)
    }

    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn delete_category(
        &self,
        ctx: &Context<'_>,
        input: DeleteCategoryInput,
    ) -> async_graphql::Result<DeleteCategoryPayload> {
        let id = id_of_kind(&input.id, NodeKind::Category)?;
        let (deleted, user_errors) = split(catalog(ctx).delete_category(id).await)?;
        Ok(DeleteCategoryPayload {
            deleted_category_id: deleted.map(|id| encode_id(NodeKind::Category, id)),
            user_errors,
        })
    }

    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn set_product_categories(
        &self,
        ctx: &Context<'_>,
        input: SetProductCategoriesInput,
    ) -> async_graphql::Result<ProductPayload> {
        let product_id = id_of_kind(&input.product_id, NodeKind::Product)?;
        let ids = category_ids(&input.category_ids)?;
        ProductPayload::from_result(catalog(ctx).set_product_categories(product_id, &ids).await)
    }
}
