//! Intersection sum: the total spend of provider A's customers who saw provider B's
//! advert. Neither learns the other's customer list; the receiver learns one total.
//!
//! Reads `/input/purchases.csv` (A, header `customer_id,amount`, amounts with at most two
//! decimals) and `/input/adverts.csv` (B, header `customer_id`); writes
//! `/output/intersection-sum.json`.

use std::collections::HashSet;

use veracruz_guest::{csv, json, num, vfs, Result};

const PURCHASES: &str = "/input/purchases.csv";
const ADVERTS: &str = "/input/adverts.csv";
const OUTPUT: &str = "/output/intersection-sum.json";

fn main() {
    veracruz_guest::run(body)
}

fn body() -> Result<()> {
    let adverts_text = vfs::read_to_string(ADVERTS)?;
    let mut adverts = csv::Reader::new(ADVERTS, &adverts_text);
    adverts.expect_header(&["customer_id"])?;
    // Only membership is asked of the set, never its iteration order, so hashing keeps the
    // result deterministic.
    let mut viewers: HashSet<String> = HashSet::new();
    while let Some(rec) = adverts.next_record()? {
        viewers.insert(rec.get(0).trim().to_string());
    }

    let purchases_text = vfs::read_to_string(PURCHASES)?;
    let mut purchases = csv::Reader::new(PURCHASES, &purchases_text);
    purchases.expect_header(&["customer_id", "amount"])?;
    let mut total: i64 = 0;
    while let Some(rec) = purchases.next_record()? {
        let amount = num::parse_decimal(rec.get(1), 2)
            .map_err(|m| purchases.error(&rec, format!("column `amount`: {}", m)))?;
        if viewers.contains(rec.get(0).trim()) {
            total = num::checked_sum(total, amount, "the total spend")?;
        }
    }

    let mut out = json::Object::new();
    out.str("total_spend", &num::format_decimal(total, 2));
    vfs::write(OUTPUT, out.finish().as_bytes())
}
