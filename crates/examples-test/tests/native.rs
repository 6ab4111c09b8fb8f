//! The examples' native builds checked against values computed independently here, and
//! their error reports checked to name what was wrong.

use std::collections::{BTreeSet, HashSet};
use std::fs;
use std::path::Path;

use veracruz_examples_test::gen::{self, Size};
use veracruz_examples_test::harness::{read_tree, run_native, Exit, TempDir};
use veracruz_guest::rand::Rng;

fn exe(program: &str) -> &'static str {
    veracruz_examples_test::native_exe!(program)
}

fn run(program: &str, root: &Path) -> Exit {
    run_native(Path::new(exe(program)), root, &[]).unwrap()
}

fn run_ok(program: &str, root: &Path) {
    let exit = run(program, root);
    assert_eq!(exit.code, 0, "{} failed: {}", program, exit.stderr);
}

fn output(root: &Path, name: &str) -> String {
    fs::read_to_string(root.join("output").join(name)).unwrap()
}

fn input(root: &Path, name: &str) -> String {
    fs::read_to_string(root.join("input").join(name)).unwrap()
}

fn json_number(doc: &str, key: &str) -> f64 {
    let at = doc.find(&format!("\"{}\": ", key)).unwrap() + key.len() + 4;
    let end = doc[at..].find([',', '\n']).unwrap();
    doc[at..at + end].parse().unwrap()
}

