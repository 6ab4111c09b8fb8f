//! The pipeline language: programs run in sequence, with conditionals on file existence.
//!
//! ```text
//! script := stmt* ; statements separated by `;` (optional after a `}`), a trailing `;` allowed
//! stmt   := PROGRAM | "if" PATH block ("else" (block | if-stmt))?
//! block  := "{" script "}"
//! ```
//! Whitespace (including newlines) is insignificant: `a.wasm;b.wasm` is two statements.
//! A `PROGRAM` names a program of the policy by its VFS path or by its file name.

use std::fmt;

/// A position in the source, 1-based.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// One statement of a pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stmt {
    /// Run a program; the pipeline stops if it exits non-zero.
    Run { program: String, pos: Pos },
    /// Run `then` if `path` exists in the VFS when the statement is reached, else `otherwise`.
    If {
        path: String,
        pos: Pos,
        then: Vec<Stmt>,
        otherwise: Vec<Stmt>,
    },
}

/// A parsed pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Script {
    pub stmts: Vec<Stmt>,
}

impl Script {
    /// Every program named anywhere in the script, with its position, in source order.
    pub fn programs(&self) -> Vec<(&str, Pos)> {
        fn walk<'a>(stmts: &'a [Stmt], out: &mut Vec<(&'a str, Pos)>) {
            for s in stmts {
                match s {
                    Stmt::Run { program, pos } => out.push((program, *pos)),
                    Stmt::If {
                        then, otherwise, ..
                    } => {
                        walk(then, out);
                        walk(otherwise, out);
                    }
                }
            }
        }
        let mut out = Vec::new();
        walk(&self.stmts, &mut out);
        out
    }
}

/// A syntax error, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pipeline syntax error at {pos}: {message}")]
pub struct PipelineError {
    pub pos: Pos,
    pub message: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tok {
    Word(String),
    Open,
    Close,
    Semi,
    End,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tok::Word(w) => write!(f, "`{w}`"),
            Tok::Open => f.write_str("`{`"),
            Tok::Close => f.write_str("`}`"),
            Tok::Semi => f.write_str("`;`"),
            Tok::End => f.write_str("end of input"),
        }
    }
}

/// Longest accepted script, so a hostile policy cannot make parsing expensive.
pub const MAX_SCRIPT_BYTES: usize = 64 * 1024;
/// Deepest accepted nesting of blocks.
pub const MAX_DEPTH: usize = 32;

fn lex(src: &str) -> Vec<(Tok, Pos)> {
    let mut toks = Vec::new();
    let (mut line, mut column) = (1, 1);
    let mut chars = src.chars().peekable();
    while let Some(&c) = chars.peek() {
        let pos = Pos { line, column };
        let single = match c {
            '{' => Some(Tok::Open),
            '}' => Some(Tok::Close),
            ';' => Some(Tok::Semi),
            _ => None,
        };
        if let Some(t) = single {
            chars.next();
            column += 1;
            toks.push((t, pos));
        } else if c.is_whitespace() {
            chars.next();
            if c == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        } else {
            let mut word = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() || matches!(c, '{' | '}' | ';') {
                    break;
                }
                word.push(c);
                chars.next();
                column += 1;
            }
            toks.push((Tok::Word(word), pos));
        }
    }
    toks.push((Tok::End, Pos { line, column }));
    toks
}

struct Parser {
    toks: Vec<(Tok, Pos)>,
    at: usize,
}

impl Parser {
    fn peek(&self) -> &(Tok, Pos) {
        &self.toks[self.at.min(self.toks.len() - 1)]
    }

    fn next(&mut self) -> (Tok, Pos) {
        let t = self.peek().clone();
        self.at += 1;
        t
    }

    fn error<T>(pos: Pos, message: impl Into<String>) -> Result<T, PipelineError> {
        Err(PipelineError {
            pos,
            message: message.into(),
        })
    }

    /// Statements until `}` (when `in_block`) or end of input.
    fn seq(&mut self, depth: usize) -> Result<Vec<Stmt>, PipelineError> {
        let in_block = depth > 0;
        let mut stmts = Vec::new();
        loop {
            let (tok, pos) = self.peek().clone();
            match tok {
                Tok::End if in_block => return Self::error(pos, "missing `}`"),
                Tok::End => return Ok(stmts),
                Tok::Close if in_block => return Ok(stmts),
                Tok::Close => return Self::error(pos, "`}` without a matching `{`"),
                Tok::Semi => return Self::error(pos, "empty statement before `;`"),
                Tok::Open => return Self::error(pos, "a block must follow `if PATH` or `else`"),
                Tok::Word(_) => {}
            }
            let stmt = self.stmt(depth)?;
            let ended_with_block = matches!(stmt, Stmt::If { .. });
            stmts.push(stmt);
            let (tok, pos) = self.peek().clone();
            match tok {
                Tok::Semi => {
                    self.next();
                }
                Tok::End | Tok::Close => {}
                _ if ended_with_block => {}
                other => return Self::error(pos, format!("expected `;` but found {other}")),
            }
        }
    }

