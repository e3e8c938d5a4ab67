//! End-to-end tests of the `rustlite` binary: scripts in, expected output out; errors on
//! stderr with exit status 1; every operation subcommand's round trip. The interactive shell
//! over a pseudo-terminal is in `shell_pty.rs`.

#![cfg(feature = "cli")]

use assert_cmd::Command;
use predicates::prelude::*;
use std::path::Path;

fn rustlite() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rustlite"));
    cmd.env_remove("RUST_LOG");
    cmd
}

fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.assert().success().get_output().stdout.clone();
    String::from_utf8(out).expect("utf-8 output")
}

const SETUP: &str = "\
CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL, age INTEGER, city TEXT);
CREATE INDEX users_city ON users (city);
INSERT INTO users VALUES
  (1, 'ada', 36, 'London'),
  (2, 'grace', 45, 'New York'),
  (3, 'linus', NULL, 'Helsinki');
";

fn setup(dir: &Path) {
    rustlite().arg(dir).write_stdin(SETUP).assert().success();
}

#[test]
fn a_session_script_prints_aligned_tables() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "{SETUP}
-- a comment; with a semicolon
SELECT id, name, age FROM users WHERE id <= 2 ORDER BY id;
SELECT city, count(*) AS n
  FROM users
  GROUP BY city HAVING count(*) > 0 ORDER BY city LIMIT 2;
UPDATE users SET age = 37 WHERE name = 'ada';
SELECT 'a;b' AS s, 2.0 AS f, NULL AS n;
.tables
"
    );
    let out = stdout_of(rustlite().arg(dir.path()).write_stdin(script));
    assert_eq!(
        out,
        "\
3 rows affected
+----+-------+-----+
| id | name  | age |
+----+-------+-----+
|  1 | ada   |  36 |
|  2 | grace |  45 |
+----+-------+-----+
(2 rows)
+----------+---+
| city     | n |
+----------+---+
| Helsinki | 1 |
| London   | 1 |
+----------+---+
(2 rows)
1 row affected
+-----+-----+------+
| s   | f   | n    |
+-----+-----+------+
| a;b | 2.0 | NULL |
+-----+-----+------+
(1 row)
users
"
    );
}

#[test]
fn sql_argument_json_and_csv_modes() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let out = stdout_of(rustlite().arg(dir.path()).args([
        "--mode",
        "json",
        "SELECT id, name FROM users WHERE id < 3 ORDER BY id",
    ]));
    assert_eq!(
        out,
        "[{\"id\":1,\"name\":\"ada\"},\n{\"id\":2,\"name\":\"grace\"}]\n"
    );
    let out = stdout_of(rustlite().arg(dir.path()).arg(
        ".mode csv\nSELECT name, city FROM users WHERE id = 2; SELECT age FROM users WHERE id = 3",
    ));
    // A record of one empty field is quoted so that it is not an empty line.
    assert_eq!(out, "name,city\ngrace,New York\nage\n\"\"\n");
}

#[test]
fn json_and_csv_rows_print_as_produced_and_stay_well_formed_when_a_row_fails() {
    let dir = tempfile::tempdir().unwrap();
    rustlite()
        .arg(dir.path())
        .arg("CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER); INSERT INTO t VALUES (1, 10), (2, 5), (3, 0), (4, 1);")
        .assert()
        .success();
    let sql = "SELECT id, 10 / n AS q FROM t"; // a scan in key order, no sort to buffer it
                                               // Rows 1 and 2 are out before row 3 fails: the array is closed, the error on stderr.
    let out = rustlite()
        .arg(dir.path())
        .args(["--mode", "json", sql])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout, "[{\"id\":1,\"q\":1},\n{\"id\":2,\"q\":2}]\n");
    let parsed: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    assert_eq!(parsed.as_array().map(Vec::len), Some(2));
    assert!(!out.stderr.is_empty());
    let out = rustlite()
        .arg(dir.path())
        .args(["--mode", "csv", sql])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), "id,q\n1,1\n2,2\n");
    // No rows: an empty array, a lone header; a write prints nothing.
    let out = stdout_of(rustlite().arg(dir.path()).args([
        "--mode",
        "json",
        "SELECT id FROM t WHERE id > 9",
    ]));
    assert_eq!(out, "[]\n");
    let out = stdout_of(rustlite().arg(dir.path()).args([
        "--mode",
        "csv",
        "SELECT id, n FROM t WHERE id > 9; UPDATE t SET n = 2 WHERE id = 3",
    ]));
    assert_eq!(out, "id,n\n");
}

