//! Log lines written to a redirected stream are plain text: the shell logs to stderr when
//! `RUST_LOG` is set, and a `2> file` must not fill with ANSI colour codes.

use std::process::Command;

#[test]
fn logs_to_a_redirected_stderr_carry_no_colour_codes() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let out = Command::new(env!("CARGO_BIN_EXE_rustlite"))
        .arg(dir.path().join("db"))
        .arg("CREATE TABLE t (a INTEGER)")
        .env("RUST_LOG", "debug")
        .env_remove("NO_COLOR")
        .output()?;
    assert!(out.status.success(), "{out:?}");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("recovered"), "no engine log on stderr: {log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a redirected log: {log:?}"
    );
    Ok(())
}
