//! `veracruz-examples-gen`: writes an example's inputs, laid out as in the VFS, for trying
//! the examples by hand or benchmarking them.
//!
//! ```text
//! veracruz-examples-gen EXAMPLE|all [--size small|large] [--seed N] --out DIR
//! ```
//! With one example, `DIR/input/...` is written; with `all`, `DIR/<example>/input/...`.

use std::path::PathBuf;
use std::process::ExitCode;

use veracruz_examples_test::gen::{self, Size, EXAMPLES};

const USAGE: &str =
    "usage: veracruz-examples-gen EXAMPLE|all [--size small|large] [--seed N] --out DIR";

fn parse() -> Result<(String, Size, u64, PathBuf), String> {
    let mut args = std::env::args().skip(1);
    let mut example = None;
    let mut size = Size::Small;
    let mut seed = 1u64;
    let mut out = None;
    while let Some(a) = args.next() {
        let mut value = |flag: &str| args.next().ok_or_else(|| format!("{} needs a value", flag));
        match a.as_str() {
            "--size" => size = value("--size")?.parse()?,
            "--seed" => {
                let v = value("--seed")?;
                seed = v
                    .parse()
                    .map_err(|_| format!("--seed `{}` is not a non-negative integer", v))?;
            }
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "-h" | "--help" => return Err(String::new()),
            flag if flag.starts_with('-') => return Err(format!("unknown option `{}`", flag)),
            name if example.is_none() => example = Some(name.to_string()),
            extra => return Err(format!("unexpected argument `{}`", extra)),
        }
    }
    let example = example.ok_or("no example named")?;
    let out = out.ok_or("--out DIR is required")?;
    Ok((example, size, seed, out))
}

fn main() -> ExitCode {
    let (example, size, seed, out) = match parse() {
        Ok(v) => v,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("error: {}", e);
            }
            eprintln!("{}\nexamples: {}", USAGE, EXAMPLES.join(", "));
            return ExitCode::from(2);
        }
    };
    let result = if example == "all" {
        EXAMPLES
            .iter()
            .try_for_each(|name| gen::generate(name, &out.join(name), size, seed))
    } else {
        gen::generate(&example, &out, size, seed)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", e);
            ExitCode::FAILURE
        }
    }
}
