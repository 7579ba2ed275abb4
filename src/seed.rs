//! `seed-demo`: a realistic catalog and a demo customer, so a newcomer has something to
//! explore in GraphiQL at once; with more options, the customers, order history and
//! carts the benchmark needs.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use chrono::{NaiveDateTime, TimeDelta};

use crate::accounts::model::{NewUser, Role};
use crate::accounts::passwords::Hasher;
use crate::catalog::model::{NewProduct, search_text};
use crate::db::{Conn, Db, now};
use crate::error::{AppError, AppResult};
use crate::{accounts, cart, catalog, orders};

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

/// What `seed-demo` adds.
#[derive(Debug, Clone, Copy, Default)]
pub struct SeedPlan {
    pub products: usize,
    /// Customers `customer{i}@example.com`, all with the demo password.
    pub customers: usize,
    /// Delivered orders of five lines for each of those customers.
    pub orders_per_customer: usize,
    /// Lines (one unit of a well-stocked product) in each of those customers' carts.
    pub cart_lines: usize,
}

/// What `seed-demo` added.
#[derive(Debug, Default)]
pub struct Seeded {
    pub products: usize,
    pub customers: usize,
    pub orders: usize,
    pub cart_lines: usize,
}

/// Stock of the products the seeded carts draw from, so checkouts of every seeded cart
/// can succeed together.
const CART_STOCK_FLOOR: i32 = 100;

fn product_rows(
    rng: &mut StdRng,
    products: usize,
    start: NaiveDateTime,
) -> Vec<(String, String, i64, i32, NaiveDateTime)> {
    (0..products)
        .map(|i| {
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
            // Distinct, increasing creation times keep "newest first" realistic.
            let created_at = start - TimeDelta::seconds((products - i) as i64);
            let stock = if rng.random_bool(0.1) {
                0
            } else {
                rng.random_range(1..1000)
            };
            (
                name,
                description,
                rng.random_range(199..50_000_i64),
                stock,
                created_at,
            )
        })
        .collect()
}

/// Fills the database in one transaction: products by multi-row INSERTs where the
/// backend has them, customers sharing one password hash (one bcrypt, not thousands).
pub async fn seed_demo(db: &Db, hasher: &Hasher, plan: SeedPlan) -> AppResult<Seeded> {
    let mut rng = StdRng::seed_from_u64(42);
    let start = now();
    let rows = product_rows(&mut rng, plan.products, start);
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
    let password_hash = hasher.hash(DEMO_PASSWORD).await?;
    db.transaction(async |tx| {
        let mut seeded = Seeded {
            products: catalog::repo::insert_products(tx, &new_rows).await?,
            ..Seeded::default()
        };
        if accounts::repo::find_user_by_email(tx, DEMO_EMAIL)
            .await?
            .is_none()
        {
            accounts::repo::insert_user(tx, &customer(DEMO_EMAIL, "Demo", &password_hash, start))
                .await?;
        }
        let all_products = catalog::repo::product_ids_in_stock(tx, 0).await?;
        let well_stocked = catalog::repo::product_ids_in_stock(tx, CART_STOCK_FLOOR).await?;
        for i in 0..plan.customers {
            let email = format!("customer{i}@example.com");
            if accounts::repo::find_user_by_email(tx, &email)
                .await?
                .is_some()
            {
                continue;
            }
            let user = accounts::repo::insert_user(
                tx,
                &customer(&email, &format!("Customer {i}"), &password_hash, start),
            )
            .await?;
            seeded.customers += 1;
            for n in 0..plan.orders_per_customer {
                let placed_at = start - TimeDelta::minutes((plan.orders_per_customer - n) as i64);
                seed_order(tx, &mut rng, user.id, &all_products, placed_at).await?;
                seeded.orders += 1;
            }
            for line in 0..plan.cart_lines.min(well_stocked.len()) {
                // Spread the carts over the well-stocked products, distinct within a cart.
                let product = well_stocked[(i * plan.cart_lines + line) % well_stocked.len()];
                cart::repo::add(
                    tx,
                    user.id,
                    product,
                    1,
                    cart::model::MAX_LINE_QUANTITY,
                    start,
                )
                .await?;
                seeded.cart_lines += 1;
            }
        }
        Ok(seeded)
    })
    .await
}

fn customer<'a>(
    email: &'a str,
    first_name: &'a str,
    password_hash: &'a str,
    at: NaiveDateTime,
) -> NewUser<'a> {
    NewUser {
        email,
        password_hash,
        first_name,
        last_name: "Customer",
        phone: None,
        role: Role::Customer.as_str(),
        is_active: true,
        created_at: at,
        updated_at: at,
    }
}

/// A delivered, paid cash-on-delivery order of five lines (stock is not taken: these
/// are history).
async fn seed_order(
    tx: &mut Conn<'_>,
    rng: &mut StdRng,
    user_id: i64,
    products: &[i64],
    placed_at: NaiveDateTime,
) -> AppResult<()> {
    use crate::orders::model::{NewOrder, NewOrderItem, OrderStatus, PaymentMethod, PaymentStatus};
    let number = orders::service::new_order_number();
    let order = orders::repo::insert_order(
        tx,
        &NewOrder {
            order_number: &number,
            user_id,
            status: OrderStatus::Delivered.as_str(),
            total_cents: 0,
            shipping_address: "1 Demo Street",
            payment_method: PaymentMethod::CashOnDelivery.as_str(),
            idempotency_key: None,
            created_at: placed_at,
            updated_at: placed_at,
        },
    )
    .await?;
    let mut total = 0;
    let mut picked = Vec::with_capacity(5);
    for _ in 0..5 {
        let product_id = products[rng.random_range(0..products.len())];
        let product = catalog::repo::find_product(tx, product_id)
            .await?
            .ok_or_else(|| AppError::internal("seeded product vanished"))?;
        let quantity = rng.random_range(1..4);
        total += product.price_cents * i64::from(quantity);
        picked.push((product, quantity));
    }
    let items: Vec<NewOrderItem<'_>> = picked
        .iter()
        .map(|(product, quantity)| NewOrderItem::snapshot(order.id, product, *quantity))
        .collect();
    orders::repo::insert_items(tx, &items).await?;
    orders::repo::insert_payment(
        tx,
        order.id,
        total,
        PaymentMethod::CashOnDelivery,
        placed_at,
    )
    .await?;
    let paid = [PaymentStatus::Pending];
    orders::repo::move_payment(tx, order.id, &paid, PaymentStatus::Paid, None, placed_at).await?;
    orders::repo::set_total(tx, order.id, total).await?;
    Ok(())
}
