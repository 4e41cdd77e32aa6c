//! Cellsight's task runner: the two commands a fresh machine needs.
//!
//! * `cargo xtask serve` installs what is missing, builds the dashboard and serves it on
//!   http://127.0.0.1:8080 with the emulated pack running.
//! * `cargo xtask test` installs what is missing and runs every check, stopping at the first
//!   failure.
//!
//! Every install step is idempotent: a tool already present at the right version is left alone.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// trunk 0.22 needs a newer rustc than this machine kind has (TOOLCHAIN.md).
const TRUNK_VERSION: &str = "0.21.14";
/// Targets the engine and the dashboard are built for.
const RUST_TARGETS: [&str; 2] = ["wasm32-unknown-unknown", "thumbv7em-none-eabihf"];
/// Crates that must never reach the engine's dependency graph (UI, std-only, randomness).
const ENGINE_DENIED_CRATES: [&str; 9] = [
    "leptos",
    "web-sys",
    "js-sys",
    "wasm-bindgen",
    "gloo",
    "plotly",
    "serde_json",
    "rand",
    "emulator",
];
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

type Result<T = ()> = std::result::Result<T, String>;

const USAGE: &str = "usage: cargo xtask <serve|test|bench|perf|coverage>
  serve     install what is missing, build the dashboard and serve it on http://127.0.0.1:8080
  test      install what is missing and run every check (fmt, clippy, tests, no_std builds,
            browser tests, release build, end-to-end tests)
  bench     engine step cost native and in WASM, engine RAM, flash/RAM of a Cortex-M4F image
  perf      the dashboard's performance figures in headless Chromium (first telemetry, bytes,
            frames per second at 3600x, memory through simulated days)
  coverage  line coverage of bms-engine's tests (installs cargo-llvm-cov)";