#[test]
fn linear_regression_matches_the_closed_form() {
    let dir = TempDir::new("linreg").unwrap();
    gen::linear_regression(dir.path(), Size::Small, 11).unwrap();
    run_ok("linear-regression", dir.path());
    let doc = output(dir.path(), "regression.json");

    // The textbook one-pass normal equations, a different computation from the program's.
    let (mut n, mut sx, mut sy, mut sxx, mut sxy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for line in input(dir.path(), "points.csv").lines().skip(1) {
        let (x, y) = line.split_once(',').unwrap();
        let (x, y): (f64, f64) = (x.parse().unwrap(), y.parse().unwrap());
        n += 1.0;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    let gradient = (n * sxy - sx * sy) / (n * sxx - sx * sx);
    let intercept = (sy - gradient * sx) / n;
    let (g, c) = (
        json_number(&doc, "gradient"),
        json_number(&doc, "intercept"),
    );
    assert!(
        (g - gradient).abs() < 1e-9 * gradient.abs(),
        "{} vs {}",
        g,
        gradient
    );
    assert!(
        (c - intercept).abs() < 1e-9 * intercept.abs(),
        "{} vs {}",
        c,
        intercept
    );
    assert_eq!(json_number(&doc, "points"), 200.0);
    // And the generator's line is recovered.
    assert!((g - 3.5).abs() < 0.05 && (c + 12.0).abs() < 1.5, "{}", doc);
}

#[test]
fn intersection_sum_matches_a_set_computation() {
    let dir = TempDir::new("isum").unwrap();
    gen::intersection_sum(dir.path(), Size::Small, 5).unwrap();
    run_ok("intersection-sum", dir.path());
    let viewers: HashSet<String> = input(dir.path(), "adverts.csv")
        .lines()
        .skip(1)
        .map(str::to_string)
        .collect();
    let mut cents: i64 = 0;
    for line in input(dir.path(), "purchases.csv").lines().skip(1) {
        let (id, amount) = line.split_once(',').unwrap();
        if viewers.contains(id) {
            let (units, hundredths) = amount.split_once('.').unwrap();
            cents += units.parse::<i64>().unwrap() * 100 + hundredths.parse::<i64>().unwrap();
        }
    }
    assert!(cents > 0);
    let expected = format!(
        "{{\n  \"total_spend\": \"{}.{:02}\"\n}}\n",
        cents / 100,
        cents % 100
    );
    assert_eq!(output(dir.path(), "intersection-sum.json"), expected);
}

#[test]
fn private_set_intersection_matches_a_set_computation() {
    let dir = TempDir::new("psi").unwrap();
    gen::private_set_intersection(dir.path(), Size::Small, 9).unwrap();
    run_ok("private-set-intersection", dir.path());
    // Generated records are unique by their leading id, and quoted names contain no newline,
    // so whole lines identify records.
    let a: BTreeSet<String> = input(dir.path(), "set-a.csv")
        .lines()
        .skip(1)
        .map(String::from)
        .collect();
    let b: BTreeSet<String> = input(dir.path(), "set-b.csv")
        .lines()
        .skip(1)
        .map(String::from)
        .collect();
    let expected_ids: Vec<&str> = a.intersection(&b).map(|l| &l[..8]).collect();
    let out = output(dir.path(), "intersection.csv");
    let got_ids: Vec<&str> = out.lines().skip(1).map(|l| &l[..8]).collect();
    assert!(!expected_ids.is_empty());
    assert_eq!(got_ids, expected_ids);
    assert!(
        out.contains('"'),
        "quoted names survive the round trip:\n{}",
        out
    );
}

#[test]
fn shamir_reconstructs_a_known_secret_from_any_k_shares() {
    let secret = b"the vault code is 7-4-1-9; tell no one".to_vec();
    let shares = gen::shamir_split(&secret, 3, 5, &mut Rng::new(77));
    for chosen in [[0, 1, 2], [1, 3, 4], [0, 2, 4]] {
        let dir = TempDir::new("shamir").unwrap();
        let subset: Vec<Vec<u8>> = chosen.iter().map(|&i| shares[i].clone()).collect();
        gen::write_shares(dir.path(), &subset).unwrap();
        run_ok("shamir-secret-sharing", dir.path());
        assert_eq!(
            fs::read(dir.path().join("output/secret.bin")).unwrap(),
            secret
        );
    }

    // Two shares are not enough, and the program says so.
    let dir = TempDir::new("shamir-few").unwrap();
    gen::write_shares(dir.path(), &shares[..2]).unwrap();
    let exit = run("shamir-secret-sharing", dir.path());
    assert_eq!(exit.code, 1);
    assert!(
        exit.stderr.contains("the threshold is 3 shares"),
        "{}",
        exit.stderr
    );

    // A tampered extra share is caught and named.
    let dir = TempDir::new("shamir-bad").unwrap();
    let mut tampered = shares.clone();
    tampered[4][7] ^= 1;
    gen::write_shares(dir.path(), &tampered).unwrap();
    let exit = run("shamir-secret-sharing", dir.path());
    assert_eq!(exit.code, 1);
    assert!(
        exit.stderr.contains("/input/shares/share-5.bin") && exit.stderr.contains("corrupt"),
        "{}",
        exit.stderr
    );
}

#[test]
fn auction_picks_the_known_winner_and_second_price() {
    let dir = TempDir::new("auction").unwrap();
    for (bidder, amount) in [
        ("alice", "120.00"),
        ("bob", "250.50"),
        ("carol", "199.99"),
        ("dan", "80"),
    ] {
        gen::write(
            dir.path(),
            &format!("/input/bids/{}.txt", bidder),
            amount.as_bytes(),
        )
        .unwrap();
    }
    gen::write(dir.path(), "/input/reserve.txt", b"100.00").unwrap();
    run_ok("private-auction", dir.path());
    assert_eq!(
        output(dir.path(), "result.json"),
        "{\n  \"winner\": \"bob\",\n  \"price\": \"199.99\"\n}\n"
    );

    // The generated auction: compute the winner independently from the files.
    let dir = TempDir::new("auction-gen").unwrap();
    gen::private_auction(dir.path(), Size::Small, 3).unwrap();
    run_ok("private-auction", dir.path());
    let mut bids: Vec<(i64, String)> = fs::read_dir(dir.path().join("input/bids"))
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let text = fs::read_to_string(e.path()).unwrap();
            let cents = (text.trim().parse::<f64>().unwrap() * 100.0).round() as i64;
            (
                cents,
                e.file_name()
                    .to_string_lossy()
                    .trim_end_matches(".txt")
                    .to_string(),
            )
        })
        .collect();
    bids.sort();
    let (top, winner) = bids.pop().unwrap();
    let (second, _) = bids.pop().unwrap();
    assert!(top > second, "the generated bids have a unique maximum");
    let doc = output(dir.path(), "result.json");
    assert!(
        doc.contains(&format!("\"winner\": \"{}\"", winner)),
        "{}",
        doc
    );
    assert!(
        doc.contains(&format!(
            "\"price\": \"{}.{:02}\"",
            second / 100,
            second % 100
        )),
        "{}",
        doc
    );
}

#[test]
fn number_stream_accumulates_across_rounds() {
    let dir = TempDir::new("stream").unwrap();
    let mut expected_sum: i64 = 0;
    for (round, seed) in [(1, 21u64), (2, 22), (3, 23)] {
        gen::number_stream_batch(dir.path(), Size::Small, seed).unwrap();
        expected_sum += input(dir.path(), "batch.csv")
            .lines()
            .skip(1)
            .map(|l| l.parse::<i64>().unwrap())
            .sum::<i64>();
        run_ok("number-stream-accumulation", dir.path());
        assert_eq!(
            output(dir.path(), "total.csv"),
            format!(
                "rounds,count,sum\n{},{},{}\n",
                round,
                round * 100,
                expected_sum
            )
        );
    }
}

