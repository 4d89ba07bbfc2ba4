//! Reports: the JSON verdict round-trips, the explanation names the operations in words,
//! and the HTML page is self-contained and carries the evidence.

use detcd_checker::models::{CasInput as C, CasOutput as CO, CasRegister};
use detcd_checker::report::{html, Report};
use detcd_checker::{check, Budget, History, Verdict};

fn stale_history() -> History<C, CO> {
    let mut h = History::new();
    h.returned(0, 0, 1, C::Write { value: 1 }, CO::Written).unwrap();
    h.returned(1, 2, 3, C::Cas { expected: 1, new: 2 }, CO::Cas(true)).unwrap();
    h.unknown(2, 2, C::Write { value: 9 }).unwrap();
    h.returned(3, 4, 5, C::Read, CO::Read(Some(1))).unwrap();
    h
}

#[test]
fn not_linearizable_report_explains_in_words() {
    let h = stale_history();
    let report = Report::new(&CasRegister, &h, &check(&CasRegister, &h, &Budget::default()));
    assert_eq!(report.verdict, Verdict::NotLinearizable);
    assert!(report.summary.starts_with("NOT linearizable"), "{}", report.summary);
    let text = report.to_text();
    assert!(text.contains("#3 (client 3: read() -> 1; called at 4, returned at 5)"), "{text}");
    assert!(text.contains("cannot take effect"), "{text}");
    assert!(text.contains("1 operation has an unknown outcome"), "{text}");
    let part = &report.parts[0];
    assert_eq!(part.blocked, Some(3));
    assert_eq!(part.linearization.len(), part.states.len());
    let back: Report = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(back, report);
}

#[test]
fn a_read_that_misses_an_acknowledged_write_is_named_a_stale_read() {
    let h = stale_history();
    let report = Report::new(&CasRegister, &h, &check(&CasRegister, &h, &Budget::default()));
    let a = report.anomaly.as_ref().expect("the anomaly is named");
    assert_eq!((a.kind.as_str(), a.op, a.missed.clone()), ("stale read", 3, vec![1]));
    assert!(report.summary.starts_with("NOT linearizable (stale read)"), "{}", report.summary);
    assert!(
        report.explanation[0].starts_with("Stale read: #3 (client 3: read() -> 1;"),
        "{:?}",
        report.explanation
    );
}

#[test]
fn a_write_on_a_store_without_an_acknowledged_write_is_named_a_lost_write() {
    let mut h = History::new();
    h.returned(0, 0, 1, C::Write { value: 1 }, CO::Written).unwrap();
    h.returned(1, 2, 3, C::Cas { expected: 1, new: 2 }, CO::Cas(true)).unwrap();
    h.returned(2, 4, 5, C::Cas { expected: 1, new: 3 }, CO::Cas(true)).unwrap();
    let names = |c: u64| if c == 2 { "probe".to_string() } else { format!("client {c}") };
    let result = check(&CasRegister, &h, &Budget::default());
    let report = Report::with_client_names(&CasRegister, &h, &result, names);
    let a = report.anomaly.as_ref().expect("the anomaly is named");
    assert_eq!((a.kind.as_str(), a.op, a.missed.clone()), ("lost write", 2, vec![1]));
    assert!(a.sentence.starts_with("Lost write: #1 (client 1: cas(1, 2) -> ok;"), "{}", a.sentence);
    assert!(a.sentence.contains("#2 (probe: cas(1, 3)"), "named clients: {}", a.sentence);
    let page = html::render(&report);
    assert!(page.contains(r#""kind": "lost write""#), "the page carries the anomaly");
}

#[test]
fn linearizable_report_lists_the_order() {
    let mut h = stale_history();
    h = {
        let mut ops = h.ops().to_vec();
        ops[3].output = Some(CO::Read(Some(2)));
        let mut fixed = History::new();
        for op in ops {
            fixed.push(op).unwrap();
        }
        fixed
    };
    let report = Report::new(&CasRegister, &h, &check(&CasRegister, &h, &Budget::default()));
    assert_eq!(report.verdict, Verdict::Linearizable);
    assert_eq!(report.parts[0].linearization, vec![0, 1, 3]);
    assert_eq!(report.parts[0].states.last().map(String::as_str), Some("value = 2"));
}

#[test]
fn html_is_self_contained_and_escapes_script_ends() {
    let mut h = History::new();
    h.returned(
        0,
        0,
        1,
        detcd_checker::models::KvInput::Put { key: "</script>".into(), value: "<b>".into() },
        detcd_checker::models::KvOutput::Ok,
    )
    .unwrap();
    let report = Report::new(
        &detcd_checker::models::Kv,
        &h,
        &check(&detcd_checker::models::Kv, &h, &Budget::default()),
    );
    let page = html::render(&report);
    assert_eq!(page.matches("</script>").count(), 2, "only the two real script ends");
    for remote in ["http://", "https://", "<link", " src="] {
        assert!(!page.contains(remote), "found {remote}");
    }
    assert!(page.contains("<style>") && page.contains("report-data"));
}
