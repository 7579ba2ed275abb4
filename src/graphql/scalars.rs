//! The `Decimal` and `DateTime` scalars of the contract.

use std::str::FromStr;

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use bigdecimal::BigDecimal;
use chrono::{NaiveDateTime, SecondsFormat};

use crate::db::money;

/// An exact money amount: read from a string ("19.99") or a JSON number, written as a
/// string with two decimals. Amounts are carried as cents once validated.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Decimal {
    /// What a client sent, before the field's own rules (scale, range) are checked.
    Input(BigDecimal),
    Cents(i64),
}

impl Decimal {
    /// Cents, or `None` when the amount has a third significant decimal or is huge.
    pub(crate) fn to_cents(&self) -> Option<i64> {
        match self {
            Decimal::Input(d) => money::decimal_to_cents(d),
            Decimal::Cents(c) => Some(*c),
        }
    }
}

/// Plain decimal notation only: an exponent ("1e999999999") could make the exact
/// arithmetic allocate without bound.
fn parse_decimal(text: &str) -> Option<BigDecimal> {
    let text = text.trim();
    let digits = text.strip_prefix('-').unwrap_or(text);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let plain = !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.bytes().all(|b| b.is_ascii_digit())
        && (frac.is_empty() != digits.contains('.'));
    if !plain || text.len() > 40 {
        return None;
    }
    BigDecimal::from_str(text).ok()
}

#[Scalar(name = "Decimal")]
/// Exact decimal money amount serialised as a string with two decimals, e.g. "19.99".
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        let text = match &value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(InputValueError::expected_type(value)),
        };
        parse_decimal(&text)
            .map(Decimal::Input)
            .ok_or_else(|| InputValueError::custom("expected a decimal number such as \"19.99\""))
    }

    fn to_value(&self) -> Value {
        match self {
            Decimal::Cents(c) => Value::String(money::format_cents(*c)),
            Decimal::Input(d) => Value::String(d.to_string()),
        }
    }
}

/// RFC 3339 timestamp in UTC, e.g. 2026-11-25T10:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DateTime(pub NaiveDateTime);

#[Scalar(name = "DateTime")]
/// RFC 3339 timestamp in UTC, e.g. 2026-11-25T10:00:00Z.
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
                .map(|d| DateTime(d.naive_utc()))
                .map_err(|_| InputValueError::custom("expected an RFC 3339 timestamp")),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(
            self.0
                .and_utc()
                .to_rfc3339_opts(SecondsFormat::Millis, true),
        )
    }
}

impl From<NaiveDateTime> for DateTime {
    fn from(t: NaiveDateTime) -> Self {
        DateTime(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_accepts_plain_notation_only() {
        assert!(parse_decimal("19.99").is_some());
        assert!(parse_decimal("-1").is_some());
        assert!(parse_decimal("1e9").is_none());
        assert!(parse_decimal("1.").is_none());
        assert!(parse_decimal(".5").is_none());
        assert!(parse_decimal("").is_none());
        assert!(parse_decimal(&"9".repeat(41)).is_none());
        let d = Decimal::parse(Value::from(19.99)).unwrap();
        assert_eq!(d.to_cents(), Some(1999));
    }

    proptest::proptest! {
        /// Fuzzing stand-in that runs in CI: any string or number either parses to an
        /// exact amount or is refused; nothing panics, nothing allocates without bound.
        #[test]
        fn decimal_parsing_never_panics(text in "\\PC{0,60}", number in proptest::num::f64::ANY) {
            if let Ok(Decimal::Input(d)) = Decimal::parse(Value::String(text.clone())) {
                proptest::prop_assert!(text.len() <= 40);
                let _ = Decimal::Input(d).to_cents();
            }
            if let Some(n) = serde_json::Number::from_f64(number) {
                let _ = Decimal::parse(Value::Number(n)).map(|d| d.to_cents());
            }
        }

        #[test]
        fn two_decimal_amounts_round_trip(cents in 0i64..=crate::db::money::MAX_PRICE_CENTS) {
            let text = crate::db::money::format_cents(cents);
            let parsed = Decimal::parse(Value::String(text)).unwrap();
            proptest::prop_assert_eq!(parsed.to_cents(), Some(cents));
        }
    }
}
