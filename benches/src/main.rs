//! `rustlite-bench`: RustLite side by side with redb, fjall, sled, LMDB (heed), SQLite and
//! (with `--features rocksdb`) RocksDB, on the same machine, in one run.
//!
//! ```text
//! cargo run --release -- [--quick] [--engines rustlite,redb,…] [--workloads load,get_hit,…]
//!                        [--dir DIR] [--out FILE.md]
//! ```
//! The parent measures the machine's ceilings, then re-executes itself once per engine
//! (`--child ENGINE`): each engine runs in a fresh process, so the peak RSS it reports is its
//! own. Children print `RESULT id value` lines; the parent prints the markdown table.
//!
//! | module | owns |
//! |---|---|
//! | [`engines`] | the `Engine` trait and one adapter per database |
//! | [`workloads`] | the workloads and their phases |
//! | [`keys`] | keys, values, PRNG, zipfian |
//! | [`ceilings`] | fsync latency and sequential write bandwidth |
//! | [`report`] | the markdown table and target verdicts |
//! | [`turns`] | the parent handing the durable rounds to one engine at a time |

mod ceilings;
mod engines;
mod keys;
mod report;
mod sql;
mod turns;
mod typed;
mod workloads;

use std::path::PathBuf;

struct Args {
    quick: bool,
    engines: Vec<String>,
    workloads: Option<Vec<String>>,
    dir: PathBuf,
    out: Option<PathBuf>,
    child: Option<String>,
    /// A child waits for the parent's go-ahead before each durable round ([`turns`]).
    turns: bool,
}

