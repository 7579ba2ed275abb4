//! Money: integer cents in the database, exact decimals at the GraphQL edge.

use bigdecimal::{BigDecimal, ToPrimitive};

/// The largest price the catalog accepts: 99,999,999.99.
pub(crate) const MAX_PRICE_CENTS: i64 = 9_999_999_999;

/// An exact decimal as cents, or `None` when it has a third significant decimal or does
/// not fit. Trailing zeros are fine: 19.900 is 1990 cents.
pub(crate) fn decimal_to_cents(value: &BigDecimal) -> Option<i64> {
    let scaled = value * BigDecimal::from(100);
    if !scaled.is_integer() {
        return None;
    }
    scaled.with_scale(0).to_i64()
}

/// "19.99": what the Decimal scalar prints.
pub(crate) fn format_cents(cents: i64) -> String {
    // By hand, not with format!: every price of every page goes through here.
    let abs = cents.unsigned_abs();
    let mut units = itoa::Buffer::new();
    let units = units.format(abs / 100);
    let hundredths = (abs % 100) as u8;
    let mut text = String::with_capacity(units.len() + 4);
    if cents < 0 {
        text.push('-');
    }
    text.push_str(units);
    text.push('.');
    text.push(char::from(b'0' + hundredths / 10));
    text.push(char::from(b'0' + hundredths % 10));
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[test]
    fn converts_exactly() {
        let d = BigDecimal::from_str("19.900").unwrap();
        assert_eq!(decimal_to_cents(&d), Some(1990));
        assert_eq!(
            decimal_to_cents(&BigDecimal::from_str("0.001").unwrap()),
            None
        );
        assert_eq!(format_cents(1999), "19.99");
        assert_eq!(format_cents(5), "0.05");
        assert_eq!(format_cents(-5), "-0.05");
        assert_eq!(format_cents(100), "1.00");
        assert_eq!(format_cents(i64::MIN), "-92233720368547758.08");
    }
}
