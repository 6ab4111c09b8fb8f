//! First step of the random-numbers pipeline: generate uniformly random integers.
//!
//! Reads `/input/count.txt` (how many numbers, a decimal integer) and, if present,
//! `/input/seed.txt` (a decimal u64 seed, for reproducible runs); without a seed the
//! generator is seeded from the runtime's secure random source (WASI `random_get`).
//! Writes `/output/random.csv` (header `value`, one u64 per line).

use veracruz_guest::rand::{os_seed, Rng};
use veracruz_guest::{csv, vfs, Error, Result};

const COUNT: &str = "/input/count.txt";
const SEED: &str = "/input/seed.txt";
const OUTPUT: &str = "/output/random.csv";
/// Bounds the output so a typo in the count cannot exhaust the runtime's memory.
const MAX_COUNT: u64 = 100_000_000;

fn main() {
    veracruz_guest::run(body)
}

fn read_u64(path: &str, text: &str) -> Result<u64> {
    text.trim().parse().map_err(|e| {
        Error::new(format!(
            "`{}` must hold one non-negative integer, found `{}`: {}",
            path,
            text.trim(),
            e
        ))
    })
}

fn body() -> Result<()> {
    let count = read_u64(COUNT, &vfs::read_to_string(COUNT)?)?;
    if count > MAX_COUNT {
        return Err(Error::new(format!(
            "`{}` asks for {} numbers; at most {} are allowed",
            COUNT, count, MAX_COUNT
        )));
    }
    let seed = match vfs::read_optional(SEED)? {
        Some(bytes) => read_u64(SEED, &String::from_utf8_lossy(&bytes))?,
        None => os_seed(),
    };
    let mut rng = Rng::new(seed);
    let mut out = csv::Writer::new();
    out.record(&["value"]);
    for _ in 0..count {
        out.raw_line(&rng.next_u64().to_string());
    }
    vfs::write(OUTPUT, out.as_str().as_bytes())
}
