//! Embeds every `profiles/*.yaml` file in the binary, so that adding a site is one new file
//! (plus its docs page) and no code change; and decides whether the cluster tests are mandatory.
use std::{env, fs, path::Path};

fn main() {
    // The tests against the test cluster (tests/cluster.rs) are ignored, with that reason,
    // unless HPCINIT_REQUIRE_CLUSTER=1: tests/run.sh (and so CI) sets it, and every one of them
    // must then run and pass.
    println!("cargo:rustc-check-cfg=cfg(hpcinit_cluster)");
    println!("cargo:rerun-if-env-changed=HPCINIT_REQUIRE_CLUSTER");
    if env::var("HPCINIT_REQUIRE_CLUSTER").is_ok_and(|v| v == "1") {
        println!("cargo:rustc-cfg=hpcinit_cluster");
    }
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("profiles");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<_> = fs::read_dir(&dir)
        .expect("profiles/ directory")
        .map(|e| e.expect("profiles/ entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = String::from("/// (file name, YAML text) of every built-in profile.\npub const BUILTIN_PROFILES: &[(&str, &str)] = &[\n");
    for f in &files {
        println!("cargo:rerun-if-changed={}", f.display());
        let name = f.file_name().unwrap().to_string_lossy();
        out.push_str(&format!("    ({name:?}, include_str!({:?})),\n", f.display().to_string()));
    }
    out.push_str("];\n");
    let dest = Path::new(&env::var("OUT_DIR").unwrap()).join("builtin_profiles.rs");
    fs::write(dest, out).expect("write builtin_profiles.rs");
}
