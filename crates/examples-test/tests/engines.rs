//! Every example, on the same generated inputs, run three ways — the native build, the
//! committed wasm module under the JIT, and under the interpreter — must exit the same way
//! and write byte-identical outputs. Also checks that the committed modules are the ones the
//! policy templates pin.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::sync::OnceLock;

use veracruz_engine::Strategy;
use veracruz_examples_test::gen::{self, Size};
use veracruz_examples_test::harness::{
    copy_tree, examples_dir, read_tree, run_native, spec, wasm_path, Exit, Spec, TempDir, SPECS,
};
use veracruz_examples_test::wasm::{policy_env, policy_template, WasmRunner, TEMPLATE_TIME_LIMIT};

fn native_exe(program: &str) -> &'static str {
    veracruz_examples_test::native_exe!(program)
}

fn runner(strategy: Strategy) -> &'static WasmRunner {
    static JIT: OnceLock<WasmRunner> = OnceLock::new();
    static INTERP: OnceLock<WasmRunner> = OnceLock::new();
    let cell = match strategy {
        Strategy::Jit => &JIT,
        Strategy::Interpreter => &INTERP,
    };
    cell.get_or_init(|| WasmRunner::new(strategy).expect("engine starts"))
}

/// Runs the example's programs natively in order, stopping at the first failure as a
/// pipeline does.
fn run_native_spec(spec: &Spec, root: &Path) -> Exit {
    let env = policy_env(spec.name).unwrap();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut last = None;
    for program in spec.programs {
        let exit = run_native(Path::new(native_exe(program)), root, &env).unwrap();
        let failed = exit.code != 0;
        last = Some(exit);
        if failed {
            break;
        }
    }
    last.expect("an example has at least one program")
}

struct Observed {
    how: &'static str,
    exit: Exit,
    outputs: BTreeMap<String, Vec<u8>>,
}

/// Runs `spec` three ways, each on its own copy of `inputs` (a root with `input/` and maybe
/// a previous `output/`), leaving each copy's outputs in `roots[i]`.
fn run_three_ways(spec: &Spec, inputs: &Path, roots: &[&Path; 3]) -> Vec<Observed> {
    let mut seen = Vec::new();
    for (i, how) in ["native", "jit", "interpreter"].into_iter().enumerate() {
        let root = roots[i];
        copy_tree(inputs, root).unwrap();
        let exit = match how {
            "native" => run_native_spec(spec, root),
            "jit" => runner(Strategy::Jit).run(spec, root).unwrap().0,
            _ => runner(Strategy::Interpreter).run(spec, root).unwrap().0,
        };
        let outputs = read_tree(&root.join("output")).unwrap();
        seen.push(Observed { how, exit, outputs });
    }
    seen
}

fn assert_identical(spec: &Spec, seen: &[Observed]) {
    let native = &seen[0];
    for other in &seen[1..] {
        assert_eq!(
            (native.exit.code, &native.exit.stdout),
            (other.exit.code, &other.exit.stdout),
            "{}: native and {} exit differently; native stderr: {}; {} stderr: {}",
            spec.name,
            other.how,
            native.exit.stderr,
            other.how,
            other.exit.stderr
        );
        // The pipeline executor does not hand back the programs' streams.
        if spec.programs.len() == 1 {
            assert_eq!(
                native.exit.stderr, other.exit.stderr,
                "{}: stderr of {}",
                spec.name, other.how
            );
        }
        assert_eq!(
            native.outputs.keys().collect::<Vec<_>>(),
            other.outputs.keys().collect::<Vec<_>>(),
            "{}: native and {} wrote different files",
            spec.name,
            other.how
        );
        for (name, bytes) in &native.outputs {
            let theirs = &other.outputs[name];
            if bytes != theirs {
                let at = bytes
                    .iter()
                    .zip(theirs.iter())
                    .position(|(a, b)| a != b)
                    .unwrap_or(bytes.len().min(theirs.len()));
                let window = |b: &[u8]| {
                    String::from_utf8_lossy(&b[at.saturating_sub(40)..(at + 40).min(b.len())])
                        .into_owned()
                };
                panic!(
                    "{}: output/{} differs between native and {} at byte {}:\n native: {:?}\n {}: {:?}",
                    spec.name,
                    name,
                    other.how,
                    at,
                    window(bytes),
                    other.how,
                    window(theirs)
                );
            }
        }
    }
}

