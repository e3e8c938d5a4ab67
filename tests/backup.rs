//! Online backups: consistency under a concurrent write load, restore round trips, and a
//! backup that was tampered with, cut short or left incomplete is refused before anything is
//! copied.

use rustlite::{Database, Error, IsolationLevel, Options};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

const ACCOUNTS: u64 = 50;
const INITIAL: u64 = 1_000;

fn account(i: u64) -> String {
    format!("acct:{i:03}")
}

fn balance(v: Option<Vec<u8>>) -> u64 {
    v.and_then(|b| <[u8; 8]>::try_from(b.as_slice()).ok())
        .map_or(0, u64::from_be_bytes)
}

fn total(db: &Database) -> u64 {
    db.scan_prefix("acct:")
        .expect("scan")
        .map(|e| balance(Some(e.expect("entry").1)))
        .sum()
}

fn small() -> Options {
    Options {
        memtable_size: 32 << 10,
        l1_target_size: 128 << 10,
        target_file_size: 32 << 10,
        ..Options::default()
    }
}

#[test]
fn backup_during_concurrent_transfers_is_consistent() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Database::open_with(dir.path().join("db"), small()).expect("open");
    for i in 0..ACCOUNTS {
        db.put(account(i), INITIAL.to_be_bytes()).expect("seed");
    }
    let stop = AtomicBool::new(false);
    let backups: Vec<_> = (0..3)
        .map(|i| dir.path().join(format!("backup{i}")))
        .collect();
    std::thread::scope(|s| {
        for t in 0..8u64 {
            let db = db.clone();
            let stop = &stop;
            s.spawn(move || {
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    i = i
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let (from, to) = ((i >> 20) % ACCOUNTS, (i >> 40) % ACCOUNTS);
                    if from == to {
                        continue;
                    }
                    let result = db.transaction_with(IsolationLevel::RepeatableRead, |tx| {
                        let a = balance(tx.get(account(from))?);
                        let b = balance(tx.get(account(to))?);
                        let amount = (i % 7).min(a);
                        tx.put(account(from), (a - amount).to_be_bytes())?;
                        tx.put(account(to), (b + amount).to_be_bytes())
                    });
                    match result {
                        Ok(()) | Err(Error::Conflict(_)) => {}
                        Err(e) => panic!("transfer failed: {e}"),
                    }
                }
            });
        }
        for b in &backups {
            std::thread::sleep(std::time::Duration::from_millis(60));
            let info = db.backup_to(b).expect("backup");
            assert!(info.files >= 2, "{info:?}");
        }
        stop.store(true, Ordering::Relaxed);
    });
    assert_eq!(total(&db), ACCOUNTS * INITIAL);
    for b in &backups {
        let copy = Database::open(b).expect("open backup");
        assert_eq!(
            total(&copy),
            ACCOUNTS * INITIAL,
            "backup {} is not at one commit",
            b.display()
        );
        assert!(copy.verify().expect("verify") > 0);
    }
}

#[test]
fn restore_round_trip_and_refusals() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Database::open_with(dir.path().join("db"), small()).expect("open");
    for i in 0..2000u32 {
        db.put(format!("k{i:05}"), vec![b'x'; 64]).expect("put");
    }
    let backup = dir.path().join("backup");
    db.backup_to(&backup).expect("backup");
    db.put("after", "not in backup").expect("put");

    // A backup into a non-empty directory is refused.
    assert!(matches!(
        db.backup_to(&backup),
        Err(Error::InvalidArgument(_))
    ));

    let target = dir.path().join("restored");
    Database::restore(&backup, &target).expect("restore");
    let restored = Database::open(&target).expect("open restored");
    assert_eq!(restored.scan_prefix("k").expect("scan").count(), 2000);
    assert_eq!(restored.get("after").expect("get"), None);
    drop(restored);

    // Restoring over a non-empty target is refused.
    assert!(matches!(
        Database::restore(&backup, &target),
        Err(Error::InvalidArgument(_))
    ));

    // A tampered table is refused before anything is copied.
    let sst = rustlite_suite::files_with_suffix(&backup, ".sst").expect("list");
    let victim = sst.first().expect("backup has a table");
    // Break the hard link first so the live database's file is untouched.
    let bytes = std::fs::read(victim).expect("read");
    std::fs::remove_file(victim).expect("unlink");
    std::fs::write(victim, &bytes).expect("rewrite");
    rustlite_suite::flip_bit(victim, 100, 3).expect("flip");
    let target2 = dir.path().join("restored2");
    assert!(matches!(
        Database::restore(&backup, &target2),
        Err(Error::Corruption { .. })
    ));
    assert!(!target2.exists() || std::fs::read_dir(&target2).expect("dir").next().is_none());

    // A listing that names a path outside the backup is refused, trailer or not.
    let text = read_listing(&backup);
    write_listing(&backup, &format!("{text}../../etc/passwd 10 00000000\n"));
    assert_refused(&backup, "BACKUP");
    let body = format!("{}../../etc/passwd 10 00000000\n", listing_body(&text));
    write_listing(&backup, &seal(&body));
    let reason = assert_refused(&backup, "BACKUP");
    assert!(reason.contains("refusing file name"), "{reason}");
}

