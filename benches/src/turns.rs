//! Turns: the parent process hands out the durable rounds one engine at a time, so that every
//! engine's rounds of a row run within seconds of each other instead of minutes apart.
//!
//! Each engine still runs in a child process of its own (its peak RSS stays its own), and only
//! one child ever runs at a time. With `--turns`, a child prints `READY` on stdout before each
//! durable row of each round (and once after the last) and waits for a line on stdin. The
//! parent starts the children one by one, each running until its first `READY` (its load and
//! reads, alone), then gives turns round-robin, reversing the order every turn, until every
//! child has exited:
//!
//! ```text
//!  rustlite: load … compact ─ READY ┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄┄ commit1 ─ READY ┄┄┄┄┄┄┄┄ txn1 …
//!  fjall:                      load … compact ─ READY ─ commit1 ─ READY ┄┄ txn1 ─ READY ┄┄ …
//! ```
//!
//! Why: a durable row is bound by the device's flush latency, which on a shared machine drifts
//! by ±15–30 % over minutes; run one engine after another, a single row's ratio measured the
//! drift as much as the engines. (A child run by hand, without `--turns`, never waits.)

use crate::report::Results;
use std::io::{BufRead, BufReader, Lines, Write};
use std::path::Path;
use std::process::{ChildStdin, ChildStdout, Command, Stdio};

/// What a child prints when it waits for its turn.
const READY: &str = "READY";

/// The child's side: waits for the parent's go-ahead when run with `--turns`.
pub struct Gate {
    input: Option<std::io::StdinLock<'static>>,
}

impl Gate {
    /// A gate that waits (`turns`) or one that always lets through.
    pub fn new(turns: bool) -> Gate {
        Gate {
            input: turns.then(|| std::io::stdin().lock()),
        }
    }

    /// Says `READY` and waits for the parent's line; at once without `--turns`.
    pub fn wait(&mut self) -> crate::engines::Result<()> {
        let Some(input) = &mut self.input else {
            return Ok(());
        };
        let mut out = std::io::stdout().lock();
        writeln!(out, "{READY}")?;
        out.flush()?;
        let mut line = String::new();
        if input.read_line(&mut line)? == 0 {
            return Err("the parent closed stdin while this child waited for its turn".into());
        }
        Ok(())
    }
}

/// The parent's side: one running child and what it has printed so far.
pub struct Child {
    pub name: String,
    process: std::process::Child,
    stdin: Option<ChildStdin>,
    lines: Lines<BufReader<ChildStdout>>,
    results: Results,
    plans: Vec<String>,
}

impl Child {
    /// Starts `exe --child name` with `extra` arguments; with `turns`, it waits at each turn.
    pub fn spawn(exe: &Path, name: &str, extra: &[String], turns: bool) -> std::io::Result<Child> {
        let mut cmd = Command::new(exe);
        cmd.arg("--child").arg(name).args(extra);
        if turns {
            cmd.arg("--turns");
        }
        let mut process = cmd
            .stdin(if turns { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let stdout = process
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("the child's stdout was not captured"))?;
        Ok(Child {
            name: name.to_string(),
            stdin: process.stdin.take(),
            process,
            lines: BufReader::new(stdout).lines(),
            results: Results::new(),
            plans: Vec::new(),
        })
    }

    /// Reads the child's output, keeping its `RESULT` and `PLAN` lines, until it waits for a
    /// turn (true) or closes its output (false: it has finished, or died).
    pub fn run_to_turn(&mut self) -> bool {
        for line in self.lines.by_ref() {
            let Ok(line) = line else { return false };
            if line == READY {
                return true;
            }
            if let Some(p) = line.strip_prefix("PLAN ") {
                self.plans.push(p.to_string());
                continue;
            }
            let mut parts = line.split_whitespace();
            if let (Some("RESULT"), Some(id), Some(v)) = (parts.next(), parts.next(), parts.next())
            {
                if let Ok(v) = v.parse() {
                    self.results.insert(id.to_string(), v);
                }
            }
        }
        false
    }

    /// Gives the waiting child its turn and runs it to its next one (see [`Child::run_to_turn`]).
    pub fn go(&mut self) -> bool {
        let sent = self
            .stdin
            .as_mut()
            .is_some_and(|s| s.write_all(b"go\n").and_then(|()| s.flush()).is_ok());
        sent && self.run_to_turn()
    }

    /// Waits for the child to exit; a failure is added to `failures`.
    pub fn finish(mut self, failures: &mut Vec<String>) -> (Results, Vec<String>) {
        // Closing stdin first: a child still waiting for a turn sees the end and exits.
        drop(self.stdin.take());
        match self.process.wait() {
            Ok(status) if status.success() => {}
            Ok(status) => failures.push(format!("{}: child exited with {status}", self.name)),
            Err(e) => failures.push(format!("{}: could not wait for the child: {e}", self.name)),
        }
        (self.results, self.plans)
    }
}

/// Runs one child per name with turns (see the module doc) and returns each one's results, in
/// the order of `names`.
pub fn run_all(
    exe: &Path,
    names: &[String],
    extra: &[String],
    failures: &mut Vec<String>,
) -> Vec<(String, Results)> {
    let mut done: Vec<Option<Results>> = vec![None; names.len()];
    // Children waiting for a turn, with their index in `names`.
    let mut waiting: Vec<(usize, Child)> = Vec::new();
    let mut finish = |i: usize, child: Child, failures: &mut Vec<String>| {
        done[i] = Some(child.finish(failures).0);
    };
    for (i, name) in names.iter().enumerate() {
        eprintln!("── {name}");
        match Child::spawn(exe, name, extra, true) {
            Ok(mut child) => {
                if child.run_to_turn() {
                    waiting.push((i, child));
                } else {
                    finish(i, child, failures);
                }
            }
            Err(e) => failures.push(format!("{name}: could not start: {e}")),
        }
    }
    let mut turn = 0;
    while !waiting.is_empty() {
        turn += 1;
        if turn % 2 == 0 {
            waiting.reverse();
        }
        let mut still = Vec::with_capacity(waiting.len());
        for (i, mut child) in waiting.drain(..) {
            eprintln!("── {} (turn {turn})", child.name);
            if child.go() {
                still.push((i, child));
            } else {
                finish(i, child, failures);
            }
        }
        if turn % 2 == 0 {
            still.reverse();
        }
        waiting = still;
    }
    names
        .iter()
        .zip(done)
        .map(|(name, r)| (name.clone(), r.unwrap_or_default()))
        .collect()
}
