//! Category rules: names, slugs, the 8-level limit, cycle-free moves, deletion, and a
//! product's categories.

use super::model::{
    CategoryRow, MAX_DESCRIPTION_CHARS, MAX_LEVELS, MAX_NAME_CHARS, NewCategory, is_valid_slug,
    numbered_slug, slug_from_name,
};
use super::repo::{self, CategoryChanges};
use crate::catalog::Catalog;
use crate::catalog::model::ProductRow;
use crate::catalog::repo as products;
use crate::catalog::service::{check_category_ids, is_blank};
use crate::db::writer_lock::{Writers, lock};
use crate::db::{Conn, is_unique_violation, now};
use crate::error::{AppError, AppResult, UserErrorCode};

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::input(UserErrorCode::InvalidInput, field, message)
}

fn not_found(field: &str) -> AppError {
    AppError::input(UserErrorCode::NotFound, field, "no such category")
}

fn slug_taken(slug: &str) -> AppError {
    AppError::input(
        UserErrorCode::SlugTaken,
        "slug",
        format!("the slug {slug} is taken"),
    )
}

fn check_name(raw: &str) -> AppResult<String> {
    let name = raw.trim();
    let chars = name.chars().count();
    if is_blank(name) || chars > MAX_NAME_CHARS || name.contains('\0') {
        return Err(invalid(
            "name",
            format!("a category name is 1 to {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(name.to_owned())
}

fn check_description(raw: &str) -> AppResult<String> {
    if raw.chars().count() > MAX_DESCRIPTION_CHARS || raw.contains('\0') {
        return Err(invalid(
            "description",
            format!("a description is at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    Ok(raw.trim().to_owned())
}

/// An explicit slug, lower-cased.
fn check_slug(raw: &str) -> AppResult<String> {
    let slug = raw.to_lowercase();
    if !is_valid_slug(&slug) {
        return Err(invalid(
            "slug",
            "a slug is 1 to 64 of a-z, 0-9 and single hyphens between them",
        ));
    }
    Ok(slug)
}

/// The first of `slug`, `slug-2`, `slug-3`, … that no other category has.
async fn free_slug(tx: &mut Conn<'_>, slug: &str, except: i64) -> AppResult<String> {
    if !repo::slug_taken(tx, slug, except).await? {
        return Ok(slug.to_owned());
    }
    for n in 2..10_000 {
        let candidate = numbered_slug(slug, n);
        if !repo::slug_taken(tx, &candidate, except).await? {
            return Ok(candidate);
        }
    }
    Err(slug_taken(slug))
}

/// The level of a category (a root is 1): how many ancestors it has, itself included.
async fn level(tx: &mut Conn<'_>, id: i64) -> AppResult<i64> {
    Ok(repo::ancestor_ids(tx, id).await?.len() as i64)
}

fn too_deep() -> AppError {
    invalid(
        "parentId",
        format!("the category tree is at most {MAX_LEVELS} levels deep"),
    )
}

pub(crate) struct NewCategoryInput {
    pub name: String,
    pub slug: Option<String>,
    pub description: String,
    /// `Some(None)`: an id of another kind (no such category).
    pub parent: Option<Option<i64>>,
    pub position: i32,
}

#[derive(Default)]
pub(crate) struct CategoryUpdate {
    pub name: Option<String>,
    pub slug: Option<String>,
    pub description: Option<String>,
    /// The new parent: `Some(Some(id))` moves under it, `Some(None)` is an id of another
    /// kind; `move_to_root` makes it a root.
    pub parent: Option<Option<i64>>,
    pub move_to_root: bool,
    pub position: Option<i32>,
}

impl Catalog {
    /// The roots, or the children of a category; by position then name.
    pub(crate) async fn categories(&self, parent: Option<i64>) -> AppResult<Vec<CategoryRow>> {
        self.db.run(async |c| repo::children(c, parent).await).await
    }

    pub(crate) async fn category(&self, id: i64) -> AppResult<Option<CategoryRow>> {
        self.db
            .run(async |c| repo::find_category(c, id).await)
            .await
    }

    pub(crate) async fn category_by_slug(&self, slug: &str) -> AppResult<Option<CategoryRow>> {
        let slug = slug.to_lowercase();
        self.db
            .run(async |c| repo::find_by_slug(c, &slug).await)
            .await
    }

    pub(crate) async fn create_category(&self, input: NewCategoryInput) -> AppResult<CategoryRow> {
        let name = check_name(&input.name)?;
        let description = check_description(&input.description)?;
        let slug = input.slug.as_deref().map(check_slug).transpose()?;
        let parent = input
            .parent
            .map(|p| p.ok_or_else(|| not_found("parentId")))
            .transpose()?;
        let now = now();
        let created = self
            .db
            .transaction(async |tx| {
                lock(tx, Writers::CategoryTree).await?;
                if let Some(parent) = parent {
                    repo::find_category(tx, parent)
                        .await?
                        .ok_or_else(|| not_found("parentId"))?;
                    if level(tx, parent).await? + 1 > MAX_LEVELS {
                        return Err(too_deep());
                    }
                }
                let slug = match &slug {
                    Some(slug) if repo::slug_taken(tx, slug, 0).await? => {
                        return Err(slug_taken(slug));
                    }
                    Some(slug) => slug.clone(),
                    None => free_slug(tx, &slug_from_name(&name), 0).await?,
                };
                let new = NewCategory {
                    name: &name,
                    slug: &slug,
                    description: &description,
                    position: input.position,
                    parent_id: parent,
                    created_at: now,
                    updated_at: now,
                };
                let row = repo::insert_category(tx, &new).await?;
                repo::link_new(tx, row.id, parent).await?;
                Ok(row)
            })
            .await;
        self.changed(created.map_err(|e| slug_race(e, slug.as_deref())))
            .await
    }

    /// Changes the given fields; a new parent moves the whole subtree, refused when it
    /// would make a cycle or pass 8 levels.
    pub(crate) async fn update_category(
        &self,
        id: Option<i64>,
        update: CategoryUpdate,
    ) -> AppResult<CategoryRow> {
        let id = id.ok_or_else(|| not_found("id"))?;
        let name = update.name.as_deref().map(check_name).transpose()?;
        let description = update
            .description
            .as_deref()
            .map(check_description)
            .transpose()?;
        let slug = update.slug.as_deref().map(check_slug).transpose()?;
        let new_parent = match (update.move_to_root, update.parent) {
            (true, Some(_)) => {
                return Err(invalid(
                    "moveToRoot",
                    "give either parentId or moveToRoot, not both",
                ));
            }
            (true, None) => Some(None),
            (false, Some(parent)) => Some(Some(parent.ok_or_else(|| not_found("parentId"))?)),
            (false, None) => None,
        };
        let now = now();
        let updated = self
            .db
            .transaction(async |tx| {
                lock(tx, Writers::CategoryTree).await?;
                let current = repo::find_category(tx, id)
                    .await?
                    .ok_or_else(|| not_found("id"))?;
                if let Some(slug) = &slug
                    && repo::slug_taken(tx, slug, id).await?
                {
                    return Err(slug_taken(slug));
                }
                let moves = new_parent.filter(|p| *p != current.parent_id);
                if let Some(parent) = moves {
                    check_move(tx, id, parent).await?;
                    repo::move_subtree(tx, id, parent).await?;
                }
                let changes = CategoryChanges {
                    name: name.as_deref(),
                    slug: slug.as_deref(),
                    description: description.as_deref(),
                    position: update.position,
                    parent_id: moves,
                    updated_at: Some(now),
                };
                Ok(repo::update_category(tx, id, &changes).await?)
            })
            .await;
        self.changed(updated.map_err(|e| slug_race(e, slug.as_deref())))
            .await
    }

    /// Deletes a category without children; its products stay, without it.
    pub(crate) async fn delete_category(&self, id: Option<i64>) -> AppResult<i64> {
        let id = id.ok_or_else(|| not_found("id"))?;
        let deleted = self
            .db
            .transaction(async |tx| {
                lock(tx, Writers::CategoryTree).await?;
                repo::find_category(tx, id)
                    .await?
                    .ok_or_else(|| not_found("id"))?;
                if repo::has_children(tx, id).await? {
                    return Err(AppError::input(
                        UserErrorCode::CategoryNotEmpty,
                        "id",
                        "move or delete its children first",
                    ));
                }
                repo::delete_category(tx, id).await?;
                Ok(id)
            })
            .await;
        self.changed(deleted).await
    }

    /// Replaces a product's categories.
    pub(crate) async fn set_product_categories(
        &self,
        product_id: Option<i64>,
        category_ids: &[Option<i64>],
    ) -> AppResult<ProductRow> {
        let product_not_found =
            || AppError::input(UserErrorCode::NotFound, "productId", "no such product");
        let product_id = product_id.ok_or_else(product_not_found)?;
        let ids = check_category_ids(category_ids)?;
        let now = now();
        let set = self
            .db
            .transaction(async |tx| {
                // The tree lock before the product's row: a move holds the lock while it
                // rewrites the listings of the products it moves.
                lock(tx, Writers::CategoryTree).await?;
                let product = products::lock_product(tx, product_id, now)
                    .await?
                    .ok_or_else(product_not_found)?;
                place_product(tx, product_id, &ids).await?;
                Ok(product)
            })
            .await;
        self.changed(set).await
    }
}

/// Puts a product in exactly these categories, which must all exist (`NOT_FOUND` on
/// `categoryIds` otherwise). The caller holds the tree lock, so that no move changes
/// the categories' ancestors while the product's listings are written.
pub(crate) async fn place_product(
    tx: &mut Conn<'_>,
    product_id: i64,
    ids: &[i64],
) -> AppResult<()> {
    if repo::find_categories(tx, ids).await?.len() != ids.len() {
        return Err(not_found("categoryIds"));
    }
    repo::set_product_categories(tx, product_id, ids).await?;
    Ok(())
}

/// A move of `id` under `parent` (or to the roots) must not put it inside its own
/// subtree, nor push the subtree's deepest category past 8 levels.
async fn check_move(tx: &mut Conn<'_>, id: i64, parent: Option<i64>) -> AppResult<()> {
    let subtree = repo::subtree_ids(tx, id).await?;
    let height = subtree
        .iter()
        .map(|&(_, depth)| i64::from(depth))
        .max()
        .unwrap_or(0);
    let parent_level = match parent {
        None => 0,
        Some(parent) => {
            repo::find_category(tx, parent)
                .await?
                .ok_or_else(|| not_found("parentId"))?;
            if subtree.iter().any(|&(member, _)| member == parent) {
                return Err(AppError::input(
                    UserErrorCode::CategoryCycle,
                    "parentId",
                    "a category cannot move under itself or one of its descendants",
                ));
            }
            level(tx, parent).await?
        }
    };
    if parent_level + 1 + height > MAX_LEVELS {
        return Err(too_deep());
    }
    Ok(())
}

/// A unique violation on the slug (possible only beside a writer outside the tree lock)
/// is `SLUG_TAKEN`, not a failure.
fn slug_race(e: AppError, slug: Option<&str>) -> AppError {
    match e {
        AppError::Database(db) if is_unique_violation(&db) => slug_taken(slug.unwrap_or("")),
        other => other,
    }
}
