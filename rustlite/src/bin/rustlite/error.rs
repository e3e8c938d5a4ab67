//! The binary's one error type: a message for stderr. Library errors keep their own wording
//! (which already says what to do); the binary adds context such as the file or command.
//!
//! A write to standard output that failed because the reader went away (a broken pipe, as in
//! `rustlite dump db | head`) is marked as such, so that the process ends quietly instead of
//! reporting it (see [`crate::cli`]).

use std::fmt;
use std::io;

/// A failed command: printed as `Error: {message}` on stderr, and the process exits with 1.
#[derive(Debug)]
pub struct CliError {
    message: String,
    /// The failure was a write into a pipe whose reader has gone.
    broken_pipe: bool,
}

/// Result of a shell or subcommand step.
pub type CliResult<T> = Result<T, CliError>;

impl CliError {
    /// An error with `message`.
    pub fn msg(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            broken_pipe: false,
        }
    }

    /// This error with `context: ` in front.
    pub fn context(self, context: impl fmt::Display) -> Self {
        CliError {
            message: format!("{context}: {}", self.message),
            ..self
        }
    }

    /// Whether this is a write into a pipe whose reader has gone.
    pub fn is_broken_pipe(&self) -> bool {
        self.broken_pipe
    }

    fn io(kind: Option<io::ErrorKind>, message: String) -> Self {
        CliError {
            message,
            broken_pipe: kind == Some(io::ErrorKind::BrokenPipe),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl From<rustlite::Error> for CliError {
    fn from(e: rustlite::Error) -> Self {
        CliError::msg(e.to_string())
    }
}

impl From<io::Error> for CliError {
    fn from(e: io::Error) -> Self {
        CliError::io(Some(e.kind()), e.to_string())
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        CliError::io(e.io_error_kind(), format!("JSON: {e}"))
    }
}

impl From<csv::Error> for CliError {
    fn from(e: csv::Error) -> Self {
        let kind = match e.kind() {
            csv::ErrorKind::Io(io) => Some(io.kind()),
            _ => None,
        };
        CliError::io(kind, format!("CSV: {e}"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn broken_pipes_are_marked_through_context() {
        let e = CliError::from(io::Error::from(io::ErrorKind::BrokenPipe)).context("out");
        assert!(e.is_broken_pipe());
        assert!(!CliError::from(io::Error::from(io::ErrorKind::NotFound)).is_broken_pipe());
        assert!(!CliError::msg("x").is_broken_pipe());
    }
}