    fn stmt(&mut self, depth: usize) -> Result<Stmt, PipelineError> {
        let (tok, pos) = self.next();
        let Tok::Word(word) = tok else {
            return Self::error(pos, format!("expected a program or `if`, found {tok}"));
        };
        match word.as_str() {
            "if" => {
                let (tok, ppos) = self.next();
                let path = match tok {
                    Tok::Word(w) if w != "else" && w != "if" => w,
                    other => {
                        return Self::error(
                            ppos,
                            format!("expected a path after `if`, found {other}"),
                        )
                    }
                };
                let then = self.block(depth)?;
                let otherwise = if matches!(&self.peek().0, Tok::Word(w) if w == "else") {
                    self.next();
                    if matches!(&self.peek().0, Tok::Word(w) if w == "if") {
                        vec![self.stmt(depth)?]
                    } else {
                        self.block(depth)?
                    }
                } else {
                    Vec::new()
                };
                Ok(Stmt::If {
                    path,
                    pos,
                    then,
                    otherwise,
                })
            }
            "else" => Self::error(pos, "`else` without `if`"),
            _ => Ok(Stmt::Run { program: word, pos }),
        }
    }

    fn block(&mut self, depth: usize) -> Result<Vec<Stmt>, PipelineError> {
        let (tok, pos) = self.next();
        if tok != Tok::Open {
            return Self::error(pos, format!("expected `{{` but found {tok}"));
        }
        if depth + 1 > MAX_DEPTH {
            return Self::error(pos, format!("blocks nested deeper than {MAX_DEPTH}"));
        }
        let body = self.seq(depth + 1)?;
        let (tok, pos) = self.next();
        if tok != Tok::Close {
            return Self::error(pos, format!("expected `}}` but found {tok}"));
        }
        Ok(body)
    }
}

/// Parses a pipeline script.
pub fn parse(src: &str) -> Result<Script, PipelineError> {
    if src.len() > MAX_SCRIPT_BYTES {
        return Err(PipelineError {
            pos: Pos { line: 1, column: 1 },
            message: format!("script is longer than {MAX_SCRIPT_BYTES} bytes"),
        });
    }
    let mut parser = Parser {
        toks: lex(src),
        at: 0,
    };
    let stmts = parser.seq(0)?;
    if stmts.is_empty() {
        return Err(PipelineError {
            pos: Pos { line: 1, column: 1 },
            message: "pipeline has no statements".into(),
        });
    }
    Ok(Script { stmts })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(s: &Script) -> Vec<&str> {
        s.programs().into_iter().map(|(n, _)| n).collect()
    }

    #[test]
    fn whitespace_insensitive_sequences() {
        let a = parse("a.wasm;b.wasm").unwrap();
        let b = parse("  a.wasm ;\n\n b.wasm ; ").unwrap();
        assert_eq!(names(&a), ["a.wasm", "b.wasm"]);
        assert_eq!(names(&a), names(&b));
    }

    #[test]
    fn conditionals_and_nesting() {
        let s = parse("gen.wasm; if /output/x { a.wasm; b.wasm } else { if /y {c.wasm} } d.wasm")
            .unwrap();
        assert_eq!(
            names(&s),
            ["gen.wasm", "a.wasm", "b.wasm", "c.wasm", "d.wasm"]
        );
        match &s.stmts[1] {
            Stmt::If {
                path,
                then,
                otherwise,
                ..
            } => {
                assert_eq!(path, "/output/x");
                assert_eq!(then.len(), 2);
                assert_eq!(otherwise.len(), 1);
            }
            other => panic!("{other:?}"),
        }
        assert!(parse("if /a {x} else if /b {y} else {z}").is_ok());
    }

    #[test]
    fn errors_give_line_and_column() {
        let e = parse("a.wasm;\n  b.wasm c.wasm").unwrap_err();
        assert_eq!(
            e.pos,
            Pos {
                line: 2,
                column: 10
            }
        );
        assert!(e.message.contains("expected `;`"), "{e}");

        let e = parse("if /x { a.wasm").unwrap_err();
        assert!(e.message.contains("missing `}`"), "{e}");
        let e = parse("a.wasm }").unwrap_err();
        assert_eq!(e.pos, Pos { line: 1, column: 8 });
        let e = parse("a.wasm;; b.wasm").unwrap_err();
        assert!(e.message.contains("empty statement"), "{e}");
        let e = parse("else { a }").unwrap_err();
        assert!(e.message.contains("without `if`"), "{e}");
        let e = parse("if { a }").unwrap_err();
        assert!(e.message.contains("expected a path"), "{e}");
        assert!(parse("   ").is_err());
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}a{}", "if /x {".repeat(40), "}".repeat(40));
        let e = parse(&deep).unwrap_err();
        assert!(e.message.contains("nested deeper"), "{e}");
    }
}
