//! A shell session: one open database, the output settings, and the input loop that feeds it
//! SQL statements and dot commands, from a terminal (rustyline: line editing and history) or
//! from a script.
//!
//! ```text
//! line ──► blank buffer and starts with '.'? ──► dot_commands::run ──► Flow::{Continue, Quit}
//!    └───► StatementBuffer ──► complete `;` statements ──► Session::sql ──► format::print_result
//!                                                  (json / csv: each row as produced, format::RowWriter)
//! ```
//!
//! A script (the SQL argument or standard input) stops at its first error, which the caller
//! reports on stderr with exit status 1; its last statement may omit the `;`. The interactive
//! loop reports an error and carries on, except a closed standard output, which ends it. Ctrl-C clears a half-typed statement, Ctrl-D quits.

use crate::dot_commands;
use crate::error::{CliError, CliResult, Context};
use crate::format::{self, Mode};
use crate::input::StatementBuffer;
use rustlite::{params, Database};
use rustyline::error::ReadlineError;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PROMPT: &str = "rustlite> ";
const CONTINUATION: &str = "     ...> ";

/// What the input loop does after a dot command.
#[derive(Debug, PartialEq, Eq)]
pub enum Flow {
    /// Read the next line.
    Continue,
    /// End the session (`.quit`).
    Quit,
}

/// An open database and the session's settings.
pub struct Session {
    /// The database.
    pub db: Database,
    /// Where it lives.
    pub path: PathBuf,
    /// How results print (`.mode`).
    pub mode: Mode,
    /// Print each statement's plan before its result (`.explain on`).
    pub explain: bool,
    /// Print each statement's run time (`.timer on`).
    pub timer: bool,
}

impl Session {
    /// Opens (creating if needed) the database in `path`.
    pub fn open(path: &Path, mode: Mode) -> CliResult<Session> {
        let db = Database::open(path).context(path.display())?;
        Ok(Session {
            db,
            path: path.to_path_buf(),
            mode,
            explain: false,
            timer: false,
        })
    }

    /// Runs `text` line by line: dot commands on their own lines, SQL up to each `;` (the last
    /// statement may lack it). Stops at the first error and returns it.
    pub fn run_script(&mut self, text: &str) -> CliResult<()> {
        let mut buffer = StatementBuffer::default();
        for line in text.lines() {
            if buffer.is_blank() && line.trim_start().starts_with('.') {
                buffer = StatementBuffer::default();
                if dot_commands::run(self, line.trim())? == Flow::Quit {
                    return Ok(());
                }
                continue;
            }
            buffer.push_line(line);
            for statement in buffer.take_complete() {
                self.sql(&statement)?;
            }
        }
        match buffer.take_rest() {
            Some(rest) => self.sql(&rest),
            None => Ok(()),
        }
    }

    /// The interactive loop on a terminal; errors are printed and the loop goes on.
    pub fn interactive(&mut self) -> CliResult<()> {
        let mut editor = rustyline::DefaultEditor::new()
            .map_err(|e| CliError::msg(format!("cannot start the line editor: {e}")))?;
        let history = history_file();
        if let Some(path) = &history {
            let _ = editor.load_history(path);
        }
        writeln!(
            std::io::stdout(),
            "RustLite {} shell on {}. Enter SQL ending with ';' or .help for commands.",
            env!("CARGO_PKG_VERSION"),
            self.path.display()
        )?;
        let mut buffer = StatementBuffer::default();
        loop {
            let prompt = if buffer.is_blank() {
                PROMPT
            } else {
                CONTINUATION
            };
            let line = match editor.readline(prompt) {
                Ok(line) => line,
                Err(ReadlineError::Interrupted) => {
                    buffer = StatementBuffer::default();
                    continue;
                }
                Err(ReadlineError::Eof) => break,
                Err(e) => return Err(CliError::msg(format!("reading input: {e}"))),
            };
            if buffer.is_blank() && line.trim_start().starts_with('.') {
                buffer = StatementBuffer::default();
                let _ = editor.add_history_entry(line.trim());
                match dot_commands::run(self, line.trim()) {
                    Ok(Flow::Quit) => break,
                    Ok(Flow::Continue) => {}
                    // Nothing more can be shown: the session ends.
                    Err(e) if e.is_broken_pipe() => return Err(e),
                    Err(e) => eprintln!("Error: {e}"),
                }
                continue;
            }
            buffer.push_line(&line);
            for statement in buffer.take_complete() {
                let _ = editor.add_history_entry(statement.as_str());
                match self.sql(&statement) {
                    Ok(()) => {}
                    Err(e) if e.is_broken_pipe() => return Err(e),
                    Err(e) => eprintln!("Error: {e}"),
                }
            }
        }
        if let Some(path) = &history {
            let _ = editor.save_history(path);
        }
        Ok(())
    }

