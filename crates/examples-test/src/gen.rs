//! Deterministic input generators, one per example.
//!
//! Each writes the files a data provider would provision, below `root` exactly as they
//! appear in the VFS (`root/input/points.csv` for `/input/points.csv`), so `root` can be
//! given to a native build as `VERACRUZ_ROOT` or mapped into the runtime as `/input`.
//! The same seed always gives the same bytes; [`Size::Large`] inputs are sized so one
//! native run takes on the order of a second on the reference machine (see
//! docs/PERFORMANCE.md).

use std::fmt::Write as _;
use std::fs;
use std::io;
use std::path::Path;

use veracruz_guest::math;
use veracruz_guest::num::format_decimal;
use veracruz_guest::rand::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// A few hundred records: quick enough for every test in both engines.
    Small,
    /// Benchmark inputs.
    Large,
}

impl Size {
    fn pick(self, small: usize, large: usize) -> usize {
        match self {
            Size::Small => small,
            Size::Large => large,
        }
    }
}

impl std::str::FromStr for Size {
    type Err = String;
    fn from_str(s: &str) -> Result<Size, String> {
        match s {
            "small" => Ok(Size::Small),
            "large" => Ok(Size::Large),
            _ => Err(format!(
                "unknown size `{}` (expected `small` or `large`)",
                s
            )),
        }
    }
}

/// Writes `contents` at `root` + `vfs_path`, creating directories.
pub fn write(root: &Path, vfs_path: &str, contents: &[u8]) -> io::Result<()> {
    let path = root.join(vfs_path.trim_start_matches('/'));
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    fs::write(&path, contents)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot write {}: {}", path.display(), e)))
}

/// `/input/points.csv`: `x,y` on the line y = 3.5x - 12 with N(0, 5²) noise, x in [-100, 100).
pub fn linear_regression(root: &Path, size: Size, seed: u64) -> io::Result<()> {
    let n = size.pick(200, 8_000_000);
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(n * 24);
    out.push_str("x,y\n");
    for _ in 0..n {
        let x = rng.unit_f64() * 200.0 - 100.0;
        let y = 3.5 * x - 12.0 + 5.0 * rng.normal();
        writeln!(out, "{:.4},{:.4}", x, y).unwrap();
    }
    write(root, "/input/points.csv", out.as_bytes())
}

fn customer_id(i: usize) -> String {
    format!("c{:07}", i)
}

/// `/input/purchases.csv` (`customer_id,amount`) and `/input/adverts.csv` (`customer_id`):
/// about half the customers saw the advert, and a quarter of the viewers never bought.
pub fn intersection_sum(root: &Path, size: Size, seed: u64) -> io::Result<()> {
    let customers = size.pick(100, 500_000);
    let purchases = size.pick(300, 2_000_000);
    let mut rng = Rng::new(seed);
    let mut out = String::from("customer_id,amount\n");
    for _ in 0..purchases {
        let c = rng.below(customers as u64) as usize;
        let cents = rng.range_i64(1, 50_000);
        writeln!(out, "{},{}", customer_id(c), format_decimal(cents, 2)).unwrap();
    }
    write(root, "/input/purchases.csv", out.as_bytes())?;
    let mut out = String::from("customer_id\n");
    for c in 0..customers + customers / 4 {
        if rng.below(2) == 0 {
            writeln!(out, "{}", customer_id(c)).unwrap();
        }
    }
    write(root, "/input/adverts.csv", out.as_bytes())
}

const GIVEN: [&str; 12] = [
    "Ada", "Alan", "Barbara", "Claude", "Edsger", "Frances", "Grace", "John", "Leslie", "Margaret",
    "Niklaus", "Radia",
];
const FAMILY: [&str; 12] = [
    "Lovelace", "Turing", "Liskov", "Shannon", "Dijkstra", "Allen", "Hopper", "McCarthy",
    "Lamport", "Hamilton", "Wirth", "Perlman",
];

