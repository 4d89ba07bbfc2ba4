//! The scenario format explained field by field for `detcd scenarios --format`: what a
//! person writing a scenario file reads, next to a built-in shown with `--show`.
//! A test keeps it complete: every field a scenario serializes is named here.

/// Every table and field of a scenario file, with its default and meaning.
pub const FORMAT_GUIDE: &str = r#"A scenario is one TOML file. Unknown fields are refused, so a typo cannot change a
run silently. Start from a built-in: `detcd scenarios --show leader-isolation > my.toml`,
then `detcd sim ./my.toml`. Defaults are in brackets.

Top level
  name            kebab-case name used on the command line and in reports (required)
  description     one sentence shown by `detcd scenarios` (required)
  expect          "pass" [default]: every check passes; or "fail:<check>" (several joined
                  by |, e.g. "fail:raft-safety|linearizability"): a negative control that
                  passes only when that check finds its violation. Checks: linearizability,
                  watch, raft-safety, convergence, liveness, serializable-reads,
                  lock-exclusion, election, auth-revocation, membership,
                  leader-transfer, log-compaction, revision-reads, leases, validation,
                  status, learner-requests, member-list, panic
  default_seeds   seeds `detcd sim` runs without --seeds [8]

[cluster]
  size              voting members, 1 to 9 [3]
  election_ticks    ticks without a leader before a member campaigns [10]
  heartbeat_ticks   ticks between a leader's heartbeats; below election_ticks [1]
  tick_us           true time of one tick at clock rate 1.0, microseconds [10000]
  pre_vote          Raft PreVote [true]
  check_quorum      a leader steps down when it stops hearing a quorum [true]
  lease_reads       leader lease reads; UNSAFE under clock skew (a negative control) [false]
  lying_fsync       disks acknowledge fsyncs before data is durable; UNSAFE [false]
  fsync_us          [min, max] fsync latency, microseconds [[100, 2000]]
  snapshot_entries  snapshot and compact the Raft log every this many entries [200]
  apply_slice_keys  a DeleteRange over more live keys applies in slices of this many,
                    one per tick; 0: the core's default, 4096 [0]

[workload]
  clients             concurrent clients, one request in flight each [4]
  operations          operations issued in the safety phase, over all clients [300]
  keys                distinct keys [6]
  key_distribution    "uniform" [default] or "zipf"
  zipf_s              Zipf exponent, positive [1.1]
  think_ms            [min, max] pause between a client's operations, ms [[10, 60]]
  request_timeout_ms  a request unanswered this long has an unknown outcome [1000]

