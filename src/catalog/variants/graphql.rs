//! The variant part of the schema: `ProductVariant`, the option types, and the admin
//! mutations on variants.

use std::collections::HashMap;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID, InputObject, Object, SimpleObject};

use super::model::{SelectedOption, Variant};
use super::service::{NewVariantInput, VariantChange, VariantUpdate};
use crate::accounts::model::Role;
use crate::catalog::Catalog;
use crate::catalog::graphql::{Product, catalog_reader};
use crate::catalog::service::PriceInput;
use crate::db::Db;
use crate::error::{AppError, UserError};
use crate::graphql::ids::{NodeKind, encode_id, id_of_kind};
use crate::graphql::loaders::loaders;
use crate::graphql::payload::split;
use crate::graphql::scalars::{DateTime, Decimal};
use crate::graphql::viewer::RoleGuard;

fn catalog<'a>(ctx: &Context<'a>) -> &'a Catalog {
    ctx.data_unchecked::<Catalog>()
}

/// The variants of each product of a request, in one query.
pub(crate) struct VariantsOfProductLoader(pub Db);

impl Loader<i64> for VariantsOfProductLoader {
    type Value = Vec<Variant>;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<Variant>>, Self::Error> {
        let variants = self
            .0
            .run(async |c| super::repo::variants_of(c, ids).await)
            .await
            .map_err(AppError::into_graphql)?;
        let mut by_product: HashMap<i64, Vec<Variant>> = HashMap::new();
        for variant in variants {
            by_product
                .entry(variant.row.product_id)
                .or_default()
                .push(variant);
        }
        Ok(by_product)
    }
}

/// Variants by id (cart and order lines), in one query per request.
pub(crate) struct VariantLoader(pub Db);

impl Loader<i64> for VariantLoader {
    type Value = Variant;
    type Error = async_graphql::Error;

    async fn load(&self, ids: &[i64]) -> Result<HashMap<i64, Variant>, Self::Error> {
        let variants = self
            .0
            .run(async |c| super::repo::find_variants(c, ids).await)
            .await
            .map_err(AppError::into_graphql)?;
        Ok(variants.into_iter().map(|v| (v.row.id, v)).collect())
    }
}

/// A product's variants as a viewer sees them: the active ones in creation order, then
/// (for admins) the archived ones.
pub(crate) async fn visible_variants(
    ctx: &Context<'_>,
    product_id: i64,
    with_archived: bool,
) -> async_graphql::Result<Vec<Variant>> {
    let variants = loaders(ctx)
        .variants_of_product()
        .load_one(product_id)
        .await?
        .unwrap_or_default();
    let (active, archived): (Vec<Variant>, Vec<Variant>) =
        variants.into_iter().partition(|v| !v.row.is_archived);
    let mut shown = active;
    if with_archived {
        shown.extend(archived);
    }
    Ok(shown)
}

/// A variant by id, loaded with the others of its request.
pub(crate) async fn load_variant(
    ctx: &Context<'_>,
    id: i64,
) -> async_graphql::Result<Option<ProductVariant>> {
    Ok(loaders(ctx)
        .variants()
        .load_one(id)
        .await?
        .map(ProductVariant))
}

/// `node(id:)` for variants; archived ones included, like products.
pub(crate) async fn variant_node(
    ctx: &Context<'_>,
    id: i64,
) -> Result<Option<ProductVariant>, AppError> {
    catalog_reader(ctx, false).await?;
    Ok(catalog(ctx)
        .variants(&[id])
        .await?
        .pop()
        .map(ProductVariant))
}

#[derive(SimpleObject)]
#[graphql(name = "SelectedOption")]
pub(crate) struct SelectedOptionObject {
    name: String,
    value: String,
}

impl From<&SelectedOption> for SelectedOptionObject {
    fn from(o: &SelectedOption) -> Self {
        SelectedOptionObject {
            name: o.name.clone(),
            value: o.value.clone(),
        }
    }
}

#[derive(InputObject, Clone)]
pub(crate) struct SelectedOptionInput {
    pub name: String,
    pub value: String,
}

impl From<SelectedOptionInput> for SelectedOption {
    fn from(o: SelectedOptionInput) -> Self {
        SelectedOption {
            name: o.name,
            value: o.value,
        }
    }
}

/// Option inputs as the rules take them.
pub(crate) fn options_of(input: Option<Vec<SelectedOptionInput>>) -> Vec<SelectedOption> {
    input
        .unwrap_or_default()
        .into_iter()
        .map(SelectedOption::from)
        .collect()
}

