//! Variant rules: SKUs, options, the last active variant, archiving, and which variant
//! a v1 write that names only a product acts on.

use super::model::{
    MAX_OPTION_CHARS, MAX_OPTION_NAMES, MAX_SKU_CHARS, MAX_VARIANTS, NewVariant, SelectedOption,
    Variant, VariantRow, title_of,
};
use super::repo::{self, VariantChanges};
use crate::catalog::Catalog;
use crate::catalog::model::ProductRow;
use crate::catalog::repo as products;
use crate::catalog::service::{PriceInput, check_price, check_stock, is_blank};
use crate::db::{Conn, is_unique_violation, now};
use crate::error::{AppError, AppResult, UserErrorCode};

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::input(UserErrorCode::InvalidInput, field, message)
}

fn variant_not_found(field: &str) -> AppError {
    AppError::input(UserErrorCode::NotFound, field, "no such variant")
}

fn product_not_found(field: &str) -> AppError {
    AppError::input(UserErrorCode::NotFound, field, "no such product")
}

pub(crate) fn sku_taken(sku: &str) -> AppError {
    AppError::input(
        UserErrorCode::SkuTaken,
        "sku",
        format!("the SKU {sku} is taken"),
    )
}

/// 1..=64 characters of `A-Z a-z 0-9 - _ .`, kept as given.
pub(crate) fn check_sku(raw: &str) -> AppResult<String> {
    let ok = (1..=MAX_SKU_CHARS).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !ok {
        return Err(invalid(
            "sku",
            format!("a SKU is 1 to {MAX_SKU_CHARS} of A-Z, a-z, 0-9, '-', '_' and '.'"),
        ));
    }
    Ok(raw.to_owned())
}

