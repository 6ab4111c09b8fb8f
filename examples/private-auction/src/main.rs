//! Private sealed-bid auction: each bidder writes one bid, and the receiver learns only
//! who won and what they pay, never the losing bids.
//!
//! Second-price (Vickrey) rules: the highest bid wins and pays the second-highest bid, or
//! the reserve if that is higher, or the reserve alone when there is no other valid bid.
//! Ties for the highest bid go to the bidder whose name sorts first, at the tied amount.
//!
//! Reads every `/input/bids/<bidder>.txt` (one decimal amount, at most two decimals; the
//! bidder's name is the file name, which the policy lets only that bidder write) and the
//! optional `/input/reserve.txt`; writes `/output/result.json` with `winner` and `price`
//! (both `null` when no bid reaches the reserve).

use veracruz_guest::{json, num, vfs, Error, Result};

const BIDS: &str = "/input/bids";
const RESERVE: &str = "/input/reserve.txt";
const OUTPUT: &str = "/output/result.json";

fn main() {
    veracruz_guest::run(body)
}

fn read_amount(path: &str) -> Result<i64> {
    let text = vfs::read_to_string(path)?;
    let cents =
        num::parse_decimal(&text, 2).map_err(|m| Error::new(format!("`{}`: {}", path, m)))?;
    if cents < 0 {
        return Err(Error::new(format!(
            "`{}`: an amount cannot be negative",
            path
        )));
    }
    Ok(cents)
}

#[derive(Debug, PartialEq)]
struct Outcome {
    winner: String,
    price: i64,
}

/// `bids` must be sorted by bidder name, which makes the tie rule a matter of order.
fn decide(bids: &[(String, i64)], reserve: i64) -> Option<Outcome> {
    let mut best: Option<&(String, i64)> = None;
    let mut second = reserve;
    for bid in bids.iter().filter(|b| b.1 >= reserve) {
        match best {
            Some(b) if bid.1 <= b.1 => {
                if bid.1 > second {
                    second = bid.1;
                }
            }
            _ => {
                if let Some(b) = best {
                    if b.1 > second {
                        second = b.1;
                    }
                }
                best = Some(bid);
            }
        }
    }
    best.map(|b| Outcome {
        winner: b.0.clone(),
        price: second,
    })
}

fn body() -> Result<()> {
    let mut bids = Vec::new();
    for name in vfs::list_dir(BIDS)? {
        let bidder = name
            .strip_suffix(".txt")
            .filter(|b| !b.is_empty())
            .ok_or_else(|| {
                Error::new(format!(
                    "`{}` is not a bid; bids are named /input/bids/<bidder>.txt",
                    vfs::join(BIDS, &name)
                ))
            })?;
        bids.push((bidder.to_string(), read_amount(&vfs::join(BIDS, &name))?));
    }
    if bids.is_empty() {
        return Err(Error::new(format!("no bids in `{}`", BIDS)));
    }
    let reserve = if vfs::exists(RESERVE)? {
        read_amount(RESERVE)?
    } else {
        0
    };
    let mut out = json::Object::new();
    match decide(&bids, reserve) {
        Some(o) => {
            out.str("winner", &o.winner);
            out.str("price", &num::format_decimal(o.price, 2));
        }
        None => {
            out.raw("winner", "null".to_string());
            out.raw("price", "null".to_string());
        }
    }
    vfs::write(OUTPUT, out.finish().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bids(list: &[(&str, i64)]) -> Vec<(String, i64)> {
        list.iter().map(|(n, a)| (n.to_string(), *a)).collect()
    }

    #[test]
    fn highest_wins_and_pays_second_price() {
        let b = bids(&[("alice", 500), ("bob", 900), ("carol", 700)]);
        assert_eq!(
            decide(&b, 0),
            Some(Outcome {
                winner: "bob".into(),
                price: 700
            })
        );
        assert_eq!(decide(&b, 800).unwrap().price, 800);
        assert_eq!(decide(&b, 1000), None);
    }

    #[test]
    fn ties_go_to_the_first_name_at_the_tied_price() {
        let b = bids(&[("alice", 900), ("bob", 900), ("carol", 100)]);
        assert_eq!(
            decide(&b, 0),
            Some(Outcome {
                winner: "alice".into(),
                price: 900
            })
        );
        let single = bids(&[("dave", 300)]);
        assert_eq!(decide(&single, 0).unwrap().price, 0);
        assert_eq!(decide(&single, 250).unwrap().price, 250);
    }
}