fn compare_on_generated(example: &str, seed: u64) {
    let spec = spec(example);
    let inputs = TempDir::new("inputs").unwrap();
    gen::generate(example, inputs.path(), Size::Small, seed).unwrap();
    let dirs = [
        TempDir::new("native").unwrap(),
        TempDir::new("jit").unwrap(),
        TempDir::new("interp").unwrap(),
    ];
    let seen = run_three_ways(
        &spec,
        inputs.path(),
        &[dirs[0].path(), dirs[1].path(), dirs[2].path()],
    );
    assert_eq!(
        seen[0].exit.code, 0,
        "{} failed natively: {}",
        example, seen[0].exit.stderr
    );
    assert!(!seen[0].outputs.is_empty(), "{} wrote nothing", example);
    assert_identical(&spec, &seen);
}

#[test]
fn linear_regression_is_identical_natively_and_in_both_engines() {
    compare_on_generated("linear-regression", 1);
}

#[test]
fn intersection_sum_is_identical_natively_and_in_both_engines() {
    compare_on_generated("intersection-sum", 2);
}

#[test]
fn private_set_intersection_is_identical_natively_and_in_both_engines() {
    compare_on_generated("private-set-intersection", 3);
}

#[test]
fn string_edit_distance_is_identical_natively_and_in_both_engines() {
    compare_on_generated("string-edit-distance", 4);
}

#[test]
fn shamir_secret_sharing_is_identical_natively_and_in_both_engines() {
    compare_on_generated("shamir-secret-sharing", 5);
}

#[test]
fn macd_is_identical_natively_and_in_both_engines() {
    compare_on_generated("macd", 6);
}

#[test]
fn logistic_regression_is_identical_natively_and_in_both_engines() {
    compare_on_generated("logistic-regression", 7);
}

#[test]
fn number_stream_accumulation_is_identical_natively_and_in_both_engines() {
    compare_on_generated("number-stream-accumulation", 8);
}

#[test]
fn random_pipeline_is_identical_natively_and_in_both_engines() {
    compare_on_generated("random-pipeline", 9);
}

#[test]
fn private_auction_is_identical_natively_and_in_both_engines() {
    compare_on_generated("private-auction", 10);
}

#[test]
fn number_stream_rounds_agree_in_every_engine() {
    let spec = spec("number-stream-accumulation");
    let dirs = [
        TempDir::new("native").unwrap(),
        TempDir::new("jit").unwrap(),
        TempDir::new("interp").unwrap(),
    ];
    let roots = [dirs[0].path(), dirs[1].path(), dirs[2].path()];
    for seed in [31, 32, 33] {
        // Each round: a new batch beside the outputs each way left in the previous round.
        let mut seen = Vec::new();
        for (root, how) in roots.iter().zip(["native", "jit", "interpreter"]) {
            gen::number_stream_batch(root, Size::Small, seed).unwrap();
            let exit = match how {
                "native" => run_native_spec(&spec, root),
                "jit" => runner(Strategy::Jit).run(&spec, root).unwrap().0,
                _ => runner(Strategy::Interpreter).run(&spec, root).unwrap().0,
            };
            seen.push(Observed {
                how,
                exit,
                outputs: read_tree(&root.join("output")).unwrap(),
            });
        }
        assert_identical(&spec, &seen);
    }
    let total = fs::read_to_string(roots[2].join("output/total.csv")).unwrap();
    assert!(total.starts_with("rounds,count,sum\n3,300,"), "{}", total);
}

#[test]
fn failures_report_the_same_error_in_every_engine() {
    // (example, [(VFS path, contents)])
    type Files<'a> = &'a [(&'a str, &'a [u8])];
    let cases: [(&str, Files); 3] = [
        (
            "linear-regression",
            &[("/input/points.csv", b"x,y\n1,2\n3,four\n")],
        ),
        (
            "intersection-sum",
            &[
                ("/input/purchases.csv", b"customer_id,amount\nc1,1.005\n"),
                ("/input/adverts.csv", b"customer_id\nc1\n"),
            ],
        ),
        ("private-auction", &[("/input/bids/mallory.csv", b"1.00\n")]),
    ];
    for (example, files) in cases {
        let spec = spec(example);
        let inputs = TempDir::new("bad").unwrap();
        for (path, bytes) in files {
            gen::write(inputs.path(), path, bytes).unwrap();
        }
        let dirs = [
            TempDir::new("native").unwrap(),
            TempDir::new("jit").unwrap(),
            TempDir::new("interp").unwrap(),
        ];
        let seen = run_three_ways(
            &spec,
            inputs.path(),
            &[dirs[0].path(), dirs[1].path(), dirs[2].path()],
        );
        assert_eq!(seen[0].exit.code, 1, "{}", example);
        assert!(
            seen[0].exit.stderr.starts_with("error: "),
            "{}",
            seen[0].exit.stderr
        );
        assert_identical(&spec, &seen);
    }
}