#[test]
fn the_timer_leaves_out_the_time_spent_printing_streamed_rows() {
    use std::io::Read;
    use std::time::Duration;
    let dir = tempfile::tempdir().unwrap();
    // 2,000 rows of ~200 bytes: ~400 KB of output, several times a pipe's buffer.
    let rows: Vec<String> = (0..2000)
        .map(|i| format!("({i}, '{}')", "x".repeat(200)))
        .collect();
    rustlite()
        .arg(dir.path())
        .write_stdin(format!(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO t VALUES {};",
            rows.join(", ")
        ))
        .assert()
        .success();
    for mode in ["csv", "json"] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_rustlite"))
            .env_remove("RUST_LOG")
            .arg(dir.path())
            .args(["--mode", mode, ".timer on\nSELECT id, body FROM t;"])
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdout = child.stdout.take().unwrap();
        // Once the first row is out the query is running; the shell then fills the pipe and
        // waits for this reader, so its printing takes at least the 1.5 s slept here, while the
        // query itself takes milliseconds.
        let mut first = [0u8; 1];
        stdout.read_exact(&mut first).unwrap();
        std::thread::sleep(Duration::from_millis(1500));
        let mut out = String::from_utf8(first.to_vec()).unwrap();
        stdout.read_to_string(&mut out).unwrap();
        assert!(child.wait().unwrap().success());
        assert!(out.len() > 400_000, "{mode}: {} bytes", out.len());
        let ms: f64 = out
            .lines()
            .find_map(|l| l.strip_prefix("Run Time: ")?.strip_suffix(" ms"))
            .and_then(|ms| ms.parse().ok())
            .unwrap_or_else(|| {
                panic!(
                    "{mode}: no run time in the output's end: {}",
                    &out[out.len() - 200..]
                )
            });
        assert!(
            ms < 1000.0,
            "{mode}: run time {ms} ms counts the blocked printing"
        );
    }
}

#[test]
fn an_error_exits_non_zero_with_the_message_on_stderr_and_stops_the_script() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    rustlite()
        .arg(dir.path())
        .write_stdin("SELECT nope FROM users;\nINSERT INTO users VALUES (9, 'x', 1, 'y');\n")
        .assert()
        .failure()
        .code(1)
        .stdout("")
        .stderr(predicate::str::starts_with("Error: ").and(predicate::str::contains("nope")));
    // The statement after the error did not run.
    let out = stdout_of(
        rustlite()
            .arg(dir.path())
            .arg("SELECT count(*) AS n FROM users"),
    );
    assert!(out.contains("| 3 |"), "{out}");

    rustlite()
        .arg(dir.path())
        .arg("INSERT INTO users VALUES (1, 'dup', 1, 'x')")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("already exists"));
    rustlite()
        .arg(dir.path())
        .arg(".frobnicate")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unknown command .frobnicate"));
    rustlite()
        .arg(dir.path())
        .arg(".get missing")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not found"));
}

#[test]
fn catalog_dot_commands() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let out = stdout_of(rustlite().arg(dir.path()).arg(".schema users\n.indexes"));
    assert_eq!(
        out,
        "\
CREATE TABLE users (
  id INTEGER NOT NULL,
  name TEXT NOT NULL,
  age INTEGER,
  city TEXT,
  PRIMARY KEY (id)
);
CREATE INDEX users_city ON users (city);
+------------+-------+--------+-------+--------+
| index      | table | column | kind  | unique |
+------------+-------+--------+-------+--------+
| users_city | users | city   | btree | false  |
+------------+-------+--------+-------+--------+
(1 row)
"
    );
    // The printed schema is valid SQL: it recreates the table elsewhere.
    let other = tempfile::tempdir().unwrap();
    rustlite()
        .arg(other.path())
        .arg(&out[..out.find("+--").unwrap()])
        .assert()
        .success();
    let again = stdout_of(rustlite().arg(other.path()).arg(".schema"));
    assert!(out.starts_with(&again), "{again}");

    let out = stdout_of(
        rustlite()
            .arg(dir.path())
            .arg(".explain on\nSELECT name FROM users WHERE city = 'London';"),
    );
    assert!(out.contains("IndexScan users.city"), "{out}");
    assert!(out.contains("| ada  |"), "{out}");
    let out = stdout_of(
        rustlite()
            .arg(dir.path())
            .arg(".timer on\nSELECT 1 AS one;"),
    );
    assert!(out.contains("Run Time: "), "{out}");
    let out = stdout_of(rustlite().arg(dir.path()).arg(".help"));
    assert!(out.contains(".import FILE TABLE"), "{out}");
}

