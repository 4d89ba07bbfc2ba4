//! The reference histories (real Jepsen etcd logs and Porcupine KV histories, kept
//! outside the repository) reach the verdicts other checkers reached.

mod common;

use detcd_checker::import::Format;
use detcd_checker::run::load;
use detcd_checker::{Budget, Verdict};

const CASES: &[(&str, Verdict)] = &[
    ("jepsen-etcd/etcd_000.log", Verdict::NotLinearizable),
    ("jepsen-etcd/etcd_002.log", Verdict::Linearizable),
    ("jepsen-etcd/etcd_003.log", Verdict::NotLinearizable),
    ("jepsen-etcd/etcd_007.log", Verdict::Linearizable),
    ("jepsen-etcd/etcd_100.log", Verdict::Linearizable),
    ("jepsen-etcd/etcd_101.log", Verdict::Linearizable),
    ("porcupine-kv/c01-ok.txt", Verdict::Linearizable),
    ("porcupine-kv/c01-bad.txt", Verdict::NotLinearizable),
];

#[test]
fn reference_histories_reach_the_known_verdicts() {
    let Some(dir) = common::histories_dir() else { return };
    for (file, expected) in CASES {
        let text = std::fs::read_to_string(dir.join(file)).expect("read reference history");
        let loaded = load(&text, None, None).unwrap_or_else(|e| panic!("{file}: {e}"));
        let report = loaded.check(&Budget::default());
        assert_eq!(report.verdict, *expected, "{file}: {}", report.to_text());
        if *expected == Verdict::NotLinearizable {
            let failing =
                report.parts.iter().find(|p| p.verdict == Verdict::NotLinearizable).unwrap();
            assert!(failing.blocked.is_some(), "{file}: a failure names the blocked operation");
        }
    }
}

#[test]
fn formats_are_guessed_from_content() {
    let Some(dir) = common::histories_dir() else { return };
    let guess = |f: &str| Format::guess(&std::fs::read_to_string(dir.join(f)).unwrap()).unwrap();
    assert_eq!(guess("jepsen-etcd/etcd_100.log"), Format::JepsenEtcd);
    assert_eq!(guess("porcupine-kv/c01-ok.txt"), Format::PorcupineKv);
}