#[test]
fn pipeline_sorts_what_it_generated_and_a_seed_makes_it_repeatable() {
    let mut sorted_outputs = Vec::new();
    for _ in 0..2 {
        let dir = TempDir::new("pipeline").unwrap();
        gen::random_pipeline(dir.path(), Size::Small, 99).unwrap();
        run_ok("generate-random", dir.path());
        run_ok("sort-numbers", dir.path());
        let mut generated: Vec<u64> = output(dir.path(), "random.csv")
            .lines()
            .skip(1)
            .map(|l| l.parse().unwrap())
            .collect();
        let sorted: Vec<u64> = output(dir.path(), "sorted.csv")
            .lines()
            .skip(1)
            .map(|l| l.parse().unwrap())
            .collect();
        assert_eq!(generated.len(), 1000);
        generated.sort_unstable();
        assert_eq!(sorted, generated);
        sorted_outputs.push(sorted);
    }
    assert_eq!(sorted_outputs[0], sorted_outputs[1]);

    // Without a seed file, two runs draw different numbers from the secure source.
    let mut firsts = Vec::new();
    for _ in 0..2 {
        let dir = TempDir::new("pipeline-os").unwrap();
        gen::write(dir.path(), "/input/count.txt", b"5").unwrap();
        run_ok("generate-random", dir.path());
        firsts.push(output(dir.path(), "random.csv"));
    }
    assert_ne!(firsts[0], firsts[1]);
}

#[test]
fn logistic_regression_learns_the_generating_model() {
    let dir = TempDir::new("logreg").unwrap();
    gen::logistic_regression(dir.path(), Size::Small, 4).unwrap();
    run_ok("logistic-regression", dir.path());
    let doc = output(dir.path(), "model.json");
    let at = doc.find("\"weights\": [").unwrap() + 12;
    let weights: Vec<f64> = doc[at..doc[at..].find(']').unwrap() + at]
        .split(", ")
        .map(|w| w.parse().unwrap())
        .collect();
    // Generated from weights (1.5, -2.0, 0.75): signs must come out right.
    assert!(
        weights[0] > 0.5 && weights[1] < -0.5 && weights[2] > 0.2,
        "{}",
        doc
    );
    assert!(json_number(&doc, "training_accuracy") > 0.75, "{}", doc);
    assert_eq!(json_number(&doc, "training_rows"), 200.0);
}

#[test]
fn string_edit_distance_finds_exact_copies() {
    let dir = TempDir::new("edit").unwrap();
    gen::write(
        dir.path(),
        "/input/strings-a.txt",
        "Grace Hopper\nAda Lovelace\nzzz\n".as_bytes(),
    )
    .unwrap();
    gen::write(
        dir.path(),
        "/input/strings-b.txt",
        "Ada Lovelace\nGrace Hoper\nqqq\n".as_bytes(),
    )
    .unwrap();
    run_ok("string-edit-distance", dir.path());
    let out = output(dir.path(), "matches.csv");
    let rows: Vec<&str> = out.lines().collect();
    assert_eq!(
        rows[0],
        "a_line,levenshtein_b_line,levenshtein,jaro_winkler_b_line,jaro_winkler"
    );
    assert!(rows[1].starts_with("1,2,1,2,0.98"), "{}", out);
    assert_eq!(rows[2], "2,1,0,1,1");
    assert_eq!(rows.len(), 4);
}

#[test]
fn macd_columns_are_consistent() {
    let dir = TempDir::new("macd").unwrap();
    gen::macd(dir.path(), Size::Small, 8).unwrap();
    run_ok("macd", dir.path());
    let out = output(dir.path(), "macd.csv");
    let prices = input(dir.path(), "prices.csv");
    assert_eq!(out.lines().count(), prices.lines().count());
    for (o, p) in out.lines().zip(prices.lines()).skip(1) {
        let f: Vec<&str> = o.split(',').collect();
        assert_eq!(f[0], p.split(',').next().unwrap(), "dates carried through");
        let (m, s, h): (f64, f64, f64) = (
            f[1].parse().unwrap(),
            f[2].parse().unwrap(),
            f[3].parse().unwrap(),
        );
        assert_eq!(h, m - s);
    }
}

#[test]
fn errors_name_the_file_and_line() {
    let dir = TempDir::new("errors").unwrap();
    let exit = run("linear-regression", dir.path());
    assert_eq!(exit.code, 1);
    assert!(
        exit.stderr.contains("cannot read `/input/points.csv`"),
        "{}",
        exit.stderr
    );

    gen::write(dir.path(), "/input/points.csv", b"x,y\n1,2\n3,four\n").unwrap();
    let exit = run("linear-regression", dir.path());
    assert_eq!(exit.code, 1);
    assert_eq!(
        exit.stderr.trim(),
        "error: /input/points.csv line 3: column `y`: cannot parse `four`: invalid float literal"
    );
    assert!(
        read_tree(&dir.path().join("output")).unwrap().is_empty(),
        "no partial output"
    );

    gen::write(
        dir.path(),
        "/input/purchases.csv",
        b"customer_id,amount\nc1,1.005\n",
    )
    .unwrap();
    gen::write(dir.path(), "/input/adverts.csv", b"customer_id\nc1\n").unwrap();
    let exit = run("intersection-sum", dir.path());
    assert!(
        exit.stderr.contains(
            "/input/purchases.csv line 2: column `amount`: `1.005` has more than 2 digits"
        ),
        "{}",
        exit.stderr
    );
}