#[test]
fn raw_keys() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of(rustlite().arg(dir.path()).arg(
        ".put user:1 ada\n.put user:2 \"grace hopper\"\n.put other x\n.get user:2\n.scan user:\n.delete user:1\n.scan user:",
    ));
    assert_eq!(
        out,
        "\
grace hopper
+--------+--------------+
| key    | value        |
+--------+--------------+
| user:1 | ada          |
| user:2 | grace hopper |
+--------+--------------+
(2 rows)
+--------+--------------+
| key    | value        |
+--------+--------------+
| user:2 | grace hopper |
+--------+--------------+
(1 row)
"
    );
}

#[test]
fn import_and_export_csv_and_jsonl() {
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let csv = files.path().join("people.csv");
    std::fs::write(
        &csv,
        "name,age,score\nada,36,1.5\n\"hopper, grace\",45,\nlinus,,3\n",
    )
    .unwrap();
    let jsonl = files.path().join("people.jsonl");
    let script = format!(
        ".import {} people\n.export people {}\n.import {} copy\n.schema people\n\
         SELECT name, age, score FROM copy ORDER BY name;",
        csv.display(),
        jsonl.display(),
        jsonl.display()
    );
    let out = stdout_of(rustlite().arg(dir.path()).arg(script));
    assert_eq!(
        out,
        format!(
            "\
imported 3 rows into people
exported 3 rows to {}
imported 3 rows into copy
CREATE TABLE people (
  name TEXT,
  age INTEGER,
  score REAL
);
+---------------+------+-------+
| name          | age  | score |
+---------------+------+-------+
| ada           |   36 |   1.5 |
| hopper, grace |   45 | NULL  |
| linus         | NULL |   3.0 |
+---------------+------+-------+
(3 rows)
",
            jsonl.display()
        )
    );
    let exported = std::fs::read_to_string(&jsonl).unwrap();
    assert!(
        exported.contains(r#"{"name":"ada","age":36,"score":1.5}"#),
        "{exported}"
    );

    // Into an existing table, CSV fields are typed by its columns; a bad one names the line.
    let bad = files.path().join("bad.csv");
    std::fs::write(&bad, "name,age\nx,notanumber\n").unwrap();
    rustlite()
        .arg(dir.path())
        .arg(format!(".import {} people", bad.display()))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("line 2: age"));
}

/// Imports stream their file in two passes: the first parses every row (and types a new
/// table's columns from all of them), the second inserts in batches of 1,000.
#[test]
fn imports_type_columns_from_every_row_and_write_nothing_when_a_row_is_malformed() {
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    // 2,500 rows; `code` looks numeric until row 2,400, so it must be TEXT, not INTEGER.
    let csv = files.path().join("big.csv");
    let mut text = String::from("n,code\n");
    for i in 1..=2500 {
        let code = if i == 2400 {
            "x9".to_owned()
        } else {
            i.to_string()
        };
        text.push_str(&format!("{i},{code}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let out = stdout_of(rustlite().arg(dir.path()).arg(format!(
        ".import {} big\n.schema big\nSELECT COUNT(*), SUM(n), MIN(code), MAX(code) FROM big;",
        csv.display()
    )));
    assert!(out.starts_with("imported 2500 rows into big\n"), "{out}");
    assert!(out.contains("n INTEGER,\n  code TEXT\n"), "{out}");
    assert!(
        out.contains("|     2500 | 3126250 | 1         | x9        |"),
        "{out}"
    );

    // A malformed line after more than two batches' worth of good ones: the new table is not
    // created, and an existing one gets none of the rows.
    let jsonl = files.path().join("bad.jsonl");
    let mut text = String::new();
    for i in 1..=2500 {
        text.push_str(&format!("{{\"n\": {i}}}\n"));
    }
    text.push_str("{\"n\": oops}\n");
    std::fs::write(&jsonl, text).unwrap();
    rustlite()
        .arg(dir.path())
        .arg(format!(".import {} fresh", jsonl.display()))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("line 2501"));
    let out = stdout_of(
        rustlite()
            .arg(dir.path())
            .arg(".tables\nSELECT COUNT(*) FROM big;"),
    );
    assert!(!out.contains("fresh"), "{out}");
    rustlite()
        .arg(dir.path())
        .arg(format!(".import {} big", jsonl.display()))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("line 2501"));
    let out = stdout_of(rustlite().arg(dir.path()).arg("SELECT COUNT(*) FROM big;"));
    assert!(out.contains("|     2500 |"), "{out}");
}

