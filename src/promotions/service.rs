//! Coupon rules: admins' settings, customers' carts, and the use an order takes.

use chrono::NaiveDateTime;

use super::model::{CouponRow, DiscountType, refusal_message};
use super::repo::{self, CouponFields};
use crate::db::keyset::Page;
use crate::db::money::MAX_PRICE_CENTS;
use crate::db::{Conn, Db, is_unique_violation, now};
use crate::error::{AppError, AppResult, UserErrorCode};

const MIN_CODE_CHARS: usize = 3;
const MAX_CODE_CHARS: usize = 32;

/// The promotions room: the `coupons` and `cart_coupons` tables. The orders room takes
/// and gives back uses in its own transactions, through [`take_for_order`] and
/// [`give_back`].
#[derive(Clone)]
pub(crate) struct Promotions {
    db: Db,
}

/// A coupon's settings as an admin gives them (amounts in hundredths: cents, or
/// hundredths of a percent); `None` where the edge could not read the value.
pub(crate) struct CouponInput {
    pub discount_type: DiscountType,
    pub value_hundredths: Option<i64>,
    pub min_subtotal_cents: Option<Option<i64>>,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub usage_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    pub is_active: bool,
}

/// A cart's coupon and the customer's uses of it: what `Cart.discount` needs.
#[derive(Clone, Debug)]
pub(crate) struct AppliedCoupon {
    pub coupon: CouponRow,
    pub own_uses: i64,
}

impl AppliedCoupon {
    /// What the coupon takes off `subtotal_cents` now: 0 when it does not apply.
    pub(crate) fn discount_now(&self, subtotal_cents: i64) -> i64 {
        match self.coupon.refusal(now(), subtotal_cents, self.own_uses) {
            Some(_) => 0,
            None => self.coupon.discount_of(subtotal_cents),
        }
    }
}

/// A code as stored: trimmed, upper case; or why it cannot be one.
pub(crate) fn normalize_code(code: &str) -> Result<String, String> {
    let code = code.trim().to_ascii_uppercase();
    let valid = (MIN_CODE_CHARS..=MAX_CODE_CHARS).contains(&code.len())
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if !valid {
        return Err(format!(
            "a code is {MIN_CODE_CHARS} to {MAX_CODE_CHARS} of A-Z, 0-9, - and _"
        ));
    }
    Ok(code)
}

fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::input(UserErrorCode::InvalidInput, field, message)
}

/// Checks a coupon's settings against each other.
fn checked(input: CouponInput) -> AppResult<CouponFields> {
    let value = input
        .value_hundredths
        .ok_or_else(|| invalid("value", "the value has at most 2 decimals"))?;
    match input.discount_type {
        DiscountType::Percentage if !(1..=10_000).contains(&value) => {
            return Err(invalid(
                "value",
                "a percentage is more than 0 and at most 100",
            ));
        }
        DiscountType::FixedAmount if !(1..=MAX_PRICE_CENTS).contains(&value) => {
            return Err(invalid("value", "an amount is more than 0"));
        }
        _ => {}
    }
    let min_subtotal_cents = match input.min_subtotal_cents {
        Some(Some(cents)) if (0..=MAX_PRICE_CENTS).contains(&cents) => Some(cents),
        Some(Some(_)) | Some(None) => {
            return Err(invalid(
                "minSubtotal",
                "the minimum subtotal is an amount of at least 0",
            ));
        }
        None => None,
    };
    for (field, limit) in [
        ("usageLimit", input.usage_limit),
        ("perCustomerLimit", input.per_customer_limit),
    ] {
        if limit.is_some_and(|n| n < 1) {
            return Err(invalid(field, "a limit is at least 1"));
        }
    }
    if let (Some(starts), Some(ends)) = (input.starts_at, input.ends_at)
        && ends <= starts
    {
        return Err(invalid("endsAt", "endsAt must be after startsAt"));
    }
    Ok(CouponFields {
        discount_type: input.discount_type,
        value_hundredths: value,
        min_subtotal_cents,
        starts_at: input.starts_at,
        ends_at: input.ends_at,
        usage_limit: input.usage_limit,
        per_customer_limit: input.per_customer_limit,
        is_active: input.is_active,
    })
}

