//! A writer for the small JSON documents programs emit as results.
//!
//! Fields come out in the order they are added, two-space indented, with a final newline,
//! so the same result always has the same bytes (and the same hash in a receipt).

use crate::num::fmt_f64;
use crate::{Error, Result};

/// Escapes a string as a JSON string literal, quotes included.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A JSON number for a float; JSON has no NaN or infinity, so those are an error naming `what`.
pub fn number(x: f64, what: &str) -> Result<String> {
    if x.is_finite() {
        Ok(fmt_f64(x))
    } else {
        Err(Error::new(format!(
            "{} is not a finite number ({}); the input does not determine it",
            what, x
        )))
    }
}

/// Builds one JSON object.
#[derive(Default)]
pub struct Object {
    entries: Vec<(String, String)>,
}

impl Object {
    pub fn new() -> Object {
        Object::default()
    }

    /// Adds a field whose value is already JSON text.
    pub fn raw(&mut self, key: &str, json: String) -> &mut Object {
        self.entries.push((string(key), json));
        self
    }

    pub fn str(&mut self, key: &str, value: &str) -> &mut Object {
        self.raw(key, string(value))
    }

    pub fn int(&mut self, key: &str, value: i128) -> &mut Object {
        self.raw(key, value.to_string())
    }

    pub fn f64(&mut self, key: &str, value: f64) -> Result<&mut Object> {
        let v = number(value, key)?;
        Ok(self.raw(key, v))
    }

    pub fn f64_array(&mut self, key: &str, values: &[f64]) -> Result<&mut Object> {
        let mut parts = Vec::with_capacity(values.len());
        for (i, v) in values.iter().enumerate() {
            parts.push(number(*v, &format!("{}[{}]", key, i))?);
        }
        Ok(self.raw(key, format!("[{}]", parts.join(", "))))
    }

    pub fn str_array(&mut self, key: &str, values: &[String]) -> &mut Object {
        let parts: Vec<String> = values.iter().map(|v| string(v)).collect();
        self.raw(key, format!("[{}]", parts.join(", ")))
    }

    /// The document text: `{`, one field per line, `}` and a newline.
    pub fn finish(&self) -> String {
        let mut out = String::from("{\n");
        for (i, (k, v)) in self.entries.iter().enumerate() {
            out.push_str("  ");
            out.push_str(k);
            out.push_str(": ");
            out.push_str(v);
            if i + 1 < self.entries.len() {
                out.push(',');
            }
            out.push('\n');
        }
        out.push_str("}\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_layout_is_fixed() {
        let mut o = Object::new();
        o.str("name", "a \"b\"\n").int("n", -3);
        o.f64("x", 0.5).unwrap();
        o.f64_array("w", &[1.0, 2.25]).unwrap();
        assert_eq!(
            o.finish(),
            "{\n  \"name\": \"a \\\"b\\\"\\n\",\n  \"n\": -3,\n  \"x\": 0.5,\n  \"w\": [1, 2.25]\n}\n"
        );
        assert_eq!(Object::new().finish(), "{\n}\n");
    }

    #[test]
    fn non_finite_numbers_are_refused() {
        let e = Object::new().f64("gradient", f64::NAN).err().unwrap();
        assert!(e.message().starts_with("gradient is not a finite number"));
        assert_eq!(string("\u{1}"), "\"\\u0001\"");
    }
}