#[test]
fn symlinked_backup_files_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Database::open(dir.path().join("db")).expect("open");
    db.put("a", "1").expect("put");
    let backup = dir.path().join("backup");
    db.backup_to(&backup).expect("backup");
    let current = backup.join("CURRENT");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::rename(&current, &elsewhere).expect("move");
    std::os::unix::fs::symlink(&elsewhere, &current).expect("symlink");
    assert!(matches!(
        Database::restore(&backup, dir.path().join("restored")),
        Err(Error::Corruption { .. })
    ));
}

#[test]
fn a_backup_opened_as_a_database_is_refused_by_restore_naming_a_file() {
    let dir = tempfile::tempdir().expect("dir");
    let db = Database::open(dir.path().join("db")).expect("open");
    db.put("a", "1").expect("put");
    let backup = dir.path().join("backup");
    db.backup_to(&backup).expect("backup");
    // Opening the backup itself makes it a live database: its WAL and manifest change.
    let opened = Database::open(&backup).expect("a backup opens as a database");
    assert_eq!(opened.get("a").expect("get"), Some(b"1".to_vec()));
    drop(opened);
    match Database::restore(&backup, dir.path().join("restored")) {
        Err(Error::Corruption { file, .. }) => assert!(!file.is_empty(), "names no file"),
        other => panic!("expected Corruption naming a file, got {other:?}"),
    }
}

#[test]
fn in_memory_database_backs_up_to_disk() {
    let db = Database::in_memory().expect("open");
    for i in 0..100u32 {
        db.put(i.to_be_bytes(), i.to_le_bytes()).expect("put");
    }
    let dir = tempfile::tempdir().expect("dir");
    let info = db.backup_to(dir.path().join("b")).expect("backup");
    assert_eq!(info.linked, 0);
    let copy = Database::open(dir.path().join("b")).expect("open");
    assert_eq!(copy.scan::<&[u8]>(..).expect("scan").count(), 100);
}

/// A database with a few tables, and a backup of it at `dir/backup`.
fn backed_up(dir: &Path) -> PathBuf {
    let db = Database::open_with(dir.join("db"), small()).expect("open");
    for i in 0..2000u32 {
        db.put(format!("k{i:05}"), vec![b'x'; 64]).expect("put");
    }
    let backup = dir.join("backup");
    db.backup_to(&backup).expect("backup");
    backup
}

fn read_listing(backup: &Path) -> String {
    std::fs::read_to_string(backup.join("BACKUP")).expect("listing")
}

/// Replaces the listing (a new file: the backup's files may be hard links into the database).
fn write_listing(backup: &Path, text: &str) {
    let path = backup.join("BACKUP");
    std::fs::remove_file(&path).expect("unlink listing");
    std::fs::write(&path, text).expect("write listing");
}

/// The listing's header and entry lines, without its trailer.
fn listing_body(text: &str) -> &str {
    let end = text
        .rfind("\nend ")
        .expect("the listing ends with a trailer");
    &text[..=end]
}

/// `body` (header and entry lines) with a matching trailer: a listing that passes its own
/// checks, as a writer bug or a hand-made backup could produce.
fn seal(body: &str) -> String {
    let entries = body.lines().count() - 1;
    format!(
        "{body}end {entries} {:08x}\n",
        crc32fast::hash(body.as_bytes())
    )
}