fn main() -> ExitCode {
    let task = env::args().nth(1);
    let result = match task.as_deref() {
        Some("serve") => serve(),
        Some("test") => test(),
        Some("bench") => bench(),
        Some("perf") => perf(),
        Some("coverage") => coverage(),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => Err(format!("unknown task `{other}`\n{USAGE}")),
        None => Err(format!("no task given\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("\nxtask: FAILED: {message}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    // xtask/ sits directly under the workspace root.
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

fn serve() -> Result {
    install_build_tools()?;
    println!("xtask: serving the dashboard on http://127.0.0.1:8080 (Ctrl-C stops)");
    run(
        "trunk serve",
        cmd("trunk").args(["serve", "--release", "--cargo-profile", "wasm-release"]),
    )
}

fn test() -> Result {
    let started = Instant::now();
    install_build_tools()?;
    install_browser()?;

    step(
        "cargo fmt --check",
        cmd("cargo").args(["fmt", "--all", "--check"]),
    )?;
    step(
        "cargo fmt --check (firmware image)",
        cmd("cargo").args(["fmt", "--manifest-path", "firmware/Cargo.toml", "--check"]),
    )?;
    step(
        "clippy (host, warnings denied)",
        cmd("cargo").args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    step(
        "clippy (web-ui on wasm32, warnings denied)",
        cmd("cargo").args([
            "clippy",
            "-p",
            "web-ui",
            "--all-targets",
            "--target",
            "wasm32-unknown-unknown",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    step(
        "cargo test --workspace",
        cmd("cargo").args(["test", "--workspace"]),
    )?;
    for target in RUST_TARGETS {
        step(
            &format!("bms-engine builds for {target} (no_std, no allocator)"),
            cmd("cargo").args(["build", "-p", "bms-engine", "--target", target]),
        )?;
    }
    banner("bms-engine dependency check");
    check_engine_dependencies()?;
    step(
        "clippy (firmware image, warnings denied)",
        cmd("cargo").args([
            "clippy",
            "--release",
            "--manifest-path",
            "firmware/Cargo.toml",
            "--target",
            "thumbv7em-none-eabihf",
            "--",
            "-D",
            "warnings",
        ]),
    )?;
    step(
        "firmware image links for thumbv7em-none-eabihf (a no_std binary with no allocator)",
        &mut firmware_build(),
    )?;
    step(
        "browser tests (wasm-bindgen-test in headless Chromium)",
        cmd("cargo")
            .args(["test", "-p", "web-ui", "--target", "wasm32-unknown-unknown"])
            .env("CHROMEDRIVER", CHROMEDRIVER),
    )?;
    step(
        "trunk build --release",
        cmd("trunk").args(["build", "--release", "--cargo-profile", "wasm-release"]),
    )?;
    step(
        "end-to-end tests (Playwright, headless Chromium, dist served on loopback)",
        cmd("node")
            .args(["--test", "--test-reporter=spec"])
            .args(e2e_specs()?)
            .env("CHROMIUM", CHROMIUM),
    )?;
    println!(
        "\nxtask: all checks passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

fn perf() -> Result {
    install_build_tools()?;
    install_browser()?;
    step(
        "trunk build --release",
        cmd("trunk").args(["build", "--release", "--cargo-profile", "wasm-release"]),
    )?;
    step(
        "dashboard performance (e2e/perf.mjs)",
        cmd("node").arg("e2e/perf.mjs").env("CHROMIUM", CHROMIUM),
    )
}

fn bench() -> Result {
    install_rust_targets()?;
    install_wasm_bindgen()?;
    step(
        "native step cost (divan) and engine state size",
        cmd("cargo").args(["bench", "-p", "bms-engine", "--bench", "step"]),
    )?;
    step(
        "emulator closed-loop cost (divan) and memory per cell",
        cmd("cargo").args(["bench", "-p", "emulator", "--bench", "loop"]),
    )?;
    // The same loop compiled for this very processor (AVX and FMA where it has them), in a
    // target directory of its own so the portable build above is not thrown away.
    step(
        "emulator closed-loop cost, built for this CPU (-C target-cpu=native)",
        cmd("cargo")
            .args(["bench", "-p", "emulator", "--bench", "loop"])
            .env("RUSTFLAGS", "-C target-cpu=native")
            .env("CARGO_TARGET_DIR", root().join("target/native-cpu")),
    )?;
    step(
        "WASM step and closed-loop cost (Node, release build)",
        cmd("cargo").args([
            "test",
            "-p",
            "web-ui",
            "--release",
            "--features",
            "wasm-bench",
            "--target",
            "wasm32-unknown-unknown",
            "--test",
            "wasm_bench",
            "--",
            "--nocapture",
        ]),
    )?;
    step(
        "firmware image for thumbv7em-none-eabihf (release, opt-level s, LTO)",
        &mut firmware_build(),
    )?;
    let elf = root().join("firmware/target/thumbv7em-none-eabihf/release/cellsight-firmware-size");
    let bytes = fs::read(&elf).map_err(|e| format!("reading {}: {e}", elf.display()))?;
    let size = elf_size(&bytes).map_err(|e| format!("{}: {e}", elf.display()))?;
    println!(
        "firmware image (engine, 32 cells, protocol encoder, cortex-m-rt): flash {} bytes ({:.1} KiB), static RAM {} bytes; the engine state itself lives on the stack (size printed above)",
        size.flash,
        size.flash as f64 / 1024.0,
        size.ram
    );
    Ok(())
}

/// Flash and static RAM of an ELF32 little-endian image, from its section headers: flash holds
/// every allocated section with contents (code, read-only data, initial values of .data), RAM
/// every allocated writable section (.data, .bss).
struct ElfSize {
    flash: u64,
    ram: u64,
}

fn elf_size(b: &[u8]) -> Result<ElfSize> {
    let u16_at = |at: usize| -> Result<u16> {
        b.get(at..at + 2)
            .map(|s| u16::from_le_bytes([s[0], s[1]]))
            .ok_or_else(|| format!("truncated ELF at byte {at}"))
    };
    let u32_at = |at: usize| -> Result<u32> {
        b.get(at..at + 4)
            .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
            .ok_or_else(|| format!("truncated ELF at byte {at}"))
    };
    if b.get(..6) != Some(&[0x7F, b'E', b'L', b'F', 1, 1][..]) {
        return Err("not a 32-bit little-endian ELF file".into());
    }
    let shoff = u32_at(0x20)? as usize;
    let shentsize = usize::from(u16_at(0x2E)?);
    let shnum = usize::from(u16_at(0x30)?);
    const SHF_WRITE: u32 = 0x1;
    const SHF_ALLOC: u32 = 0x2;
    const SHT_NOBITS: u32 = 8;
    let mut size = ElfSize { flash: 0, ram: 0 };
    for i in 0..shnum {
        let h = shoff + i * shentsize;
        let (kind, flags, len) = (u32_at(h + 4)?, u32_at(h + 8)?, u64::from(u32_at(h + 20)?));
        if flags & SHF_ALLOC == 0 {
            continue;
        }
        if kind != SHT_NOBITS {
            size.flash += len;
        }
        if flags & SHF_WRITE != 0 {
            size.ram += len;
        }
    }
    Ok(size)
}

fn coverage() -> Result {
    if tool_version("cargo-llvm-cov").is_none()
        && capture(cmd("cargo").args(["llvm-cov", "--version"])).is_err()
    {
        println!("xtask: installing cargo-llvm-cov and rustup's llvm-tools-preview (once)");
        run(
            "rustup component add llvm-tools-preview",
            cmd("rustup").args(["component", "add", "llvm-tools-preview"]),
        )?;
        run(
            "cargo install cargo-llvm-cov",
            cmd("cargo").args(["install", "--locked", "cargo-llvm-cov"]),
        )?;
    }
    step(
        "bms-engine line and region coverage (stable toolchain: branch coverage needs nightly)",
        cmd("cargo").args(["llvm-cov", "-p", "bms-engine", "--summary-only"]),
    )
}

/// The engine must stay free of std, alloc and UI crates: read its resolved graph for the MCU
/// target (proc-macros excluded, they run on the host) and reject any denied crate or feature.
fn check_engine_dependencies() -> Result {
    let tree = capture(cmd("cargo").args([
        "tree",
        "-p",
        "bms-engine",
        "-e",
        "normal,features,no-proc-macro",
        "--target",
        "thumbv7em-none-eabihf",
        "--prefix",
        "none",
    ]))?;
    let mut problems = Vec::new();
    for line in tree.lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        if ENGINE_DENIED_CRATES.contains(&name) {
            problems.push(format!("denied crate: {line}"));
        }
        if line.contains("feature \"std\"") || line.contains("feature \"alloc\"") {
            problems.push(format!("std/alloc feature enabled: {line}"));
        }
    }
    if problems.is_empty() {
        println!("bms-engine depends on no std, alloc or UI crate");
        Ok(())
    } else {
        Err(format!(
            "bms-engine dependency check:\n  {}",
            problems.join("\n  ")
        ))
    }
}

/// The release build of the Cortex-M4F image (`firmware/`, not a workspace member).
fn firmware_build() -> Command {
    let mut c = cmd("cargo");
    c.args([
        "build",
        "--release",
        "--manifest-path",
        "firmware/Cargo.toml",
        "--target",
        "thumbv7em-none-eabihf",
    ]);
    c
}

/// The Playwright specs, `e2e/*.test.mjs`, in name order.
fn e2e_specs() -> Result<Vec<String>> {
    let dir = root().join("e2e");
    let entries = fs::read_dir(&dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut specs: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".test.mjs"))
        .map(|name| format!("e2e/{name}"))
        .collect();
    specs.sort();
    if specs.is_empty() {
        return Err(format!("no e2e/*.test.mjs specs in {}", dir.display()));
    }
    Ok(specs)
}

// ---------------------------------------------------------------------------------------------
// Installs

fn install_build_tools() -> Result {
    install_rust_targets()?;
    install_trunk()?;
    install_wasm_bindgen()?;
    install_npm_packages()
}

fn install_rust_targets() -> Result {
    let installed = capture(cmd("rustup").args(["target", "list", "--installed"]))?;
    let missing: Vec<&str> = RUST_TARGETS
        .into_iter()
        .filter(|t| !installed.lines().any(|l| l.trim() == *t))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    println!("xtask: installing rustup targets {}", missing.join(", "));
    run(
        "rustup target add",
        cmd("rustup").args(["target", "add"]).args(&missing),
    )
}

fn install_trunk() -> Result {
    if tool_version("trunk").is_some_and(|v| v.contains(TRUNK_VERSION)) {
        return Ok(());
    }
    println!("xtask: installing trunk {TRUNK_VERSION} (cargo install, about 9 minutes once)");
    run(
        "cargo install trunk",
        cmd("cargo").args([
            "install",
            "--locked",
            "--force",
            "trunk",
            "--version",
            TRUNK_VERSION,
        ]),
    )
}

fn install_wasm_bindgen() -> Result {
    let wanted = locked_version("wasm-bindgen")?;
    if tool_version("wasm-bindgen").is_some_and(|v| v.split_whitespace().any(|w| w == wanted)) {
        return Ok(());
    }
    // Without --locked: one of its locked dependencies is gone from the registry (TOOLCHAIN.md).
    println!(
        "xtask: installing wasm-bindgen-cli {wanted} (the version in Cargo.lock; about 2 minutes)"
    );
    run(
        "cargo install wasm-bindgen-cli",
        cmd("cargo").args([
            "install",
            "--force",
            "wasm-bindgen-cli",
            "--version",
            &wanted,
        ]),
    )
}

fn install_npm_packages() -> Result {
    let root = root();
    if tool_version("npm").is_none() {
        install_apt(&["nodejs", "npm"])?;
    }
    let lock = root.join("package-lock.json");
    let installed = root.join("node_modules/.package-lock.json");
    let fresh = match (fs::metadata(&lock), fs::metadata(&installed)) {
        (Ok(l), Ok(i)) => match (l.modified(), i.modified()) {
            (Ok(l), Ok(i)) => i >= l,
            _ => false,
        },
        _ => false,
    };
    if fresh {
        return Ok(());
    }
    println!("xtask: installing npm packages from package-lock.json (npm ci)");
    run("npm ci", cmd("npm").args(["ci", "--no-audit", "--no-fund"]))
}

fn install_browser() -> Result {
    if Path::new(CHROMIUM).exists() && Path::new(CHROMEDRIVER).exists() {
        return Ok(());
    }
    println!("xtask: installing Debian's chromium and chromium-driver (about 2 minutes)");
    install_apt(&["chromium", "chromium-driver"])
}

fn install_apt(packages: &[&str]) -> Result {
    let sudo = !capture(cmd("id").arg("-u")).is_ok_and(|uid| uid.trim() == "0");
    let apt = |args: &[&str]| {
        let mut c = if sudo { cmd("sudo") } else { cmd("apt-get") };
        if sudo {
            c.arg("apt-get");
        }
        c.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        c
    };
    run("apt-get update", &mut apt(&["update"]))?;
    let mut install = apt(&["install", "-y", "--no-install-recommends"]);
    install.args(packages);
    run(
        &format!("apt-get install {}", packages.join(" ")),
        &mut install,
    )
}

/// The exact version of `package` recorded in Cargo.lock.
fn locked_version(package: &str) -> Result<String> {
    let path = root().join("Cargo.lock");
    let lock = fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line.trim() == format!("name = \"{package}\"")
            && let Some(version) = lines
                .next()
                .and_then(|l| l.trim().strip_prefix("version = \""))
                .and_then(|v| v.strip_suffix('"'))
        {
            return Ok(version.to_owned());
        }
    }
    Err(format!("{package} is not in Cargo.lock"))
}

fn tool_version(tool: &str) -> Option<String> {
    let out = Command::new(tool).arg("--version").output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

// ---------------------------------------------------------------------------------------------
// Running commands

fn cmd(program: &str) -> Command {
    let mut c = Command::new(program);
    c.current_dir(root());
    c
}

fn banner(title: &str) {
    println!("\n==> {title}");
}

fn step(title: &str, command: &mut Command) -> Result {
    banner(title);
    let started = Instant::now();
    run(title, command)?;
    println!("--> {title}: ok ({:.0} s)", started.elapsed().as_secs_f64());
    Ok(())
}

fn run(title: &str, command: &mut Command) -> Result {
    let status = command
        .status()
        .map_err(|e| format!("{title}: could not start {:?}: {e}", command.get_program()))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{title}: exited with {status}"))
    }
}

fn capture(command: &mut Command) -> Result<String> {
    let out = command
        .output()
        .map_err(|e| format!("could not start {:?}: {e}", command.get_program()))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{:?} exited with {}: {}",
            command.get_program(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}
