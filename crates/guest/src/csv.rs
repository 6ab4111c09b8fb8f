//! CSV as RFC 4180 describes it: comma-separated fields, optional double quotes around a
//! field, `""` for a quote inside a quoted field, `\n` or `\r\n` line ends. Empty lines are
//! skipped so a trailing newline (or none) makes no difference.
//!
//! Reading is strict: a record with the wrong number of fields, an unterminated quote or a
//! field that does not parse is an error naming the file, the line and the column, since a
//! data provider who gets a silent wrong answer cannot tell their file was at fault.

use std::borrow::Cow;
use std::fmt::Display;
use std::str::FromStr;

use crate::{vfs, Error, Result};

/// One record and the line on which it starts (1-based).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Record<'a> {
    pub line: usize,
    pub fields: Vec<Cow<'a, str>>,
}

impl<'a> Record<'a> {
    pub fn get(&self, i: usize) -> &str {
        &self.fields[i]
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }
}

/// A streaming reader over CSV text that remembers where the text came from, for errors.
pub struct Reader<'a> {
    path: String,
    text: &'a str,
    pos: usize,
    line: usize,
    header: Option<Vec<String>>,
}

impl<'a> Reader<'a> {
    /// `path` is only used in error messages.
    pub fn new(path: &str, text: &'a str) -> Reader<'a> {
        // A byte-order mark from spreadsheet exports is not part of the first field name.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        Reader {
            path: path.to_string(),
            text,
            pos: 0,
            line: 1,
            header: None,
        }
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Reads the header record; every later record must have as many fields.
    pub fn read_header(&mut self) -> Result<Vec<String>> {
        let rec = self.next_record()?.ok_or_else(|| {
            Error::new(format!("`{}` is empty; expected a header line", self.path))
        })?;
        let names: Vec<String> = rec.fields.iter().map(|f| f.trim().to_string()).collect();
        for (i, n) in names.iter().enumerate() {
            if names[..i].contains(n) {
                return Err(Error::at(
                    &self.path,
                    rec.line,
                    format!("column `{}` appears twice in the header", n),
                ));
            }
        }
        self.header = Some(names.clone());
        Ok(names)
    }

    /// Reads the header and checks it is exactly `expected` (names compared after trimming).
    pub fn expect_header(&mut self, expected: &[&str]) -> Result<()> {
        let names = self.read_header()?;
        if names.len() != expected.len() || names.iter().zip(expected).any(|(a, b)| a != b) {
            return Err(Error::at(
                &self.path,
                1,
                format!(
                    "header is `{}`; expected `{}`",
                    names.join(","),
                    expected.join(",")
                ),
            ));
        }
        Ok(())
    }

    /// The position of a header column, or an error naming the file and the missing column.
    pub fn column(&self, name: &str) -> Result<usize> {
        let header = self.header.as_ref().ok_or_else(|| {
            Error::new(format!(
                "`{}`: column `{}` asked for before the header was read",
                self.path, name
            ))
        })?;
        header.iter().position(|h| h == name).ok_or_else(|| {
            Error::at(
                &self.path,
                1,
                format!("no column `{}` in header `{}`", name, header.join(",")),
            )
        })
    }

    fn column_name(&self, i: usize) -> String {
        match &self.header {
            Some(h) if i < h.len() => format!("column `{}`", h[i]),
            _ => format!("field {}", i + 1),
        }
    }

    /// Parses field `i` of `rec`; the error names file, line, column and the offending text.
    pub fn parse<T>(&self, rec: &Record<'_>, i: usize) -> Result<T>
    where
        T: FromStr,
        T::Err: Display,
    {
        let raw = rec.get(i).trim();
        raw.parse::<T>().map_err(|e| {
            Error::at(
                &self.path,
                rec.line,
                format!("{}: cannot parse `{}`: {}", self.column_name(i), raw, e),
            )
        })
    }

    /// Parses field `i` as a finite number; `inf` and `NaN` are refused because no result
    /// computed from them would mean anything.
    pub fn parse_f64(&self, rec: &Record<'_>, i: usize) -> Result<f64> {
        let v: f64 = self.parse(rec, i)?;
        if !v.is_finite() {
            return Err(Error::at(
                &self.path,
                rec.line,
                format!(
                    "{}: `{}` is not a finite number",
                    self.column_name(i),
                    rec.get(i).trim()
                ),
            ));
        }
        Ok(v)
    }

    /// An error about a record, for checks the caller makes itself.
    pub fn error(&self, rec: &Record<'_>, message: impl Display) -> Error {
        Error::at(&self.path, rec.line, message)
    }

    /// The next record, or `None` at the end of the text.
    pub fn next_record(&mut self) -> Result<Option<Record<'a>>> {
        let bytes = self.text.as_bytes();
        // Skip empty lines.
        loop {
            if self.pos >= bytes.len() {
                return Ok(None);
            }
            if bytes[self.pos] == b'\n' {
                self.pos += 1;
                self.line += 1;
            } else if bytes[self.pos] == b'\r' && bytes.get(self.pos + 1) == Some(&b'\n') {
                self.pos += 2;
                self.line += 1;
            } else {
                break;
            }
        }
        let start_line = self.line;
        let mut fields: Vec<Cow<'a, str>> = Vec::new();
        loop {
            let (field, end) = self.field(start_line)?;
            fields.push(field);
            match end {
                FieldEnd::Comma => continue,
                FieldEnd::Line | FieldEnd::Eof => break,
            }
        }
        if let Some(h) = &self.header {
            if fields.len() != h.len() {
                return Err(Error::at(
                    &self.path,
                    start_line,
                    format!(
                        "expected {} fields ({}), found {}",
                        h.len(),
                        h.join(","),
                        fields.len()
                    ),
                ));
            }
        }
        Ok(Some(Record {
            line: start_line,
            fields,
        }))
    }

    fn field(&mut self, start_line: usize) -> Result<(Cow<'a, str>, FieldEnd)> {
        let text = self.text;
        let bytes = text.as_bytes();
        if bytes.get(self.pos) == Some(&b'"') {
            let mut value = String::new();
            let mut seg = self.pos + 1;
            let mut i = seg;
            loop {
                match bytes.get(i) {
                    None => {
                        return Err(Error::at(
                            &self.path,
                            start_line,
                            "quoted field is not closed before the end of the file",
                        ))
                    }
                    Some(b'"') if bytes.get(i + 1) == Some(&b'"') => {
                        value.push_str(&text[seg..=i]);
                        i += 2;
                        seg = i;
                    }
                    Some(b'"') => {
                        value.push_str(&text[seg..i]);
                        self.pos = i + 1;
                        let end = self.field_end()?;
                        return Ok((Cow::Owned(value), end));
                    }
                    Some(b'\n') => {
                        self.line += 1;
                        i += 1;
                    }
                    Some(_) => i += 1,
                }
            }
        }
        let start = self.pos;
        let mut i = start;
        while i < bytes.len() {
            match bytes[i] {
                b',' | b'\n' => break,
                b'\r' if bytes.get(i + 1) == Some(&b'\n') => break,
                b'"' => {
                    return Err(Error::at(
                        &self.path,
                        self.line,
                        "a double quote inside an unquoted field; quote the whole field",
                    ))
                }
                _ => i += 1,
            }
        }
        self.pos = i;
        let end = self.field_end()?;
        Ok((Cow::Borrowed(&text[start..i]), end))
    }

    fn field_end(&mut self) -> Result<FieldEnd> {
        let bytes = self.text.as_bytes();
        match bytes.get(self.pos) {
            None => Ok(FieldEnd::Eof),
            Some(b',') => {
                self.pos += 1;
                Ok(FieldEnd::Comma)
            }
            Some(b'\n') => {
                self.pos += 1;
                self.line += 1;
                Ok(FieldEnd::Line)
            }
            Some(b'\r') if bytes.get(self.pos + 1) == Some(&b'\n') => {
                self.pos += 2;
                self.line += 1;
                Ok(FieldEnd::Line)
            }
            Some(_) => Err(Error::at(
                &self.path,
                self.line,
                "unexpected text after a closing double quote",
            )),
        }
    }
}

enum FieldEnd {
    Comma,
    Line,
    Eof,
}

/// A CSV file read whole: its header and records, each with its line number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub path: String,
    pub header: Vec<String>,
    pub rows: Vec<Row>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Row {
    pub line: usize,
    pub fields: Vec<String>,
}

impl Table {
    /// Parses CSV text with a header line; `path` names the source in errors.
    pub fn parse(path: &str, text: &str) -> Result<Table> {
        let mut r = Reader::new(path, text);
        let header = r.read_header()?;
        let mut rows = Vec::new();
        while let Some(rec) = r.next_record()? {
            rows.push(Row {
                line: rec.line,
                fields: rec.fields.into_iter().map(Cow::into_owned).collect(),
            });
        }
        Ok(Table {
            path: path.to_string(),
            header,
            rows,
        })
    }

