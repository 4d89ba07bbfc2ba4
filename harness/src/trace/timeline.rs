//! The HTML time line of one run: members as lanes coloured by role, messages as
//! arrows between lanes, faults as marks, and every client operation as a bar from its
//! invocation to its completion. One self-contained file (inline SVG, CSS and a few
//! lines of script), written for a student watching an election or a lost leader.

use std::fmt::Write;

/// Something drawn on the time line. Times are simulated microseconds.
#[derive(Clone, Debug, PartialEq)]
pub enum Mark {
    /// A message; `delivered_us: None` means it was lost.
    Message { from: u64, to: u64, sent_us: u64, delivered_us: Option<u64>, kind: String },
    /// From `at_us` on, `node` has this role in this term.
    Role { node: u64, at_us: u64, role: String, term: u64 },
    /// A node is down from `at_us` until it restarts (or the end).
    Down { node: u64, from_us: u64, until_us: Option<u64> },
    /// A fault or other event of the whole cluster or of one node.
    Fault { at_us: u64, node: Option<u64>, what: String },
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

const LANE: f64 = 34.0;
const CLIENT_LANE: f64 = 22.0;
const LEFT: f64 = 70.0;
const TOP: f64 = 30.0;

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

impl Timeline {
    /// The time line as one HTML document.
    pub fn to_html(&self) -> String {
        let end_us = self.end_us.max(1);
        // One pixel per millisecond, but never wider than 24,000 pixels.
        let us_per_px = (end_us as f64 / 24_000.0).max(1_000.0);
        let x = |us: u64| LEFT + us as f64 / us_per_px;
        let width = x(end_us) + 40.0;
        let node_y = |node: u64| {
            let i = self.nodes.iter().position(|&n| n == node).unwrap_or(0);
            TOP + i as f64 * LANE
        };
        let clients_top = TOP + self.nodes.len() as f64 * LANE + 24.0;
        let client_y = |client: u64| {
            let i = self.clients.iter().position(|&c| c == client).unwrap_or(0);
            clients_top + i as f64 * CLIENT_LANE
        };
        let height = clients_top + self.clients.len() as f64 * CLIENT_LANE + 30.0;

        let mut svg = String::new();
        let _ = write!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0}" height="{height:.0}">"#
        );
        svg.push_str(
            r##"<defs><marker id="arrow" viewBox="0 0 6 6" refX="6" refY="3" markerWidth="6" markerHeight="6" orient="auto"><path d="M0,0 L6,3 L0,6 z" fill="#555"/></marker></defs>"##,
        );
        // Time axis: a grid line every 100 ms of simulated time.
        let step_us = if end_us > 20_000_000 { 1_000_000 } else { 100_000 };
        let mut t = 0;
        while t <= end_us {
            let _ = write!(
                svg,
                r#"<line class="grid" x1="{0:.1}" y1="{1}" x2="{0:.1}" y2="{2:.0}"/><text class="axis" x="{0:.1}" y="{3}">{4:.1}s</text>"#,
                x(t),
                TOP - 8.0,
                height - 20.0,
                TOP - 12.0,
                t as f64 / 1e6
            );
            t += step_us;
        }
        // Lanes and their role bands.
        for &node in &self.nodes {
            let y = node_y(node);
            let _ = write!(
                svg,
                r#"<text class="lane" x="8" y="{:.0}">node {node}</text><rect class="follower" x="{LEFT}" y="{:.0}" width="{:.0}" height="{:.0}"/>"#,
                y + LANE / 2.0 + 4.0,
                y + 4.0,
                x(end_us) - LEFT,
                LANE - 8.0
            );
            let mut roles: Vec<(u64, &str, u64)> = self
                .marks
                .iter()
                .filter_map(|m| match m {
                    Mark::Role { node: n, at_us, role, term } if *n == node => {
                        Some((*at_us, role.as_str(), *term))
                    }
                    _ => None,
                })
                .collect();
            roles.sort_by_key(|r| r.0);
            for (i, (from, role, term)) in roles.iter().enumerate() {
                let until = roles.get(i + 1).map_or(end_us, |r| r.0);
                let _ = write!(
                    svg,
                    r#"<rect class="{}" x="{:.1}" y="{:.0}" width="{:.1}" height="{:.0}"><title>node {node}: {role} in term {term} from {:.3}s</title></rect>"#,
                    role_class(role),
                    x(*from),
                    y + 4.0,
                    (x(until) - x(*from)).max(0.5),
                    LANE - 8.0,
                    *from as f64 / 1e6
                );
            }
        }
        for mark in &self.marks {
            match mark {
                Mark::Down { node, from_us, until_us } => {
                    let y = node_y(*node);
                    let until = until_us.unwrap_or(end_us);
                    let _ = write!(
                        svg,
                        r#"<rect class="down" x="{:.1}" y="{:.0}" width="{:.1}" height="{:.0}"><title>node {node} is down (crashed)</title></rect>"#,
                        x(*from_us),
                        y + 2.0,
                        (x(until) - x(*from_us)).max(1.0),
                        LANE - 4.0
                    );
                }
                Mark::Message { from, to, sent_us, delivered_us, kind } => {
                    let hb = if kind.starts_with("heartbeat") { " hb" } else { "" };
                    let (y1, y2) = (node_y(*from) + LANE / 2.0, node_y(*to) + LANE / 2.0);
                    match delivered_us {
                        Some(at) => {
                            let _ = write!(
                                svg,
                                r#"<line class="msg{hb}" x1="{:.1}" y1="{y1:.0}" x2="{:.1}" y2="{y2:.0}" marker-end="url(%23arrow)"><title>{} {from}→{to}</title></line>"#,
                                x(*sent_us),
                                x(*at),
                                esc(kind)
                            );
                        }
                        None => {
                            let _ = write!(
                                svg,
                                r#"<line class="lost{hb}" x1="{:.1}" y1="{y1:.0}" x2="{:.1}" y2="{:.0}"><title>{} {from}→{to} lost</title></line>"#,
                                x(*sent_us),
                                x(*sent_us) + 6.0,
                                (y1 + y2) / 2.0,
                                esc(kind)
                            );
                        }
                    }
                }
                Mark::Fault { at_us, node, what } => {
                    let (y1, y2) = match node {
                        Some(n) => (node_y(*n), node_y(*n) + LANE),
                        None => (TOP - 4.0, clients_top - 10.0),
                    };
                    let _ = write!(
                        svg,
                        r#"<line class="fault" x1="{0:.1}" y1="{1:.0}" x2="{0:.1}" y2="{2:.0}"><title>{3}</title></line><text class="faultlabel" x="{4:.1}" y="{5:.0}">{3}</text>"#,
                        x(*at_us),
                        y1,
                        y2,
                        esc(what),
                        x(*at_us) + 2.0,
                        y1 + 10.0
                    );
                }
                Mark::Op { client, node, invoke_us, complete_us, label, outcome } => {
                    let y = client_y(*client);
                    let _ = write!(
                        svg,
                        r#"<rect class="op {}" x="{:.1}" y="{:.0}" width="{:.1}" height="{:.0}"><title>client {client} → node {node}: {} ({outcome}) {:.3}s–{:.3}s</title></rect>"#,
                        esc(outcome),
                        x(*invoke_us),
                        y + 3.0,
                        (x(*complete_us) - x(*invoke_us)).max(1.5),
                        CLIENT_LANE - 6.0,
                        esc(label),
                        *invoke_us as f64 / 1e6,
                        *complete_us as f64 / 1e6
                    );
                }
                Mark::Role { .. } => {}
            }
        }
        for &client in &self.clients {
            let _ = write!(
                svg,
                r#"<text class="lane" x="8" y="{:.0}">client {client}</text>"#,
                client_y(client) + CLIENT_LANE / 2.0 + 4.0
            );
        }
        svg.push_str("</svg>");
        let svg = svg.replace("url(%23arrow)", "url(#arrow)");

