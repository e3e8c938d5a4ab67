//! The markdown report: one row per workload, one column per engine, then RustLite's ratio to
//! the best peer and whether the target of issue 6 is met.

use crate::ceilings::Ceilings;
use std::collections::BTreeMap;
use std::fmt::Write;

/// Results of one engine: workload id → value.
pub type Results = BTreeMap<String, f64>;

#[derive(Clone, Copy, PartialEq)]
enum Unit {
    OpsPerSec,
    Bytes,
    Ratio,
}

#[derive(Clone, Copy)]
enum Target {
    /// RustLite ≥ this × the best peer.
    Peers(f64),
    /// RustLite ≥ this × its own single-writer durable commit rate and ≥ this × the overwrite
    /// fsync ceiling (its WAL is preallocated and overwritten in place, so that is its floor).
    GroupCommit(f64),
    /// Full scan: ≥ 1.0× RocksDB and ≥ 0.5× LMDB.
    Scan,
    /// Space amplification ≤ this.
    AtMost(f64),
    /// Reported only.
    None,
}

/// `(id, label, unit, target, durable write)`: a durable write row marks sled's cells with † and
/// leaves sled out of the best peer (its flush is weaker than fsync).
const ROWS: &[(&str, &str, Unit, Target, bool)] = &[
    (
        "load",
        "bulk load, durable batches of 1000 (keys/s)",
        Unit::OpsPerSec,
        Target::Peers(1.0),
        true,
    ),
    (
        "commit1",
        "individual durable commits, 1 thread",
        Unit::OpsPerSec,
        Target::Peers(1.0),
        true,
    ),
    (
        "get_hit",
        "point get, hit, 1 thread",
        Unit::OpsPerSec,
        Target::Peers(0.8),
        false,
    ),
    (
        "get_miss",
        "point get, miss, 1 thread",
        Unit::OpsPerSec,
        Target::Peers(1.0),
        false,
    ),
    (
        "get_hit4",
        "point get, hit, 4 threads",
        Unit::OpsPerSec,
        Target::Peers(0.8),
        false,
    ),
    (
        "get_miss4",
        "point get, miss, 4 threads",
        Unit::OpsPerSec,
        Target::Peers(1.0),
        false,
    ),
    (
        "range10",
        "range: seek + 10 (seeks/s)",
        Unit::OpsPerSec,
        Target::Peers(0.8),
        false,
    ),
    (
        "range100",
        "range: seek + 100 (seeks/s)",
        Unit::OpsPerSec,
        Target::Peers(0.8),
        false,
    ),
    (
        "scan",
        "full scan (entries/s)",
        Unit::OpsPerSec,
        Target::Scan,
        false,
    ),
    (
        "delete",
        "random deletes, durable batches of 1000",
        Unit::OpsPerSec,
        Target::Peers(1.0),
        true,
    ),
    (
        "txn1_durable",
        "txn read 2 write 2, 1 thread, durable",
        Unit::OpsPerSec,
        Target::None,
        true,
    ),
    (
        "txn4_durable",
        "txn read 2 write 2, 4 threads, durable",
        Unit::OpsPerSec,
        Target::GroupCommit(3.0),
        true,
    ),
    (
        "txn1_buffered",
        "txn read 2 write 2, 1 thread, buffered",
        Unit::OpsPerSec,
        Target::None,
        false,
    ),
    (
        "txn4_buffered",
        "txn read 2 write 2, 4 threads, buffered",
        Unit::OpsPerSec,
        Target::None,
        false,
    ),
    (
        "ycsb_a",
        "YCSB-A 50/50 zipfian, buffered",
        Unit::OpsPerSec,
        Target::None,
        false,
    ),
    (
        "ycsb_b",
        "YCSB-B 95/5 zipfian, buffered",
        Unit::OpsPerSec,
        Target::None,
        false,
    ),
    (
        "cold_get",
        "cold point get, data 4× cache, 1 thread",
        Unit::OpsPerSec,
        Target::None,
        false,
    ),
    (
        "cold_get4",
        "cold point get, data 4× cache, 4 threads",
        Unit::OpsPerSec,
        Target::None,
        false,
    ),
    (
        "disk_load",
        "disk after load (MiB)",
        Unit::Bytes,
        Target::None,
        false,
    ),
    (
        "disk_compact",
        "disk after compaction (MiB)",
        Unit::Bytes,
        Target::None,
        false,
    ),
    (
        "space_amp",
        "space amplification (disk / 116 B per key)",
        Unit::Ratio,
        Target::AtMost(1.3),
        false,
    ),
    (
        "peak_rss",
        "peak RSS of the process (MiB)",
        Unit::Bytes,
        Target::None,
        false,
    ),
];

