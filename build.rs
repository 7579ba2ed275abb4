//! Tells the test suite whether PostgreSQL is there to test against: with
//! `TEST_POSTGRES_URL` unset at build time, the PostgreSQL tests are reported as ignored
//! (with the reason), never as passed.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(postgres_tests)");
    println!("cargo::rerun-if-env-changed=TEST_POSTGRES_URL");
    if std::env::var("TEST_POSTGRES_URL").is_ok_and(|url| !url.is_empty()) {
        println!("cargo::rustc-cfg=postgres_tests");
    }
}