#[test]
fn imports_read_pipes_header_only_files_and_name_the_real_line() {
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    // A pipe cannot be read twice: it is copied to a temporary file first.
    let out = stdout_of(
        rustlite()
            .arg(dir.path())
            .arg(".import /dev/stdin piped\nSELECT COUNT(*), SUM(a) FROM piped;")
            .write_stdin("{\"a\": 1}\n\n{\"a\": 2}\n"),
    );
    assert!(out.starts_with("imported 2 rows into piped\n"), "{out}");
    assert!(out.contains("|        2 |      3 |"), "{out}");

    // A header alone makes an empty table of TEXT columns.
    let header_only = files.path().join("empty.csv");
    std::fs::write(&header_only, "x,y\n").unwrap();
    let out = stdout_of(rustlite().arg(dir.path()).arg(format!(
        ".import {} empty\n.schema empty",
        header_only.display()
    )));
    assert!(out.starts_with("imported 0 rows into empty\n"), "{out}");
    assert!(out.contains("x TEXT,\n  y TEXT\n"), "{out}");

    // A column named twice is refused before anything is written.
    let twice = files.path().join("twice.csv");
    std::fs::write(&twice, "a,a\n1,2\n").unwrap();
    rustlite()
        .arg(dir.path())
        .arg(format!(".import {} twice", twice.display()))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("names column a twice"));

    // Errors name the file's line, past a quoted field that spans two lines.
    let multi = files.path().join("multi.csv");
    std::fs::write(&multi, "name,age\n\"two\nlines\",1\nx,notanumber\n").unwrap();
    rustlite()
        .arg(dir.path())
        .arg(format!(".import {} people_typed", multi.display()))
        .assert()
        .success();
    rustlite()
        .arg(dir.path())
        .arg(format!(
            "CREATE TABLE typed (name TEXT, age INTEGER);\n.import {} typed",
            multi.display()
        ))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("line 4: age"));
}

#[test]
fn backup_restore_check_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    let backup = dir.path().join("backup");
    let restored = dir.path().join("restored");
    setup(&db);
    rustlite().arg(&db).arg(".put k v").assert().success();

    let out = stdout_of(rustlite().arg("backup").arg(&db).arg(&backup).arg("--json"));
    let info: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(info["files"].as_u64().unwrap() > 0, "{out}");
    // A second backup into the same (non-empty) directory is refused.
    rustlite()
        .arg("backup")
        .arg(&db)
        .arg(&backup)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not an empty directory"));

    let out = stdout_of(rustlite().arg("restore").arg(&backup).arg(&restored));
    assert!(out.starts_with("restored "), "{out}");
    let out = stdout_of(rustlite().arg("check").arg(&restored));
    assert!(out.starts_with("ok: "), "{out}");
    let out = stdout_of(rustlite().arg("check").arg(&restored).arg("--json"));
    let check: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(check["ok"], true);
    let out = stdout_of(
        rustlite()
            .arg(&restored)
            .arg("SELECT name FROM users WHERE id = 2;\n.get k"),
    );
    assert!(out.contains("grace") && out.ends_with("v\n"), "{out}");

    // The shell's .backup and .check do the same.
    let second = dir.path().join("second");
    let out = stdout_of(
        rustlite()
            .arg(&db)
            .arg(format!(".backup {}\n.check", second.display())),
    );
    assert!(out.contains("backed up") && out.contains("ok: "), "{out}");

    // A tampered backup is refused on restore.
    let table = std::fs::read_dir(&second)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "sst"))
        .expect("an SSTable in the backup");
    let mut bytes = std::fs::read(&table).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&table, bytes).unwrap();
    rustlite()
        .arg("restore")
        .arg(&second)
        .arg(dir.path().join("bad"))
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with("Error: "));
}