/// `/input/set-a.csv` and `/input/set-b.csv` (`id,name,postcode`): each provider holds
/// 60% of a shared universe of records, so about a third of the records are common. Some
/// names contain commas and quotes to exercise CSV quoting.
pub fn private_set_intersection(root: &Path, size: Size, seed: u64) -> io::Result<()> {
    let universe = size.pick(150, 1_100_000);
    let mut rng = Rng::new(seed);
    let mut a = String::from("id,name,postcode\n");
    let mut b = a.clone();
    for i in 0..universe {
        let given = GIVEN[rng.below(12) as usize];
        let family = FAMILY[rng.below(12) as usize];
        let name = match rng.below(10) {
            0 => format!("\"{}, {}\"", family, given),
            1 => format!("\"{} \"\"{}\"\" {}\"", given, &family[..2], family),
            _ => format!("{} {}", given, family),
        };
        let line = format!("{:08},{},{:05}\n", i, name, rng.below(100_000));
        if rng.below(10) < 6 {
            a.push_str(&line);
        }
        if rng.below(10) < 6 {
            b.push_str(&line);
        }
    }
    write(root, "/input/set-a.csv", a.as_bytes())?;
    write(root, "/input/set-b.csv", b.as_bytes())
}

fn random_name(rng: &mut Rng) -> String {
    const SYLLABLES: [&str; 16] = [
        "an", "ber", "cor", "da", "el", "fin", "gar", "ha", "is", "jo", "ka", "lin", "mo", "nor",
        "ö", "ru",
    ];
    let mut s = String::new();
    for _ in 0..2 + rng.below(3) {
        s.push_str(SYLLABLES[rng.below(16) as usize]);
    }
    s.push(' ');
    for _ in 0..2 + rng.below(3) {
        s.push_str(SYLLABLES[rng.below(16) as usize]);
    }
    s
}

/// A few random single-character edits, as typos in a second register would be.
fn perturb(rng: &mut Rng, s: &str) -> String {
    let mut chars: Vec<char> = s.chars().collect();
    for _ in 0..rng.below(3) {
        let i = rng.below(chars.len() as u64) as usize;
        match rng.below(3) {
            0 => chars[i] = (b'a' + rng.below(26) as u8) as char,
            1 if chars.len() > 1 => {
                chars.remove(i);
            }
            _ => chars.insert(i, (b'a' + rng.below(26) as u8) as char),
        }
    }
    chars.into_iter().collect()
}

/// `/input/strings-a.txt` and `/input/strings-b.txt`: names, where B holds perturbed copies
/// of most of A's names (shuffled) plus unrelated ones.
pub fn string_edit_distance(root: &Path, size: Size, seed: u64) -> io::Result<()> {
    let n = size.pick(30, 1_300);
    let mut rng = Rng::new(seed);
    let a: Vec<String> = (0..n).map(|_| random_name(&mut rng)).collect();
    let mut b = Vec::with_capacity(n);
    for s in &a {
        if rng.below(5) != 0 {
            b.push(perturb(&mut rng, s));
        }
    }
    while b.len() < n {
        b.push(random_name(&mut rng));
    }
    for i in (1..b.len()).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        b.swap(i, j);
    }
    write(
        root,
        "/input/strings-a.txt",
        (a.join("\n") + "\n").as_bytes(),
    )?;
    write(
        root,
        "/input/strings-b.txt",
        (b.join("\n") + "\n").as_bytes(),
    )
}

/// GF(2^8) multiplication by shift and add, independent of the program's table method.
pub fn gf_mul(mut a: u8, mut b: u8) -> u8 {
    let mut p = 0;
    while b != 0 {
        if b & 1 != 0 {
            p ^= a;
        }
        a = (a << 1) ^ if a & 0x80 != 0 { 0x1b } else { 0 };
        b >>= 1;
    }
    p
}