fn not_found() -> AppError {
    AppError::input(UserErrorCode::NotFound, "id", "no such coupon")
}

impl Promotions {
    pub(crate) fn new(db: Db) -> Self {
        Promotions { db }
    }

    pub(crate) async fn create(&self, code: &str, input: CouponInput) -> AppResult<CouponRow> {
        let code = normalize_code(code).map_err(|m| invalid("code", m))?;
        let fields = checked(input)?;
        let now = now();
        let created = self
            .db
            .run(async |c| repo::insert(c, &code, &fields, now).await)
            .await;
        match created {
            Err(AppError::Database(e)) if is_unique_violation(&e) => Err(AppError::input(
                UserErrorCode::CodeTaken,
                "code",
                format!("the code {code} is taken"),
            )),
            other => other,
        }
    }

    /// Changes a coupon: `change` gets its current settings and returns the new ones.
    pub(crate) async fn update(
        &self,
        id: Option<i64>,
        change: impl Fn(&CouponRow) -> CouponInput + Send + Sync,
    ) -> AppResult<CouponRow> {
        let id = id.ok_or_else(not_found)?;
        let now = now();
        self.db
            .transaction(async |tx| {
                let current = repo::find(tx, id).await?.ok_or_else(not_found)?;
                let fields = checked(change(&current))?;
                Ok(repo::update(tx, id, &fields, now).await?)
            })
            .await
    }

    pub(crate) async fn find(&self, id: i64) -> AppResult<Option<CouponRow>> {
        self.db.run(async |c| repo::find(c, id).await).await
    }

    pub(crate) async fn list(
        &self,
        search: Option<&str>,
        page: &Page<String>,
    ) -> AppResult<Vec<CouponRow>> {
        let search = search.map(str::to_ascii_uppercase);
        self.db
            .run(async |c| repo::list(c, search.as_deref(), page).await)
            .await
    }

    pub(crate) async fn count(&self, search: Option<&str>) -> AppResult<i64> {
        let search = search.map(str::to_ascii_uppercase);
        self.db
            .run(async |c| repo::count(c, search.as_deref()).await)
            .await
    }

    /// The coupon on the customer's cart, with the customer's uses of it.
    pub(crate) async fn of_cart(&self, user_id: i64) -> AppResult<Option<AppliedCoupon>> {
        self.db
            .run(async |c| {
                let Some(coupon) = repo::of_cart(c, user_id).await? else {
                    return Ok(None);
                };
                let own_uses = match coupon.per_customer_limit {
                    Some(_) => repo::uses_by(c, &coupon.code, user_id).await?,
                    None => 0,
                };
                AppResult::Ok(Some(AppliedCoupon { coupon, own_uses }))
            })
            .await
    }

    /// `applyCoupon`: puts the coupon on the customer's cart if it applies to it now.
    pub(crate) async fn apply(&self, user_id: i64, code: &str) -> AppResult<()> {
        let refused = |code: UserErrorCode, coupon: &str| {
            AppError::input(code, "code", refusal_message(code, coupon))
        };
        let Ok(code) = normalize_code(code) else {
            return Err(refused(UserErrorCode::CouponInvalid, code.trim()));
        };
        let now = now();
        self.db
            .transaction(async |tx| {
                let coupon = repo::by_code(tx, &code)
                    .await?
                    .ok_or_else(|| refused(UserErrorCode::CouponInvalid, &code))?;
                let own_uses = repo::uses_by(tx, &coupon.code, user_id).await?;
                let subtotal = crate::cart::repo::lines(tx, user_id)
                    .await?
                    .iter()
                    .map(crate::cart::model::CartLine::line_total_cents)
                    .sum();
                if let Some(why) = coupon.refusal(now, subtotal, own_uses) {
                    return Err(refused(why, &coupon.code));
                }
                repo::apply(tx, user_id, coupon.id, now).await?;
                Ok(())
            })
            .await
    }

