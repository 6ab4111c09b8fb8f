//! Shamir secret sharing: rebuild a secret from the shares of k providers, each of whom
//! alone learns nothing, by Lagrange interpolation at zero over GF(2^8).
//!
//! Reads every file in `/input/shares/` (binary: byte 0 the threshold k, byte 1 the share's
//! x coordinate 1..=255, then one byte per secret byte), writes `/output/secret.bin`.
//! Shares beyond the first k (by x) are checked against the polynomial the first k define,
//! so a corrupted or forged extra share is reported instead of ignored.

use veracruz_guest::{vfs, Error, Result};

const SHARES: &str = "/input/shares";
const OUTPUT: &str = "/output/secret.bin";

fn main() {
    veracruz_guest::run(body)
}

/// GF(2^8) with the AES polynomial x^8 + x^4 + x^3 + x + 1, by log and antilog tables of
/// the generator 3.
struct Gf {
    log: [u8; 256],
    exp: [u8; 510],
}

impl Gf {
    fn new() -> Gf {
        let mut gf = Gf {
            log: [0; 256],
            exp: [0; 510],
        };
        let mut v: u8 = 1;
        for i in 0..255 {
            gf.exp[i] = v;
            gf.exp[i + 255] = v;
            gf.log[v as usize] = i as u8;
            // v *= 3, i.e. v ^ (v * 2) with reduction.
            let doubled = (v << 1) ^ if v & 0x80 != 0 { 0x1b } else { 0 };
            v ^= doubled;
        }
        gf
    }

    fn mul(&self, a: u8, b: u8) -> u8 {
        if a == 0 || b == 0 {
            return 0;
        }
        self.exp[self.log[a as usize] as usize + self.log[b as usize] as usize]
    }

    fn div(&self, a: u8, b: u8) -> u8 {
        assert!(b != 0, "division by zero in GF(2^8)");
        if a == 0 {
            return 0;
        }
        self.exp[self.log[a as usize] as usize + 255 - self.log[b as usize] as usize]
    }

    /// Lagrange basis coefficients for evaluating at `x` the polynomial through `xs`.
    fn lagrange(&self, xs: &[u8], x: u8) -> Vec<u8> {
        xs.iter()
            .enumerate()
            .map(|(i, &xi)| {
                let mut c = 1u8;
                for (j, &xj) in xs.iter().enumerate() {
                    if i != j {
                        // Subtraction is XOR in characteristic 2.
                        c = self.mul(c, self.div(x ^ xj, xi ^ xj));
                    }
                }
                c
            })
            .collect()
    }

    /// Σ c_i · y_i bytewise, through a 256-entry product table per share.
    fn combine(&self, coefficients: &[u8], ys: &[&[u8]], len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        for (&c, y) in coefficients.iter().zip(ys) {
            let mut table = [0u8; 256];
            for (v, t) in table.iter_mut().enumerate() {
                *t = self.mul(c, v as u8);
            }
            for (o, &b) in out.iter_mut().zip(y.iter()) {
                *o ^= table[b as usize];
            }
        }
        out
    }
}

struct Share {
    file: String,
    threshold: u8,
    x: u8,
    y: Vec<u8>,
}

fn read_shares() -> Result<Vec<Share>> {
    let mut shares = Vec::new();
    for name in vfs::list_dir(SHARES)? {
        let file = vfs::join(SHARES, &name);
        let bytes = vfs::read(&file)?;
        if bytes.len() < 3 {
            return Err(Error::new(format!(
                "`{}` is {} bytes; a share is a threshold byte, an x byte and at least one data byte",
                file,
                bytes.len()
            )));
        }
        if bytes[0] == 0 {
            return Err(Error::new(format!("`{}`: the threshold byte is 0", file)));
        }
        if bytes[1] == 0 {
            return Err(Error::new(format!(
                "`{}`: x coordinate 0 would be the secret itself",
                file
            )));
        }
        shares.push(Share {
            file,
            threshold: bytes[0],
            x: bytes[1],
            y: bytes[2..].to_vec(),
        });
    }
    Ok(shares)
}

fn reconstruct(gf: &Gf, mut shares: Vec<Share>) -> Result<Vec<u8>> {
    let first = shares
        .first()
        .ok_or_else(|| Error::new(format!("no share files in `{}`", SHARES)))?;
    let (k, len) = (first.threshold as usize, first.y.len());
    for s in &shares {
        if s.threshold as usize != k || s.y.len() != len {
            return Err(Error::new(format!(
                "`{}` (threshold {}, {} bytes) does not match `{}` (threshold {}, {} bytes)",
                s.file,
                s.threshold,
                s.y.len(),
                first.file,
                k,
                len
            )));
        }
    }
    shares.sort_by_key(|s| s.x);
    for w in shares.windows(2) {
        if w[0].x == w[1].x {
            return Err(Error::new(format!(
                "`{}` and `{}` both have x = {}",
                w[0].file, w[1].file, w[0].x
            )));
        }
    }
    if shares.len() < k {
        return Err(Error::new(format!(
            "the threshold is {} shares but `{}` holds only {}",
            k,
            SHARES,
            shares.len()
        )));
    }
    let (basis, extra) = shares.split_at(k);
    let xs: Vec<u8> = basis.iter().map(|s| s.x).collect();
    let ys: Vec<&[u8]> = basis.iter().map(|s| s.y.as_slice()).collect();
    for s in extra {
        if gf.combine(&gf.lagrange(&xs, s.x), &ys, len) != s.y {
            return Err(Error::new(format!(
                "`{}` (x = {}) does not lie on the polynomial of the other shares; it is corrupt or forged",
                s.file, s.x
            )));
        }
    }
    Ok(gf.combine(&gf.lagrange(&xs, 0), &ys, len))
}

fn body() -> Result<()> {
    let gf = Gf::new();
    let secret = reconstruct(&gf, read_shares()?)?;
    vfs::write(OUTPUT, &secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_tables_agree_with_shift_and_add_multiplication() {
        fn slow_mul(mut a: u8, mut b: u8) -> u8 {
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
        let gf = Gf::new();
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(gf.mul(a, b), slow_mul(a, b));
                if b != 0 {
                    assert_eq!(gf.mul(gf.div(a, b), b), a);
                }
            }
        }
        // FIPS-197's worked example: {57} • {83} = {c1}.
        assert_eq!(gf.mul(0x57, 0x83), 0xc1);
    }

    fn share(x: u8, y: &[u8]) -> Share {
        Share {
            file: format!("s{}", x),
            threshold: 2,
            x,
            y: y.to_vec(),
        }
    }

    #[test]
    fn line_through_two_shares_gives_the_secret_and_catches_a_bad_third() {
        // f(x) = 42 + 7x over GF(2^8): f(1) = 42 ^ 7, f(2) = 42 ^ 14, f(3) = 42 ^ 9.
        let gf = Gf::new();
        let good = vec![
            share(1, &[42 ^ 7]),
            share(2, &[42 ^ 14]),
            share(3, &[42 ^ gf.mul(7, 3)]),
        ];
        assert_eq!(reconstruct(&gf, good).unwrap(), vec![42]);
        let bad = vec![share(1, &[42 ^ 7]), share(2, &[42 ^ 14]), share(3, &[0])];
        assert!(reconstruct(&gf, bad)
            .unwrap_err()
            .message()
            .contains("corrupt or forged"));
        let short = vec![share(1, &[1])];
        assert!(reconstruct(&gf, short)
            .unwrap_err()
            .message()
            .contains("holds only 1"));
    }
}
