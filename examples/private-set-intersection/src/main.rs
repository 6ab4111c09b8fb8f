//! Private set intersection: the records two providers both hold, and nothing about the
//! records only one of them holds.
//!
//! Reads `/input/set-a.csv` and `/input/set-b.csv` (CSV with the same header; a record is
//! its whole row, compared field by field after trimming spaces), writes
//! `/output/intersection.csv`: the header and the common records, each once, sorted.

use std::collections::HashSet;

use veracruz_guest::{csv, vfs, Error, Result};

const SET_A: &str = "/input/set-a.csv";
const SET_B: &str = "/input/set-b.csv";
const OUTPUT: &str = "/output/intersection.csv";

fn main() {
    veracruz_guest::run(body)
}

fn body() -> Result<()> {
    let text_a = vfs::read_to_string(SET_A)?;
    let text_b = vfs::read_to_string(SET_B)?;
    let mut a = csv::Reader::new(SET_A, &text_a);
    let mut b = csv::Reader::new(SET_B, &text_b);
    let header_a = a.read_header()?;
    let header_b = b.read_header()?;
    if header_a != header_b {
        return Err(Error::new(format!(
            "the sets do not have the same columns: {} has `{}`, {} has `{}`",
            SET_A,
            header_a.join(","),
            SET_B,
            header_b.join(",")
        )));
    }
    let mut in_b: HashSet<Vec<&str>> = HashSet::new();
    let mut b_records = Vec::new();
    while let Some(rec) = b.next_record()? {
        b_records.push(rec);
    }
    for rec in &b_records {
        in_b.insert(rec.fields.iter().map(|f| f.trim()).collect());
    }
    let mut a_records = Vec::new();
    while let Some(rec) = a.next_record()? {
        a_records.push(rec);
    }
    let mut common: Vec<Vec<&str>> = a_records
        .iter()
        .map(|rec| rec.fields.iter().map(|f| f.trim()).collect::<Vec<&str>>())
        .filter(|key| in_b.contains(key))
        .collect();
    // Sorted and deduplicated, the output says nothing about either provider's row order
    // or how often a record repeats.
    common.sort_unstable();
    common.dedup();

    let mut out = csv::Writer::new();
    out.record(&header_a);
    for rec in &common {
        out.record(rec);
    }
    vfs::write(OUTPUT, out.as_str().as_bytes())
}
