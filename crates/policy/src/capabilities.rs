//! Capability maps (`path -> rights`) and their resolution.
//!
//! Paths are compared component by component: `/output` and `/output/` name the same entry
//! and both cover everything beneath `/output`, while `/outputs/x` is not beneath it. The most
//! specific (longest) matching entry decides; a path no entry covers has no rights. The named
//! streams `stdin`, `stdout` and `stderr` are separate from the directory tree and only an
//! entry with exactly that name covers them.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rights::{Rights, RightsError};

/// One of the three named streams a program can use besides the file tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stream {
    Stdin,
    Stdout,
    Stderr,
}

impl Stream {
    pub const ALL: [Stream; 3] = [Stream::Stdin, Stream::Stdout, Stream::Stderr];

    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdin => "stdin",
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// A validated capability path: a named stream, or an absolute path as its components.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CapPath {
    Stream(Stream),
    /// Components of an absolute path; empty for the root `/`.
    Tree(Vec<String>),
}

/// Why a string is not a valid capability path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathError {
    #[error("path is empty")]
    Empty,
    #[error("path `{0}` is relative (it must start with `/`, or be stdin, stdout or stderr)")]
    Relative(String),
    #[error("path `{0}` contains `..`")]
    DotDot(String),
    #[error("path `{0}` contains a `.` component")]
    Dot(String),
    #[error("path `{0}` contains an empty component (`//`)")]
    EmptyComponent(String),
    #[error("path contains a NUL byte")]
    Nul,
}

impl CapPath {
    /// Parses a capability or VFS path. A trailing `/` is allowed and ignored.
    pub fn parse(s: &str) -> Result<CapPath, PathError> {
        if s.is_empty() {
            return Err(PathError::Empty);
        }
        if s.contains('\0') {
            return Err(PathError::Nul);
        }
        if let Some(stream) = Stream::ALL.into_iter().find(|st| st.as_str() == s) {
            return Ok(CapPath::Stream(stream));
        }
        let Some(rest) = s.strip_prefix('/') else {
            return Err(PathError::Relative(s.to_string()));
        };
        let rest = rest.strip_suffix('/').unwrap_or(rest);
        if rest.is_empty() {
            return Ok(CapPath::Tree(Vec::new()));
        }
        let mut components = Vec::new();
        for c in rest.split('/') {
            match c {
                "" => return Err(PathError::EmptyComponent(s.to_string())),
                "." => return Err(PathError::Dot(s.to_string())),
                ".." => return Err(PathError::DotDot(s.to_string())),
                c => components.push(c.to_string()),
            }
        }
        Ok(CapPath::Tree(components))
    }

    /// Is `self` equal to `other` or an ancestor directory of it?
    pub fn covers(&self, other: &CapPath) -> bool {
        match (self, other) {
            (CapPath::Stream(a), CapPath::Stream(b)) => a == b,
            (CapPath::Tree(a), CapPath::Tree(b)) => b.starts_with(a),
            _ => false,
        }
    }
}

impl fmt::Display for CapPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CapPath::Stream(s) => f.write_str(s.as_str()),
            CapPath::Tree(c) if c.is_empty() => f.write_str("/"),
            CapPath::Tree(c) => {
                for part in c {
                    write!(f, "/{part}")?;
                }
                Ok(())
            }
        }
    }
}

/// A capability map as written in the policy: entries in file order, duplicates kept so that
/// validation can refuse them (a JSON object with a repeated key must not silently lose one).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RawCapabilities(pub Vec<(String, String)>);

impl Serialize for RawCapabilities {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de> Deserialize<'de> for RawCapabilities {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawCapabilities;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a map from path to rights string, e.g. {\"/output/\": \"r\"}")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, String>()? {
                    entries.push((k, v));
                }
                Ok(RawCapabilities(entries))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// Why a capability map is invalid; `path` is the entry's key as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapabilityError {
    #[error("capability path: {0}")]
    Path(#[from] PathError),
    #[error("rights of `{path}`: {source}")]
    Rights { path: String, source: RightsError },
    #[error("`{path}` names the same path as `{other}`")]
    Duplicate { path: String, other: String },
}

/// A validated capability map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CapabilityMap {
    entries: BTreeMap<CapPath, Rights>,
}

impl CapabilityMap {
    /// Validates a raw map: every path valid, every rights string valid, no two keys naming
    /// the same path.
    pub fn from_raw(raw: &RawCapabilities) -> Result<CapabilityMap, CapabilityError> {
        let mut entries = BTreeMap::new();
        let mut spelled: BTreeMap<CapPath, &str> = BTreeMap::new();
        for (key, rights) in &raw.0 {
            let path = CapPath::parse(key)?;
            let rights = rights
                .parse::<Rights>()
                .map_err(|source| CapabilityError::Rights {
                    path: key.clone(),
                    source,
                })?;
            if let Some(other) = spelled.insert(path.clone(), key) {
                return Err(CapabilityError::Duplicate {
                    path: key.clone(),
                    other: other.to_string(),
                });
            }
            entries.insert(path, rights);
        }
        Ok(CapabilityMap { entries })
    }