/// Restoring `backup` fails with `Corruption` in `file`, and nothing reaches the target.
fn assert_refused(backup: &Path, file: &str) -> String {
    let target = backup.with_file_name("refused-target");
    let result = Database::restore(backup, &target);
    let reason = match result {
        Err(Error::Corruption {
            file: named,
            reason,
            ..
        }) if named == file => reason,
        other => panic!("expected Corruption in {file}, got {other:?}"),
    };
    assert!(
        !target.exists() || std::fs::read_dir(&target).expect("dir").next().is_none(),
        "a refused restore copied files"
    );
    reason
}

#[test]
fn a_listing_is_sealed_by_a_trailer_and_written_last() {
    let dir = tempfile::tempdir().expect("dir");
    let backup = backed_up(dir.path());
    let text = read_listing(&backup);
    assert!(text.starts_with("rustlite-backup 2\n"), "{text}");
    let body = listing_body(&text);
    assert_eq!(text, seal(body));
    // Every file of the backup but the listing is listed, and no temporary file is left.
    let mut files: Vec<String> = std::fs::read_dir(&backup)
        .expect("dir")
        .map(|e| e.expect("entry").file_name().into_string().expect("utf-8"))
        .filter(|n| n != "BACKUP")
        .collect();
    files.sort();
    let listed: Vec<&str> = body
        .lines()
        .skip(1)
        .filter_map(|l| l.split(' ').next())
        .collect();
    assert_eq!(files, listed);
    assert!(!backup.join("BACKUP.tmp").exists());
}

#[test]
fn a_listing_torn_after_its_current_line_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let backup = backed_up(dir.path());
    let text = read_listing(&backup);
    // The listing is sorted by name: tables, WAL, CURRENT, then MANIFEST. Torn right after the
    // CURRENT line, it names a manifest it does not list (and has no trailer).
    let current = text.find("\nCURRENT ").expect("CURRENT line") + 1;
    let end = current + text[current..].find('\n').expect("line end") + 1;
    assert!(text[end..].starts_with("MANIFEST-"), "{text}");
    write_listing(&backup, &text[..end]);
    let reason = assert_refused(&backup, "BACKUP");
    assert!(reason.contains("no trailer"), "{reason}");
    // Torn inside a line, or inside the trailer, alike.
    write_listing(&backup, &text[..end - 3]);
    assert_refused(&backup, "BACKUP");
    write_listing(&backup, &text[..text.len() - 4]);
    assert_refused(&backup, "BACKUP");
    // The whole listing back: the backup restores.
    write_listing(&backup, &text);
    Database::restore(&backup, dir.path().join("restored")).expect("restore");
}

#[test]
fn a_table_removed_with_its_listing_line_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let backup = backed_up(dir.path());
    let text = read_listing(&backup);
    let line = text
        .lines()
        .find(|l| l.contains(".sst "))
        .expect("a table line")
        .to_string();
    let table = line.split(' ').next().expect("name");
    std::fs::remove_file(backup.join(table)).expect("remove table");
    write_listing(&backup, &text.replace(&format!("{line}\n"), ""));
    let reason = assert_refused(&backup, "BACKUP");
    assert!(reason.contains("crc32"), "{reason}");
}

#[test]
fn a_listing_whose_trailer_does_not_match_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let backup = backed_up(dir.path());
    let text = read_listing(&backup);
    let body = listing_body(&text);
    let entries = body.lines().count() - 1;
    let crc = crc32fast::hash(body.as_bytes());
    for (trailer, want) in [
        (format!("end {} {crc:08x}\n", entries + 1), "counts"),
        (format!("end {} {crc:08x}\n", entries - 1), "counts"),
        (format!("end {entries} {:08x}\n", crc ^ 1), "crc32"),
        (format!("end {entries}\n"), "no trailer"),
    ] {
        write_listing(&backup, &format!("{body}{trailer}"));
        let reason = assert_refused(&backup, "BACKUP");
        assert!(reason.contains(want), "{trailer:?}: {reason}");
    }
    // A line edited under the original trailer.
    let edited = text.replacen(" 0 00000000\n", " 1 8cdc1683\n", 1);
    assert_ne!(edited, text, "the backup's WAL is empty");
    write_listing(&backup, &edited);
    let reason = assert_refused(&backup, "BACKUP");
    assert!(reason.contains("crc32"), "{reason}");
}

