//! Queries of the addresses table.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::model::{AddressRow, PostalAddress};
use crate::db::schema::addresses;
use crate::db::{Conn, db_run};

/// A customer's addresses: the default first, then newest first.
pub(crate) async fn addresses_of(
    conn: &mut Conn<'_>,
    user_id: i64,
) -> QueryResult<Vec<AddressRow>> {
    db_run!(conn, c => addresses::table
        .filter(addresses::user_id.eq(user_id))
        .order((
            addresses::is_default.desc(),
            addresses::created_at.desc(),
            addresses::id.desc(),
        ))
        .select(AddressRow::as_select())
        .load(c)
        .await)
}

/// The address if it is this user's.
pub(crate) async fn find_own(
    conn: &mut Conn<'_>,
    user_id: i64,
    id: i64,
) -> QueryResult<Option<AddressRow>> {
    db_run!(conn, c => addresses::table
        .filter(addresses::id.eq(id))
        .filter(addresses::user_id.eq(user_id))
        .select(AddressRow::as_select())
        .first(c)
        .await
        .optional())
}

pub(crate) async fn find_address(conn: &mut Conn<'_>, id: i64) -> QueryResult<Option<AddressRow>> {
    db_run!(conn, c => addresses::table
        .find(id)
        .select(AddressRow::as_select())
        .first(c)
        .await
        .optional())
}

pub(crate) async fn count(conn: &mut Conn<'_>, user_id: i64) -> QueryResult<i64> {
    db_run!(conn, c => addresses::table
        .filter(addresses::user_id.eq(user_id))
        .count()
        .get_result(c)
        .await)
}

pub(crate) async fn insert(
    conn: &mut Conn<'_>,
    user_id: i64,
    address: &PostalAddress,
    is_default: bool,
    now: NaiveDateTime,
) -> QueryResult<AddressRow> {
    db_run!(conn, c => diesel::insert_into(addresses::table)
        .values((
            addresses::user_id.eq(user_id),
            addresses::full_name.eq(&address.full_name),
            addresses::line1.eq(&address.line1),
            addresses::line2.eq(&address.line2),
            addresses::city.eq(&address.city),
            addresses::region.eq(&address.region),
            addresses::postal_code.eq(&address.postal_code),
            addresses::country_code.eq(&address.country_code),
            addresses::phone.eq(&address.phone),
            addresses::is_default.eq(is_default),
            addresses::created_at.eq(now),
            addresses::updated_at.eq(now),
        ))
        .returning(AddressRow::as_returning())
        .get_result(c)
        .await)
}

pub(crate) async fn update(
    conn: &mut Conn<'_>,
    id: i64,
    address: &PostalAddress,
    now: NaiveDateTime,
) -> QueryResult<AddressRow> {
    db_run!(conn, c => diesel::update(addresses::table.find(id))
        .set((address, addresses::updated_at.eq(now)))
        .returning(AddressRow::as_returning())
        .get_result(c)
        .await)
}

pub(crate) async fn delete(conn: &mut Conn<'_>, id: i64) -> QueryResult<usize> {
    db_run!(conn, c => diesel::delete(addresses::table.find(id)).execute(c).await)
}

/// Makes `id` the user's one default (`None`: the newest address, if any).
pub(crate) async fn set_default(
    conn: &mut Conn<'_>,
    user_id: i64,
    id: Option<i64>,
) -> QueryResult<()> {
    // The old default goes first: the partial unique index allows one at a time.
    db_run!(conn, c => diesel::update(
        addresses::table
            .filter(addresses::user_id.eq(user_id))
            .filter(addresses::is_default.eq(true))
    )
    .set(addresses::is_default.eq(false))
    .execute(c)
    .await)?;
    let id = match id {
        Some(id) => id,
        None => match addresses_of(conn, user_id).await?.into_iter().next() {
            Some(newest) => newest.id,
            None => return Ok(()),
        },
    };
    db_run!(conn, c => diesel::update(addresses::table.find(id))
        .set(addresses::is_default.eq(true))
        .execute(c)
        .await)?;
    Ok(())
}
