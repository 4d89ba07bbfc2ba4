//! The HTML time line of one run: members as lanes coloured by role and labelled with
//! their terms, messages as arrows between lanes (bundled when dense), crashes,
//! restarts and faults in plain words, the safety violation, and every client operation
//! as a bar from its invocation to its completion.
//!
//! One self-contained file: the marks are embedded as JSON and drawn by a small script
//! (`timeline.js`, styled by `timeline.css`) that fits the run to the window's width,
//! zooms and pans, and jumps to the violation. Written for a student watching an
//! election or a lost leader.

use serde::Serialize;

/// Something drawn on the time line. Times are simulated microseconds.
#[derive(Clone, Debug, PartialEq)]
pub enum Mark {
    /// A message; `delivered_us: None` means it was lost.
    Message { from: u64, to: u64, sent_us: u64, delivered_us: Option<u64>, kind: String },
    /// From `at_us` on, `node` has this role in this term (term 0: not known yet, as
    /// right after a restart).
    Role { node: u64, at_us: u64, role: String, term: u64 },
    /// A node is down from `at_us` until it restarts (or the end).
    Down { node: u64, from_us: u64, until_us: Option<u64> },
    /// A node holds the joint configuration `conf` (thesis §4.3) from `from_us` until it
    /// holds a non-joint one again (or the end).
    Joint { node: u64, from_us: u64, until_us: Option<u64>, conf: String },
    /// A fault or other event of the whole cluster or of one node, in plain words.
    Fault { at_us: u64, node: Option<u64>, what: String },
    /// The safety violation that the run found, in plain words.
    Violation { at_us: u64, node: u64, what: String },
    /// A client operation against `node`; outcome is "ok", "fail" or "unknown".
    Op { client: u64, node: u64, invoke_us: u64, complete_us: u64, label: String, outcome: String },
}

/// Everything to draw.
#[derive(Clone, Debug, Default)]
pub struct Timeline {
    pub title: String,
    pub subtitle: String,
    pub nodes: Vec<u64>,
    pub clients: Vec<u64>,
    pub end_us: u64,
    pub marks: Vec<Mark>,
}

/// The drawing data the script reads: compact rows rather than objects, since a run
/// holds tens of thousands of messages.
#[derive(Serialize)]
struct Data<'a> {
    nodes: &'a [u64],
    /// Client lane names, in lane order.
    clients: Vec<String>,
    end_us: u64,
    /// [node, at_us, role, term]
    roles: Vec<(u64, u64, &'static str, u64)>,
    /// [node, from_us, until_us or -1]
    downs: Vec<(u64, u64, i64)>,
    /// [node, from_us, until_us or -1, configuration]
    joints: Vec<(u64, u64, i64, &'a str)>,
    /// [at_us, node or 0 (whole cluster), text]
    faults: Vec<(u64, u64, &'a str)>,
    /// Message kinds, referred to by index from `messages`.
    kinds: Vec<&'a str>,
    /// [from, to, sent_us, delivered_us or -1 (lost), kind index, heartbeat 0/1]
    messages: Vec<(u64, u64, u64, i64, usize, u8)>,
    /// How many messages the run sent; more than `messages` holds when thinned.
    messages_total: usize,
    /// [client lane, node, invoke_us, complete_us, label, outcome]
    ops: Vec<(u64, u64, u64, u64, &'a str, &'a str)>,
    violation: Option<ViolationData<'a>>,
}

#[derive(Serialize)]
struct ViolationData<'a> {
    at_us: u64,
    node: u64,
    text: &'a str,
    /// What broke, without the time and node the drawing shows anyway.
    short: &'a str,
}

/// A violation's text without its "safety violation at T on node N: " preamble.
fn short_violation(text: &str) -> &str {
    match text.strip_prefix("safety violation at ") {
        Some(rest) => rest.split_once(": ").map_or(text, |(_, what)| what),
        None => text,
    }
}

/// Most messages one page carries: a run that goes on after a violation can send
/// millions, which no browser draws and no one reads one by one.
const MESSAGES_MAX: usize = 150_000;

/// Keeps at most `MESSAGES_MAX` messages: heartbeats go first, then every k-th of the
/// rest is kept, evenly over the run.
fn thin(messages: &mut Vec<(u64, u64, u64, i64, usize, u8)>) {
    if messages.len() > MESSAGES_MAX {
        messages.retain(|m| m.5 == 0);
    }
    if messages.len() > MESSAGES_MAX {
        let stride = messages.len().div_ceil(MESSAGES_MAX);
        let mut i = 0;
        messages.retain(|_| {
            i += 1;
            (i - 1) % stride == 0
        });
    }
}

const STYLE: &str = include_str!("timeline.css");
const SCRIPT: &str = include_str!("timeline.js");

fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn role_class(role: &str) -> &'static str {
    match role.to_ascii_lowercase().as_str() {
        "leader" => "leader",
        "candidate" => "candidate",
        "precandidate" | "pre_candidate" | "pre-candidate" => "precandidate",
        _ => "follower",
    }
}

