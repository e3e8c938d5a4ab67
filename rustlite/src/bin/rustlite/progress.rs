//! Progress feedback on stderr that appears only for work longer than a second (so quick
//! commands and scripts print nothing extra) and only on a terminal (indicatif hides itself
//! when stderr is not one).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long work runs before its progress shows.
const DELAY: Duration = Duration::from_secs(1);

/// A counter of work done (rows, bytes), drawn as a bar when the total is known.
pub struct Progress {
    bar: ProgressBar,
    started: Instant,
    shown: bool,
}

impl Progress {
    /// A hidden progress of `total` units (`None`: a counting spinner) titled `message`.
    pub fn new(message: &str, total: Option<u64>) -> Self {
        let bar = match total {
            Some(total) => {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
                if let Ok(style) = ProgressStyle::with_template(
                    "{msg} [{bar:40}] {percent:>3}% {elapsed_precise} eta {eta}",
                ) {
                    bar.set_style(style.progress_chars("=> "));
                }
                bar
            }
            None => {
                let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
                if let Ok(style) =
                    ProgressStyle::with_template("{spinner} {msg} {human_pos} {elapsed_precise}")
                {
                    bar.set_style(style);
                }
                bar
            }
        };
        bar.set_message(message.to_owned());
        Progress {
            bar,
            started: Instant::now(),
            shown: false,
        }
    }

    /// Records `n` more units done.
    pub fn inc(&mut self, n: u64) {
        self.bar.inc(n);
        if !self.shown && self.started.elapsed() > DELAY {
            self.shown = true;
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    /// Removes the bar from the terminal.
    pub fn finish(self) {
        self.bar.finish_and_clear();
    }
}

/// Runs `work`, showing a spinner titled `message` if it takes longer than a second.
pub fn spinner<T>(message: &str, work: impl FnOnce() -> T) -> T {
    let (done, wait) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        scope.spawn(move || {
            if wait.recv_timeout(DELAY) != Err(mpsc::RecvTimeoutError::Timeout) {
                return;
            }
            let bar = ProgressBar::new_spinner();
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar.set_message(message.to_owned());
            bar.enable_steady_tick(Duration::from_millis(100));
            let _ = wait.recv();
            bar.finish_and_clear();
        });
        let result = work();
        drop(done);
        result
    })
}