#[test]
fn a_backup_in_the_previous_listing_format_is_refused_as_older_or_unfinished() {
    let dir = tempfile::tempdir().expect("dir");
    let backup = backed_up(dir.path());
    let text = read_listing(&backup);
    // Format 1: the same lines, header version 1, no trailer.
    let old = listing_body(&text).replacen("rustlite-backup 2\n", "rustlite-backup 1\n", 1);
    write_listing(&backup, &old);
    let reason = assert_refused(&backup, "BACKUP");
    assert!(
        reason.contains("format 1") && reason.contains("older or unfinished"),
        "{reason}"
    );
}

/// The listing's line for the first file whose name ends in `suffix`, and that name.
fn line_of(text: &str, suffix: &str) -> (String, String) {
    let line = text
        .lines()
        .find(|l| l.split(' ').next().is_some_and(|n| n.ends_with(suffix)))
        .unwrap_or_else(|| panic!("no {suffix} line in {text}"));
    let name = line.split(' ').next().expect("name");
    (format!("{line}\n"), name.to_string())
}

#[test]
fn a_sealed_listing_missing_the_manifest_current_names_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let backup = backed_up(dir.path());
    let text = read_listing(&backup);
    // Torn right after the CURRENT line (sorted: the manifest came after it), then sealed.
    let current = text.find("\nCURRENT ").expect("CURRENT line") + 1;
    let end = current + text[current..].find('\n').expect("line end") + 1;
    let manifest = text[end..].split(' ').next().expect("name").to_string();
    assert!(manifest.starts_with("MANIFEST-"), "{text}");
    write_listing(&backup, &seal(&text[..end]));
    let reason = assert_refused(&backup, &manifest);
    assert!(reason.contains("CURRENT names this manifest"), "{reason}");
    // The same with the manifest file gone too.
    std::fs::remove_file(backup.join(&manifest)).expect("remove manifest");
    assert_refused(&backup, &manifest);
}

#[test]
fn a_sealed_listing_missing_a_table_is_refused_naming_the_table() {
    let dir = tempfile::tempdir().expect("dir");
    let backup = backed_up(dir.path());
    let text = read_listing(&backup);
    let (line, table) = line_of(&text, ".sst");
    std::fs::remove_file(backup.join(&table)).expect("remove table");
    write_listing(&backup, &seal(&listing_body(&text).replace(&line, "")));
    let reason = assert_refused(&backup, &table);
    assert!(reason.contains("names this table"), "{reason}");
}

#[test]
fn a_sealed_listing_with_a_substituted_table_or_no_live_wal_is_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let backup = backed_up(dir.path());
    let text = read_listing(&backup);

    // A table replaced by other bytes, listed with their size and crc: the manifest's size
    // for it does not match.
    let (line, table) = line_of(&text, ".sst");
    let path = backup.join(&table);
    let original = std::fs::read(&path).expect("read table");
    std::fs::remove_file(&path).expect("unlink table");
    std::fs::write(&path, b"not a table").expect("write");
    let substituted = format!("{table} 11 {:08x}\n", crc32fast::hash(b"not a table"));
    write_listing(
        &backup,
        &seal(&listing_body(&text).replace(&line, &substituted)),
    );
    let reason = assert_refused(&backup, &table);
    assert!(reason.contains("records"), "{reason}");
    std::fs::remove_file(&path).expect("unlink");
    std::fs::write(&path, &original).expect("put the table back");

    // The live WAL missing: opening the restored copy would refuse it (edits lost).
    let (line, wal) = line_of(&text, ".wal");
    std::fs::remove_file(backup.join(&wal)).expect("remove WAL");
    write_listing(&backup, &seal(&listing_body(&text).replace(&line, "")));
    let reason = assert_refused(&backup, &wal);
    assert!(reason.contains("live WAL"), "{reason}");
}

#[test]
fn a_whole_backup_restores_and_opens_after_every_check() {
    let dir = tempfile::tempdir().expect("dir");
    let backup = backed_up(dir.path());
    let target = dir.path().join("restored");
    Database::restore(&backup, &target).expect("restore");
    let restored = Database::open(&target).expect("open restored");
    assert_eq!(restored.scan_prefix("k").expect("scan").count(), 2000);
    assert!(restored.verify().expect("verify") > 0);
    // The restored copy holds the backup's files, not its listing.
    assert!(!target.join("BACKUP").exists());
}
