//! Logistic regression trained on the union of two providers' labelled examples: the
//! receiver gets a model neither provider could train alone, and no rows.
//!
//! Reads `/input/a.csv` and `/input/b.csv` (same header: feature columns, then `label`
//! holding 0 or 1), writes `/output/model.json`. Full-batch gradient descent from zero
//! weights; `EPOCHS` (default 200) and `LEARNING_RATE` (default 0.5) may be set in the
//! policy's execution environment. The sigmoid uses the SDK's exp so every engine computes
//! the same bits.

use veracruz_guest::{csv, json, math, vfs, Error, Result};

const INPUTS: [&str; 2] = ["/input/a.csv", "/input/b.csv"];
const OUTPUT: &str = "/output/model.json";

fn main() {
    veracruz_guest::run(body)
}

struct Data {
    features: Vec<String>,
    /// Row-major, `features.len()` values per row.
    x: Vec<f64>,
    y: Vec<f64>,
}

fn read_inputs() -> Result<Data> {
    let mut data = Data {
        features: Vec::new(),
        x: Vec::new(),
        y: Vec::new(),
    };
    for (n, path) in INPUTS.iter().enumerate() {
        let text = vfs::read_to_string(path)?;
        let mut reader = csv::Reader::new(path, &text);
        let header = reader.read_header()?;
        if header.last().map(String::as_str) != Some("label") || header.len() < 2 {
            return Err(Error::at(
                path,
                1,
                "the header must list at least one feature column and end with `label`",
            ));
        }
        let features = header[..header.len() - 1].to_vec();
        if n == 0 {
            data.features = features;
        } else if features != data.features {
            return Err(Error::new(format!(
                "{} has features `{}` but {} has `{}`",
                path,
                features.join(","),
                INPUTS[0],
                data.features.join(",")
            )));
        }
        let d = data.features.len();
        while let Some(rec) = reader.next_record()? {
            for i in 0..d {
                data.x.push(reader.parse_f64(&rec, i)?);
            }
            let label = match rec.get(d).trim() {
                "0" => 0.0,
                "1" => 1.0,
                other => {
                    return Err(
                        reader.error(&rec, format!("column `label`: `{}` is not 0 or 1", other))
                    )
                }
            };
            data.y.push(label);
        }
    }
    if data.y.is_empty() {
        return Err(Error::new("neither input has any rows to train on"));
    }
    Ok(data)
}

fn env_param<T: std::str::FromStr>(name: &str, default: T) -> Result<T> {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().map_err(|_| {
            Error::new(format!(
                "environment variable {}=`{}` is not valid",
                name, v
            ))
        }),
        Err(_) => Ok(default),
    }
}

struct Model {
    weights: Vec<f64>,
    bias: f64,
}

fn train(data: &Data, epochs: u32, rate: f64) -> Model {
    let d = data.features.len();
    let n = data.y.len() as f64;
    let mut model = Model {
        weights: vec![0.0; d],
        bias: 0.0,
    };
    let mut grad = vec![0.0; d];
    for _ in 0..epochs {
        grad.iter_mut().for_each(|g| *g = 0.0);
        let mut grad_bias = 0.0;
        for (row, &y) in data.x.chunks_exact(d).zip(&data.y) {
            let error = predict(&model, row) - y;
            for (g, &v) in grad.iter_mut().zip(row) {
                *g += error * v;
            }
            grad_bias += error;
        }
        for (w, g) in model.weights.iter_mut().zip(&grad) {
            *w -= rate * g / n;
        }
        model.bias -= rate * grad_bias / n;
    }
    model
}

fn predict(model: &Model, row: &[f64]) -> f64 {
    let mut z = model.bias;
    for (w, v) in model.weights.iter().zip(row) {
        z += w * v;
    }
    math::sigmoid(z)
}

fn body() -> Result<()> {
    let data = read_inputs()?;
    let epochs: u32 = env_param("EPOCHS", 200)?;
    let rate: f64 = env_param("LEARNING_RATE", 0.5)?;
    if !(rate.is_finite() && rate > 0.0) {
        return Err(Error::new(format!(
            "LEARNING_RATE must be positive, got {}",
            rate
        )));
    }
    let model = train(&data, epochs, rate);

    let d = data.features.len();
    let (mut correct, mut loss) = (0usize, 0.0);
    for (row, &y) in data.x.chunks_exact(d).zip(&data.y) {
        let p = predict(&model, row);
        if (p >= 0.5) == (y == 1.0) {
            correct += 1;
        }
        // Clamped so a confidently wrong prediction costs a large finite loss, not infinity.
        let p_true = if y == 1.0 { p } else { 1.0 - p };
        loss -= math::ln(if p_true < 1e-15 { 1e-15 } else { p_true });
    }
    let n = data.y.len();
    let mut out = json::Object::new();
    out.str_array("features", &data.features);
    out.f64_array("weights", &model.weights)?;
    out.f64("bias", model.bias)?;
    out.int("epochs", i128::from(epochs));
    out.f64("learning_rate", rate)?;
    out.int("training_rows", n as i128);
    out.f64("training_accuracy", correct as f64 / n as f64)?;
    out.f64("log_loss", loss / n as f64)?;
    vfs::write(OUTPUT, out.finish().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separable_data_is_learned() {
        // Label is 1 exactly when x > 0.
        let xs: Vec<f64> = (-20..20).map(|i| f64::from(i) + 0.5).collect();
        let data = Data {
            features: vec!["x".into()],
            y: xs
                .iter()
                .map(|&x| if x > 0.0 { 1.0 } else { 0.0 })
                .collect(),
            x: xs,
        };
        let model = train(&data, 300, 0.5);
        assert!(model.weights[0] > 0.5, "weight {}", model.weights[0]);
        for (x, y) in data.x.iter().zip(&data.y) {
            assert_eq!(predict(&model, &[*x]) >= 0.5, *y == 1.0, "x = {}", x);
        }
    }
}