/// Splits `secret` into `n` shares any `k` of which rebuild it, each a binary share file:
/// threshold byte, x byte (1..=n), then f(x) for each secret byte's random polynomial f.
pub fn shamir_split(secret: &[u8], k: u8, n: u8, rng: &mut Rng) -> Vec<Vec<u8>> {
    assert!(k >= 1 && n >= k, "need 1 <= k <= n");
    let mut shares: Vec<Vec<u8>> = (1..=n)
        .map(|x| {
            let mut s = Vec::with_capacity(secret.len() + 2);
            s.push(k);
            s.push(x);
            s
        })
        .collect();
    let mut coefficients = vec![0u8; k as usize];
    for &byte in secret {
        coefficients[0] = byte;
        rng.fill_bytes(&mut coefficients[1..]);
        for share in shares.iter_mut() {
            let x = share[1];
            // Horner's rule from the highest coefficient down.
            let y = coefficients
                .iter()
                .rev()
                .fold(0u8, |acc, &c| gf_mul(acc, x) ^ c);
            share.push(y);
        }
    }
    shares
}

/// `/input/shares/share-<x>.bin`: five shares with threshold three of a random secret
/// (64 bytes small, 16 MiB large). Returns the secret so callers can check the result.
pub fn shamir_secret_sharing(root: &Path, size: Size, seed: u64) -> io::Result<Vec<u8>> {
    let mut rng = Rng::new(seed);
    let mut secret = vec![0u8; size.pick(64, 16 << 20)];
    rng.fill_bytes(&mut secret);
    write_shares(root, &shamir_split(&secret, 3, 5, &mut rng))?;
    Ok(secret)
}

pub fn write_shares(root: &Path, shares: &[Vec<u8>]) -> io::Result<()> {
    for s in shares {
        write(root, &format!("/input/shares/share-{}.bin", s[1]), s)?;
    }
    Ok(())
}

/// The proleptic Gregorian date of a day count from 1970-01-01 (Howard Hinnant's algorithm).
fn civil_date(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{:04}-{:02}-{:02}", y, m, d)
}

/// `/input/prices.csv` (`date,close`): a geometric random walk from 100.00, one row a day.
pub fn macd(root: &Path, size: Size, seed: u64) -> io::Result<()> {
    let n = size.pick(300, 1_500_000);
    let mut rng = Rng::new(seed);
    let mut price = 100.0f64;
    let mut out = String::with_capacity(n * 24);
    out.push_str("date,close\n");
    for day in 0..n {
        price *= 1.0 + 0.01 * rng.normal();
        if price < 0.01 {
            price = 0.01;
        }
        writeln!(out, "{},{:.2}", civil_date(day as i64), price).unwrap();
    }
    write(root, "/input/prices.csv", out.as_bytes())
}

/// `/input/a.csv` and `/input/b.csv` (`age,income,tenure,label`): standardised features,
/// labels drawn from a known logistic model, split unevenly between the two providers.
pub fn logistic_regression(root: &Path, size: Size, seed: u64) -> io::Result<()> {
    let n = size.pick(200, 300_000);
    let mut rng = Rng::new(seed);
    let weights = [1.5, -2.0, 0.75];
    let bias = 0.25;
    let mut a = String::from("age,income,tenure,label\n");
    let mut b = a.clone();
    for _ in 0..n {
        let x = [rng.normal(), rng.normal(), rng.normal()];
        let z = bias + weights.iter().zip(&x).map(|(w, v)| w * v).sum::<f64>();
        let label = u8::from(rng.unit_f64() < math::sigmoid(z));
        let line = format!("{:.4},{:.4},{:.4},{}\n", x[0], x[1], x[2], label);
        if rng.below(5) < 3 {
            a.push_str(&line);
        } else {
            b.push_str(&line);
        }
    }
    write(root, "/input/a.csv", a.as_bytes())?;
    write(root, "/input/b.csv", b.as_bytes())
}

