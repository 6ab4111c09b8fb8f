//! Property tests: capability resolution agrees with a brute-force reading of the rules.

use proptest::prelude::*;
use veracruz_policy::capabilities::{CapabilityMap, RawCapabilities};
use veracruz_policy::Rights;

const NAMES: [&str; 5] = ["a", "b", "ab", "output", "outputs"];

fn components() -> impl Strategy<Value = Vec<&'static str>> {
    prop::collection::vec(prop::sample::select(NAMES.to_vec()), 0..4)
}

fn rights() -> impl Strategy<Value = Rights> {
    (0u8..16).prop_map(|bits| {
        let mut r = Rights::NONE;
        for (i, one) in [Rights::READ, Rights::WRITE, Rights::APPEND, Rights::EXECUTE]
            .into_iter()
            .enumerate()
        {
            if bits & (1 << i) != 0 {
                r = r | one;
            }
        }
        r
    })
}

fn spell(c: &[&str], trailing: bool) -> String {
    let mut s = String::from("/");
    s.push_str(&c.join("/"));
    if trailing && !c.is_empty() {
        s.push('/');
    }
    s
}

proptest! {
    #[test]
    fn longest_component_prefix_wins(
        entries in prop::collection::btree_map(components(), (rights(), any::<bool>()), 0..8),
        query in components(),
        query_slash in any::<bool>(),
    ) {
        let raw = RawCapabilities(
            entries.iter().map(|(c, (r, slash))| (spell(c, *slash), r.to_string().replace('-', ""))).collect(),
        );
        let map = CapabilityMap::from_raw(&raw).unwrap();
        let expected = entries
            .iter()
            .filter(|(c, _)| query.starts_with(c))
            .max_by_key(|(c, _)| c.len())
            .map(|(_, (r, _))| *r)
            .unwrap_or(Rights::NONE);
        prop_assert_eq!(map.rights_for(&spell(&query, query_slash)), expected);
    }

    #[test]
    fn an_entry_never_covers_a_sibling_sharing_a_prefix(
        base in components(), r in rights(),
    ) {
        let mut sibling = base.clone();
        sibling.push("outputs");
        let mut dir = base.clone();
        dir.push("output");
        let map = CapabilityMap::from_raw(&RawCapabilities(vec![(spell(&dir, true), r.to_string().replace('-', ""))])).unwrap();
        prop_assert_eq!(map.rights_for(&spell(&sibling, false)), Rights::NONE);
        sibling.push("x");
        prop_assert_eq!(map.rights_for(&spell(&sibling, false)), Rights::NONE);
        dir.push("x");
        prop_assert_eq!(map.rights_for(&spell(&dir, false)), r);
    }
}
