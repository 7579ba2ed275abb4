//! Rows of the product_variants and variant_options tables, and the option rules.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{product_variants, variant_options};

/// Most option names a product has, and most variants.
pub(crate) const MAX_OPTION_NAMES: usize = 3;
pub(crate) const MAX_VARIANTS: i64 = 100;
pub(crate) const MAX_OPTION_CHARS: usize = 50;
pub(crate) const MAX_SKU_CHARS: usize = 64;

/// The title of a variant without options.
pub(crate) const DEFAULT_TITLE: &str = "Default";

#[derive(Queryable, QueryableByName, Selectable, Identifiable, Clone, Debug)]
#[diesel(table_name = product_variants)]
pub(crate) struct VariantRow {
    pub id: i64,
    pub product_id: i64,
    pub sku: String,
    pub title: String,
    pub price_cents: i64,
    pub stock: i32,
    pub is_archived: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Insertable)]
#[diesel(table_name = product_variants)]
pub(crate) struct NewVariant<'a> {
    pub product_id: i64,
    pub sku: &'a str,
    pub title: &'a str,
    pub price_cents: i64,
    pub stock: i32,
    pub is_archived: bool,
    pub created_at: NaiveDateTime,
    pub updated_at: NaiveDateTime,
}

#[derive(Queryable, Selectable, Insertable, Clone, Debug)]
#[diesel(table_name = variant_options)]
pub(crate) struct OptionRow {
    pub variant_id: i64,
    pub product_id: i64,
    pub position: i32,
    pub name: String,
    pub value: String,
}

/// One option value of a variant (`Size: M`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct SelectedOption {
    pub name: String,
    pub value: String,
}

/// A variant with its option values, in the product's option order.
#[derive(Clone, Debug)]
pub(crate) struct Variant {
    pub row: VariantRow,
    pub options: Vec<SelectedOption>,
}

impl Variant {
    /// Assembles variants from their rows and all their option rows.
    pub(crate) fn assemble(rows: Vec<VariantRow>, mut options: Vec<OptionRow>) -> Vec<Variant> {
        options.sort_by_key(|o| (o.variant_id, o.position));
        rows.into_iter()
            .map(|row| {
                let options = options
                    .iter()
                    .filter(|o| o.variant_id == row.id)
                    .map(|o| SelectedOption {
                        name: o.name.clone(),
                        value: o.value.clone(),
                    })
                    .collect();
                Variant { row, options }
            })
            .collect()
    }

    pub(crate) fn names(&self) -> Vec<&str> {
        self.options.iter().map(|o| o.name.as_str()).collect()
    }

    /// Whether this variant has exactly the same value for every name as `options`.
    pub(crate) fn has_combination(&self, options: &[SelectedOption]) -> bool {
        self.options.len() == options.len()
            && options.iter().all(|wanted| self.options.contains(wanted))
    }
}

/// The title of a variant with these options: the values joined by " / ", or "Default".
pub(crate) fn title_of(options: &[SelectedOption]) -> String {
    if options.is_empty() {
        return DEFAULT_TITLE.to_owned();
    }
    options
        .iter()
        .map(|o| o.value.as_str())
        .collect::<Vec<_>>()
        .join(" / ")
}

/// A product's options as `Product.options` shows them: names in the first active
/// variant's order, each name's values in first-use order over the active variants.
pub(crate) fn product_options(variants: &[Variant]) -> Vec<(String, Vec<String>)> {
    let mut active = variants.iter().filter(|v| !v.row.is_archived);
    let Some(first) = active.next() else {
        return Vec::new();
    };
    let mut options: Vec<(String, Vec<String>)> = first
        .options
        .iter()
        .map(|o| (o.name.clone(), vec![o.value.clone()]))
        .collect();
    for variant in active {
        for option in &variant.options {
            if let Some((_, values)) = options.iter_mut().find(|(n, _)| *n == option.name)
                && !values.contains(&option.value)
            {
                values.push(option.value.clone());
            }
        }
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opt(name: &str, value: &str) -> SelectedOption {
        SelectedOption {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn titles_join_values_or_say_default() {
        assert_eq!(title_of(&[]), "Default");
        assert_eq!(
            title_of(&[opt("Colour", "Red"), opt("Size", "M")]),
            "Red / M"
        );
    }
}
