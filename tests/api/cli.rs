//! The binary's commands, run as an operator would.

use std::process::{Command, Output};

use serde_json::json;

use mini_ecommerce::config::Config;

use crate::helpers::{PASSWORD, TestApp, backend_test};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_mini-ecommerce"));
    command
        .args(args)
        .env("RUST_LOG", "error")
        .env_remove("DATABASE_URL");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn print_schema_prints_the_schema_file() {
    let output = run(&["print-schema"], &[]);
    assert!(output.status.success());
    let on_disk =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/schema.graphql")).unwrap();
    assert_eq!(String::from_utf8(output.stdout).unwrap(), on_disk);
}

#[test]
fn bad_settings_stop_the_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("x.db").display());
    let output = run(
        &["migrate"],
        &[("DATABASE_URL", &db), ("BCRYPT_COST", "99")],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("BCRYPT_COST") || stderr(&output).contains("bcrypt-cost"),
        "{}",
        stderr(&output)
    );
    let output = run(
        &["migrate"],
        &[("DATABASE_URL", &db), ("WORKER_THREADS", "0")],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("worker-threads"),
        "{}",
        stderr(&output)
    );
    // One worker is a valid runtime: the command runs on it.
    let output = run(
        &["migrate"],
        &[("DATABASE_URL", &db), ("WORKER_THREADS", "1")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run(
        &["serve"],
        &[
            ("DATABASE_URL", &db),
            ("APP_ENV", "production"),
            ("BIND_ADDR", "127.0.0.1:0"),
        ],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("JWT_SECRET"),
        "{}",
        stderr(&output)
    );
    let output = run(
        &["serve"],
        &[("DATABASE_URL", &db), ("BIND_ADDR", "not-an-address")],
    );
    assert!(!output.status.success());
    assert!(
        stderr(&output).to_lowercase().contains("bind"),
        "{}",
        stderr(&output)
    );
}

backend_test!(
    create_admin_creates_or_promotes,
    |_: &mut Config| {},
    |app: TestApp| async move {
        let db = app.config.database.database_url.clone();
        let data = app.config.server.data_dir.display().to_string();
        let env = [
            ("DATABASE_URL", db.as_str()),
            ("DATA_DIR", data.as_str()),
            ("BCRYPT_COST", "4"),
        ];
        let migrate = run(&["migrate"], &env);
        assert!(migrate.status.success(), "{}", stderr(&migrate));

        let created = run(
            &[
                "create-admin",
                "--email",
                "Boss@Example.com",
                "--password",
                PASSWORD,
            ],
            &env,
        );
        assert!(created.status.success(), "{}", stderr(&created));
        let token = app.login("boss@example.com", PASSWORD).await;
        assert_eq!(
            app.gql("{ me { role } }", json!({}), Some(&token)).await["data"]["me"]["role"],
            "ADMIN"
        );

        app.register("cust@example.com").await;
        let mut with_env = env.to_vec();
        with_env.extend([
            ("ADMIN_EMAIL", "cust@example.com"),
            ("ADMIN_PASSWORD", "another good one"),
        ]);
        let promoted = run(&["create-admin"], &with_env);
        assert!(promoted.status.success(), "{}", stderr(&promoted));
        let token = app.login("cust@example.com", "another good one").await;
        assert_eq!(
            app.gql("{ me { role } }", json!({}), Some(&token)).await["data"]["me"]["role"],
            "ADMIN"
        );

        let weak = run(
            &[
                "create-admin",
                "--email",
                "x@example.com",
                "--password",
                "password",
            ],
            &env,
        );
        assert!(!weak.status.success());
        assert!(stderr(&weak).contains("common"), "{}", stderr(&weak));
    }
);