/// Every workload id the harness knows (for `--workloads`).
pub fn workload_ids() -> Vec<&'static str> {
    ROWS.iter().map(|r| r.0).collect()
}

fn fmt_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::OpsPerSec if v >= 1e6 => format!("{:.2}M", v / 1e6),
        Unit::OpsPerSec if v >= 1e4 => format!("{:.0}k", v / 1e3),
        Unit::OpsPerSec if v >= 1e3 => format!("{:.1}k", v / 1e3),
        Unit::OpsPerSec => format!("{v:.0}"),
        Unit::Bytes => format!("{:.1}", v / (1 << 20) as f64),
        Unit::Ratio => format!("{v:.2}×"),
    }
}

/// Renders the table for `engines` (RustLite first if present) with the run's ceilings.
pub fn render(engines: &[(String, Results)], ceil: &Ceilings) -> String {
    let mut out = String::new();
    let names: Vec<&str> = engines.iter().map(|(n, _)| n.as_str()).collect();
    let _ = writeln!(
        out,
        "| workload | {} | RustLite vs best peer | target |",
        names.join(" | ")
    );
    let _ = writeln!(out, "|---|{}---|---|", "---:|".repeat(names.len()));
    let rl = engines
        .iter()
        .find(|(n, _)| n == "rustlite")
        .map(|(_, r)| r);
    for &(id, label, unit, target, durable_write) in ROWS {
        if engines.iter().all(|(_, r)| !r.contains_key(id)) {
            continue;
        }
        let mut cells = Vec::new();
        for (name, res) in engines {
            let cell = match res.get(id) {
                Some(&v) => {
                    let mark = if durable_write && name == "sled" {
                        " †"
                    } else {
                        ""
                    };
                    format!("{}{mark}", fmt_value(v, unit))
                }
                None => "n/a".to_string(),
            };
            cells.push(cell);
        }
        let higher_better = unit == Unit::OpsPerSec;
        let peers = engines
            .iter()
            .filter(|(n, _)| n != "rustlite" && !(durable_write && n == "sled"))
            .filter_map(|(n, r)| r.get(id).map(|&v| (n.as_str(), v)));
        let best = if higher_better {
            peers.max_by(|a, b| a.1.total_cmp(&b.1))
        } else {
            peers.min_by(|a, b| a.1.total_cmp(&b.1))
        };
        let mine = rl.and_then(|r| r.get(id).copied());
        let ratio = match (mine, best) {
            (Some(m), Some((peer, b))) if b > 0.0 => format!("{:.2}× {peer}", m / b),
            _ => "—".to_string(),
        };
        let verdict = verdict(id, target, mine, best.map(|b| b.1), engines, rl, ceil);
        let _ = writeln!(
            out,
            "| {label} | {} | {ratio} | {verdict} |",
            cells.join(" | ")
        );
    }
    out
}

fn verdict(
    id: &str,
    target: Target,
    mine: Option<f64>,
    best: Option<f64>,
    engines: &[(String, Results)],
    rl: Option<&Results>,
    ceil: &Ceilings,
) -> String {
    let Some(m) = mine else { return "—".into() };
    let peer = |name: &str| {
        engines
            .iter()
            .find(|(n, _)| n == name)
            .and_then(|(_, r)| r.get(id).copied())
    };
    let mark = |ok: bool, what: String| format!("{} {what}", if ok { "met" } else { "**MISSED**" });
    match target {
        Target::Peers(x) => match best {
            Some(b) => mark(m >= x * b, format!("≥{x}× best")),
            None => format!("≥{x}× best"),
        },
        Target::GroupCommit(x) => {
            let single = rl
                .and_then(|r| r.get("txn1_durable").copied())
                .unwrap_or(f64::NAN);
            let vs_fsync = m / ceil.overwrite_commits_per_sec();
            mark(
                m >= x * single && vs_fsync >= x,
                format!(
                    "≥{x}× 1 thread ({:.1}×) and ≥{x}× 1/fsync of an overwrite ({vs_fsync:.1}×)",
                    m / single
                ),
            )
        }
        Target::Scan => {
            let mut parts = Vec::new();
            let mut ok = true;
            if let Some(r) = peer("rocksdb") {
                ok &= m >= r;
                parts.push("≥1.0× rocksdb".to_string());
            }
            if let Some(l) = peer("lmdb") {
                ok &= m >= 0.5 * l;
                parts.push(format!("≥0.5× lmdb ({:.2}×)", m / l));
            }
            mark(ok, parts.join(", "))
        }
        Target::AtMost(x) => mark(m <= x, format!("≤{x}×")),
        Target::None => "—".into(),
    }
}

