//! Rows of the cart_items table.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::catalog::model::ProductRow;
use crate::catalog::variants::model::VariantRow;
use crate::db::schema::cart_items;

/// Quantities a line may hold.
pub(crate) const MAX_LINE_QUANTITY: i32 = 1000;

#[derive(Queryable, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = cart_items)]
pub(crate) struct CartItemRow {
    pub id: i64,
    pub product_id: i64,
    pub variant_id: i64,
    pub quantity: i32,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

/// A cart line with its product and variant, as the cart shows it.
#[derive(Clone, Debug)]
pub(crate) struct CartLine {
    pub item: CartItemRow,
    pub product: ProductRow,
    pub variant: VariantRow,
}

impl CartLine {
    /// At the variant's current price.
    pub(crate) fn line_total_cents(&self) -> i64 {
        self.variant.price_cents * i64::from(self.item.quantity)
    }
}