[workload.mix]   relative weights of operations, 0 = never
  put [30]  get (linearizable) [25]  serializable_get (member-local) [10]
  range (prefix over all keys) [5]  delete [5]  cas (Txn on mod revision) [15]
  lease (grant, put with it; revoke, expire or keep alive 2-3 TTLs) [3]
  watch (open a stream) [2]  compact [0]
  txn (random compares on value/version/create/mod with = != < >, nested txns) [0]
  range_at (all keys at the compaction revision, one either side, or recent) [0]
  list (paged list, later pages at the first page's revision) [0]
  count (count-only range) [0]
  validate (a request at or past one of etcd's limits, or invalid: its answer must be
            etcd's and it may change nothing) [0]
  bulk (a txn putting 24-120 keys under k/b, or a DeleteRange of all of them) [0]
  status (Maintenance Status of a member, as `etcdctl endpoint status`) [0]
  progress (a progress request on the client's watch stream; answered promptly,
            never ahead of events the stream has not delivered) [0]

[network]   outside scheduled faults
  latency_us  [min, max] one-way message latency, microseconds [[200, 2000]]
  drop        probability a message is lost [0.0]
  duplicate   probability a message is delivered twice [0.0]
  reorder     probability a message is held back so later ones overtake it [0.0]
  storm_copies  extra copies of every message (a storm that only the run budget
              stops); UNSAFE, for negative controls [0]

[phases]
  safety_ms    faults active, workload running [4000]
  liveness_ms  faults healed: the cluster must elect, commit and converge within it [5000]

[[faults.schedule]]   a fault at a fixed time; repeat the table for more
  at_ms    when, ms of simulated time from the start (within safety_ms)
  action   one of (members and clients are numbered from 1):
    isolate_node (node)          cut one member off, both ways
    isolate_leader               cut the current leader off
    split_majority               a majority and a minority holding the leader
    bridge                       two halves joined by one member
    ring                         each member reaches only its two ring neighbours
    partition (groups)           arbitrary groups, e.g. groups = [[1, 2], [3]]
    one_way (from, to)           messages from -> to are lost, the other way works
    one_way_leader_deaf          the leader sends but hears nothing
    heal                         remove every partition
    crash (node)                 stop a member; unsynced writes are lost
    crash_leader                 crash the current leader
    power_loss                   every member crashes at once
    restart (node)               start a crashed member from its durable state
    restart_all                  start every crashed member
    clock_skew (node, rate)      a member's clock runs at rate x true time (0 < rate <= 10)
    clock_skew_leader (rate)     the leader's clock runs at rate x true time
    clock_jump (node, ticks)     a member's clock jumps ahead
    clock_reset                  every clock at true rate again
    network (drop, duplicate, reorder)   change the network's probabilities
    transfer_leader (to)         hand leadership to member `to` (0: any)
    pause_client (client, ms)    stop a client for ms (a stop-the-world pause)
    pause_lock_holder (ms)       stop whichever client holds the lock

[faults.random]   faults drawn from the seed, each undone after a while
  kinds        kinds to draw from (repeat one to weight it): partition, one_way,
               isolate_leader, crash, clock_skew, clock_jump, lossy, transfer_leader,
               power_loss, client_pause, lock_holder_pause
  gap_ms       [min, max] between one fault's end and the next's start [[100, 800]]
  duration_ms  [min, max] how long one fault lasts [[200, 1500]]

[faults]
  swarm        draw a fault profile (kinds and rates) per seed from every kind [false]

[lock]   replaces the KV workload with etcd's lock or election recipe
  recipe        "lock" [default] or "election"
  fenced        resource writes compare the lock key's create revision [false]
  clients       clients taking turns [3]
  lease_ttl_s   TTL of each client's lease, seconds [1]
  keepalive_ms  how often a client that is not paused keeps its lease alive, ms [300]
  hold_ms       [min, max] work between a holder's two resource writes, ms [[300, 800]]
  think_ms      [min, max] pause between releasing and trying again, ms [[0, 50]]
  proclaims     election: values a leader proclaims, hold_ms apart, before resigning [3]
  observers     election: clients that only watch who leads [2]

[auth]   replaces the KV workload with auth churn, checked by auth-revocation
  users              users, each with its own role and key prefix auth/<i>/ [3]
  clients_per_user   clients acting as each user, half with tokens, half as
                     certificate users [2]
  think_ms           [min, max] a client's pause between two requests, ms [[5, 40]]
  admin_think_ms     [min, max] the administrator's pause between two changes, ms
                     [[50, 300]]
  unsafe_check_reads_on_receipt  members check a linearizable read's permission when
                     it arrives, not when it is served; UNSAFE (a negative control) [false]
"#;

#[cfg(test)]
mod tests {
    use super::FORMAT_GUIDE;
    use crate::format::Scenario;

    /// Every key of `value`'s tables, with nesting flattened.
    fn keys(value: &toml::Value, out: &mut Vec<String>) {
        if let toml::Value::Table(t) = value {
            for (k, v) in t {
                out.push(k.clone());
                keys(v, out);
            }
        }
    }

    #[test]
    fn the_guide_names_every_field() {
        let mut full = crate::library::builtin("lock-fenced").expect("built-in");
        full.faults.random.as_mut().expect("random faults").gap_ms = [1, 2];
        let mut names = Vec::new();
        for s in [full, crate::library::builtin("leader-isolation").expect("built-in")] {
            let value: toml::Value = toml::from_str(&Scenario::to_toml(&s)).expect("toml");
            keys(&value, &mut names);
        }
        names.extend(["schedule", "at_ms", "action", "swarm", "random"].map(String::from));
        for name in names {
            assert!(FORMAT_GUIDE.contains(&name), "the format guide does not explain {name}");
        }
        for check in crate::format::CHECK_NAMES {
            assert!(FORMAT_GUIDE.contains(check), "the format guide does not name {check}");
        }
    }
}
