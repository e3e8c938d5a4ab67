//! Production logging: [`LogConfig`] installs a `tracing` subscriber that writes RustLite's
//! spans and events (and the application's own) to stdout and/or a daily-rotated file.
//!
//! ```text
//! tracing events ──► EnvFilter (level or RUST_LOG directives)
//!                        ├──► stdout / stderr layers (ANSI colours on a terminal)
//!                        └──► file layer ──► non-blocking writer thread ──► dir/stem.YYYY-MM-DD.ext
//!                                                         ▲
//!                              LogGuard (drop = flush) ───┘
//! ```
//!
//! RustLite itself only *emits* events through the `tracing` facade, which costs nothing when
//! no subscriber is installed; this module is the optional subscriber side, compiled with the
//! default-on `logging` cargo feature (`tracing-subscriber`, `tracing-appender`). What the
//! engine logs at which level is listed in `docs/LOGGING.md`: open and recovery with counts,
//! flushes, compactions (level, bytes in/out, ms), backups and restores at `info`; commit
//! conflicts at `debug`; slow SQL statements (see
//! [`Options::slow_query_threshold`](crate::Options::slow_query_threshold)), torn WAL tails and
//! write stalls at `warn`; nothing per key above `trace`.
//!
//! The subscriber is process-global: [`LogConfig::init`] fails with
//! [`Error::InvalidArgument`] if one is already installed.
//!
//! ```
//! use rustlite::logging::{LogConfig, LogRotation};
//! let dir = tempfile::tempdir()?;
//! let log = dir.path().join("app.log");
//! let config = LogConfig::info().with_stdout(false).with_file(&log).with_rotation(LogRotation::Never);
//! let guard = config.init()?;
//! tracing::info!("application started");
//! assert!(LogConfig::info().init().is_err()); // one global subscriber per process
//! drop(guard); // flushes the file
//! assert!(std::fs::read_to_string(&log)?.contains("application started"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::{Error, Result};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use tracing_appender::non_blocking::WorkerGuard;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer};

/// How often the log file starts afresh.
///
/// ```
/// use rustlite::logging::{LogConfig, LogRotation};
/// let config = LogConfig::info().with_file("./logs/app.log").with_rotation(LogRotation::Never);
/// # let _ = config;
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LogRotation {
    /// A new file every day: `dir/stem.YYYY-MM-DD.ext` (the default).
    #[default]
    Daily,
    /// A new file every hour: `dir/stem.YYYY-MM-DD-HH.ext`.
    Hourly,
    /// One file, exactly the path given.
    Never,
}

/// Where and how much to log; [`init`](LogConfig::init) installs it.
///
/// ```no_run
/// use rustlite::logging::LogConfig;
/// // Info and above to stdout and to ./logs/rustlite.YYYY-MM-DD.log, rotated daily.
/// let _guard = LogConfig::info().with_file("./logs/rustlite.log").init()?;
/// let db = rustlite::Database::open("./my-data")?; // logs "recovered" with its counts
/// # Ok::<(), rustlite::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct LogConfig {
    filter: String,
    stdout: bool,
    stderr: bool,
    file: Option<PathBuf>,
    rotation: LogRotation,
}

impl LogConfig {
    fn level(filter: &str) -> Self {
        LogConfig {
            filter: filter.to_owned(),
            stdout: true,
            stderr: false,
            file: None,
            rotation: LogRotation::Daily,
        }
    }

    /// Everything, including per-key detail if any crate emits it.
    ///
    /// ```
    /// let config = rustlite::logging::LogConfig::trace();
    /// # let _ = config;
    /// ```
    pub fn trace() -> Self {
        Self::level("trace")
    }

    /// Debug and above: adds commit conflicts to `info`.
    ///
    /// ```
    /// let config = rustlite::logging::LogConfig::debug().with_stdout(false);
    /// # let _ = config;
    /// ```
    pub fn debug() -> Self {
        Self::level("debug")
    }

    /// Info and above: open/recovery, flushes, compactions, backups (the usual choice).
    ///
    /// ```
    /// let config = rustlite::logging::LogConfig::info();
    /// # let _ = config;
    /// ```
    pub fn info() -> Self {
        Self::level("info")
    }

    /// Warnings and errors only: slow queries, torn WAL tails, write stalls, failures.
    ///
    /// ```
    /// let config = rustlite::logging::LogConfig::warn();
    /// # let _ = config;
    /// ```
    pub fn warn() -> Self {
        Self::level("warn")
    }

    /// Errors only.
    ///
    /// ```
    /// let config = rustlite::logging::LogConfig::error();
    /// # let _ = config;
    /// ```
    pub fn error() -> Self {
        Self::level("error")
    }

    /// The filter in the `RUST_LOG` environment variable (e.g. `info,rustlite_engine=debug`),
    /// or `info` when it is unset or empty.
    ///
    /// ```
    /// let config = rustlite::logging::LogConfig::from_env().with_file("./logs/app.log");
    /// # let _ = config;
    /// ```
    pub fn from_env() -> Self {
        match std::env::var(EnvFilter::DEFAULT_ENV) {
            Ok(filter) if !filter.trim().is_empty() => Self::level(&filter),
            _ => Self::info(),
        }
    }

    /// Replaces the level with `tracing` filter directives, e.g. `"warn,rustlite_engine=debug"`.
    ///
    /// ```
    /// let config = rustlite::logging::LogConfig::info().with_filter("warn,rustlite_engine::sql=warn");
    /// # let _ = config;
    /// ```
    pub fn with_filter(mut self, directives: impl Into<String>) -> Self {
        self.filter = directives.into();
        self
    }