    /// Runs one SQL statement and prints its result in the session's mode.
    pub fn sql(&mut self, sql: &str) -> CliResult<()> {
        let mut out = std::io::stdout().lock();
        if self.explain && !starts_with_word(sql, "explain") {
            if let Ok(plan) = self.db.explain(sql) {
                writeln!(out, "{}", plan.trim_end())?;
            }
        }
        let started = Instant::now();
        let elapsed = match format::RowWriter::new(&mut out, self.mode) {
            // JSON and CSV print each row as the query produces it, so a large result is never
            // held; the run time leaves out the time spent printing, as in the table mode. A
            // statement that fails midway leaves the rows printed so far, closed (a JSON array
            // stays valid JSON).
            Ok(mut writer) => {
                let mut printing = Duration::ZERO;
                let ran = self.db.query_each(sql, params![], |columns, row| {
                    let printed = Instant::now();
                    writer.row(columns, &row)?;
                    printing += printed.elapsed();
                    Ok(true)
                });
                let elapsed = started.elapsed().saturating_sub(printing);
                match ran {
                    Ok(summary) => writer.finish(&summary.columns)?,
                    Err(e) => {
                        // The statement's error is the one to report.
                        let _ = writer.finish(&[]);
                        return Err(e.into());
                    }
                }
                elapsed
            }
            // The table mode sizes its columns from every row: it collects them first.
            Err(out) => {
                let result = self.db.query(sql, params![])?;
                let elapsed = started.elapsed();
                format::print_result(out, Mode::Table, &result)?;
                let is_write = ["insert", "update", "delete"]
                    .iter()
                    .any(|w| starts_with_word(sql, w));
                if result.columns.is_empty() && is_write {
                    match result.rows_affected {
                        1 => writeln!(out, "1 row affected")?,
                        n => writeln!(out, "{n} rows affected")?,
                    }
                }
                elapsed
            }
        };
        if self.timer {
            writeln!(out, "Run Time: {:.3} ms", elapsed.as_secs_f64() * 1000.0)?;
        }
        Ok(())
    }
}

/// Whether `sql` starts with keyword `word` (after whitespace and comments).
fn starts_with_word(sql: &str, word: &str) -> bool {
    let mut rest = sql.trim_start();
    while let Some(after) = rest.strip_prefix("--") {
        rest = after.split_once('\n').map_or("", |(_, r)| r).trim_start();
    }
    rest.get(..word.len())
        .is_some_and(|w| w.eq_ignore_ascii_case(word))
        && !rest
            .get(word.len()..)
            .and_then(|r| r.chars().next())
            .is_some_and(|c| c.is_alphanumeric() || c == '_')
}

/// `$RUSTLITE_HISTORY`, else `~/.rustlite_history`; none without a home directory.
fn history_file() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("RUSTLITE_HISTORY") {
        return Some(PathBuf::from(path));
    }
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE"))?;
    Some(PathBuf::from(home).join(".rustlite_history"))
}

#[cfg(test)]
mod tests {
    use super::starts_with_word;

    #[test]
    fn keyword_detection() {
        assert!(starts_with_word(
            "  -- hi\n INSERT INTO t VALUES (1)",
            "insert"
        ));
        assert!(!starts_with_word("inserted", "insert"));
        assert!(starts_with_word("explain select 1", "explain"));
    }
}