/// Ids `--workloads` accepts besides the key-value rows: the typed layer and SQL tables.
pub const EXTRA_WORKLOADS: [&str; 2] = ["typed", "sql"];

fn fmt_ms(v: f64) -> String {
    if v < 0.1 {
        format!("{v:.4}")
    } else if v < 1.0 {
        format!("{v:.3}")
    } else if v < 100.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

/// The "typed layer vs raw" table (issue 4): ops/s of each side and the time ratio.
pub fn render_typed(res: &Results) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "| operation (RustLite) | typed (ops/s) | raw (ops/s) | typed time / raw time | target |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---|");
    let rows: [(&str, &str, &str, Option<f64>); 3] = [
        (
            "typed_insert",
            "raw_put",
            "`insert` (own transaction, unique + B-Tree index) vs `put` of the same bytes, buffered",
            Some(2.5),
        ),
        (
            "typed_get",
            "raw_get",
            "`get` by key (decoded into the struct) vs raw `get`, buffered",
            Some(1.3),
        ),
        (
            "typed_insert_batch",
            "raw_put_batch",
            "`insert` ×1000 in one transaction vs `write_batch` of 1000 puts, durable (Immediate)",
            None,
        ),
    ];
    for (t, r, label, target) in rows {
        let (Some(&tv), Some(&rv)) = (res.get(t), res.get(r)) else {
            continue;
        };
        let ratio = rv / tv;
        let verdict = match target {
            Some(x) => format!("{} ≤{x}×", if ratio <= x { "met" } else { "**MISSED**" }),
            None => "— (reported)".to_string(),
        };
        let _ = writeln!(
            out,
            "| {label} | {} | {} | {ratio:.2}× | {verdict} |",
            fmt_value(tv, Unit::OpsPerSec),
            fmt_value(rv, Unit::OpsPerSec)
        );
    }
    out
}

/// The "SQL vs SQLite" table (issue 5): median ms per query on each side, the ratio, the target
/// (≤ 2× SQLite for every query) and whether EXPLAIN showed the expected access path.
pub fn render_sql(res: &Results, plans: &[String]) -> String {
    let mut out = String::new();
    if let (Some(a), Some(b)) = (res.get("sql_load_rustlite"), res.get("sql_load_sqlite")) {
        let _ = writeln!(
            out,
            "Load (rows/s, users + orders, indexes maintained): RustLite {} (SQL `INSERT … VALUES` of 250 rows, \
             transactions of 10,000 rows), SQLite {} (prepared single-row INSERT, transactions of 10,000 rows).\n",
            fmt_value(*a, Unit::OpsPerSec),
            fmt_value(*b, Unit::OpsPerSec)
        );
    }
    let _ = writeln!(
        out,
        "| query | rows | RustLite (ms) | SQLite (ms) | RustLite / SQLite | target | RustLite plan | same result |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---|---|---|");
    for (id, label) in crate::sql::queries() {
        let (Some(&a), Some(&b)) = (
            res.get(&format!("sql_rustlite_{id}")),
            res.get(&format!("sql_sqlite_{id}")),
        ) else {
            continue;
        };
        let ratio = a / b;
        let verdict = format!("{} ≤2×", if ratio <= 2.0 { "met" } else { "**MISSED**" });
        let plan = match res.get(&format!("sql_plan_ok_{id}")) {
            Some(&1.0) => "expected ✓".to_string(),
            Some(_) => "**not the expected path**".to_string(),
            None => "—".to_string(),
        };
        let same = match res.get(&format!("sql_same_{id}")) {
            Some(&1.0) => "yes",
            Some(_) => "**NO**",
            None => "—",
        };
        let rows = res
            .get(&format!("sql_rows_{id}"))
            .map_or("—".to_string(), |r| format!("{r:.0}"));
        let _ = writeln!(
            out,
            "| {label} | {rows} | {} | {} | {ratio:.2}× | {verdict} | {plan} | {same} |",
            fmt_ms(a),
            fmt_ms(b)
        );
    }
    if !plans.is_empty() {
        let _ = writeln!(
            out,
            "\nPlans (RustLite `db.explain`, SQLite `EXPLAIN QUERY PLAN`):\n\n```text"
        );
        let mut last = String::new();
        for p in plans {
            // "engine id line…"
            let mut parts = p.splitn(3, ' ');
            let (engine, id, line) = (
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
                parts.next().unwrap_or(""),
            );
            let head = format!("{id} — {engine}");
            if head != last {
                let _ = writeln!(out, "{head}:");
                last = head;
            }
            let _ = writeln!(out, "    {line}");
        }
        let _ = writeln!(out, "```");
    }
    out
}
