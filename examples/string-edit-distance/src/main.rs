//! String edit distance: for each of provider A's strings, the closest of provider B's
//! strings by Levenshtein distance and by Jaro-Winkler similarity (record linkage without
//! either side revealing its list).
//!
//! Reads `/input/strings-a.txt` and `/input/strings-b.txt` (UTF-8, one string per line),
//! writes `/output/matches.csv`: `a_line,levenshtein_b_line,levenshtein,jaro_winkler_b_line,jaro_winkler`.
//! Lines are numbered from 1; ties go to the lowest line of B.

use veracruz_guest::{csv, num, vfs, Error, Result};

const STRINGS_A: &str = "/input/strings-a.txt";
const STRINGS_B: &str = "/input/strings-b.txt";
const OUTPUT: &str = "/output/matches.csv";

fn main() {
    veracruz_guest::run(body)
}

/// The lines of a text file as char vectors.
fn read_lines(path: &str) -> Result<Vec<Vec<char>>> {
    let text = vfs::read_to_string(path)?;
    // `lines` ends lines at `\n` or `\r\n` and ignores a final line end.
    let lines: Vec<Vec<char>> = text.lines().map(|l| l.chars().collect()).collect();
    if lines.is_empty() {
        return Err(Error::new(format!("`{}` holds no strings", path)));
    }
    Ok(lines)
}

fn body() -> Result<()> {
    let a = read_lines(STRINGS_A)?;
    let b = read_lines(STRINGS_B)?;
    let mut out = csv::Writer::new();
    out.record(&[
        "a_line",
        "levenshtein_b_line",
        "levenshtein",
        "jaro_winkler_b_line",
        "jaro_winkler",
    ]);
    let mut scratch = Vec::new();
    let mut flags = (Vec::new(), Vec::new());
    for (i, s) in a.iter().enumerate() {
        let mut best_lev = (usize::MAX, 0);
        let mut best_jw = (-1.0, 0);
        for (j, t) in b.iter().enumerate() {
            let d = levenshtein(s, t, &mut scratch);
            if d < best_lev.0 {
                best_lev = (d, j);
            }
            let w = jaro_winkler(s, t, &mut flags);
            if w > best_jw.0 {
                best_jw = (w, j);
            }
        }
        out.raw_line(&format!(
            "{},{},{},{},{}",
            i + 1,
            best_lev.1 + 1,
            best_lev.0,
            best_jw.1 + 1,
            num::fmt_f64(best_jw.0)
        ));
    }
    vfs::write(OUTPUT, out.as_str().as_bytes())
}

/// Edit distance with unit costs for insertion, deletion and substitution, one row of
/// the dynamic programme at a time; `row` is reused across calls to avoid allocating.
fn levenshtein(s: &[char], t: &[char], row: &mut Vec<usize>) -> usize {
    row.clear();
    row.extend(0..=t.len());
    for (i, sc) in s.iter().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, tc) in t.iter().enumerate() {
            let substitute = diagonal + usize::from(sc != tc);
            let delete = row[j + 1] + 1;
            let insert = row[j] + 1;
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(delete).min(insert);
        }
    }
    row[t.len()]
}

/// Jaro similarity boosted for a common prefix of up to 4 characters with the usual
/// scaling factor 0.1. Only `+ - * /` on floats, so every platform gets the same bits.
fn jaro_winkler(s: &[char], t: &[char], flags: &mut (Vec<bool>, Vec<bool>)) -> f64 {
    if s.is_empty() && t.is_empty() {
        return 1.0;
    }
    if s.is_empty() || t.is_empty() {
        return 0.0;
    }
    let window = (s.len().max(t.len()) / 2).saturating_sub(1);
    let (s_used, t_used) = flags;
    s_used.clear();
    s_used.resize(s.len(), false);
    t_used.clear();
    t_used.resize(t.len(), false);
    let mut matches = 0usize;
    for (i, sc) in s.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(t.len());
        for j in lo..hi {
            if !t_used[j] && t[j] == *sc {
                s_used[i] = true;
                t_used[j] = true;
                matches += 1;
                break;
            }
        }
    }
    if matches == 0 {
        return 0.0;
    }
    let mut half_transpositions = 0usize;
    let mut k = 0;
    for (i, sc) in s.iter().enumerate() {
        if s_used[i] {
            while !t_used[k] {
                k += 1;
            }
            if *sc != t[k] {
                half_transpositions += 1;
            }
            k += 1;
        }
    }
    let m = matches as f64;
    let transpositions = (half_transpositions / 2) as f64;
    let jaro = (m / s.len() as f64 + m / t.len() as f64 + (m - transpositions) / m) / 3.0;
    let prefix = s.iter().zip(t).take(4).take_while(|(a, b)| a == b).count() as f64;
    jaro + prefix * 0.1 * (1.0 - jaro)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn levenshtein_known_values() {
        let mut row = Vec::new();
        let mut d = |a: &str, b: &str| levenshtein(&chars(a), &chars(b), &mut row);
        assert_eq!(d("kitten", "sitting"), 3);
        assert_eq!(d("flaw", "lawn"), 2);
        assert_eq!(d("", "abc"), 3);
        assert_eq!(d("abc", ""), 3);
        assert_eq!(d("same", "same"), 0);
        assert_eq!(d("Müller", "Muller"), 1);
    }

    #[test]
    fn jaro_winkler_known_values() {
        let mut f = (Vec::new(), Vec::new());
        let mut jw = |a: &str, b: &str| jaro_winkler(&chars(a), &chars(b), &mut f);
        // Reference values from Winkler's papers, as commonly tabulated.
        assert!((jw("MARTHA", "MARHTA") - 0.961_111).abs() < 1e-6);
        assert!((jw("DWAYNE", "DUANE") - 0.84).abs() < 1e-6);
        assert!((jw("DIXON", "DICKSONX") - 0.813_333).abs() < 1e-6);
        assert_eq!(jw("abc", "abc"), 1.0);
        assert_eq!(jw("abc", "xyz"), 0.0);
        assert_eq!(jw("", ""), 1.0);
        assert_eq!(jw("a", ""), 0.0);
    }
}