#[test]
fn check_stats_and_compact_report_for_scripts() {
    let dir = tempfile::tempdir().unwrap();
    setup(dir.path());
    let out = stdout_of(rustlite().arg("stats").arg(dir.path()).arg("--json"));
    let stats: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(stats["levels"].as_array().unwrap().len(), 7, "{out}");
    assert!(stats["last_seq"].as_u64().unwrap() > 0);
    let out = stdout_of(rustlite().arg("stats").arg(dir.path()));
    assert!(
        out.contains("block cache:") && out.contains("WAL:"),
        "{out}"
    );
    let out = stdout_of(rustlite().arg(dir.path()).arg(".stats"));
    assert!(out.contains("hit rate"), "{out}");

    let out = stdout_of(rustlite().arg("compact").arg(dir.path()).arg("--json"));
    let compact: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(compact["bytes_after"].as_u64().is_some(), "{out}");
    let out = stdout_of(
        rustlite()
            .arg(dir.path())
            .arg("SELECT count(*) AS n FROM users"),
    );
    assert!(out.contains("| 3 |"), "{out}");

    // A missing database directory is an error, not a new empty database.
    let missing = dir.path().join("missing");
    for sub in ["check", "stats", "compact", "dump"] {
        rustlite()
            .arg(sub)
            .arg(&missing)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("no database directory"));
    }
    let out = rustlite()
        .arg("check")
        .arg(&missing)
        .arg("--json")
        .assert()
        .code(1)
        .get_output()
        .stdout
        .clone();
    let check: serde_json::Value = serde_json::from_slice(&out).unwrap();
    assert_eq!(check["ok"], false);
    assert!(!missing.exists());
}

#[test]
fn dump_then_load_gives_the_same_dump() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    setup(&db);
    let script = "\
CREATE TABLE events (at INTEGER, what TEXT, payload BLOB, ok BOOLEAN);
INSERT INTO events VALUES (1, 'start', X'00ff10', TRUE), (2, 'stop', NULL, FALSE);
CREATE TABLE pairs (a INTEGER, b TEXT, v REAL, PRIMARY KEY (a, b));
CREATE UNIQUE INDEX pairs_v ON pairs USING HASH (v);
INSERT INTO pairs VALUES (1, 'x', 0.5), (1, 'y', 2.0);
.put config:theme dark
.put \"key with spaces\" \"value: 1\"
";
    rustlite().arg(&db).write_stdin(script).assert().success();

    let dump = stdout_of(rustlite().arg("dump").arg(&db));
    assert!(
        dump.starts_with("{\"format\":\"rustlite-dump\",\"version\":1}\n"),
        "{dump}"
    );
    assert!(dump.contains(r#""payload":{"$hex":"00ff10"}"#), "{dump}");
    let file = dir.path().join("dump.jsonl");
    std::fs::write(&file, &dump).unwrap();

    let copy = dir.path().join("copy");
    let out = stdout_of(rustlite().arg("load").arg(&copy).arg(&file).arg("--json"));
    let loaded: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        loaded,
        serde_json::json!({ "tables": 3, "rows": 7, "keys": 2, "indexes": 0, "index_entries": 0 })
    );
    let again = stdout_of(rustlite().arg("dump").arg(&copy));
    assert_eq!(again, dump);

    // Also through stdin and -o; indexes were rebuilt (the unique index still refuses).
    let third = dir.path().join("third");
    rustlite()
        .arg("load")
        .arg(&third)
        .arg("-")
        .write_stdin(dump.clone())
        .assert()
        .success();
    let out_file = dir.path().join("third.jsonl");
    rustlite()
        .arg("dump")
        .arg(&third)
        .arg("-o")
        .arg(&out_file)
        .assert()
        .success();
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), dump);
    rustlite()
        .arg(&third)
        .arg("INSERT INTO pairs VALUES (2, 'z', 0.5)")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("unique"));

    // Loading twice refuses the existing tables; a non-dump is refused.
    rustlite()
        .arg("load")
        .arg(&copy)
        .arg(&file)
        .assert()
        .code(1);
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "{\"hello\":1}\n").unwrap();
    rustlite()
        .arg("load")
        .arg(dir.path().join("fresh"))
        .arg(&junk)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("not a rustlite dump"));
}

