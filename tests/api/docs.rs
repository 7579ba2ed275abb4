//! The API documentation stays true: the marked GraphQL examples of docs/api.md run against
//! a real server, and schema.graphql is a superset of docs/api/contract.graphql and of
//! the v2 parts in docs/api/v2/.

use std::collections::BTreeMap;

use async_graphql::parser::parse_schema;
use async_graphql::parser::types::{
    FieldDefinition, InputValueDefinition, TypeKind, TypeSystemDefinition,
};
use async_graphql::{Name, Positioned};
use serde_json::{Value, json};

use crate::helpers::{LOGIN, PASSWORD, TestApp, backend_test, error_code};

/// Fewer runnable examples than this means that the markers were lost, not that the guide
/// got shorter.
const MIN_EXAMPLES: usize = 12;

const CUSTOMER_EMAIL: &str = "customer@example.com";

#[derive(Debug)]
enum Role {
    Anonymous,
    Customer,
    Admin,
}

#[derive(Debug, PartialEq)]
enum Expect {
    /// No request errors, and every `userErrors` list empty.
    Success,
    /// The first request error has this code.
    Error(String),
    /// No request errors, and some user error has this code.
    UserError(String),
}

#[derive(Debug)]
struct Example {
    /// Where the example's marker is in docs/api.md, for the failure message.
    line: usize,
    role: Role,
    expect: Expect,
    variables: Value,
    query: String,
}

/// The examples marked with `<!-- run: ROLE [expect-error CODE | expect-user-error CODE]
/// [VARIABLES] -->` on the line right before their ```` ```graphql ```` fence. A marker
/// anywhere else, or one that does not parse, panics: a typo must not quietly stop an
/// example from running.
fn examples(guide: &str) -> Vec<Example> {
    let lines: Vec<&str> = guide.lines().collect();
    let mut examples = Vec::new();
    for (index, text) in lines.iter().enumerate() {
        let Some(marker) = text.trim().strip_prefix("<!-- run:") else {
            continue;
        };
        let line = index + 1;
        let marker = marker
            .strip_suffix("-->")
            .unwrap_or_else(|| panic!("docs/api.md:{line}: a run marker ends on its own line"));
        assert_eq!(
            lines.get(index + 1).map(|l| l.trim()),
            Some("```graphql"),
            "docs/api.md:{line}: a run marker goes right before a ```graphql fence"
        );
        let body: Vec<&str> = lines[index + 2..]
            .iter()
            .take_while(|l| l.trim() != "```")
            .copied()
            .collect();
        assert!(
            index + 2 + body.len() < lines.len(),
            "docs/api.md:{line}: the example's fence is never closed"
        );
        let (role, expect, variables) = parse_marker(marker.trim(), line);
        examples.push(Example {
            line,
            role,
            expect,
            variables,
            query: body.join("\n"),
        });
    }
    examples
}

fn parse_marker(marker: &str, line: usize) -> (Role, Expect, Value) {
    // The variables are the JSON object that ends the marker, if there is one.
    let (words, variables) = marker.split_at(marker.find('{').unwrap_or(marker.len()));
    let variables: Value = if variables.is_empty() {
        json!({})
    } else {
        serde_json::from_str(variables)
            .unwrap_or_else(|e| panic!("docs/api.md:{line}: the variables are not JSON: {e}"))
    };
    let words: Vec<&str> = words.split_whitespace().collect();
    let (role, expect) = match words.as_slice() {
        [role] => (*role, Expect::Success),
        [role, "expect-error", code] => (*role, Expect::Error(code.to_string())),
        [role, "expect-user-error", code] => (*role, Expect::UserError(code.to_string())),
        _ => panic!(
            "docs/api.md:{line}: expected `run: ROLE [expect-error CODE | expect-user-error CODE] [VARIABLES]`"
        ),
    };
    let role = match role {
        "anonymous" => Role::Anonymous,
        "customer" => Role::Customer,
        "admin" => Role::Admin,
        other => panic!("docs/api.md:{line}: unknown role {other:?}"),
    };
    (role, expect, variables)
}

