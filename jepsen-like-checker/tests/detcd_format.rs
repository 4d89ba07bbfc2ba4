//! detcd's JSON history format, written as the crate docs describe it, for every model;
//! and the same input always gives the same report.

use detcd_checker::run::{load, ModelName};
use detcd_checker::{Budget, Verdict};

fn verdict(text: &str) -> Verdict {
    load(text, None, None).unwrap_or_else(|e| panic!("{e}")).check(&Budget::default()).verdict
}

#[test]
fn etcd_histories_as_documented() {
    let text = r#"{"model": "etcd", "operations": [
      {"client": 1, "call": 0, "return": 2, "input": {"op": "put", "key": "a", "value": "1"},
       "output": {"revision": 2, "body": {"op": "put"}}},
      {"client": 2, "call": 3, "return": 4, "input": {"op": "range", "range": {"prefix": "a"}},
       "output": {"revision": 2, "body": {"op": "range", "kvs": [
         {"key": "a", "value": "1", "create_revision": 2, "mod_revision": 2, "version": 1}]}}},
      {"client": 3, "call": 5, "return": 6, "input": {"op": "txn",
         "compare": [{"key": "a", "target": {"mod_revision": 2}, "result": "equal"}],
         "success": [{"op": "delete_range", "range": {"key": "a"}}],
         "failure": [{"op": "range", "range": {"key": "a"}}]},
       "output": {"revision": 3, "body": {"op": "txn", "succeeded": true,
         "responses": [{"op": "delete_range", "deleted": 1}]}}},
      {"client": 4, "call": 5, "return": null, "input": {"op": "put", "key": "b", "value": "x", "prev_kv": true},
       "output": null}
    ]}"#;
    assert_eq!(verdict(text), Verdict::Linearizable);
    // The delete claimed revision 3, so a later read at revision 2 is stale.
    let stale = text.replace(
        r#"       "output": null}
    ]}"#,
        r#"       "output": null},
      {"client": 5, "call": 7, "return": 8, "input": {"op": "range", "range": {"key": "a"}},
       "output": {"revision": 2, "body": {"op": "range", "kvs": []}}}
    ]}"#,
    );
    assert_ne!(stale, text);
    assert_eq!(verdict(&stale), Verdict::NotLinearizable);
}

#[test]
fn register_cas_and_kv_histories_as_documented() {
    let cas = r#"{"model": "cas-register", "operations": [
      {"client": 0, "call": 0, "return": 3, "input": {"op": "write", "value": 1}, "output": "written"},
      {"client": 1, "call": 1, "return": 4, "input": {"op": "read"}, "output": {"read": 1}},
      {"client": 2, "call": 2, "return": null, "input": {"op": "cas", "expected": 1, "new": 2}, "output": null},
      {"client": 3, "call": 5, "return": 6, "input": {"op": "cas", "expected": 1, "new": 3}, "output": {"cas": false}}
    ]}"#;
    assert_eq!(verdict(cas), Verdict::Linearizable, "the unknown cas took effect");
    let register = r#"{"model": "register", "operations": [
      {"client": 0, "call": 0, "return": 1, "input": {"op": "read"}, "output": {"read": null}}]}"#;
    assert_eq!(verdict(register), Verdict::Linearizable);
    let kv = r#"{"model": "kv", "operations": [
      {"client": 0, "call": 0, "return": 1, "input": {"op": "append", "key": "k", "value": "x"}, "output": "ok"},
      {"client": 0, "call": 2, "return": 3, "input": {"op": "get", "key": "k"}, "output": {"value": "x"}},
      {"client": 0, "call": 4, "return": 5, "input": {"op": "delete", "key": "k"}, "output": "ok"},
      {"client": 0, "call": 6, "return": 7, "input": {"op": "get", "key": "k"}, "output": {"value": "x"}}]}"#;
    assert_eq!(verdict(kv), Verdict::NotLinearizable);
    // --model overrides the file's model; a mismatching one is an input error.
    assert!(load(kv, None, Some(ModelName::Etcd)).is_err());
}

#[test]
fn the_same_input_gives_the_same_report() {
    let mut log = String::new();
    for p in 0..8 {
        log.push_str(&format!("INFO jepsen.util - {p} :invoke :write {p}\n"));
    }
    for p in 0..8 {
        log.push_str(&format!("INFO jepsen.util - {p} :ok :write {p}\n"));
    }
    log.push_str("INFO jepsen.util - 9 :invoke :read nil\nINFO jepsen.util - 9 :ok :read 42\n");
    let run = || load(&log, None, None).unwrap().check(&Budget::default()).to_json();
    let first = run();
    assert!(first.contains("not-linearizable"));
    assert_eq!(first, run());
}