/// The seed API's standalone indexes hold entries no row implies: a dump carries them entry
/// by entry and a load recreates them (before, they were silently left out).
#[test]
fn dump_and_load_keep_standalone_indexes() {
    use rustlite::{Database, IndexType};
    let dir = tempfile::tempdir().unwrap();
    let db_dir = dir.path().join("db");
    {
        let db = Database::open(&db_dir).unwrap();
        db.create_index("by_tag", IndexType::Hash).unwrap();
        db.create_index("by_name", IndexType::BTree).unwrap();
        db.index_insert("by_tag", b"red", 7).unwrap();
        db.index_insert("by_tag", b"red", 3).unwrap();
        db.index_insert("by_tag", &[0xff, 0x00], 1).unwrap();
        db.index_insert("by_name", b"ada", 1).unwrap();
        db.index_insert("by_name", b"bob", 2).unwrap();
    }
    let dump = stdout_of(rustlite().arg("dump").arg(&db_dir));
    assert!(
        dump.contains(r#"{"index":{"name":"by_name","kind":"BTree"}}"#),
        "{dump}"
    );
    assert!(dump.contains(r#""key":{"$hex":"ff00"}"#), "{dump}");
    let file = dir.path().join("dump.jsonl");
    std::fs::write(&file, &dump).unwrap();

    let copy = dir.path().join("copy");
    let out = stdout_of(rustlite().arg("load").arg(&copy).arg(&file).arg("--json"));
    let loaded: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(loaded["indexes"], 2, "{out}");
    assert_eq!(loaded["index_entries"], 5, "{out}");
    assert_eq!(stdout_of(rustlite().arg("dump").arg(&copy)), dump);

    let db = Database::open(&copy).unwrap();
    assert_eq!(db.index_find("by_tag", b"red").unwrap(), [3, 7]);
    assert_eq!(db.index_find("by_tag", &[0xff, 0x00]).unwrap(), [1]);
    assert_eq!(
        db.index_range("by_name", ..).unwrap(),
        [(b"ada".to_vec(), 1), (b"bob".to_vec(), 2)]
    );
    // An entry line before its index line is refused.
    let bad = dir.path().join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"format\":\"rustlite-dump\",\"version\":1}\n{\"entry\":{\"index\":\"x\",\"key\":\"k\",\"id\":1}}\n",
    )
    .unwrap();
    rustlite()
        .arg("load")
        .arg(dir.path().join("fresh"))
        .arg(&bad)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("entry before its index"));
}

#[test]
fn usage_and_subcommand_disambiguation() {
    rustlite().assert().code(2);
    rustlite()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("backup"));
    // A database directory named like a subcommand opens with a path prefix.
    let dir = tempfile::tempdir().unwrap();
    rustlite()
        .current_dir(dir.path())
        .args(["./stats", "SELECT 1 AS one"])
        .assert()
        .success()
        .stdout(predicate::str::contains("|   1 |"));
    assert!(dir.path().join("stats").is_dir());
}

/// `.schema` shows a document column as `DOCUMENT`, which `CREATE TABLE` accepts back: its
/// output replays into an equal schema (before, "unsupported: type DOCUMENT").
#[test]
fn schema_output_with_document_columns_replays() {
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let jsonl = files.path().join("docs.jsonl");
    std::fs::write(
        &jsonl,
        "{\"id\": 1, \"d\": {\"x\": 1}}\n{\"id\": 2, \"d\": [1, 2]}\n",
    )
    .unwrap();
    let schema = stdout_of(
        rustlite()
            .arg(dir.path().join("a"))
            .arg(format!(".import {} t\n.schema t", jsonl.display())),
    );
    let schema = schema.strip_prefix("imported 2 rows into t\n").unwrap();
    assert!(schema.contains("d DOCUMENT"), "{schema}");
    let replayed = stdout_of(
        rustlite()
            .arg(dir.path().join("b"))
            .arg(format!("{schema}\n.schema t")),
    );
    assert_eq!(replayed, schema);
}

/// The statement splitter hides a `;` where the SQL parser does: in backtick-quoted identifiers
/// and in nested block comments (before, both statements were cut at the inner `;`).
#[test]
fn backtick_identifiers_and_nested_comments_do_not_end_a_statement() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of(
        rustlite()
            .arg(dir.path())
            .args(["--mode", "csv"])
            .write_stdin("SELECT 1 AS `a;b`;\nSELECT 1 /* x /* y */ ; */ AS z;\n"),
    );
    assert_eq!(out, "a;b\n1\nz\n1\n");
}

/// `.mode json` keeps every column of a result that repeats a name: the second `v` is `v:1`
/// (before, one object key held only the last value).
#[test]
fn json_mode_keeps_columns_with_repeated_names() {
    let dir = tempfile::tempdir().unwrap();
    let out = stdout_of(rustlite().arg(dir.path()).args([
        "--mode",
        "json",
        "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT);
         CREATE TABLE b (id INTEGER PRIMARY KEY, v TEXT);
         INSERT INTO a VALUES (1, 'left'); INSERT INTO b VALUES (1, 'right');
         SELECT * FROM a JOIN b ON a.id = b.id;
         SELECT 1 AS x, 2 AS x;",
    ]));
    assert_eq!(
        out,
        "[{\"id\":1,\"v\":\"left\",\"id:1\":1,\"v:1\":\"right\"}]\n[{\"x\":1,\"x:1\":2}]\n"
    );
}

