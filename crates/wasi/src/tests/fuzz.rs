//! Random calls with hostile arguments never panic the host.

use proptest::prelude::*;
use veracruz_vfs::Vfs;

use super::{admin, Guest};
use crate::{ValKind, WasiConfig, FUNCTIONS};

const SMALL_MEM: usize = 4096;

/// Argument values that hit edges: small valid pointers, pointers at and past the end of
/// memory, negative numbers, huge lengths, and descriptors that exist.
fn arg(kind: ValKind) -> BoxedStrategy<i64> {
    let edges = prop_oneof![
        0i64..8,
        Just(SMALL_MEM as i64 - 1),
        Just(SMALL_MEM as i64),
        Just(-1),
        Just(i64::from(i32::MAX)),
        Just(i64::from(i32::MIN)),
        0i64..SMALL_MEM as i64,
    ];
    match kind {
        ValKind::I32 => edges.boxed(),
        ValKind::I64 => prop_oneof![edges, any::<i64>()].boxed(),
    }
}

fn call() -> impl Strategy<Value = (usize, Vec<i64>)> {
    (0..FUNCTIONS.len()).prop_flat_map(|i| {
        let params: Vec<_> = FUNCTIONS[i].1.iter().map(|k| arg(*k)).collect();
        (Just(i), params)
    })
}

fn fuzz_guest() -> Guest {
    let vfs = Vfs::default();
    let h = admin(&vfs);
    h.write_file("/d/a", b"hello").unwrap();
    h.write_file("stdin", b"input").unwrap();
    let mut g = Guest::with(
        vfs,
        &[
            ("/d/", "rw"),
            ("/d/ro/", "r"),
            ("stdin", "r"),
            ("stdout", "w"),
        ],
        WasiConfig {
            args: vec!["p".into()],
            ..WasiConfig::default()
        },
    );
    g.mem.truncate(SMALL_MEM);
    // Plant a few strings so that small pointers sometimes form real paths and iovecs.
    g.mem[0..8].copy_from_slice(b"a\0..\0/x\0");
    g.mem[8..16].copy_from_slice(&[0, 0, 0, 0, 4, 0, 0, 0]);
    g
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn hostile_calls_never_panic(calls in proptest::collection::vec(call(), 1..20)) {
        let mut g = fuzz_guest();
        for (i, args) in calls {
            let name = FUNCTIONS[i].0;
            // Clocks are disabled, so poll_oneoff never sleeps. Stopping the program (exit, trap,
            // limit) is a fine outcome; a panic or an errno outside the enum is not.
            if let Ok(e) = g.ctx.dispatch(&mut g.mem, name, &args) {
                prop_assert!((0..=76).contains(&e), "{name}{args:?} -> {e}");
            }
        }
    }
}
