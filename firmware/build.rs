//! Puts memory.x where cortex-m-rt's link.x finds it and links with link.x.
use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").unwrap_or_default());
    if fs::copy("memory.x", out.join("memory.x")).is_err() {
        println!("cargo:warning=could not copy memory.x to OUT_DIR");
    }
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rerun-if-changed=memory.x");
}