    /// Also writes to `path`, rotated daily by default: `./logs/rustlite.log` becomes
    /// `./logs/rustlite.2025-01-31.log` (the directory is created on [`init`](Self::init)).
    ///
    /// ```
    /// let config = rustlite::logging::LogConfig::warn().with_file("/var/log/myapp/db.log");
    /// # let _ = config;
    /// ```
    pub fn with_file(mut self, path: impl AsRef<Path>) -> Self {
        self.file = Some(path.as_ref().to_path_buf());
        self
    }

    /// Whether to write to stdout too (default `true`).
    ///
    /// ```
    /// let config = rustlite::logging::LogConfig::info().with_file("./logs/db.log").with_stdout(false);
    /// # let _ = config;
    /// ```
    pub fn with_stdout(mut self, stdout: bool) -> Self {
        self.stdout = stdout;
        self
    }

    /// Whether to write to stderr (default `false`), e.g. for a tool whose stdout is data.
    ///
    /// ```
    /// let config = rustlite::logging::LogConfig::warn().with_stdout(false).with_stderr(true);
    /// # let _ = config;
    /// ```
    pub fn with_stderr(mut self, stderr: bool) -> Self {
        self.stderr = stderr;
        self
    }

    /// How the file rotates (default [`LogRotation::Daily`]).
    ///
    /// ```
    /// use rustlite::logging::{LogConfig, LogRotation};
    /// let config = LogConfig::info().with_file("./logs/db.log").with_rotation(LogRotation::Hourly);
    /// # let _ = config;
    /// ```
    pub fn with_rotation(mut self, rotation: LogRotation) -> Self {
        self.rotation = rotation;
        self
    }

    /// Installs the configuration as the process's global `tracing` subscriber. Keep the
    /// returned guard alive (e.g. in `main`): dropping it flushes buffered file lines.
    ///
    /// Fails with [`Error::InvalidArgument`] on bad filter directives or when a global
    /// subscriber is already installed, and with [`Error::Io`] when the log directory cannot
    /// be created.
    ///
    /// ```no_run
    /// let guard = rustlite::logging::LogConfig::debug().with_stdout(false).with_file("db.log").init()?;
    /// tracing::info!("application started");
    /// drop(guard); // flushes
    /// # Ok::<(), rustlite::Error>(())
    /// ```
    pub fn init(self) -> Result<LogGuard> {
        let filter = EnvFilter::try_new(&self.filter)
            .map_err(|e| Error::InvalidArgument(format!("log filter {:?}: {e}", self.filter)))?;
        // Colours only on a terminal: a redirected stream (`2> app.log`) gets plain text.
        let stdout = self.stdout.then(|| {
            fmt::layer()
                .with_ansi(std::io::stdout().is_terminal())
                .with_writer(std::io::stdout)
                .boxed()
        });
        let stderr = self.stderr.then(|| {
            fmt::layer()
                .with_ansi(std::io::stderr().is_terminal())
                .with_writer(std::io::stderr)
                .boxed()
        });
        let (file, worker) = match &self.file {
            Some(path) => {
                let appender = self.appender(path)?;
                let (writer, worker) = tracing_appender::non_blocking(appender);
                let layer = fmt::layer().with_ansi(false).with_writer(writer).boxed();
                (Some(layer), Some(worker))
            }
            None => (None, None),
        };
        tracing_subscriber::registry()
            .with(stdout)
            .with(stderr)
            .with(file)
            .with(filter)
            .try_init()
            .map_err(|e| Error::InvalidArgument(format!("cannot install the logger: {e}")))?;
        Ok(LogGuard { _worker: worker })
    }

    fn appender(&self, path: &Path) -> Result<RollingFileAppender> {
        let (dir, stem, ext) = split_path(path);
        std::fs::create_dir_all(&dir)?;
        let rotation = match self.rotation {
            LogRotation::Daily => Rotation::DAILY,
            LogRotation::Hourly => Rotation::HOURLY,
            LogRotation::Never => Rotation::NEVER,
        };
        let mut builder = RollingFileAppender::builder().rotation(rotation);
        if self.rotation == LogRotation::Never {
            // NEVER writes exactly `dir/prefix`: keep the whole file name.
            let name = path.file_name().map_or_else(
                || "rustlite.log".to_owned(),
                |n| n.to_string_lossy().into_owned(),
            );
            builder = builder.filename_prefix(name);
        } else {
            builder = builder.filename_prefix(stem);
            if let Some(ext) = ext {
                builder = builder.filename_suffix(ext);
            }
        }
        builder
            .build(&dir)
            .map_err(|e| Error::Io(std::io::Error::other(format!("log file {path:?}: {e}"))))
    }
}

/// Keeps the file writer's background thread alive; dropping it flushes every buffered line.
/// Returned by [`LogConfig::init`].
///
/// ```no_run
/// let _guard = rustlite::logging::LogConfig::info().init()?; // held until main returns
/// # Ok::<(), rustlite::Error>(())
/// ```
#[must_use = "dropping the guard stops file logging; keep it alive for the program's lifetime"]
#[derive(Debug)]
pub struct LogGuard {
    _worker: Option<WorkerGuard>,
}

/// `dir`, file stem and extension of a log path (`rustlite.log` when it names no file).
fn split_path(path: &Path) -> (PathBuf, String, Option<String>) {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let stem = path.file_stem().map_or_else(
        || "rustlite".to_owned(),
        |s| s.to_string_lossy().into_owned(),
    );
    let ext = path.extension().map(|e| e.to_string_lossy().into_owned());
    (dir, stem, ext)
}