/// A client lane's name; the simulator's own liveness probe is not a workload client.
fn client_name(client: u64) -> String {
    if client == detcd_sim::LIVENESS_CLIENT {
        "liveness probe".to_string()
    } else {
        format!("client {client}")
    }
}

/// An index the script can use as a number, with -1 for "none".
fn or_minus_one(v: Option<u64>) -> i64 {
    v.map_or(-1, |v| i64::try_from(v).unwrap_or(i64::MAX))
}

impl Timeline {
    fn data(&self) -> Data<'_> {
        let mut data = Data {
            nodes: &self.nodes,
            clients: self.clients.iter().map(|&c| client_name(c)).collect(),
            end_us: self.end_us.max(1),
            roles: Vec::new(),
            downs: Vec::new(),
            joints: Vec::new(),
            faults: Vec::new(),
            kinds: Vec::new(),
            messages: Vec::new(),
            messages_total: 0,
            ops: Vec::new(),
            violation: None,
        };
        for mark in &self.marks {
            match mark {
                Mark::Role { node, at_us, role, term } => {
                    data.roles.push((*node, *at_us, role_class(role), *term))
                }
                Mark::Down { node, from_us, until_us } => {
                    data.downs.push((*node, *from_us, or_minus_one(*until_us)))
                }
                Mark::Joint { node, from_us, until_us, conf } => {
                    data.joints.push((*node, *from_us, or_minus_one(*until_us), conf))
                }
                Mark::Fault { at_us, node, what } => {
                    data.faults.push((*at_us, node.unwrap_or(0), what))
                }
                Mark::Violation { at_us, node, what } => {
                    // Only the first violation stops the run; later ones (with
                    // --keep-going) are faults on the page.
                    if data.violation.is_none() {
                        data.violation = Some(ViolationData {
                            at_us: *at_us,
                            node: *node,
                            text: what,
                            short: short_violation(what),
                        });
                    } else {
                        data.faults.push((*at_us, *node, what));
                    }
                }
                Mark::Message { from, to, sent_us, delivered_us, kind } => {
                    let k = match data.kinds.iter().position(|k| *k == kind.as_str()) {
                        Some(k) => k,
                        None => {
                            data.kinds.push(kind);
                            data.kinds.len() - 1
                        }
                    };
                    let hb = u8::from(kind.starts_with("heartbeat"));
                    data.messages.push((*from, *to, *sent_us, or_minus_one(*delivered_us), k, hb));
                }
                Mark::Op { client, node, invoke_us, complete_us, label, outcome } => {
                    let lane = self.clients.iter().position(|c| c == client).unwrap_or(0) as u64;
                    data.ops.push((lane, *node, *invoke_us, *complete_us, label, outcome))
                }
            }
        }
        data.messages_total = data.messages.len();
        thin(&mut data.messages);
        data.roles.sort_by_key(|r| (r.0, r.1));
        data.faults.sort_by_key(|f| f.0);
        data
    }

    /// The time line as one HTML document.
    pub fn to_html(&self) -> String {
        // `</` inside a <script> would end it early; JSON allows escaping `/`.
        let json = serde_json::to_string(&self.data())
            .expect("time line data always serializes")
            .replace("</", "<\\/");
        let violation = self.marks.iter().find_map(|m| match m {
            Mark::Violation { what, at_us, .. } => Some((what, at_us)),
            _ => None,
        });
        let banner = match violation {
            Some((what, at_us)) => format!(
                r#"<div id="violation-banner"><b>Safety violation at {:.6}s:</b> {} <button id="jump" type="button">jump to the violation</button></div>"#,
                *at_us as f64 / 1e6,
                esc(what)
            ),
            None => String::new(),
        };
        format!(
            r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
{STYLE}</style></head>
<body class="nohb">
<h1>{title}</h1>
<p class="subtitle">{subtitle}</p>
{banner}
<div id="controls">
<button type="button" id="fit">fit the whole run</button>
<button type="button" id="zoomin">zoom in (+)</button>
<button type="button" id="zoomout">zoom out (−)</button>
<button type="button" id="left">◀ earlier</button>
<button type="button" id="right">later ▶</button>
<label><input type="checkbox" id="hb"> show heartbeats</label>
<span id="window"></span>
</div>
<p class="legend">Member lanes: <span class="sw follower">follower</span><span class="sw precandidate">pre-candidate</span><span class="sw candidate">candidate</span><span class="sw leader">leader</span><span class="sw down">crashed</span><span class="sw joint">joint configuration</span>
&nbsp; Client operations: <span class="sw op-ok">ok</span><span class="sw op-fail">failed</span><span class="sw op-unknown">unknown outcome (timed out)</span>
<br>Arrows are messages (sent → delivered); a thick arrow stands for several; red crosses are lost messages; red lines are faults. Drag to pan, wheel to zoom, hover for details. Times are seconds of simulated time.</p>
<div id="frame"></div>
<pre id="layout-metrics" hidden></pre>
<script id="timeline-data" type="application/json">{json}</script>
<script>
{SCRIPT}</script>
</body></html>
"#,
            title = esc(&self.title),
            subtitle = esc(&self.subtitle),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Timeline {
        Timeline {
            title: "election <demo>".into(),
            subtitle: "seed 1".into(),
            nodes: vec![1, 2, 3],
            clients: vec![1],
            end_us: 2_000_000,
            marks: vec![
                Mark::Role { node: 1, at_us: 100_000, role: "Leader".into(), term: 2 },
                Mark::Message {
                    from: 1,
                    to: 2,
                    sent_us: 150_000,
                    delivered_us: Some(151_000),
                    kind: "append".into(),
                },
                Mark::Message {
                    from: 1,
                    to: 3,
                    sent_us: 150_000,
                    delivered_us: None,
                    kind: "heartbeat".into(),
                },
                Mark::Down { node: 3, from_us: 500_000, until_us: Some(900_000) },
                Mark::Joint {
                    node: 2,
                    from_us: 300_000,
                    until_us: Some(400_000),
                    conf: "voters=(1 2 4)&&(1 2 3)".into(),
                },
                Mark::Fault { at_us: 500_000, node: Some(3), what: "node 3 crashes".into() },
                Mark::Violation {
                    at_us: 1_000_000,
                    node: 2,
                    what: "node 2 lost </script> index 4".into(),
                },
                Mark::Op {
                    client: 1,
                    node: 2,
                    invoke_us: 200_000,
                    complete_us: 260_000,
                    label: "put k=v".into(),
                    outcome: "ok".into(),
                },
            ],
        }
    }

    #[test]
    fn embeds_every_kind_of_mark_as_data() {
        let html = demo().to_html();
        assert!(html.contains("<h1>election &lt;demo&gt;</h1>"));
        let start = html.find(r#"<script id="timeline-data" type="application/json">"#).unwrap();
        let rest = &html[start..];
        let body = &rest[rest.find('>').unwrap() + 1..rest.find("</script>").unwrap()];
        let v: serde_json::Value = serde_json::from_str(body).expect("embedded JSON parses");
        assert_eq!(v["roles"][0], serde_json::json!([1, 100_000, "leader", 2]));
        assert_eq!(v["messages"][0], serde_json::json!([1, 2, 150_000, 151_000, 0, 0]));
        assert_eq!(v["messages"][1], serde_json::json!([1, 3, 150_000, -1, 1, 1]));
        assert_eq!(v["downs"][0], serde_json::json!([3, 500_000, 900_000]));
        assert_eq!(
            v["joints"][0],
            serde_json::json!([2, 300_000, 400_000, "voters=(1 2 4)&&(1 2 3)"])
        );
        assert_eq!(v["faults"][0], serde_json::json!([500_000, 3, "node 3 crashes"]));
        assert_eq!(v["violation"]["text"], "node 2 lost </script> index 4");
        assert_eq!(v["ops"][0][4], "put k=v");
        assert!(html.contains("Safety violation at 1.000000s:"));
        assert!(html.contains("lost &lt;/script&gt; index 4"), "the banner escapes HTML");
        assert!(!html.contains("http://") && !html.contains("https://"), "no network loads");
    }

    #[test]
    fn a_flood_of_messages_is_thinned_to_the_cap() {
        let mut t = demo();
        t.marks.retain(|m| !matches!(m, Mark::Message { .. }));
        for i in 0..(MESSAGES_MAX as u64 + 10) {
            let kind = if i % 2 == 0 { "heartbeat" } else { "append" };
            t.marks.push(Mark::Message {
                from: 1,
                to: 2,
                sent_us: i,
                delivered_us: Some(i + 1),
                kind: kind.into(),
            });
        }
        let data = t.data();
        assert_eq!(data.messages_total, MESSAGES_MAX + 10);
        assert!(data.messages.len() <= MESSAGES_MAX);
        assert!(data.messages.iter().all(|m| m.5 == 0), "heartbeats go first");
    }

    #[test]
    fn no_violation_no_banner() {
        let mut t = demo();
        t.marks.retain(|m| !matches!(m, Mark::Violation { .. }));
        let html = t.to_html();
        assert!(!html.contains(r#"id="violation-banner""#));
        assert!(html.contains(r#""violation":null"#));
    }
}
