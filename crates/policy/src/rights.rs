//! Access rights on VFS paths: `r` read, `w` write/create/truncate, `a` append, `x` execute.

use std::fmt;
use std::ops::{BitAnd, BitOr};
use std::str::FromStr;

/// A set of rights. The empty set is meaningful: as the most specific entry it denies a
/// subtree that a broader entry would grant.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rights(u8);

impl Rights {
    pub const NONE: Rights = Rights(0);
    pub const READ: Rights = Rights(1);
    pub const WRITE: Rights = Rights(2);
    pub const APPEND: Rights = Rights(4);
    pub const EXECUTE: Rights = Rights(8);
    pub const ALL: Rights = Rights(15);

    const LETTERS: [(char, Rights); 4] = [
        ('r', Rights::READ),
        ('w', Rights::WRITE),
        ('a', Rights::APPEND),
        ('x', Rights::EXECUTE),
    ];

    /// True if every right in `other` is in `self`.
    pub fn contains(self, other: Rights) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// May the holder add bytes to a file (write or append)?
    pub fn can_modify(self) -> bool {
        self.contains(Rights::WRITE) || self.contains(Rights::APPEND)
    }
}

impl BitOr for Rights {
    type Output = Rights;
    fn bitor(self, rhs: Rights) -> Rights {
        Rights(self.0 | rhs.0)
    }
}

impl BitAnd for Rights {
    type Output = Rights;
    fn bitand(self, rhs: Rights) -> Rights {
        Rights(self.0 & rhs.0)
    }
}

impl fmt::Display for Rights {
    /// Canonical form: the letters present, in `rwax` order; `-` for none.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("-");
        }
        for (c, r) in Rights::LETTERS {
            if self.contains(r) {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// A rights string had a letter outside `r w a x`, or repeated one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RightsError {
    #[error("`{0}` is not a right (expected letters from `rwax`, or `` for none)")]
    UnknownLetter(char),
    #[error("right `{0}` appears more than once")]
    Repeated(char),
}

impl FromStr for Rights {
    type Err = RightsError;
    /// Parses letters from `rwax` in any order; the empty string is no rights.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut rights = Rights::NONE;
        for c in s.chars() {
            let r = Rights::LETTERS
                .iter()
                .find(|(l, _)| *l == c)
                .map(|(_, r)| *r)
                .ok_or(RightsError::UnknownLetter(c))?;
            if rights.contains(r) {
                return Err(RightsError::Repeated(c));
            }
            rights = rights | r;
        }
        Ok(rights)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_canonically() {
        assert_eq!("xr".parse::<Rights>().unwrap().to_string(), "rx");
        assert_eq!("".parse::<Rights>().unwrap(), Rights::NONE);
        assert_eq!(Rights::NONE.to_string(), "-");
        assert_eq!("rwax".parse::<Rights>().unwrap(), Rights::ALL);
    }

    #[test]
    fn refuses_unknown_and_repeated_letters() {
        assert_eq!("rq".parse::<Rights>(), Err(RightsError::UnknownLetter('q')));
        assert_eq!("rwr".parse::<Rights>(), Err(RightsError::Repeated('r')));
        assert_eq!("R".parse::<Rights>(), Err(RightsError::UnknownLetter('R')));
    }
}
