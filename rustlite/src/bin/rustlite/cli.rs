//! The command line (clap derive) and its dispatch.
//!
//! # Subcommands or a database directory
//! The first argument is a subcommand when it is one of the names below (`backup`, `restore`,
//! `check`, `stats`, `compact`, `dump`, `load`, `help`); anything else is the database
//! directory of a shell session. A database directory that happens to be called `stats` is
//! opened as `rustlite ./stats`.
//!
//! An option before the subcommand (`rustlite -m json stats db`) makes clap read the
//! subcommand's name as a database directory; a directory argument spelled exactly like a
//! subcommand is therefore a usage error (exit status 2) rather than a new database called
//! `stats`.
//!
//! # Exit status
//! 0 on success; 1 when a statement, dot command or operation failed (the message is on
//! stderr as `Error: ...`; a script stops at its first error); 2 for a usage error. When
//! standard output is a pipe whose reader has gone (`rustlite dump db | head -1`), the run stops
//! at the next write without a message and exits with 141, as a shell reports a program ended
//! by SIGPIPE.

use crate::error::CliResult;
use crate::format::Mode;
use crate::{ops, shell};
use clap::{Parser, Subcommand};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

const AFTER_HELP: &str = "\
Examples:
  rustlite ./data                                  interactive shell (type .help)
  rustlite ./data \"SELECT * FROM users;\"           run SQL and exit
  rustlite ./data < script.sql                     run a script (stops at the first error)
  rustlite backup ./data ./backup-2025-01-31 --json
  rustlite dump ./data > dump.jsonl && rustlite load ./copy dump.jsonl

Set RUST_LOG (e.g. RUST_LOG=info) to see the engine's log on stderr.";

/// RustLite shell: SQL, raw keys and operations on a database directory.
#[derive(Debug, Parser)]
#[command(
    name = "rustlite",
    version,
    args_conflicts_with_subcommands = true,
    after_help = AFTER_HELP
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,

    /// Database directory (created if missing) for a shell session.
    #[arg(value_name = "DB_DIR")]
    db: Option<PathBuf>,

    /// SQL statements (`;`-separated) and dot commands (one per line) to run instead of the
    /// interactive shell.
    #[arg(value_name = "SQL")]
    sql: Option<String>,

    /// How results are printed.
    #[arg(short, long, value_enum, default_value_t = Mode::Table)]
    mode: Mode,
}

/// The operation subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Writes a consistent backup of DB into DIR (created; must be empty).
    ///
    /// Opens DB itself, so DB must not be open in another process (it is refused as locked).
    /// Online backups are made by whoever has the database open: `.backup DIR` inside the
    /// shell session, or `Database::backup_to` in the application.
    Backup {
        /// Database directory.
        db: PathBuf,
        /// Backup directory.
        dir: PathBuf,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Verifies the backup in BACKUP and copies it into DIR (must be empty or missing).
    Restore {
        /// Backup directory (written by `rustlite backup` or `Database::backup_to`).
        backup: PathBuf,
        /// Target database directory.
        dir: PathBuf,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Reads every table, manifest and WAL of DB and checks every checksum and the key order.
    Check {
        /// Database directory.
        db: PathBuf,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Prints levels, files, sizes, cache hit rate and WAL size of DB.
    Stats {
        /// Database directory.
        db: PathBuf,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Flushes the memtable and compacts DB fully (drops deleted and overwritten data).
    Compact {
        /// Database directory.
        db: PathBuf,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Writes every table (schema and rows) and every raw key of DB as JSON lines.
    Dump {
        /// Database directory.
        db: PathBuf,
        /// Write to this file instead of standard output.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
    /// Loads a dump (the `dump` format; `-` for standard input) into DB.
    Load {
        /// Database directory (created if missing; its tables must not exist yet).
        db: PathBuf,
        /// Dump file.
        file: PathBuf,
        /// Print the result as one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// Exit status when standard output's reader has gone: 128 + SIGPIPE, as a shell reports it.
const BROKEN_PIPE: u8 = 141;

/// Parses the command line, runs it and maps the outcome to an exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = refuse_subcommand_as_directory(&cli) {
        e.exit();
    }
    let _log = init_logging();
    match run(cli) {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::from(BROKEN_PIPE),
        Err(e) => {
            eprintln!("Error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A usage error when the database directory is spelled exactly like a subcommand (`stats`,
/// reached as a directory only when an option came before it).
fn refuse_subcommand_as_directory(cli: &Cli) -> Result<(), clap::Error> {
    use clap::CommandFactory;
    let Some(db) = &cli.db else { return Ok(()) };
    let command = Cli::command();
    let Some(name) = command
        .get_subcommands()
        .map(clap::Command::get_name)
        .chain(["help"])
        .find(|name| db.as_os_str() == *name)
    else {
        return Ok(());
    };
    Err(Cli::command().error(
        clap::error::ErrorKind::ArgumentConflict,
        format!(
            "`{name}` is a subcommand here, not a database directory: put options after it \
             (`rustlite {name} DB --json`); a database directory called {name} opens as ./{name}"
        ),
    ))
}

/// With `RUST_LOG` set, the engine's log goes to stderr (stdout is for results).
fn init_logging() -> Option<rustlite::logging::LogGuard> {
    std::env::var_os("RUST_LOG")?;
    rustlite::logging::LogConfig::from_env()
        .with_stdout(false)
        .with_stderr(true)
        .init()
        .ok()
}

fn run(cli: Cli) -> CliResult<ExitCode> {
    if let Some(command) = cli.command {
        ops::run(command)?;
        return Ok(ExitCode::SUCCESS);
    }
    let Some(db) = cli.db else {
        use clap::CommandFactory;
        Cli::command().print_help()?;
        return Ok(ExitCode::from(2));
    };
    let mut session = shell::Session::open(&db, cli.mode)?;
    match cli.sql {
        Some(sql) => session.run_script(&sql)?,
        None if std::io::stdin().is_terminal() => session.interactive()?,
        None => {
            let script = std::io::read_to_string(std::io::stdin())?;
            session.run_script(&script)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subcommand_names_win_over_a_database_directory() {
        let cli = Cli::try_parse_from(["rustlite", "stats", "db"]).expect("parses");
        assert!(matches!(cli.command, Some(Command::Stats { .. })));
        let cli = Cli::try_parse_from(["rustlite", "./stats", "SELECT 1"]).expect("parses");
        assert!(cli.command.is_none());
        assert_eq!(cli.db, Some(PathBuf::from("./stats")));
        assert_eq!(cli.sql.as_deref(), Some("SELECT 1"));
    }

    #[test]
    fn an_option_before_a_subcommand_is_a_usage_error() {
        let cli = Cli::try_parse_from(["rustlite", "-m", "json", "stats", "db"]).expect("parses");
        assert!(cli.command.is_none());
        let e = refuse_subcommand_as_directory(&cli).expect_err("refused");
        assert!(e.to_string().contains("`stats` is a subcommand"), "{e}");
        for args in [
            &["rustlite", "--mode", "csv", "help"][..],
            &["rustlite", "-m", "json", "check"],
        ] {
            let cli = Cli::try_parse_from(args).expect("parses");
            assert!(refuse_subcommand_as_directory(&cli).is_err(), "{args:?}");
        }
        for args in [
            &["rustlite", "-m", "json", "./stats", "SELECT 1"][..],
            &["rustlite", "stats", "db"],
            &["rustlite", "statsdb"],
        ] {
            let cli = Cli::try_parse_from(args).expect("parses");
            assert!(refuse_subcommand_as_directory(&cli).is_ok(), "{args:?}");
        }
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