        format!(
            r##"<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: sans-serif; margin: 16px; color: #222; }}
.legend span {{ display: inline-block; padding: 2px 8px; margin-right: 6px; border-radius: 3px; }}
.legend span.follower {{ background: #e6e6e6; }} .legend span.precandidate {{ background: #fde9b5; }}
.legend span.candidate {{ background: #f7c35f; }} .legend span.leader {{ background: #7cc97c; }}
.legend span.down {{ background: #333; }} .legend span.op.ok {{ background: #4a90d9; }}
.legend span.op.fail {{ background: #aaa; }} .legend span.op.unknown {{ background: #e08a2c; }}
#scroll {{ overflow-x: auto; border: 1px solid #ccc; }}
.grid {{ stroke: #eee; }} .axis {{ font-size: 10px; fill: #888; }}
.lane {{ font-size: 12px; fill: #333; }}
.follower {{ fill: #e6e6e6; }} .precandidate {{ fill: #fde9b5; }} .candidate {{ fill: #f7c35f; }} .leader {{ fill: #7cc97c; }}
.down {{ fill: #333; opacity: 0.75; }}
.msg {{ stroke: #555; stroke-width: 0.8; }} .lost {{ stroke: #d33; stroke-width: 1.2; stroke-dasharray: 2 1; }}
.fault {{ stroke: #c00; stroke-width: 1.5; }} .faultlabel {{ font-size: 10px; fill: #c00; }}
.op.ok {{ fill: #4a90d9; }} .op.fail {{ fill: #aaa; }} .op.unknown {{ fill: #e08a2c; }}
body.nohb .hb {{ display: none; }}
</style></head>
<body class="nohb">
<h1>{title}</h1>
<p>{subtitle}</p>
<p class="legend">Member lanes: <span class="follower">follower</span><span class="precandidate">pre-candidate</span><span class="candidate">candidate</span><span class="leader">leader</span><span class="down" style="color:#fff">crashed</span>
&nbsp; Client operations: <span class="op ok" style="color:#fff">ok</span><span class="op fail">failed</span><span class="op unknown" style="color:#fff">unknown outcome (timed out)</span>
&nbsp; Arrows are messages (sent → delivered); red dashes are lost messages; red lines are faults.
Hover over anything for details.</p>
<p><label><input type="checkbox" onchange="document.body.classList.toggle('nohb', !this.checked)"> show heartbeats</label></p>
<div id="scroll">{svg}</div>
</body></html>
"##,
            title = esc(&self.title),
            subtitle = esc(&self.subtitle),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_kind_of_mark() {
        let t = Timeline {
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
                Mark::Fault { at_us: 500_000, node: Some(3), what: "crash".into() },
                Mark::Op {
                    client: 1,
                    node: 2,
                    invoke_us: 200_000,
                    complete_us: 260_000,
                    label: "put k=v".into(),
                    outcome: "ok".into(),
                },
            ],
        };
        let html = t.to_html();
        assert!(html.contains("election &lt;demo&gt;"));
        assert!(html.contains(r#"class="leader""#));
        assert!(html.contains(r#"class="lost hb""#));
        assert!(html.contains("node 3 is down"));
        assert!(html.contains("put k=v"));
        assert!(html.contains("url(#arrow)"));
        assert!(
            !html.contains("http://") || html.matches("http://").count() == 1,
            "no network loads"
        );
    }
}