/// Trimmed names and values of 1..=50 characters, at most 3 names, each name once.
pub(crate) fn check_options(raw: Vec<SelectedOption>) -> AppResult<Vec<SelectedOption>> {
    if raw.len() > MAX_OPTION_NAMES {
        return Err(invalid(
            "options",
            format!("a product has at most {MAX_OPTION_NAMES} option names"),
        ));
    }
    let mut options: Vec<SelectedOption> = Vec::with_capacity(raw.len());
    for option in raw {
        let name = option.name.trim();
        let value = option.value.trim();
        for text in [name, value] {
            let chars = text.chars().count();
            if is_blank(text) || chars > MAX_OPTION_CHARS || text.contains('\0') {
                return Err(invalid(
                    "options",
                    format!("option names and values are 1 to {MAX_OPTION_CHARS} characters"),
                ));
            }
        }
        if options.iter().any(|o| o.name == name) {
            return Err(invalid(
                "options",
                format!("the option {name} is given twice"),
            ));
        }
        options.push(SelectedOption {
            name: name.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(options)
}

/// Puts `options` in the order of the product's option names (those of its active
/// variants other than `except`), refusing other names or a combination another active
/// variant has.
fn fit_options(
    variants: &[Variant],
    except: Option<i64>,
    mut options: Vec<SelectedOption>,
) -> AppResult<Vec<SelectedOption>> {
    let mut others = variants
        .iter()
        .filter(|v| !v.row.is_archived && Some(v.row.id) != except);
    let Some(first) = others.next() else {
        return Ok(options);
    };
    let names = first.names();
    let same_names =
        names.len() == options.len() && options.iter().all(|o| names.contains(&o.name.as_str()));
    if !same_names {
        return Err(invalid(
            "options",
            format!(
                "every variant of this product has the options {}",
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            ),
        ));
    }
    options.sort_by_key(|o| names.iter().position(|n| *n == o.name));
    let duplicate = std::iter::once(first)
        .chain(others)
        .any(|v| v.has_combination(&options));
    if duplicate {
        return Err(AppError::input(
            UserErrorCode::DuplicateVariant,
            "options",
            format!("a variant {} exists", title_of(&options)),
        ));
    }
    Ok(options)
}

/// Which variant a write acts on: the given one (which must be the product's), or,
/// when none is given, the product's only active variant (`VARIANT_REQUIRED` when it
/// has several). `variant`: `None` when the input names no variant, `Some(None)` for an
/// id of another kind. Returns the product with it.
pub(crate) async fn resolve_variant(
    conn: &mut Conn<'_>,
    product_id: i64,
    variant: Option<Option<i64>>,
    product_field: &str,
) -> AppResult<(ProductRow, VariantRow)> {
    if let Some(id) = variant {
        // The variant and its product in one statement: addToCart's hot path.
        let id = id.ok_or_else(|| variant_not_found("variantId"))?;
        return match repo::find_with_product(conn, id).await? {
            Some((variant, product)) if product.id == product_id => Ok((product, variant)),
            Some(_) => Err(variant_not_found("variantId")),
            None => match products::find_product(conn, product_id).await? {
                Some(_) => Err(variant_not_found("variantId")),
                None => Err(product_not_found(product_field)),
            },
        };
    }
    let product = products::find_product(conn, product_id)
        .await?
        .ok_or_else(|| product_not_found(product_field))?;
    let variant = pick_variant(conn, &product, None, product_field).await?;
    Ok((product, variant))
}

/// [`resolve_variant`] for a product already read (and locked) by the caller.
pub(crate) async fn pick_variant(
    conn: &mut Conn<'_>,
    product: &ProductRow,
    variant: Option<Option<i64>>,
    product_field: &str,
) -> AppResult<VariantRow> {
    if let Some(id) = variant {
        let id = id.ok_or_else(|| variant_not_found("variantId"))?;
        return match repo::find_with_product(conn, id).await? {
            Some((variant, owner)) if owner.id == product.id => Ok(variant),
            _ => Err(variant_not_found("variantId")),
        };
    }
    let mut active = repo::active_rows(conn, product.id).await?;
    if active.len() > 1 {
        return Err(AppError::input(
            UserErrorCode::VariantRequired,
            "variantId",
            format!(
                "{} has {} variants: say which one",
                product.name,
                active.len()
            ),
        ));
    }
    active.pop().ok_or_else(|| {
        AppError::input(
            UserErrorCode::ProductUnavailable,
            product_field,
            format!("{} has no variant for sale", product.name),
        )
    })
}

/// Sets the product's derived price and stock from its active variants.
pub(crate) async fn refresh_product(conn: &mut Conn<'_>, product_id: i64) -> AppResult<ProductRow> {
    let active = repo::active_rows(conn, product_id).await?;
    let price = active.iter().map(|v| v.price_cents).min();
    let stock: i64 = active.iter().map(|v| i64::from(v.stock)).sum();
    let stock = i32::try_from(stock).map_err(|_| {
        invalid(
            "stock",
            "the product's variants hold more units than allowed",
        )
    })?;
    // A product always has an active variant; without one the old price is kept.
    products::set_derived(conn, product_id, price, stock)
        .await?
        .ok_or_else(|| product_not_found("productId"))
}

/// A new variant as the client sent it.
pub(crate) struct NewVariantInput {
    pub sku: String,
    pub price: PriceInput,
    pub stock: i32,
    pub options: Vec<SelectedOption>,
}

#[derive(Default)]
pub(crate) struct VariantUpdate {
    pub sku: Option<String>,
    pub price: Option<PriceInput>,
    pub options: Option<Vec<SelectedOption>>,
    pub is_archived: Option<bool>,
}

/// A variant write's outcome: the variant (`None` once deleted) and its product now.
pub(crate) struct VariantChange {
    pub variant: Option<Variant>,
    pub product: ProductRow,
}

/// `LAST_VARIANT` when `id` is the only active one of the product's `variants`: taking
/// it away (archiving or deleting it) would leave the product with none.
fn refuse_last_active(variants: &[Variant], id: i64, field: &str) -> AppResult<()> {
    if variants
        .iter()
        .any(|v| !v.row.is_archived && v.row.id != id)
    {
        return Ok(());
    }
    Err(AppError::input(
        UserErrorCode::LastVariant,
        field,
        "a product keeps at least one active variant",
    ))
}

/// A SKU's unique violation (a concurrent writer took it) is `SKU_TAKEN`, not a failure.
pub(crate) fn sku_race(sku: &str) -> impl Fn(AppError) -> AppError + '_ {
    move |e| match e {
        AppError::Database(db) if is_unique_violation(&db) => sku_taken(sku),
        other => other,
    }
}

impl Catalog {
    pub(crate) async fn variants(&self, ids: &[i64]) -> AppResult<Vec<Variant>> {
        self.db
            .run(async |c| repo::find_variants(c, ids).await)
            .await
    }

    pub(crate) async fn add_variant(
        &self,
        product_id: Option<i64>,
        input: NewVariantInput,
    ) -> AppResult<VariantChange> {
        let product_id = product_id.ok_or_else(|| product_not_found("productId"))?;
        let sku = check_sku(&input.sku)?;
        let price_cents = check_price(input.price)?;
        let stock = check_stock(input.stock)?;
        let options = check_options(input.options)?;
        let now = now();
        let added = self
            .db
            .transaction(async |tx| {
                products::lock_product(tx, product_id, now)
                    .await?
                    .ok_or_else(|| product_not_found("productId"))?;
                if repo::count_variants(tx, product_id).await? >= MAX_VARIANTS {
                    return Err(invalid(
                        "productId",
                        format!("a product has at most {MAX_VARIANTS} variants"),
                    ));
                }
                let variants = repo::variants_of(tx, &[product_id]).await?;
                let options = fit_options(&variants, None, options)?;
                if repo::sku_taken(tx, &sku, None).await? {
                    return Err(sku_taken(&sku));
                }
                let title = title_of(&options);
                let new = NewVariant {
                    product_id,
                    sku: &sku,
                    title: &title,
                    price_cents,
                    stock,
                    is_archived: false,
                    created_at: now,
                    updated_at: now,
                };
                let row = repo::insert_variant(tx, &new, &options).await?;
                let product = refresh_product(tx, product_id).await?;
                Ok(VariantChange {
                    variant: Some(Variant { row, options }),
                    product,
                })
            })
            .await
            .map_err(sku_race(&sku));
        self.changed(added).await
    }

    pub(crate) async fn update_variant(
        &self,
        id: Option<i64>,
        update: VariantUpdate,
    ) -> AppResult<VariantChange> {
        let id = id.ok_or_else(|| variant_not_found("id"))?;
        let sku = update.sku.as_deref().map(check_sku).transpose()?;
        let price_cents = update.price.map(check_price).transpose()?;
        let options = update.options.map(check_options).transpose()?;
        let now = now();
        let sku_text = sku.clone().unwrap_or_default();
        let updated = self
            .db
            .transaction(async |tx| {
                let current = repo::find_variant(tx, id)
                    .await?
                    .ok_or_else(|| variant_not_found("id"))?;
                let product_id = current.row.product_id;
                products::lock_product(tx, product_id, now).await?;
                let variants = repo::variants_of(tx, &[product_id]).await?;
                let archived = update.is_archived.unwrap_or(current.row.is_archived);
                if archived && !current.row.is_archived {
                    refuse_last_active(&variants, id, "isArchived")?;
                }
                let options = options.unwrap_or_else(|| current.options.clone());
                // An active variant fits the others; an archived one is left as it is.
                let options = if archived {
                    options
                } else {
                    fit_options(&variants, Some(id), options)?
                };
                if let Some(sku) = &sku
                    && repo::sku_taken(tx, sku, Some(id)).await?
                {
                    return Err(sku_taken(sku));
                }
                let title = title_of(&options);
                let changes = VariantChanges {
                    sku: sku.as_deref(),
                    title: Some(&title),
                    price_cents,
                    stock: None,
                    is_archived: update.is_archived,
                    updated_at: Some(now),
                };
                let row = repo::update_variant(tx, id, &changes).await?;
                if options != current.options {
                    repo::replace_options(tx, &row, &options).await?;
                }
                if row.is_archived {
                    crate::cart::repo::remove_variant(tx, id).await?;
                }
                let product = refresh_product(tx, product_id).await?;
                Ok(VariantChange {
                    variant: Some(Variant { row, options }),
                    product,
                })
            })
            .await
            .map_err(sku_race(&sku_text));
        self.changed(updated).await
    }

    /// Deletes a variant no order refers to, archives one that is referenced; either way
    /// it leaves every cart. The product's only active variant stays.
    pub(crate) async fn delete_variant(&self, id: Option<i64>) -> AppResult<VariantChange> {
        let id = id.ok_or_else(|| variant_not_found("id"))?;
        let now = now();
        let deleted = self
            .db
            .transaction(async |tx| {
                let current = repo::find_variant(tx, id)
                    .await?
                    .ok_or_else(|| variant_not_found("id"))?;
                let product_id = current.row.product_id;
                products::lock_product(tx, product_id, now).await?;
                let variants = repo::variants_of(tx, &[product_id]).await?;
                if !current.row.is_archived {
                    refuse_last_active(&variants, id, "id")?;
                }
                crate::cart::repo::remove_variant(tx, id).await?;
                let variant = if repo::is_ordered(tx, id).await? {
                    let archive = VariantChanges {
                        is_archived: Some(true),
                        updated_at: Some(now),
                        ..Default::default()
                    };
                    let row = repo::update_variant(tx, id, &archive).await?;
                    Some(Variant {
                        row,
                        options: current.options,
                    })
                } else {
                    repo::delete_variant(tx, id).await?;
                    None
                };
                let product = refresh_product(tx, product_id).await?;
                Ok(VariantChange { variant, product })
            })
            .await;
        self.changed(deleted).await
    }
}
