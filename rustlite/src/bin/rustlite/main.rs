//! `rustlite`: the command-line shell and operations tool of RustLite.
//!
//! ```text
//! rustlite DB_DIR                 interactive shell (SQL, dot commands, raw keys)
//! rustlite DB_DIR "SQL; ..."      run statements, print results, exit non-zero on error
//! rustlite DB_DIR < script.sql    the same, from standard input
//! rustlite backup|restore|check|stats|compact|dump|load ...   operations (see --help)
//! ```
//!
//! | module | owns |
//! |---|---|
//! | [`cli`] | the clap command line and its dispatch |
//! | [`shell`] | a session: settings, SQL execution, the input loop (interactive or script) |
//! | [`input`] | splitting input into `;`-terminated statements and dot-command arguments |
//! | [`dot_commands`] | `.tables`, `.schema`, `.mode`, `.import`, ... |
//! | [`format`] | result output as aligned tables, JSON or CSV; values to and from JSON |
//! | [`transfer`] | rows in and out: export, dump, load |
//! | [`import`] | `.import` of CSV or JSON lines files, streamed |
//! | [`ops`] | the operation subcommands |
//! | [`progress`] | progress bars that appear only for work longer than a second |
//! | [`error`] | the binary's error type |

mod cli;
mod dot_commands;
mod error;
mod format;
mod import;
mod input;
mod ops;
mod progress;
mod shell;
mod transfer;

fn main() -> std::process::ExitCode {
    cli::main()
}