/// `/input/batch.csv` (`value`): one round's batch of integers in [-1000000, 1000000].
pub fn number_stream_batch(root: &Path, size: Size, seed: u64) -> io::Result<()> {
    let n = size.pick(100, 12_000_000);
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(n * 9);
    out.push_str("value\n");
    for _ in 0..n {
        writeln!(out, "{}", rng.range_i64(-1_000_000, 1_000_000)).unwrap();
    }
    write(root, "/input/batch.csv", out.as_bytes())
}

/// `/input/count.txt` and `/input/seed.txt` for the random-numbers pipeline.
pub fn random_pipeline(root: &Path, size: Size, seed: u64) -> io::Result<()> {
    let n = size.pick(1000, 8_000_000);
    write(root, "/input/count.txt", format!("{}\n", n).as_bytes())?;
    write(root, "/input/seed.txt", format!("{}\n", seed).as_bytes())
}

/// `/input/bids/bidder-<i>.txt` (one amount each) and `/input/reserve.txt` (100.00).
pub fn private_auction(root: &Path, size: Size, seed: u64) -> io::Result<()> {
    let n = size.pick(7, 20_000);
    let mut rng = Rng::new(seed);
    for i in 0..n {
        let cents = rng.range_i64(5_000, 500_000);
        write(
            root,
            &format!("/input/bids/bidder-{:05}.txt", i),
            format!("{}\n", format_decimal(cents, 2)).as_bytes(),
        )?;
    }
    write(root, "/input/reserve.txt", b"100.00\n")
}

/// Every example, by the directory name under `examples/`.
pub const EXAMPLES: [&str; 10] = [
    "linear-regression",
    "intersection-sum",
    "private-set-intersection",
    "string-edit-distance",
    "shamir-secret-sharing",
    "macd",
    "logistic-regression",
    "number-stream-accumulation",
    "random-pipeline",
    "private-auction",
];

/// Generates the inputs of the example named `name`.
pub fn generate(name: &str, root: &Path, size: Size, seed: u64) -> io::Result<()> {
    match name {
        "linear-regression" => linear_regression(root, size, seed),
        "intersection-sum" => intersection_sum(root, size, seed),
        "private-set-intersection" => private_set_intersection(root, size, seed),
        "string-edit-distance" => string_edit_distance(root, size, seed),
        "shamir-secret-sharing" => shamir_secret_sharing(root, size, seed).map(drop),
        "macd" => macd(root, size, seed),
        "logistic-regression" => logistic_regression(root, size, seed),
        "number-stream-accumulation" => number_stream_batch(root, size, seed),
        "random-pipeline" => random_pipeline(root, size, seed),
        "private-auction" => private_auction(root, size, seed),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "unknown example `{}`; the examples are: {}",
                other,
                EXAMPLES.join(", ")
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_gregorian() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(59), "1970-03-01");
        assert_eq!(civil_date(11_016), "2000-02-29");
        assert_eq!(civil_date(20_454), "2026-01-01");
    }

    #[test]
    fn split_shares_lie_on_one_polynomial() {
        let mut rng = Rng::new(3);
        let shares = shamir_split(b"xyz", 2, 3, &mut rng);
        assert_eq!(shares.len(), 3);
        for s in &shares {
            assert_eq!((s[0], s.len()), (2, 5));
        }
        // Lagrange at 0 through x = 1 and 2: f(0) = f(1)·2/3 + f(2)·1/3 (1 ^ 2 = 3).
        let inv3 = (1..=255u8).find(|&v| gf_mul(v, 3) == 1).unwrap();
        for i in 0..3 {
            let f1 = shares[0][2 + i];
            let f2 = shares[1][2 + i];
            let secret = gf_mul(gf_mul(f1, 2), inv3) ^ gf_mul(gf_mul(f2, 1), inv3);
            assert_eq!(secret, b"xyz"[i]);
        }
    }
}