/// What the examples can count on: an admin, a customer, a few products, and a T-shirt
/// in three sizes in Clothing > T-Shirts.
struct Fixture {
    admin: String,
    customer: String,
    product_id: String,
    tshirt_id: String,
    variant_id: String,
    category_id: String,
}

async fn prepare(app: &TestApp) -> Fixture {
    let admin = app.admin("admin@example.com").await;
    let (customer, _, _) = app.register(CUSTOMER_EMAIL).await;
    let product_id = app.product(&admin, "Teapot", "24.50", 10).await;
    app.product(&admin, "Green tea", "7.90", 100).await;
    app.product(&admin, "Tea cups", "18.00", 0).await;
    let (tshirt_id, variant_id, category_id) = tshirt(app, &admin).await;
    Fixture {
        admin,
        customer,
        product_id,
        tshirt_id,
        variant_id,
        category_id,
    }
}

/// A T-shirt in S, M and L in Clothing > T-Shirts: its ID, its M variant's, Clothing's.
async fn tshirt(app: &TestApp, admin: &str) -> (String, String, String) {
    let create_category = "mutation($input: CreateCategoryInput!) { createCategory(input: $input) {
        category { id } userErrors { code } } }";
    let mut parent = None;
    let mut ids = Vec::new();
    for name in ["Clothing", "T-Shirts"] {
        let input = json!({ "input": { "name": name, "parentId": parent } });
        let body = app.gql(create_category, input, Some(admin)).await;
        let id = body["data"]["createCategory"]["category"]["id"].clone();
        assert!(id.is_string(), "category created: {body}");
        parent = Some(id.clone());
        ids.push(id);
    }
    let create = "mutation($input: CreateProductInput!) { createProduct(input: $input) {
        product { id } userErrors { code } } }";
    let input = json!({ "input": { "name": "Organic T-Shirt", "price": "19.00", "stock": 5,
        "options": [{ "name": "Size", "value": "S" }], "categoryIds": [ids[1]] } });
    let body = app.gql(create, input, Some(admin)).await;
    let tshirt = body["data"]["createProduct"]["product"]["id"].clone();
    assert!(tshirt.is_string(), "T-shirt created: {body}");
    let add = "mutation($input: AddProductVariantInput!) { addProductVariant(input: $input) {
        variant { id } userErrors { code } } }";
    let mut medium = Value::Null;
    for (size, price) in [("M", "19.00"), ("L", "21.00")] {
        let input = json!({ "input": { "productId": tshirt, "sku": format!("TEE-{size}"),
            "price": price, "stock": 8, "options": [{ "name": "Size", "value": size }] } });
        let body = app.gql(add, input, Some(admin)).await;
        let id = body["data"]["addProductVariant"]["variant"]["id"].clone();
        assert!(id.is_string(), "variant added: {body}");
        if size == "M" {
            medium = id;
        }
    }
    let text = |v: &Value| v.as_str().unwrap().to_owned();
    (text(&tshirt), text(&medium), text(&ids[0]))
}

/// The example's variables, with each top-level `"$name"` placeholder replaced by what the
/// test prepared.
async fn variables(app: &TestApp, fixture: &Fixture, example: &Example) -> Value {
    let mut variables = example.variables.clone();
    let Some(map) = variables.as_object_mut() else {
        panic!(
            "docs/api.md:{}: the variables are not an object",
            example.line
        );
    };
    for value in map.values_mut() {
        let replacement = match value.as_str() {
            Some("$productId") => json!(fixture.product_id),
            Some("$tshirtId") => json!(fixture.tshirt_id),
            Some("$variantId") => json!(fixture.variant_id),
            Some("$categoryId") => json!(fixture.category_id),
            // A new session each time: refreshing or logging out uses the token up.
            Some("$refreshToken") => json!(new_refresh_token(app).await),
            Some(other) if other.starts_with('$') => {
                panic!("docs/api.md:{}: unknown placeholder {other}", example.line)
            }
            _ => continue,
        };
        *value = replacement;
    }
    variables
}

