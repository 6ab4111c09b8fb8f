//! Linear regression: the least-squares line `y = gradient * x + intercept` through one
//! data provider's points, so the receiver learns the trend without seeing the points.
//!
//! Reads `/input/points.csv` (header `x,y`), writes `/output/regression.json`.

use veracruz_guest::{csv, json, vfs, Error, Result};

const INPUT: &str = "/input/points.csv";
const OUTPUT: &str = "/output/regression.json";

fn main() {
    veracruz_guest::run(body)
}

fn body() -> Result<()> {
    let text = vfs::read_to_string(INPUT)?;
    let mut reader = csv::Reader::new(INPUT, &text);
    reader.expect_header(&["x", "y"])?;
    let (mut xs, mut ys) = (Vec::new(), Vec::new());
    while let Some(rec) = reader.next_record()? {
        xs.push(reader.parse_f64(&rec, 0)?);
        ys.push(reader.parse_f64(&rec, 1)?);
    }
    let fit = fit(&xs, &ys).map_err(|m| Error::new(format!("{}: {}", INPUT, m)))?;
    let mut out = json::Object::new();
    out.int("points", xs.len() as i128);
    out.f64("gradient", fit.gradient)?;
    out.f64("intercept", fit.intercept)?;
    out.f64("r_squared", fit.r_squared)?;
    vfs::write(OUTPUT, out.finish().as_bytes())
}

#[derive(Debug, PartialEq)]
struct Fit {
    gradient: f64,
    intercept: f64,
    r_squared: f64,
}

/// Ordinary least squares in two passes: centring on the means before summing products
/// avoids the cancellation of the one-pass `n Σxy - Σx Σy` formula on large offsets.
fn fit(xs: &[f64], ys: &[f64]) -> std::result::Result<Fit, String> {
    let n = xs.len();
    if n < 2 {
        return Err(format!("a line needs at least 2 points, found {}", n));
    }
    let nf = n as f64;
    let mean_x = xs.iter().sum::<f64>() / nf;
    let mean_y = ys.iter().sum::<f64>() / nf;
    let (mut sxx, mut sxy, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        let (dx, dy) = (x - mean_x, y - mean_y);
        sxx += dx * dx;
        sxy += dx * dy;
        syy += dy * dy;
    }
    if sxx == 0.0 {
        return Err("all x values are equal, so the gradient is undefined".to_string());
    }
    let gradient = sxy / sxx;
    let r_squared = if syy == 0.0 {
        1.0
    } else {
        (sxy * sxy) / (sxx * syy)
    };
    Ok(Fit {
        gradient,
        intercept: mean_y - gradient * mean_x,
        r_squared,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_line_is_recovered() {
        let xs = [0.0, 1.0, 2.0, 3.0];
        let ys: Vec<f64> = xs.iter().map(|x| 2.5 * x - 1.0).collect();
        let f = fit(&xs, &ys).unwrap();
        assert_eq!((f.gradient, f.intercept, f.r_squared), (2.5, -1.0, 1.0));
    }

    #[test]
    fn degenerate_inputs_are_refused() {
        assert!(fit(&[1.0], &[2.0])
            .unwrap_err()
            .contains("at least 2 points"));
        assert!(fit(&[1.0, 1.0], &[2.0, 3.0])
            .unwrap_err()
            .contains("all x values are equal"));
    }
}