    /// `removeCoupon`.
    pub(crate) async fn remove(&self, user_id: i64) -> AppResult<()> {
        self.db
            .run(async |c| repo::take_off(c, user_id).await)
            .await?;
        Ok(())
    }
}

/// The coupon an order carries: as it was when checked, and what it takes off.
pub(crate) struct CouponUse {
    coupon: CouponRow,
    pub discount_cents: i64,
}

impl CouponUse {
    pub(crate) fn code(&self) -> &str {
        &self.coupon.code
    }
}

fn refused(code: UserErrorCode, coupon: &str) -> AppError {
    AppError::user(code, refusal_message(code, coupon))
}

/// Takes the cart's coupon off and checks it for the order being placed in `tx`: its
/// user error when it does not apply (the order fails, the transaction rolls back). No
/// coupon on the cart: `None`. The use itself is taken later, by [`take_use`].
pub(crate) async fn check_for_order(
    tx: &mut Conn<'_>,
    user_id: i64,
    subtotal_cents: i64,
    now: NaiveDateTime,
) -> AppResult<Option<CouponUse>> {
    let Some(coupon_id) = repo::take_off(tx, user_id).await? else {
        return Ok(None);
    };
    let coupon = repo::find(tx, coupon_id)
        .await?
        .ok_or_else(|| AppError::internal("cart coupon without its coupon"))?;
    // A customer's checkouts run one at a time (each takes the cart's rows), so no other
    // use of theirs can commit between this count and the order's.
    let own_uses = match coupon.per_customer_limit {
        Some(_) => repo::uses_by(tx, &coupon.code, user_id).await?,
        None => 0,
    };
    if let Some(why) = coupon.refusal(now, subtotal_cents, own_uses) {
        return Err(refused(why, &coupon.code));
    }
    Ok(Some(CouponUse {
        discount_cents: coupon.discount_of(subtotal_cents),
        coupon,
    }))
}

/// Takes the use an order checked by [`check_for_order`] holds: one conditional
/// UPDATE, so that of N concurrent orders at most the limit's worth get one. Call it as
/// late in the transaction as possible: the coupon's row lock queues every other order
/// with this code until the commit (a popular code would otherwise serialize whole
/// checkouts). Returns the discount as the coupon now gives it: an admin may have changed
/// the coupon since the check, and then its rules are checked again.
pub(crate) async fn take_use(
    tx: &mut Conn<'_>,
    user_id: i64,
    checked: &CouponUse,
    subtotal_cents: i64,
    now: NaiveDateTime,
) -> AppResult<i64> {
    let Some(coupon) = repo::take_use(tx, checked.coupon.id, now).await? else {
        // Say why, in the contract's order; the rollback undoes the rest.
        let coupon = repo::find(tx, checked.coupon.id)
            .await?
            .ok_or_else(|| AppError::internal("cart coupon without its coupon"))?;
        let why = coupon
            .refusal(now, subtotal_cents, 0)
            .unwrap_or(UserErrorCode::CouponUsageLimit);
        return Err(refused(why, &coupon.code));
    };
    if coupon.updated_at != checked.coupon.updated_at {
        let own_uses = match coupon.per_customer_limit {
            Some(_) => repo::uses_by(tx, &coupon.code, user_id).await?,
            None => 0,
        };
        // The rules as they stood before this use (which usage_count already counts).
        let before = CouponRow {
            usage_count: coupon.usage_count - 1,
            ..coupon.clone()
        };
        if let Some(why) = before.refusal(now, subtotal_cents, own_uses) {
            return Err(refused(why, &coupon.code));
        }
    }
    Ok(coupon.discount_of(subtotal_cents))
}

/// Gives back the use a cancelled order held (of the coupon with `code`).
pub(crate) async fn give_back(tx: &mut Conn<'_>, code: &str) -> AppResult<()> {
    repo::give_back(tx, code).await?;
    Ok(())
}
