//! Rows of the coupons table, and the rules of a coupon's discount.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::coupons;
use crate::error::UserErrorCode;

#[derive(
    async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq, diesel::deserialize::FromSqlRow,
)]
pub(crate) enum DiscountType {
    /// value is a percentage, more than 0 and at most 100.
    Percentage,
    /// value is an amount taken off the subtotal, never below zero.
    FixedAmount,
}

crate::db::db_text_enum!(DiscountType {
    Percentage => "PERCENTAGE",
    FixedAmount => "FIXED_AMOUNT",
});

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = coupons)]
pub(crate) struct CouponRow {
    pub id: i64,
    pub code: String,
    pub discount_type: DiscountType,
    /// The value times 100: hundredths of a percent, or cents.
    pub value_hundredths: i64,
    pub min_subtotal_cents: Option<i64>,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    pub usage_limit: Option<i32>,
    pub per_customer_limit: Option<i32>,
    pub usage_count: i32,
    pub is_active: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

impl CouponRow {
    /// What the coupon takes off `subtotal_cents`: a percentage rounded half up to the
    /// cent, or the fixed amount but never more than the subtotal.
    pub(crate) fn discount_of(&self, subtotal_cents: i64) -> i64 {
        let subtotal = subtotal_cents.max(0);
        match self.discount_type {
            // value_hundredths / 100 percent: subtotal × v / 10,000, half up.
            DiscountType::Percentage => {
                let scaled = i128::from(subtotal) * i128::from(self.value_hundredths);
                i64::try_from((scaled + 5_000) / 10_000)
                    .unwrap_or(subtotal)
                    .min(subtotal)
            }
            DiscountType::FixedAmount => self.value_hundredths.min(subtotal),
        }
    }

    /// Whether the coupon applies now to a cart of `subtotal_cents` whose customer holds
    /// `own_uses` of it, checked in the contract's order; the first rule it breaks.
    pub(crate) fn refusal(
        &self,
        now: NaiveDateTime,
        subtotal_cents: i64,
        own_uses: i64,
    ) -> Option<UserErrorCode> {
        if !self.is_active {
            return Some(UserErrorCode::CouponInvalid);
        }
        if self.starts_at.is_some_and(|at| now < at) || self.ends_at.is_some_and(|at| now >= at) {
            return Some(UserErrorCode::CouponExpired);
        }
        let total_reached = self
            .usage_limit
            .is_some_and(|limit| self.usage_count >= limit);
        let own_reached = self
            .per_customer_limit
            .is_some_and(|limit| own_uses >= i64::from(limit));
        if total_reached || own_reached {
            return Some(UserErrorCode::CouponUsageLimit);
        }
        if self
            .min_subtotal_cents
            .is_some_and(|min| subtotal_cents < min)
        {
            return Some(UserErrorCode::CouponMinSubtotal);
        }
        None
    }
}

/// The message of a coupon's refusal.
pub(crate) fn refusal_message(code: UserErrorCode, coupon: &str) -> String {
    match code {
        UserErrorCode::CouponExpired => format!("the coupon {coupon} is not valid at this time"),
        UserErrorCode::CouponUsageLimit => format!("the coupon {coupon} has been used up"),
        UserErrorCode::CouponMinSubtotal => {
            format!("the cart's subtotal is below what the coupon {coupon} needs")
        }
        _ => format!("no coupon {coupon}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coupon(discount_type: DiscountType, value_hundredths: i64) -> CouponRow {
        let now = chrono::DateTime::from_timestamp(1_700_000_000, 0)
            .unwrap()
            .naive_utc();
        CouponRow {
            id: 1,
            code: "X".into(),
            discount_type,
            value_hundredths,
            min_subtotal_cents: None,
            starts_at: None,
            ends_at: None,
            usage_limit: None,
            per_customer_limit: None,
            usage_count: 0,
            is_active: true,
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn discounts_round_half_up_and_never_pass_the_subtotal() {
        let ten_percent = coupon(DiscountType::Percentage, 1000);
        assert_eq!(ten_percent.discount_of(1005), 101); // 100.5 cents -> 101
        assert_eq!(ten_percent.discount_of(1004), 100); // 100.4 -> 100
        let third = coupon(DiscountType::Percentage, 3333);
        assert_eq!(third.discount_of(999), 333); // 332.9667 -> 333
        assert_eq!(
            coupon(DiscountType::Percentage, 10_000).discount_of(1234),
            1234
        );
        let five = coupon(DiscountType::FixedAmount, 500);
        assert_eq!(five.discount_of(1234), 500);
        assert_eq!(five.discount_of(300), 300);
        assert_eq!(five.discount_of(0), 0);
    }
}