/// An option of a product and the values its variants use, in first-use order.
#[derive(SimpleObject)]
pub(crate) struct ProductOption {
    pub name: String,
    pub values: Vec<String>,
}

#[derive(SimpleObject)]
pub(crate) struct PriceRange {
    pub min: Decimal,
    pub max: Decimal,
}

pub(crate) struct ProductVariant(pub Variant);

#[Object]
impl ProductVariant {
    pub(crate) async fn id(&self) -> ID {
        encode_id(NodeKind::ProductVariant, self.0.row.id)
    }
    async fn product(&self, ctx: &Context<'_>) -> async_graphql::Result<Product> {
        let product = loaders(ctx)
            .products()
            .load_one(self.0.row.product_id)
            .await?;
        product
            .map(Product)
            .ok_or_else(|| AppError::internal("variant without its product").into_graphql())
    }
    async fn sku(&self) -> &str {
        &self.0.row.sku
    }
    async fn title(&self) -> &str {
        &self.0.row.title
    }
    async fn selected_options(&self) -> Vec<SelectedOptionObject> {
        self.0.options.iter().map(Into::into).collect()
    }
    async fn price(&self) -> Decimal {
        Decimal::Cents(self.0.row.price_cents)
    }
    async fn stock(&self) -> i32 {
        self.0.row.stock
    }
    async fn in_stock(&self) -> bool {
        self.0.row.stock > 0
    }
    async fn is_archived(&self) -> bool {
        self.0.row.is_archived
    }
    async fn created_at(&self) -> DateTime {
        self.0.row.created_at.into()
    }
    async fn updated_at(&self) -> DateTime {
        self.0.row.updated_at.into()
    }
}

#[derive(InputObject)]
pub(crate) struct AddProductVariantInput {
    product_id: ID,
    sku: String,
    price: Decimal,
    #[graphql(default_with = "Some(0)")]
    stock: Option<i32>,
    options: Vec<SelectedOptionInput>,
}

#[derive(InputObject)]
pub(crate) struct UpdateProductVariantInput {
    id: ID,
    sku: Option<String>,
    price: Option<Decimal>,
    options: Option<Vec<SelectedOptionInput>>,
    is_archived: Option<bool>,
}

#[derive(InputObject)]
pub(crate) struct DeleteProductVariantInput {
    id: ID,
}

#[derive(SimpleObject)]
pub(crate) struct ProductVariantPayload {
    variant: Option<ProductVariant>,
    product: Option<Product>,
    user_errors: Vec<UserError>,
}

impl ProductVariantPayload {
    fn from_result(result: Result<VariantChange, AppError>) -> async_graphql::Result<Self> {
        let (change, user_errors) = split(result)?;
        let (variant, product) = match change {
            Some(change) => (
                change.variant.map(ProductVariant),
                Some(Product(change.product)),
            ),
            None => (None, None),
        };
        Ok(ProductVariantPayload {
            variant,
            product,
            user_errors,
        })
    }
}

#[derive(Default)]
pub(crate) struct VariantMutation;

#[Object]
impl VariantMutation {
    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn add_product_variant(
        &self,
        ctx: &Context<'_>,
        input: AddProductVariantInput,
    ) -> async_graphql::Result<ProductVariantPayload> {
        let product_id = id_of_kind(&input.product_id, NodeKind::Product)?;
        let new = NewVariantInput {
            sku: input.sku,
            price: PriceInput::from_cents(input.price.to_cents()),
            stock: input.stock.unwrap_or(0),
            options: options_of(Some(input.options)),
        };
        ProductVariantPayload::from_result(catalog(ctx).add_variant(product_id, new).await)
    }

    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn update_product_variant(
        &self,
        ctx: &Context<'_>,
        input: UpdateProductVariantInput,
    ) -> async_graphql::Result<ProductVariantPayload> {
        let id = id_of_kind(&input.id, NodeKind::ProductVariant)?;
        let update = VariantUpdate {
            sku: input.sku,
            price: input.price.map(|p| PriceInput::from_cents(p.to_cents())),
            options: input.options.map(|o| options_of(Some(o))),
            is_archived: input.is_archived,
        };
        ProductVariantPayload::from_result(catalog(ctx).update_variant(id, update).await)
    }

    #[graphql(guard = "RoleGuard(Role::Admin)")]
    async fn delete_product_variant(
        &self,
        ctx: &Context<'_>,
        input: DeleteProductVariantInput,
    ) -> async_graphql::Result<ProductVariantPayload> {
        let id = id_of_kind(&input.id, NodeKind::ProductVariant)?;
        ProductVariantPayload::from_result(catalog(ctx).delete_variant(id).await)
    }
}
