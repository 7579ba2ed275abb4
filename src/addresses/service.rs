//! Address rules: the fields' checks, at most 20 per customer, exactly one default
//! while there are any.

use isocountry::CountryCode;

use super::model::{AddressFields, AddressRow, MAX_ADDRESSES, PostalAddress};
use super::repo;
use crate::accounts::repo::lock_user;
use crate::accounts::service::check_phone;
use crate::db::{Conn, Db, now};
use crate::error::{AppError, AppResult, UserErrorCode};

/// Longest name, street line, city or region.
const MAX_LINE_CHARS: usize = 100;
const MAX_POSTAL_CODE_CHARS: usize = 20;

/// The address room: every customer's saved addresses (the `addresses` table).
#[derive(Clone)]
pub(crate) struct Addresses {
    db: Db,
}

fn invalid(field: &str, message: String) -> AppError {
    AppError::input(UserErrorCode::InvalidInput, field, message)
}

fn not_found(field: &str) -> AppError {
    AppError::input(UserErrorCode::NotFound, field, "no such address")
}

/// A trimmed text of 1 (or, when optional, 0) to `max` characters without control
/// characters; an empty optional value is `None`.
fn check_text(raw: &str, field: &str, max: usize, required: bool) -> AppResult<Option<String>> {
    let text = raw.trim();
    let length = text.chars().count();
    let min = usize::from(required);
    if length < min || length > max || text.chars().any(char::is_control) {
        return Err(invalid(
            field,
            format!("must be {min} to {max} characters, without control characters"),
        ));
    }
    Ok((!text.is_empty()).then(|| text.to_owned()))
}

fn required(raw: &str, field: &str, max: usize) -> AppResult<String> {
    Ok(check_text(raw, field, max, true)?.unwrap_or_default())
}

fn optional(raw: Option<&str>, field: &str, max: usize) -> AppResult<Option<String>> {
    raw.map_or(Ok(None), |raw| check_text(raw, field, max, false))
}

/// Checks an address sent as input `prefix` (e.g. `address`): errors name the field
/// inside it, `["input", "address", "countryCode"]`.
pub(crate) fn check_address(fields: &AddressFields, prefix: &str) -> AppResult<PostalAddress> {
    let field = |name: &str| format!("{prefix}.{name}");
    let country = fields.country_code.trim();
    let country_code = CountryCode::for_alpha2_caseless(country)
        .map_err(|_| {
            invalid(
                &field("countryCode"),
                format!("{country:?} is not an ISO 3166-1 alpha-2 country code"),
            )
        })?
        .alpha2()
        .to_owned();
    Ok(PostalAddress {
        full_name: required(&fields.full_name, &field("fullName"), MAX_LINE_CHARS)?,
        line1: required(&fields.line1, &field("line1"), MAX_LINE_CHARS)?,
        line2: optional(fields.line2.as_deref(), &field("line2"), MAX_LINE_CHARS)?,
        city: required(&fields.city, &field("city"), MAX_LINE_CHARS)?,
        region: optional(fields.region.as_deref(), &field("region"), MAX_LINE_CHARS)?,
        postal_code: required(
            &fields.postal_code,
            &field("postalCode"),
            MAX_POSTAL_CODE_CHARS,
        )?,
        country_code,
        phone: match fields.phone.as_deref() {
            Some(raw) => check_phone(raw, &field("phone"))?,
            None => None,
        },
    })
}

/// One of the user's saved addresses, for an order to copy; another user's is
/// `NOT_FOUND` on `field`, like one that does not exist.
pub(crate) async fn saved_address(
    tx: &mut Conn<'_>,
    user_id: i64,
    id: Option<i64>,
    field: &str,
) -> AppResult<PostalAddress> {
    let id = id.ok_or_else(|| not_found(field))?;
    let row = repo::find_own(tx, user_id, id)
        .await?
        .ok_or_else(|| not_found(field))?;
    Ok(PostalAddress::from(&row))
}

impl Addresses {
    pub(crate) fn new(db: Db) -> Self {
        Addresses { db }
    }

    /// The default first, then newest first.
    pub(crate) async fn addresses_of(&self, user_id: i64) -> AppResult<Vec<AddressRow>> {
        self.db
            .run(async |c| repo::addresses_of(c, user_id).await)
            .await
    }

    pub(crate) async fn address(&self, id: i64) -> AppResult<Option<AddressRow>> {
        self.db.run(async |c| repo::find_address(c, id).await).await
    }

    /// Saves an address; the first one, or one asked to be, becomes the default.
    pub(crate) async fn add(
        &self,
        user_id: i64,
        fields: &AddressFields,
        make_default: bool,
    ) -> AppResult<AddressRow> {
        let address = check_address(fields, "address")?;
        let now = now();
        self.db
            .transaction(async |tx| {
                // Concurrent adds of one customer count one after the other.
                lock_user(tx, user_id).await?;
                let saved = repo::count(tx, user_id).await?;
                if saved >= MAX_ADDRESSES {
                    return Err(AppError::input(
                        UserErrorCode::AddressLimit,
                        "",
                        format!("an address book holds at most {MAX_ADDRESSES} addresses"),
                    ));
                }
                let mut row = repo::insert(tx, user_id, &address, false, now).await?;
                if make_default || saved == 0 {
                    repo::set_default(tx, user_id, Some(row.id)).await?;
                    row.is_default = true;
                }
                Ok(row)
            })
            .await
    }

    /// Replaces an address's fields; whether it is the default does not change.
    pub(crate) async fn update(
        &self,
        user_id: i64,
        id: Option<i64>,
        fields: &AddressFields,
    ) -> AppResult<AddressRow> {
        let id = id.ok_or_else(|| not_found("id"))?;
        let address = check_address(fields, "address")?;
        let now = now();
        self.db
            .transaction(async |tx| {
                // One writer per address book: a concurrent delete cannot slip in
                // between the check and the update.
                lock_user(tx, user_id).await?;
                repo::find_own(tx, user_id, id)
                    .await?
                    .ok_or_else(|| not_found("id"))?;
                Ok(repo::update(tx, id, &address, now).await?)
            })
            .await
    }

    /// Deletes an address; when it was the default, the newest remaining one becomes
    /// the default.
    pub(crate) async fn delete(&self, user_id: i64, id: Option<i64>) -> AppResult<i64> {
        let id = id.ok_or_else(|| not_found("id"))?;
        self.db
            .transaction(async |tx| {
                lock_user(tx, user_id).await?;
                let row = repo::find_own(tx, user_id, id)
                    .await?
                    .ok_or_else(|| not_found("id"))?;
                repo::delete(tx, id).await?;
                if row.is_default {
                    repo::set_default(tx, user_id, None).await?;
                }
                Ok(id)
            })
            .await
    }

    pub(crate) async fn set_default(&self, user_id: i64, id: Option<i64>) -> AppResult<AddressRow> {
        let id = id.ok_or_else(|| not_found("id"))?;
        self.db
            .transaction(async |tx| {
                lock_user(tx, user_id).await?;
                repo::find_own(tx, user_id, id)
                    .await?
                    .ok_or_else(|| not_found("id"))?;
                repo::set_default(tx, user_id, Some(id)).await?;
                repo::find_own(tx, user_id, id)
                    .await?
                    .ok_or_else(|| not_found("id"))
            })
            .await
    }
}
