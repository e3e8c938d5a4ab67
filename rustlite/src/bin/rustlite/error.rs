//! The binary's one error type: a message for stderr. Library errors keep their own wording
//! (which already says what to do); the binary adds context such as the file or command.

use std::fmt;

/// A failed command: printed as `Error: {message}` on stderr, and the process exits with 1.
#[derive(Debug)]
pub struct CliError(pub String);

/// Result of a shell or subcommand step.
pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    /// An error with `message`.
    pub fn msg(message: impl Into<String>) -> Self {
        CliError(message.into())
    }

    /// This error with `context: ` in front.
    pub fn context(self, context: impl fmt::Display) -> Self {
        CliError(format!("{context}: {}", self.0))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<rustlite::Error> for CliError {
    fn from(e: rustlite::Error) -> Self {
        CliError(e.to_string())
    }
}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        CliError(e.to_string())
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        CliError(format!("JSON: {e}"))
    }
}

impl From<csv::Error> for CliError {
    fn from(e: csv::Error) -> Self {
        CliError(format!("CSV: {e}"))
    }
}

/// Adds context to any error convertible into a [`CliError`].
pub trait Context<T> {
    /// On error, prefix its message with `context: `.
    fn context(self, context: impl fmt::Display) -> CliResult<T>;
}

impl<T, E: Into<CliError>> Context<T> for Result<T, E> {
    fn context(self, context: impl fmt::Display) -> CliResult<T> {
        self.map_err(|e| e.into().context(context))
    }
}