#[test]
fn tampered_share_is_caught_in_every_engine() {
    let spec = spec("shamir-secret-sharing");
    let inputs = TempDir::new("shamir").unwrap();
    gen::shamir_secret_sharing(inputs.path(), Size::Small, 12).unwrap();
    let share = inputs.path().join("input/shares/share-4.bin");
    let mut bytes = fs::read(&share).unwrap();
    bytes[10] ^= 0x80;
    fs::write(&share, bytes).unwrap();
    let dirs = [
        TempDir::new("native").unwrap(),
        TempDir::new("jit").unwrap(),
        TempDir::new("interp").unwrap(),
    ];
    let seen = run_three_ways(
        &spec,
        inputs.path(),
        &[dirs[0].path(), dirs[1].path(), dirs[2].path()],
    );
    assert_eq!(seen[0].exit.code, 1);
    assert!(
        seen[0].exit.stderr.contains("/input/shares/share-4.bin"),
        "{}",
        seen[0].exit.stderr
    );
    assert_identical(&spec, &seen);
}

#[test]
fn wasm_shamir_reconstructs_the_known_secret() {
    let spec = spec("shamir-secret-sharing");
    for strategy in Strategy::ALL {
        let dir = TempDir::new("shamir-wasm").unwrap();
        let secret = gen::shamir_secret_sharing(dir.path(), Size::Small, 13).unwrap();
        let (exit, _) = runner(strategy).run(&spec, dir.path()).unwrap();
        assert_eq!(exit.code, 0, "{}: {}", strategy, exit.stderr);
        assert_eq!(
            fs::read(dir.path().join("output/secret.bin")).unwrap(),
            secret,
            "{}",
            strategy
        );
    }
}

#[test]
fn unseeded_generator_draws_fresh_numbers_in_the_engines() {
    let spec = spec("random-pipeline");
    for strategy in Strategy::ALL {
        let mut outputs = Vec::new();
        for _ in 0..2 {
            let dir = TempDir::new("unseeded").unwrap();
            gen::write(dir.path(), "/input/count.txt", b"20\n").unwrap();
            let (exit, _) = runner(strategy).run(&spec, dir.path()).unwrap();
            assert_eq!(exit.code, 0, "{}", strategy);
            outputs.push(fs::read_to_string(dir.path().join("output/sorted.csv")).unwrap());
        }
        assert_eq!(outputs[0].lines().count(), 21);
        assert_ne!(
            outputs[0], outputs[1],
            "{}: random_get gave the same numbers twice",
            strategy
        );
    }
}

#[test]
fn templates_parse_and_pin_the_committed_modules() {
    let sums = fs::read_to_string(examples_dir().join("wasm/SHA256SUMS")).unwrap();
    let pinned: BTreeMap<String, String> = sums
        .lines()
        .map(|l| {
            let (hash, file) = l.split_once("  ").unwrap();
            (file.to_string(), hash.to_string())
        })
        .collect();
    let mut covered = Vec::new();
    for spec in SPECS {
        let doc = policy_template(spec.name).unwrap();
        for program in spec.programs {
            let file = format!("{}.wasm", program);
            let actual = hex(&veracruz_engine::program_hash(
                &fs::read(wasm_path(program)).unwrap(),
            ));
            assert_eq!(pinned[&file], actual, "SHA256SUMS is stale for {}", file);
            let entry = doc
                .programs
                .iter()
                .find(|p| p.path == format!("/program/{}", file))
                .unwrap_or_else(|| panic!("{} template lacks {}", spec.name, file));
            assert_eq!(
                entry.sha256, actual,
                "{} template pins a stale hash",
                spec.name
            );
            veracruz_policy::CapabilityMap::from_raw(&entry.capabilities).unwrap();
            covered.push(file);
        }
        for p in &doc.pipelines {
            veracruz_policy::pipeline::parse(&p.script).unwrap();
        }
    }
    covered.sort();
    assert_eq!(
        covered,
        pinned.keys().cloned().collect::<Vec<_>>(),
        "every committed module belongs to an example"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{:02x}", b)).collect()
}

/// The runs here and in the benchmark use one time limit for every example; it must be the
/// one the templates set, or they would not run as the runtime does.
#[test]
fn every_template_sets_the_time_limit_the_runs_use() {
    for spec in SPECS.iter() {
        let doc = policy_template(spec.name).unwrap();
        assert_eq!(
            doc.execution.time_limit_ms,
            Some(TEMPLATE_TIME_LIMIT.as_millis() as u64),
            "{}: the template's time limit",
            spec.name
        );
        assert_eq!(
            doc.execution.fuel, None,
            "{}: fuel is not metered",
            spec.name
        );
    }
}