const USAGE: &str =
    "usage: rustlite-bench [--quick] [--engines a,b] [--workloads w1,w2] [--dir DIR] [--out FILE]";

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        quick: false,
        engines: engines::available().iter().map(|s| s.to_string()).collect(),
        workloads: None,
        dir: PathBuf::from("target/bench-data"),
        out: None,
        child: None,
        turns: false,
    };
    let mut it = std::env::args().skip(1);
    let list = |v: Option<String>| -> Result<Vec<String>, String> {
        let v = v.ok_or(USAGE)?;
        Ok(v.split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect())
    };
    while let Some(a) = it.next() {
        match a.as_str() {
            "--quick" => args.quick = true,
            "--engines" => args.engines = list(it.next())?,
            "--workloads" => args.workloads = Some(list(it.next())?),
            "--dir" => args.dir = it.next().ok_or(USAGE)?.into(),
            "--out" => args.out = Some(it.next().ok_or(USAGE)?.into()),
            "--child" => args.child = Some(it.next().ok_or(USAGE)?),
            "--turns" => args.turns = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
        }
    }
    for e in &args.engines {
        if !engines::available().contains(&e.as_str()) {
            return Err(format!(
                "engine {e:?} not built in (built: {:?})",
                engines::available()
            ));
        }
    }
    if let Some(ws) = &args.workloads {
        let mut known = report::workload_ids();
        known.extend(report::EXTRA_WORKLOADS);
        if let Some(w) = ws.iter().find(|w| !known.contains(&w.as_str())) {
            return Err(format!(
                "unknown workload {w:?} (known: {})",
                known.join(",")
            ));
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let sizes = workloads::Sizes::new(args.quick);
    let wanted = args.workloads.clone();
    let want = move |id: &str| wanted.as_ref().is_none_or(|w| w.iter().any(|x| x == id));

    if let Some(engine) = &args.child {
        let dir = args.dir.join(engine);
        let _ = std::fs::remove_dir_all(&dir);
        let outcome = match engine.as_str() {
            "typed" => typed::run(&dir, typed::TypedSizes::new(args.quick)),
            "sql" => sql::run(&dir, sql::SqlSizes::new(args.quick)),
            _ => workloads::run_engine(
                engine,
                &dir,
                sizes,
                &want,
                &mut turns::Gate::new(args.turns),
            ),
        };
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = outcome {
            eprintln!("{engine}: {e}");
            std::process::exit(1);
        }
        return;
    }

    // The key-value table runs when one of its rows is wanted; "typed" and "sql" are tables of
    // their own, each in one child process.
    let kv_wanted = report::workload_ids().iter().any(|id| want(id));
    let exe = std::env::current_exe().expect("the running binary has a path");
    let mut failures = Vec::new();
    let mut doc = String::new();
    if kv_wanted {
        kv_table(&args, sizes, &exe, &mut doc, &mut failures);
    }
    if want("typed") {
        eprintln!("── typed layer vs raw (RustLite)");
        let (res, _) = run_child(&exe, "typed", &args, &mut failures);
        doc.push_str("\n### Typed layer vs raw key-value (RustLite)\n\n");
        doc.push_str(&report::render_typed(&res));
    }
    if want("sql") {
        eprintln!("── SQL: RustLite vs SQLite");
        let (res, plans) = run_child(&exe, "sql", &args, &mut failures);
        doc.push_str("\n### SQL: RustLite vs SQLite\n\n");
        doc.push_str(&report::render_sql(&res, &plans));
    }
    for f in &failures {
        doc.push_str(&format!("FAILED {f}\n"));
    }
    println!("{doc}");
    if let Some(out) = &args.out {
        if let Err(e) = std::fs::write(out, &doc) {
            eprintln!("writing {}: {e}", out.display());
        }
    }
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

/// Arguments every child gets from the parent.
fn child_args(args: &Args) -> Vec<String> {
    let mut extra = vec!["--dir".to_string(), args.dir.display().to_string()];
    if args.quick {
        extra.push("--quick".into());
    }
    if let Some(ws) = &args.workloads {
        extra.push("--workloads".into());
        extra.push(ws.join(","));
    }
    extra
}

/// Runs `--child NAME` to its end and collects its `RESULT id value` and `PLAN …` lines.
fn run_child(
    exe: &std::path::Path,
    name: &str,
    args: &Args,
    failures: &mut Vec<String>,
) -> (report::Results, Vec<String>) {
    match turns::Child::spawn(exe, name, &child_args(args), false) {
        Ok(mut child) => {
            // Without turns it never waits: this reads to its end.
            child.run_to_turn();
            child.finish(failures)
        }
        Err(e) => {
            failures.push(format!("{name}: could not start: {e}"));
            Default::default()
        }
    }
}

/// The key-value table: ceilings, then one child per engine.
fn kv_table(
    args: &Args,
    sizes: workloads::Sizes,
    exe: &std::path::Path,
    doc: &mut String,
    failures: &mut Vec<String>,
) {
    eprintln!(
        "rustlite-bench: {} keys, data in {}",
        sizes.keys,
        args.dir.display()
    );
    let (appends, seq) = if args.quick {
        (200, 32 << 20)
    } else {
        (2000, 512 << 20)
    };
    let ceil = match ceilings::measure(&args.dir, appends, seq) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("measuring the machine's ceilings failed: {e}");
            std::process::exit(1);
        }
    };
    eprintln!(
        "ceilings: fsync 4 KiB append median {:.0} µs (p99 {:.0} µs) = {:.0} commits/s; overwrite median {:.0} µs (p99 {:.0} µs) = {:.0} commits/s; sequential write {:.0} MB/s",
        ceil.fsync_median * 1e6,
        ceil.fsync_p99 * 1e6,
        ceil.append_commits_per_sec(),
        ceil.overwrite_median * 1e6,
        ceil.overwrite_p99 * 1e6,
        ceil.overwrite_commits_per_sec(),
        ceil.seq_write_bps / 1e6
    );

    let results = turns::run_all(exe, &args.engines, &child_args(args), failures);

    doc.push_str(&report::render(&results, &ceil));
    doc.push('\n');
    doc.push_str(&format!(
        "Machine ceilings (same run, same file system): fsync of a 4 KiB append median {:.0} µs, p99 {:.0} µs \
         (= {:.0} durable commits/s for one writer into a growing log); fsync of a 4 KiB overwrite in place \
         (no size change) median {:.0} µs, p99 {:.0} µs (= {:.0}/s: the ceiling for a preallocated log such as \
         RustLite's WAL, which RustLite's commit rates below are compared with); sequential write {:.0} MB/s.\n",
        ceil.fsync_median * 1e6,
        ceil.fsync_p99 * 1e6,
        ceil.append_commits_per_sec(),
        ceil.overwrite_median * 1e6,
        ceil.overwrite_p99 * 1e6,
        ceil.overwrite_commits_per_sec(),
        ceil.seq_write_bps / 1e6
    ));
    // RustLite's WAL is preallocated and overwritten in place, so its floor is the overwrite
    // fsync; the append figure is printed beside it, labelled, for comparison with older runs.
    let vs_ceilings = |rate: f64| {
        format!(
            "{:.2}× the overwrite-fsync ceiling ({:.2}× the append-fsync one)",
            rate / ceil.overwrite_commits_per_sec(),
            rate / ceil.append_commits_per_sec()
        )
    };
    if let Some((_, rl)) = results.iter().find(|(n, _)| n == "rustlite") {
        if let Some(&c) = rl.get("commit1") {
            doc.push_str(&format!(
                "RustLite individual durable commits: {c:.0}/s = {}.\n",
                vs_ceilings(c)
            ));
        }
        if let Some(&t) = rl.get("txn4_durable") {
            let carried = rl
                .get("txn4_durable_per_fsync")
                .map(|n| format!(", {n:.2} commits per fsync"))
                .unwrap_or_default();
            doc.push_str(&format!(
                "RustLite 4-thread durable transactions: {t:.0}/s = {} (group commit{carried}).\n",
                vs_ceilings(t)
            ));
        }
    }
    let dropped: Vec<&str> = results
        .iter()
        .filter(|(_, r)| r.get("page_cache_dropped") == Some(&0.0))
        .map(|(n, _)| n.as_str())
        .collect();
    if !dropped.is_empty() {
        doc.push_str(&format!(
            "Cold reads: the OS page cache could not be dropped for {} (no writable /proc/sys/vm/drop_caches): \
             \"cold\" means only the engine's own cache is 4× smaller than the data.\n",
            dropped.join(", ")
        ));
    }
    doc.push_str(
        "† sled: durable = `flush()` after each commit, weaker than fsync-per-commit; left out of the best peer on durable write rows.\n",
    );
}
