// The PostgreSQL halves of the tests run when `LINLI_TEST_PG_URL` is set at build time, and are
// marked ignored otherwise (see `linli_store::testing`), so they are never counted as passed.
fn main() {
    println!("cargo::rustc-check-cfg=cfg(linli_pg)");
    println!("cargo::rerun-if-env-changed=LINLI_TEST_PG_URL");
    if std::env::var("LINLI_TEST_PG_URL").is_ok_and(|u| !u.trim().is_empty()) {
        println!("cargo::rustc-cfg=linli_pg");
    }
}