    /// Reads and parses a VFS file.
    pub fn read(vfs_path: &str) -> Result<Table> {
        let text = vfs::read_to_string(vfs_path)?;
        Table::parse(vfs_path, &text)
    }

    pub fn column(&self, name: &str) -> Result<usize> {
        self.header.iter().position(|h| h == name).ok_or_else(|| {
            Error::at(
                &self.path,
                1,
                format!("no column `{}` in header `{}`", name, self.header.join(",")),
            )
        })
    }
}

/// Quotes a field when it would otherwise be read back differently.
pub fn quote(field: &str) -> Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) {
        Cow::Owned(format!("\"{}\"", field.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(field)
    }
}

/// Builds CSV text with `\n` line ends.
#[derive(Default)]
pub struct Writer {
    out: String,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    pub fn record<S: AsRef<str>>(&mut self, fields: &[S]) {
        // A lone empty field would be an empty line, which readers skip.
        if fields.len() == 1 && fields[0].as_ref().is_empty() {
            self.out.push_str("\"\"\n");
            return;
        }
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push_str(&quote(f.as_ref()));
        }
        self.out.push('\n');
    }

    /// Appends a line the caller has already formatted (numbers need no quoting).
    pub fn raw_line(&mut self, line: &str) {
        self.out.push_str(line);
        self.out.push('\n');
    }

    pub fn as_str(&self) -> &str {
        &self.out
    }

    pub fn into_string(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn records(text: &str) -> Result<Vec<Vec<String>>> {
        let mut r = Reader::new("/input/t.csv", text);
        let mut out = Vec::new();
        while let Some(rec) = r.next_record()? {
            out.push(rec.fields.iter().map(|f| f.to_string()).collect());
        }
        Ok(out)
    }

    #[test]
    fn quoted_fields_line_ends_and_blank_lines() {
        let got = records("a,\"b,c\",\"d\"\"e\"\r\n\n\"multi\nline\",x\n").unwrap();
        assert_eq!(
            got,
            vec![
                vec!["a".to_string(), "b,c".into(), "d\"e".into()],
                vec!["multi\nline".to_string(), "x".into()],
            ]
        );
        assert_eq!(records("").unwrap(), Vec::<Vec<String>>::new());
        assert_eq!(
            records("1,2").unwrap(),
            vec![vec!["1".to_string(), "2".into()]]
        );
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = records("a\n\"open\n").unwrap_err();
        assert_eq!(
            e.message(),
            "/input/t.csv line 2: quoted field is not closed before the end of the file"
        );
        let e = records("a\nb\"c\n").unwrap_err();
        assert!(e.message().starts_with("/input/t.csv line 2:"), "{}", e);
        let e = records("\"a\"b\n").unwrap_err();
        assert!(
            e.message().contains("after a closing double quote"),
            "{}",
            e
        );
    }

    #[test]
    fn header_checks_field_counts_and_parses() {
        let mut r = Reader::new("/input/p.csv", "x,y\n1,2\n3\n");
        r.expect_header(&["x", "y"]).unwrap();
        let rec = r.next_record().unwrap().unwrap();
        assert_eq!(r.parse_f64(&rec, 1).unwrap(), 2.0);
        let e = r.next_record().unwrap_err();
        assert_eq!(
            e.message(),
            "/input/p.csv line 3: expected 2 fields (x,y), found 1"
        );

        let mut r = Reader::new("/input/p.csv", "x,y\n1,zz\n1,inf\n");
        r.read_header().unwrap();
        let rec = r.next_record().unwrap().unwrap();
        let e = r.parse_f64(&rec, 1).unwrap_err();
        assert!(
            e.message()
                .starts_with("/input/p.csv line 2: column `y`: cannot parse `zz`"),
            "{}",
            e
        );
        let rec = r.next_record().unwrap().unwrap();
        assert!(r
            .parse_f64(&rec, 1)
            .unwrap_err()
            .message()
            .contains("not a finite number"));
        assert!(r
            .column("z")
            .unwrap_err()
            .message()
            .contains("no column `z`"));
    }

    #[test]
    fn wrong_header_and_duplicates_are_refused() {
        let mut r = Reader::new("/input/p.csv", "a,b\n");
        assert!(r
            .expect_header(&["x", "y"])
            .unwrap_err()
            .message()
            .contains("expected `x,y`"));
        let mut r = Reader::new("/input/p.csv", "a,a\n");
        assert!(r
            .read_header()
            .unwrap_err()
            .message()
            .contains("appears twice"));
    }

    #[test]
    fn writer_round_trips_through_reader() {
        let fields = [
            "plain",
            "with,comma",
            "with \"quote\"",
            " padded ",
            "line\nbreak",
        ];
        let mut w = Writer::new();
        w.record(&fields);
        let text = w.into_string();
        assert_eq!(
            records(&text).unwrap(),
            vec![fields.iter().map(|s| s.to_string()).collect::<Vec<_>>()]
        );
    }
}