    /// Builds a map from already-parsed entries; later entries for the same path win.
    pub fn from_entries(entries: impl IntoIterator<Item = (CapPath, Rights)>) -> CapabilityMap {
        CapabilityMap {
            entries: entries.into_iter().collect(),
        }
    }

    /// The rights that apply to `path`: those of the most specific entry covering it.
    /// An unparsable path has no rights.
    pub fn rights_for(&self, path: &str) -> Rights {
        CapPath::parse(path)
            .map(|p| self.rights_for_path(&p))
            .unwrap_or(Rights::NONE)
    }

    /// As [`CapabilityMap::rights_for`], for a parsed path.
    pub fn rights_for_path(&self, path: &CapPath) -> Rights {
        match path {
            CapPath::Stream(_) => self.entries.get(path).copied().unwrap_or(Rights::NONE),
            CapPath::Tree(components) => (0..=components.len())
                .rev()
                .find_map(|n| {
                    self.entries
                        .get(&CapPath::Tree(components[..n].to_vec()))
                        .copied()
                })
                .unwrap_or(Rights::NONE),
        }
    }

    /// Does any entry at or beneath `path` grant `rights`? Used to decide whether a directory
    /// needs to be reachable at all (e.g. pre-opened) even if the directory itself grants nothing.
    pub fn any_beneath(&self, path: &CapPath, rights: Rights) -> bool {
        self.rights_for_path(path).contains(rights)
            || self
                .entries
                .iter()
                .any(|(p, r)| path.covers(p) && r.contains(rights) && !r.is_empty())
    }

    /// Entries in path order.
    pub fn entries(&self) -> impl Iterator<Item = (&CapPath, Rights)> {
        self.entries.iter().map(|(p, r)| (p, *r))
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(entries: &[(&str, &str)]) -> CapabilityMap {
        CapabilityMap::from_raw(&RawCapabilities(
            entries
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        ))
        .unwrap()
    }

    #[test]
    fn most_specific_entry_wins() {
        let m = map(&[("/", "r"), ("/output/", "rw"), ("/output/secret", "")]);
        assert_eq!(m.rights_for("/input/a"), Rights::READ);
        assert_eq!(m.rights_for("/output/x"), "rw".parse().unwrap());
        assert_eq!(m.rights_for("/output/secret"), Rights::NONE);
        assert_eq!(m.rights_for("/output/secret/deeper"), Rights::NONE);
    }

    #[test]
    fn trailing_slash_is_the_same_entry_and_siblings_are_not_covered() {
        let m = map(&[("/output", "r")]);
        assert_eq!(m.rights_for("/output/"), Rights::READ);
        assert_eq!(m.rights_for("/output/x"), Rights::READ);
        assert_eq!(m.rights_for("/outputs/x"), Rights::NONE);
        assert_eq!(m.rights_for("/outpu"), Rights::NONE);
    }

    #[test]
    fn streams_are_separate_from_the_tree() {
        let m = map(&[("/", "rwa"), ("stdout", "r")]);
        assert_eq!(m.rights_for("stdout"), Rights::READ);
        assert_eq!(m.rights_for("stderr"), Rights::NONE);
        assert_eq!(m.rights_for("/stdout"), "rwa".parse().unwrap());
    }

    #[test]
    fn refuses_bad_paths() {
        for (p, want) in [
            ("", PathError::Empty),
            ("output/", PathError::Relative("output/".into())),
            ("/a/../b", PathError::DotDot("/a/../b".into())),
            ("/a/./b", PathError::Dot("/a/./b".into())),
            ("/a//b", PathError::EmptyComponent("/a//b".into())),
        ] {
            assert_eq!(CapPath::parse(p), Err(want), "{p}");
        }
    }

    #[test]
    fn refuses_two_spellings_of_one_path() {
        let raw = RawCapabilities(vec![
            ("/output".into(), "r".into()),
            ("/output/".into(), "w".into()),
        ]);
        assert!(matches!(
            CapabilityMap::from_raw(&raw),
            Err(CapabilityError::Duplicate { .. })
        ));
    }

    #[test]
    fn duplicate_json_keys_are_kept_for_validation() {
        let raw: RawCapabilities = serde_json::from_str(r#"{"/a": "r", "/a": "w"}"#).unwrap();
        assert_eq!(raw.0.len(), 2);
        assert!(CapabilityMap::from_raw(&raw).is_err());
    }
}
