//! The `fluxcascade` binary.
fn main() {}