async fn new_refresh_token(app: &TestApp) -> String {
    let input = json!({ "input": { "email": CUSTOMER_EMAIL, "password": PASSWORD } });
    let body = app.gql(LOGIN, input, None).await;
    body["data"]["login"]["refreshToken"]
        .as_str()
        .unwrap_or_else(|| panic!("login failed: {body}"))
        .to_owned()
}

/// The codes of every user error anywhere in `data`.
fn user_error_codes(value: &Value) -> Vec<String> {
    match value {
        Value::Object(fields) => fields
            .iter()
            .flat_map(|(name, field)| match (name.as_str(), field) {
                ("userErrors", Value::Array(errors)) => errors
                    .iter()
                    .map(|e| {
                        e["code"]
                            .as_str()
                            .unwrap_or("(no code selected)")
                            .to_owned()
                    })
                    .collect(),
                _ => user_error_codes(field),
            })
            .collect(),
        Value::Array(items) => items.iter().flat_map(user_error_codes).collect(),
        _ => Vec::new(),
    }
}

/// Whether `body` is the answer that the example promises.
fn check(example: &Example, body: &Value) -> Result<(), String> {
    let has_errors = body.get("errors").is_some_and(|e| !e.is_null());
    let user_errors = user_error_codes(&body["data"]);
    match &example.expect {
        Expect::Success if has_errors => Err("request errors".to_owned()),
        Expect::Success if !user_errors.is_empty() => Err(format!("user errors {user_errors:?}")),
        Expect::Success if body["data"].is_null() => Err("no data".to_owned()),
        Expect::Error(code) if error_code(body) != code.as_str() => {
            Err(format!("expected the request error {code}"))
        }
        Expect::UserError(_) if has_errors => Err("request errors".to_owned()),
        Expect::UserError(code) if !user_errors.contains(code) => {
            Err(format!("expected the user error {code}"))
        }
        _ => Ok(()),
    }
}

backend_test!(
    guide_examples_run_as_documented,
    |app: TestApp| async move {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/api.md");
        let guide = std::fs::read_to_string(path).expect("docs/api.md exists");
        let examples = examples(&guide);
        assert!(
            examples.len() >= MIN_EXAMPLES,
            "docs/api.md has {} runnable examples, fewer than {MIN_EXAMPLES}: are the `<!-- run: … -->` markers still there?",
            examples.len()
        );
        let fixture = prepare(&app).await;
        let mut failures = Vec::new();
        // In order, on one database: later examples may build on earlier ones (log in as the
        // user registered above, order what was added to the cart).
        for example in &examples {
            let token = match example.role {
                Role::Anonymous => None,
                Role::Customer => Some(fixture.customer.as_str()),
                Role::Admin => Some(fixture.admin.as_str()),
            };
            let variables = variables(&app, &fixture, example).await;
            let body = app.gql(&example.query, variables, token).await;
            if let Err(problem) = check(example, &body) {
                failures.push(format!(
                    "docs/api.md:{} ({:?}): {problem}\n    answer: {body}",
                    example.line, example.role
                ));
            }
        }
        assert!(
            failures.is_empty(),
            "{} of {} examples in docs/api.md failed:\n{}",
            failures.len(),
            examples.len(),
            failures.join("\n")
        );
    }
);

#[test]
fn run_markers_are_read_as_documented() {
    let guide = "<!-- run: customer expect-error BAD_USER_INPUT {\"first\": 500} -->\n\
                 ```graphql\n{ products(first: $first) { nodes { id } } }\n```\n\
                 ```graphql\n{ not run }\n```\n\
                 <!-- run: admin -->\n```graphql\nmutation {\n  clearCart { userErrors { code } }\n}\n```\n";
    let examples = examples(guide);
    assert_eq!(examples.len(), 2, "{examples:?}");
    assert_eq!(examples[0].line, 1);
    assert_eq!(
        examples[0].expect,
        Expect::Error("BAD_USER_INPUT".to_owned())
    );
    assert_eq!(examples[0].variables, json!({ "first": 500 }));
    assert!(matches!(examples[1].role, Role::Admin));
    assert_eq!(examples[1].expect, Expect::Success);
    assert_eq!(
        examples[1].query,
        "mutation {\n  clearCart { userErrors { code } }\n}"
    );
}

