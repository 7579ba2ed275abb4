//! Saved addresses and the postal address an order keeps.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use serde::{Deserialize, Serialize};

use crate::db::schema::addresses;

/// Most addresses one customer saves.
pub(crate) const MAX_ADDRESSES: i64 = 20;

#[derive(Queryable, Selectable, Clone, Debug)]
#[diesel(table_name = addresses)]
pub(crate) struct AddressRow {
    pub id: i64,
    pub user_id: i64,
    pub full_name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: String,
    pub country_code: String,
    pub phone: Option<String>,
    pub is_default: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// An address as a client sends it, before any check.
#[derive(Clone, Debug)]
pub(crate) struct AddressFields {
    pub full_name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: String,
    pub country_code: String,
    pub phone: Option<String>,
}

/// A checked address: trimmed, within its lengths, with an upper-case ISO 3166-1
/// alpha-2 country code. Orders keep it as JSON (`orders.address`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, AsChangeset)]
#[diesel(table_name = addresses, treat_none_as_null = true)]
pub(crate) struct PostalAddress {
    pub full_name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: String,
    pub country_code: String,
    pub phone: Option<String>,
}

impl PostalAddress {
    /// The address as the one line of text that `Order.shippingAddress` shows.
    pub(crate) fn one_line(&self) -> String {
        let place = match &self.region {
            Some(region) => format!("{} {}, {region}", self.postal_code, self.city),
            None => format!("{} {}", self.postal_code, self.city),
        };
        [
            Some(self.full_name.as_str()),
            Some(self.line1.as_str()),
            self.line2.as_deref(),
            Some(place.as_str()),
            Some(self.country_code.as_str()),
            self.phone.as_deref(),
        ]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(", ")
    }
}

impl From<&AddressRow> for PostalAddress {
    fn from(row: &AddressRow) -> Self {
        PostalAddress {
            full_name: row.full_name.clone(),
            line1: row.line1.clone(),
            line2: row.line2.clone(),
            city: row.city.clone(),
            region: row.region.clone(),
            postal_code: row.postal_code.clone(),
            country_code: row.country_code.clone(),
            phone: row.phone.clone(),
        }
    }
}
