//! `seed-demo`: a realistic catalog (a category tree, products in sizes or colours) and
//! a demo customer, so a newcomer has something to
//! explore in GraphiQL at once; with more options, the customers, order history and
//! carts the benchmark needs.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use chrono::{NaiveDateTime, TimeDelta};

use crate::accounts::model::{NewUser, Role};
use crate::accounts::passwords::Hasher;
use crate::addresses::model::PostalAddress;
use crate::catalog::model::{NewProduct, search_text};
use crate::catalog::variants::model::VariantRow;
use crate::db::{Conn, Db, now};
use crate::error::{AppError, AppResult};
use crate::{accounts, addresses, cart, catalog, orders, reviews};

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

/// A second-level category and its two leaves.
type Department = (&'static str, [&'static str; 2]);

/// The demo category tree, three levels: 5 roots, 15 departments, 30 leaves (50 in
/// all). Each leaf is also the noun of its products' names.
const CATEGORY_TREE: &[(&str, &[Department])] = &[
    (
        "Clothing",
        &[
            ("Tops", ["T-Shirts", "Sweaters"]),
            ("Outerwear", ["Jackets", "Raincoats"]),
            ("Accessories", ["Scarves", "Hats"]),
        ],
    ),
    (
        "Home & Kitchen",
        &[
            ("Cookware", ["Pans", "Kettles"]),
            ("Tableware", ["Mugs", "Teapots"]),
            ("Bedding", ["Pillows", "Blankets"]),
        ],
    ),
    (
        "Electronics",
        &[
            ("Audio", ["Headphones", "Speakers"]),
            ("Computing", ["Keyboards", "Mice"]),
            ("Wearables", ["Watches", "Trackers"]),
        ],
    ),
    (
        "Outdoor",
        &[
            ("Bags", ["Backpacks", "Duffels"]),
            ("Hydration", ["Bottles", "Flasks"]),
            ("Eyewear", ["Sunglasses", "Goggles"]),
        ],
    ),
    (
        "Office",
        &[
            ("Desk", ["Desk Lamps", "Organisers"]),
            ("Paper", ["Notebooks", "Planners"]),
            ("Seating", ["Chairs", "Cushions"]),
        ],
    ),
];

/// The root whose products come in sizes; every other product comes in colours.
const SIZED_ROOT: &str = "Clothing";
const SIZES: [&str; 3] = ["S", "M", "L"];
const COLOURS: [&str; 3] = ["Black", "White", "Red"];
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
    /// Lines (one unit of a well-stocked variant) in each of those customers' carts.
    pub cart_lines: usize,
}

/// What `seed-demo` added.
#[derive(Debug, Default)]
pub struct Seeded {
    pub products: usize,
    pub customers: usize,
    pub orders: usize,
    pub reviews: usize,
    pub cart_lines: usize,
}

/// Stock of the variants the seeded carts draw from, so checkouts of every seeded cart
/// can succeed together.
const CART_STOCK_FLOOR: i32 = 100;

