//! `seed-demo`: a realistic catalog and a demo customer, so a newcomer has something to
//! explore in GraphiQL at once (and the benchmark something to load).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::model::{NewProduct, search_text};
use super::repo;
use crate::accounts::model::{NewUser, Role};
use crate::app::AppState;
use crate::db::now;
use crate::db_transaction;
use crate::error::AppResult;

pub const DEMO_EMAIL: &str = "demo@example.com";
pub const DEMO_PASSWORD: &str = "demo-password-123";

const ADJECTIVES: &[&str] = &[
    "Classic",
    "Compact",
    "Deluxe",
    "Eco",
    "Ergonomic",
    "Handmade",
    "Heavy-duty",
    "Lightweight",
    "Modern",
    "Portable",
    "Premium",
    "Rustic",
    "Smart",
    "Vintage",
    "Waterproof",
    "Wireless",
];
const MATERIALS: &[&str] = &[
    "Bamboo", "Canvas", "Ceramic", "Copper", "Cotton", "Glass", "Leather", "Linen", "Maple", "Oak",
    "Steel", "Titanium", "Walnut", "Wool",
];
const NOUNS: &[&str] = &[
    "Backpack",
    "Bottle",
    "Chair",
    "Desk Lamp",
    "Headphones",
    "Jacket",
    "Kettle",
    "Keyboard",
    "Mug",
    "Notebook",
    "Pan",
    "Pillow",
    "Scarf",
    "Speaker",
    "Sunglasses",
    "Teapot",
    "Wallet",
    "Watch",
];
const USES: &[&str] = &[
    "everyday use",
    "the office",
    "travel",
    "the kitchen",
    "outdoor adventures",
    "gifting",
    "the home studio",
    "long commutes",
];

/// Adds `products` products and the demo customer (kept if already there). Rows go in
/// chunks of multi-row INSERTs inside one transaction.
pub async fn seed_demo(state: &AppState, products: usize) -> AppResult<usize> {
    let mut rng = StdRng::seed_from_u64(42);
    let start = now();
    let mut rows = Vec::with_capacity(products);
    for i in 0..products {
        let name = format!(
            "{} {} {} #{}",
            ADJECTIVES[rng.random_range(0..ADJECTIVES.len())],
            MATERIALS[rng.random_range(0..MATERIALS.len())],
            NOUNS[rng.random_range(0..NOUNS.len())],
            i + 1
        );
        let description = format!(
            "A {} {} made for {}. Ships in {} days.",
            MATERIALS[rng.random_range(0..MATERIALS.len())].to_lowercase(),
            NOUNS[rng.random_range(0..NOUNS.len())].to_lowercase(),
            USES[rng.random_range(0..USES.len())],
            rng.random_range(1..6)
        );
        // Distinct, increasing creation times keep "newest first" stable and realistic.
        let created_at = start - chrono::TimeDelta::seconds((products - i) as i64);
        rows.push((
            name,
            description,
            rng.random_range(199..50_000_i64),
            rng.random_range(0..200),
            created_at,
        ));
    }
    let new_rows: Vec<NewProduct<'_>> = rows
        .iter()
        .map(
            |(name, description, price_cents, stock, created_at)| NewProduct {
                name,
                description,
                search_text: search_text(name, description),
                price_cents: *price_cents,
                stock: *stock,
                is_archived: false,
                created_at: *created_at,
                updated_at: *created_at,
            },
        )
        .collect();
    let password_hash = state.hasher.hash(DEMO_PASSWORD).await?;
    let mut pooled = state.db.get().await?;
    db_transaction!(&mut pooled, |tx| {
        let inserted = repo::insert_products(tx, &new_rows).await?;
        if crate::accounts::repo::find_user_by_email(tx, DEMO_EMAIL)
            .await?
            .is_none()
        {
            let demo = NewUser {
                email: DEMO_EMAIL,
                password_hash: &password_hash,
                first_name: "Demo",
                last_name: "Customer",
                phone: None,
                role: Role::Customer.as_str(),
                is_active: true,
                created_at: start,
                updated_at: start,
            };
            crate::accounts::repo::insert_user(tx, &demo).await?;
        }
        Ok(inserted)
    })
}