/// The operation subcommands need an existing database: a directory without a `CURRENT` file
/// is refused and left as it was (before, `check` made a new, empty database in it and said
/// "ok"); `load` checks its dump before it makes the database.
#[test]
fn operations_refuse_a_directory_that_holds_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    std::fs::write(plain.join("notes.txt"), "not a database").unwrap();
    let backup = dir.path().join("backup");
    let runs: [Vec<&std::ffi::OsStr>; 6] = [
        vec!["check".as_ref(), plain.as_ref()],
        vec!["check".as_ref(), plain.as_ref(), "--json".as_ref()],
        vec!["stats".as_ref(), plain.as_ref()],
        vec!["compact".as_ref(), plain.as_ref()],
        vec!["dump".as_ref(), plain.as_ref()],
        vec!["backup".as_ref(), plain.as_ref(), backup.as_ref()],
    ];
    for args in runs {
        rustlite()
            .args(&args)
            .assert()
            .code(1)
            .stderr(predicate::str::contains("no CURRENT file"));
    }
    let names: Vec<_> = std::fs::read_dir(&plain)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, ["notes.txt"]);
    assert!(!backup.exists());

    // `load` of a missing, empty or non-dump file makes no database.
    let fresh = dir.path().join("fresh");
    let empty = dir.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let junk = dir.path().join("junk.jsonl");
    std::fs::write(&junk, "{\"hello\":1}\n").unwrap();
    for (file, message) in [
        (dir.path().join("missing.jsonl"), "missing.jsonl"),
        (empty, "empty dump"),
        (junk, "not a rustlite dump"),
    ] {
        rustlite()
            .arg("load")
            .arg(&fresh)
            .arg(&file)
            .assert()
            .code(1)
            .stderr(predicate::str::contains(message));
        assert!(!fresh.exists(), "{}", file.display());
    }
    rustlite()
        .arg("load")
        .arg(&fresh)
        .arg("-")
        .write_stdin("")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("empty dump"));
    assert!(!fresh.exists());
}

/// Output into a pipe whose reader has gone (`rustlite check db | true`) ends the run quietly
/// with status 141, as a shell reports a program ended by SIGPIPE (before, the subcommands
/// panicked with "failed printing to stdout: Broken pipe").
#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    setup(&db);
    let backup = dir.path().join("backup");
    let runs: [Vec<&std::ffi::OsStr>; 7] = [
        vec!["check".as_ref(), db.as_ref()],
        vec!["check".as_ref(), db.as_ref(), "--json".as_ref()],
        vec!["stats".as_ref(), db.as_ref()],
        vec!["compact".as_ref(), db.as_ref()],
        vec!["dump".as_ref(), db.as_ref()],
        vec!["backup".as_ref(), db.as_ref(), backup.as_ref()],
        vec![db.as_ref(), "SELECT * FROM users; SELECT 1;".as_ref()],
    ];
    for args in runs {
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rustlite"))
            .env_remove("RUST_LOG")
            .args(&args)
            .stdout(writer)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(141), "{args:?}: {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
}