/// The parts of contract v2 the server has built, in docs/api/v2/.
const V2_PARTS: [&str; 3] = ["catalog", "customers", "checkout"];

/// Every type, field, argument, enum value and input field of the contract is in
/// schema.graphql, with the same kind, type and default value. Types must be equal where
/// the contract only asks for compatible ones: stricter, and simpler.
#[test]
fn schema_is_a_superset_of_the_contract() {
    let read = |path: &str| {
        std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR")))
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    };
    let ours = members(&read("schema.graphql"));
    // v1, then the v2 parts, each an `extend` of what comes before.
    let mut promised = members(&read("docs/api/contract.graphql"));
    for part in V2_PARTS {
        promised.extend(members(&read(&format!("docs/api/v2/{part}.graphql"))));
    }
    // The one v1 member that v2 relaxes (v2 behaviour.md, "Compatibility"): the free
    // text is now one of three ways to say where an order goes.
    promised.insert(
        "PlaceOrderInput.shippingAddress".to_owned(),
        "String".to_owned(),
    );
    let missing: Vec<String> = promised
        .into_iter()
        .filter(|(member, what)| ours.get(member) != Some(what))
        .map(|(member, what)| {
            let found = ours.get(&member).map_or("nothing", String::as_str);
            format!("{member}: {what} (schema.graphql has {found})")
        })
        .collect();
    assert!(
        missing.is_empty(),
        "schema.graphql lacks what docs/api/contract.graphql promises:\n{}",
        missing.join("\n")
    );
}

/// The members of a schema, each with what must match: `Type` its kind, `Type: Interface`
/// an interface it implements, `Type.field` its type, `Type.field(argument)` and
/// `Input.field` their type and default, `Enum::VALUE` and `Union | Member` that they exist.
fn members(sdl: &str) -> BTreeMap<String, String> {
    let document = parse_schema(sdl).expect("valid SDL");
    let mut members = BTreeMap::new();
    for definition in document.definitions {
        let TypeSystemDefinition::Type(ty) = definition else {
            continue;
        };
        let name = ty.node.name.node.to_string();
        let kind = match &ty.node.kind {
            TypeKind::Scalar => "scalar",
            TypeKind::Object(object) => {
                add_fields(&mut members, &name, &object.fields, &object.implements);
                "object"
            }
            TypeKind::Interface(interface) => {
                add_fields(
                    &mut members,
                    &name,
                    &interface.fields,
                    &interface.implements,
                );
                "interface"
            }
            TypeKind::Union(union_type) => {
                for member in &union_type.members {
                    members.insert(format!("{name} | {}", member.node), "member".to_owned());
                }
                "union"
            }
            TypeKind::Enum(enum_type) => {
                for value in &enum_type.values {
                    members.insert(
                        format!("{name}::{}", value.node.value.node),
                        "value".to_owned(),
                    );
                }
                "enum"
            }
            TypeKind::InputObject(input) => {
                for field in &input.fields {
                    members.insert(
                        format!("{name}.{}", field.node.name.node),
                        input_value(&field.node),
                    );
                }
                "input"
            }
        };
        members.insert(name, kind.to_owned());
    }
    members
}

/// The fields of an object or interface type, with their arguments, and the interfaces it
/// implements.
fn add_fields(
    members: &mut BTreeMap<String, String>,
    type_name: &str,
    fields: &[Positioned<FieldDefinition>],
    implements: &[Positioned<Name>],
) {
    for interface in implements {
        members.insert(
            format!("{type_name}: {}", interface.node),
            "implements".to_owned(),
        );
    }
    for field in fields {
        let member = format!("{type_name}.{}", field.node.name.node);
        for argument in &field.node.arguments {
            members.insert(
                format!("{member}({})", argument.node.name.node),
                input_value(&argument.node),
            );
        }
        members.insert(member, field.node.ty.node.to_string());
    }
}

/// An argument's or input field's type, with its default when it has one: a changed
/// default changes what clients that omit the value get.
fn input_value(value: &InputValueDefinition) -> String {
    match &value.default_value {
        Some(default) => format!("{} = {}", value.ty.node, default.node),
        None => value.ty.node.to_string(),
    }
}