/// A product to seed: its name, description, leaf category, creation time, and its
/// three variants as (option value, price, stock).
struct PlannedProduct {
    name: String,
    description: String,
    category: usize,
    option_name: &'static str,
    variants: Vec<(&'static str, i64, i32)>,
    created_at: NaiveDateTime,
}

impl PlannedProduct {
    fn price_cents(&self) -> i64 {
        self.variants.iter().map(|v| v.1).min().unwrap_or(0)
    }
    fn stock(&self) -> i32 {
        self.variants.iter().map(|v| v.2).sum()
    }
}

/// The leaves of [`CATEGORY_TREE`], in order, with whether their products are sized.
fn leaves() -> Vec<(&'static str, bool)> {
    CATEGORY_TREE
        .iter()
        .flat_map(|(root, departments)| {
            departments.iter().flat_map(move |(_, leaves)| {
                leaves.iter().map(move |leaf| (*leaf, *root == SIZED_ROOT))
            })
        })
        .collect()
}

fn plan_products(rng: &mut StdRng, products: usize, start: NaiveDateTime) -> Vec<PlannedProduct> {
    let leaves = leaves();
    (0..products)
        .map(|i| {
            let category = i % leaves.len();
            let (noun, sized) = leaves[category];
            let name = format!(
                "{} {} {} #{}",
                ADJECTIVES[rng.random_range(0..ADJECTIVES.len())],
                MATERIALS[rng.random_range(0..MATERIALS.len())],
                noun.trim_end_matches('s'),
                i + 1
            );
            let description = format!(
                "{} in {} made for {}. Ships in {} days.",
                noun,
                MATERIALS[rng.random_range(0..MATERIALS.len())].to_lowercase(),
                USES[rng.random_range(0..USES.len())],
                rng.random_range(1..6)
            );
            let base = rng.random_range(199..50_000_i64);
            let (option_name, values) = if sized {
                ("Size", SIZES)
            } else {
                ("Colour", COLOURS)
            };
            let variants = values
                .iter()
                .zip([0, 0, 200])
                .map(|(value, extra)| {
                    let stock = if rng.random_bool(0.1) {
                        0
                    } else {
                        rng.random_range(1..400)
                    };
                    (*value, base + extra, stock)
                })
                .collect();
            PlannedProduct {
                name,
                description,
                category,
                option_name,
                variants,
                // Distinct, increasing creation times keep "newest first" realistic.
                created_at: start - TimeDelta::seconds((products - i) as i64),
            }
        })
        .collect()
}

/// Creates the demo category tree where its slugs are missing; returns the leaves' ids
/// in [`leaves`] order.
async fn seed_categories(tx: &mut Conn<'_>, at: NaiveDateTime) -> AppResult<Vec<i64>> {
    use crate::catalog::categories::model::{NewCategory, slug_from_name};
    use crate::catalog::categories::repo;
    async fn ensure(
        tx: &mut Conn<'_>,
        name: &str,
        parent: Option<i64>,
        position: i32,
        at: NaiveDateTime,
    ) -> AppResult<i64> {
        let slug = slug_from_name(name);
        if let Some(existing) = repo::find_by_slug(tx, &slug).await? {
            return Ok(existing.id);
        }
        let new = NewCategory {
            name,
            slug: &slug,
            description: "",
            position,
            parent_id: parent,
            created_at: at,
            updated_at: at,
        };
        let row = repo::insert_category(tx, &new).await?;
        repo::link_new(tx, row.id, parent).await?;
        Ok(row.id)
    }
    let mut leaf_ids = Vec::new();
    for ((root, departments), r) in CATEGORY_TREE.iter().zip(0..) {
        let root_id = ensure(tx, root, None, r, at).await?;
        for ((department, leaves), d) in departments.iter().zip(0..) {
            let department_id = ensure(tx, department, Some(root_id), d, at).await?;
            for (leaf, l) in leaves.iter().zip(0..) {
                leaf_ids.push(ensure(tx, leaf, Some(department_id), l, at).await?);
            }
        }
    }
    Ok(leaf_ids)
}

/// A seeded variant, kept in memory for the carts and orders that follow.
struct SeededVariant {
    row: VariantRow,
    product_name: String,
}

/// Inserts the planned products with their variants, options and categories.
async fn seed_products(
    tx: &mut Conn<'_>,
    planned: &[PlannedProduct],
    leaf_ids: &[i64],
) -> AppResult<()> {
    use crate::catalog::variants::model::{NewVariant, OptionRow};
    let new_products: Vec<NewProduct<'_>> = planned
        .iter()
        .map(|p| NewProduct {
            name: &p.name,
            description: &p.description,
            search_text: search_text(&p.name, &p.description),
            price_cents: p.price_cents(),
            stock: p.stock(),
            is_archived: false,
            created_at: p.created_at,
            updated_at: p.created_at,
        })
        .collect();
    // A multi-row INSERT … RETURNING gives the ids in the order of its rows.
    let product_ids = catalog::repo::insert_products(tx, &new_products).await?;
    let skus: Vec<String> = product_ids
        .iter()
        .zip(planned)
        .flat_map(|(id, p)| p.variants.iter().map(move |v| format!("DEMO-{id}-{}", v.0)))
        .collect();
    let mut sku = skus.iter();
    let mut new_variants = Vec::with_capacity(skus.len());
    for (id, p) in product_ids.iter().zip(planned) {
        for (value, price_cents, stock) in &p.variants {
            new_variants.push(NewVariant {
                product_id: *id,
                sku: sku.next().map(String::as_str).unwrap_or_default(),
                title: value,
                price_cents: *price_cents,
                stock: *stock,
                is_archived: false,
                created_at: p.created_at,
                updated_at: p.created_at,
            });
        }
    }
    let variants = catalog::variants::repo::insert_variants(tx, &new_variants).await?;
    let names: Vec<&PlannedProduct> = planned
        .iter()
        .flat_map(|p| p.variants.iter().map(move |_| p))
        .collect();
    let options: Vec<OptionRow> = variants
        .iter()
        .zip(&names)
        .map(|(v, p)| OptionRow {
            variant_id: v.id,
            product_id: v.product_id,
            position: 0,
            name: p.option_name.to_owned(),
            value: v.title.clone(),
        })
        .collect();
    catalog::variants::repo::insert_option_rows(tx, &options).await?;
    let memberships: Vec<(i64, i64)> = product_ids
        .iter()
        .zip(planned)
        .map(|(id, p)| (*id, leaf_ids[p.category % leaf_ids.len()]))
        .collect();
    catalog::categories::repo::place_new_products(tx, &memberships).await?;
    Ok(())
}

/// Fills the database in one transaction: the category tree, products with three
/// variants each by multi-row INSERTs where the backend has them, customers sharing one
/// password hash (one bcrypt, not thousands), their order history and carts.
pub async fn seed_demo(db: &Db, hasher: &Hasher, plan: SeedPlan) -> AppResult<Seeded> {
    let mut rng = StdRng::seed_from_u64(42);
    let start = now();
    let planned = plan_products(&mut rng, plan.products, start);
    let password_hash = hasher.hash(DEMO_PASSWORD).await?;
    db.transaction(async |tx| {
        let leaf_ids = seed_categories(tx, start).await?;
        seed_products(tx, &planned, &leaf_ids).await?;
        // Carts and orders draw from the whole catalog, also one seeded before.
        let variants: Vec<SeededVariant> = catalog::variants::repo::for_sale(tx)
            .await?
            .into_iter()
            .map(|(row, product_name)| SeededVariant { row, product_name })
            .collect();
        let mut seeded = Seeded {
            products: planned.len(),
            ..Seeded::default()
        };
        if accounts::repo::find_user_by_email(tx, DEMO_EMAIL)
            .await?
            .is_none()
        {
            let demo = accounts::repo::insert_user(
                tx,
                &customer(DEMO_EMAIL, "Demo", &password_hash, start),
            )
            .await?;
            seed_address_book(tx, demo.id, start).await?;
            if !variants.is_empty() {
                let mut received = seed_order(tx, &mut rng, demo.id, &variants, start).await?;
                received.sort_unstable();
                received.dedup();
                seeded.orders += 1;
                for product_id in received.into_iter().take(3) {
                    seeded.reviews += seed_review(tx, &mut rng, demo.id, product_id, start).await?;
                }
            }
        }
        let well_stocked: Vec<&SeededVariant> = variants
            .iter()
            .filter(|v| v.row.stock >= CART_STOCK_FLOOR)
            .collect();
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
                let received = seed_order(tx, &mut rng, user.id, &variants, placed_at).await?;
                seeded.orders += 1;
                // About half of what customers receive, they review.
                for product_id in received {
                    if rng.random_bool(0.5) {
                        seeded.reviews +=
                            seed_review(tx, &mut rng, user.id, product_id, placed_at).await?;
                    }
                }
            }
            for line in 0..plan.cart_lines.min(well_stocked.len()) {
                // Spread the carts over the well-stocked variants, distinct within a cart.
                let variant = &well_stocked[(i * plan.cart_lines + line) % well_stocked.len()];
                cart::repo::add(
                    tx,
                    user.id,
                    &variant.row,
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

/// The demo account's address book: a home (the default) and a workplace.
async fn seed_address_book(tx: &mut Conn<'_>, user_id: i64, now: NaiveDateTime) -> AppResult<()> {
    let address = |full_name: &str, line1: &str, city: &str, postal_code: &str| PostalAddress {
        full_name: full_name.to_owned(),
        line1: line1.to_owned(),
        line2: None,
        city: city.to_owned(),
        region: None,
        postal_code: postal_code.to_owned(),
        country_code: "GB".to_owned(),
        phone: None,
    };
    let home = address("Demo Customer", "12 Orchard Lane", "Bristol", "BS1 4DJ");
    let work = address("Demo Customer", "1 Harbour Side", "Bristol", "BS1 5TY");
    let home = addresses::repo::insert(tx, user_id, &home, false, now).await?;
    addresses::repo::insert(tx, user_id, &work, false, now).await?;
    addresses::repo::set_default(tx, user_id, Some(home.id)).await?;
    Ok(())
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

/// Review titles and bodies, by rating (1 to 5).
const REVIEWS: [(&str, &str); 5] = [
    (
        "Disappointing",
        "Not what I hoped for; it went back in its box.",
    ),
    ("Not for me", "It works, but I expected more for the price."),
    ("Does the job", "Fine for everyday use, nothing special."),
    ("Very good", "Well made and exactly as described."),
    ("Love it", "Better than I expected; I would buy it again."),
];

/// A customer's review of a product they received, if they have none yet, written as
/// `writeReview` writes it. Returns how many it wrote (0 or 1).
async fn seed_review(
    tx: &mut Conn<'_>,
    rng: &mut StdRng,
    user_id: i64,
    product_id: i64,
    at: NaiveDateTime,
) -> AppResult<usize> {
    use crate::reviews::model::ReviewContent;
    // One review each: a product met again in a later order is not reviewed twice.
    if !reviews::repo::by_author(tx, user_id, &[product_id])
        .await?
        .is_empty()
    {
        return Ok(0);
    }
    // Mostly happy customers, as in any shop.
    let stars = [5, 5, 5, 4, 4, 4, 3, 3, 2, 1][rng.random_range(0..10)];
    let (title, body) = REVIEWS[stars as usize - 1];
    let content = ReviewContent {
        rating: stars,
        title: title.to_owned(),
        body: body.to_owned(),
    };
    if reviews::service::write_in(tx, user_id, product_id, &content, at)
        .await?
        .is_none()
    {
        return Ok(0);
    }
    Ok(1)
}

/// A delivered, paid cash-on-delivery order of five lines (stock is not taken: these
/// are history); returns the products it holds.
async fn seed_order(
    tx: &mut Conn<'_>,
    rng: &mut StdRng,
    user_id: i64,
    variants: &[SeededVariant],
    placed_at: NaiveDateTime,
) -> AppResult<Vec<i64>> {
    use crate::orders::model::{NewOrder, NewOrderItem, OrderStatus, PaymentMethod, PaymentStatus};
    if variants.is_empty() {
        return Err(AppError::internal("orders need products to seed"));
    }
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
            address: None,
            subtotal_cents: 0,
            discount_cents: 0,
            coupon_code: None,
            payment_due_at: None,
        },
    )
    .await?;
    let mut total = 0;
    let mut items = Vec::with_capacity(5);
    for _ in 0..5 {
        let variant = &variants[rng.random_range(0..variants.len())];
        let quantity = rng.random_range(1..4);
        total += variant.row.price_cents * i64::from(quantity);
        items.push(NewOrderItem {
            order_id: order.id,
            product_id: variant.row.product_id,
            product_name: &variant.product_name,
            unit_price_cents: variant.row.price_cents,
            quantity,
            variant_id: Some(variant.row.id),
            sku: &variant.row.sku,
            variant_title: &variant.row.title,
        });
    }
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
    Ok(items.iter().map(|item| item.product_id).collect())
}