/// An option before a subcommand made clap read the subcommand as a database directory:
/// `rustlite -m json stats db` created `./stats`. It is a usage error now.
#[test]
fn an_option_before_a_subcommand_is_a_usage_error_not_a_new_database() {
    let dir = tempfile::tempdir().unwrap();
    for args in [&["-m", "json", "stats", "d1"][..], &["-m", "json", "dump"]] {
        rustlite()
            .current_dir(dir.path())
            .args(args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("`").and(predicate::str::contains(
                "is a subcommand here, not a database directory",
            )));
    }
    // One argument too many is clap's own usage error, also before anything is opened.
    rustlite()
        .current_dir(dir.path())
        .args(["--mode", "csv", "check", "d1", "--json"])
        .assert()
        .code(2);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A table exported to CSV imports back with the same values, into the table itself or a new
/// one: bytes as `x'..'`, documents as JSON (before, documents were written `{x: 1, y: a}`,
/// which did not import, and `x'00ff'` came back as the bytes of that text).
#[test]
fn csv_export_then_import_gives_the_same_rows() {
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let f = |name: &str| files.path().join(name).display().to_string();
    std::fs::write(
        f("src.jsonl"),
        r#"{"id":1,"b":{"$hex":"00ff"},"d":{"x":1,"y":"a, \"b\""},"f":2.0,"t":"x'41'"}
{"id":2,"b":{"$hex":""},"d":[1,"two",null],"f":{"$float":"NaN"},"t":"Nan"}
{"id":3,"b":null,"d":null,"f":-0.5,"t":"inf"}
"#,
    )
    .unwrap();
    let script = format!(
        ".import {src} t\n.export t {orig}\n.export t {csv}\nDELETE FROM t;\n\
         .import {csv} t\n.export t {back}\n.import {csv} fresh\n.export fresh {fresh}\n\
         .schema fresh",
        src = f("src.jsonl"),
        orig = f("orig.jsonl"),
        csv = f("t.csv"),
        back = f("back.jsonl"),
        fresh = f("fresh.jsonl"),
    );
    let out = stdout_of(rustlite().arg(dir.path()).arg(script));
    let csv = std::fs::read_to_string(f("t.csv")).unwrap();
    assert_eq!(
        csv,
        "id,b,d,f,t\n1,x'00ff',\"{\"\"x\"\":1,\"\"y\"\":\"\"a, \\\"\"b\\\"\"\"\"}\",2.0,x'41'\n\
         2,x'',\"[1,\"\"two\"\",null]\",NaN,Nan\n3,,,-0.5,inf\n"
    );
    let orig = std::fs::read_to_string(f("orig.jsonl")).unwrap();
    assert_eq!(std::fs::read_to_string(f("back.jsonl")).unwrap(), orig);
    assert_eq!(std::fs::read_to_string(f("fresh.jsonl")).unwrap(), orig);
    assert!(
        out.ends_with(
            "CREATE TABLE fresh (\n  id INTEGER,\n  b BLOB,\n  d DOCUMENT,\n  f REAL,\n  t TEXT\n);\n"
        ),
        "{out}"
    );
}

/// CSV type inference takes a field for a number only when it looks like one: `Nan`, `Inf` and
/// `infinity` are words (before, Rust's float parser made such a column REAL).
#[test]
fn csv_words_that_name_floats_stay_text() {
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let csv = files.path().join("words.csv");
    std::fs::write(&csv, "w,n\nNan,1e3\nInf,-2.5\ninfinity,+4\n").unwrap();
    let out = stdout_of(rustlite().arg(dir.path()).arg(format!(
        ".import {} words\n.schema words\nSELECT w FROM words WHERE w = 'Inf';",
        csv.display()
    )));
    assert!(out.contains("  w TEXT,\n  n REAL\n"), "{out}");
    assert!(out.contains("| Inf |"), "{out}");
    // Into an existing REAL column too, only numbers (and .export's NaN, inf, -inf) are taken.
    let bad = files.path().join("bad.csv");
    std::fs::write(&bad, "n\ninfinity\n").unwrap();
    rustlite()
        .arg(dir.path())
        .arg(format!(".import {} words", bad.display()))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("\"infinity\" is not a number"));
}

/// An import source without columns (an empty file, or `/dev/stdin` already read as the script)
/// is refused and makes no table (before, a table with no columns was created).
#[test]
fn an_empty_import_source_makes_no_table() {
    let dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("e.csv", ""),
        ("e.jsonl", ""),
        ("blank.jsonl", "{}\n\n{}\n"),
    ] {
        let file = files.path().join(name);
        std::fs::write(&file, text).unwrap();
        rustlite()
            .arg(dir.path())
            .arg(format!(".import {} t", file.display()))
            .assert()
            .code(1)
            .stderr(predicate::str::contains("no columns to make table t from"));
    }
    rustlite()
        .arg(dir.path())
        .write_stdin(".import /dev/stdin t\n")
        .assert()
        .code(1)
        .stderr(predicate::str::contains("/dev/stdin is empty"));
    let out = stdout_of(rustlite().arg(dir.path()).arg(".tables"));
    assert_eq!(out, "");
}

/// The `backup` subcommand opens the database itself, so it is not an online backup of a
/// database another process holds: its help says so and points to `.backup` and
/// `Database::backup_to` (before, it was described as "online").
#[test]
fn the_backup_subcommand_says_it_needs_the_database_not_open_elsewhere() {
    rustlite()
        .args(["backup", "--help"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("must not be open in another process")
                .and(predicate::str::contains(".backup DIR"))
                .and(predicate::str::contains("Database::backup_to")),
        );
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("db");
    setup(&db);
    let held = rustlite::Database::open(&db).unwrap();
    rustlite()
        .arg("backup")
        .arg(&db)
        .arg(dir.path().join("backup"))
        .assert()
        .code(1)
        .stderr(predicate::str::contains("locked"));
    drop(held);
}
