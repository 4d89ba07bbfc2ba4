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
