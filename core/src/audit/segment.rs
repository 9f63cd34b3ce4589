//! Time-segmented audit files: how a trail is kept for a retention period and no longer.
//!
//! A segmented file device writes the entries of each UTC hour to `<file_path>.<YYYYMMDDHH>`
//! (the hour the entries were written in). Retention then needs no parsing of entries and no
//! rewriting of files: a whole segment is removed once its newest possible entry is older than
//! the retention, so an entry is kept at least `retention` and at most `retention` plus one
//! hour plus the pruning interval. The segment a write goes to is computed from the clock on
//! every entry (an integer division), so a roll-over costs one `open` and nothing else.

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, NaiveDateTime, Utc};

/// The span of one segment.
pub const SEGMENT: Duration = Duration::from_secs(3600);

/// The segment (hours since the Unix epoch) an entry written at `now` belongs to.
pub fn hour_of(now: SystemTime) -> u64 {
    now.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() / SEGMENT.as_secs()
}

/// `<base>.<YYYYMMDDHH>` for the segment `hour`.
pub fn segment_path(base: &Path, hour: u64) -> PathBuf {
    let start =
        DateTime::<Utc>::from_timestamp((hour * SEGMENT.as_secs()) as i64, 0).unwrap_or_default();
    let mut name = base.as_os_str().to_owned();
    name.push(format!(".{}", start.format("%Y%m%d%H")));
    PathBuf::from(name)
}

/// The start of the segment a file name denotes, if it is a segment's name.
fn segment_start(name: &str) -> Option<DateTime<Utc>> {
    let (_, stamp) = name.rsplit_once('.')?;
    if stamp.len() != 10 || !stamp.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    NaiveDateTime::parse_from_str(&format!("{stamp}0000"), "%Y%m%d%H%M%S")
        .ok()
        .map(|t| t.and_utc())
}

/// Removes the segments in `dir` (not below it) whose every entry is older than `retention`
/// at `now`. Files that are not segments are left alone. Returns how many were removed.
pub fn prune(dir: &Path, retention: Duration, now: SystemTime) -> io::Result<usize> {
    let now: DateTime<Utc> = now.into();
    let keep_after = chrono::Duration::from_std(retention + SEGMENT)
        .map_or(DateTime::<Utc>::MIN_UTC, |span| now - span);
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry.file_type()?.is_file() {
            continue;
        }
        let Some(start) = entry.file_name().to_str().and_then(segment_start) else {
            continue;
        };
        if start <= keep_after {
            match std::fs::remove_file(entry.path()) {
                Ok(()) => removed += 1,
                // Another process of the same host pruned it first.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_segment_is_named_by_its_utc_hour() {
        // 2026-12-03T14:59:59Z
        let at = UNIX_EPOCH + Duration::from_secs(1_796_309_999);
        let path = segment_path(Path::new("/logs/abc/audit.log"), hour_of(at));
        assert_eq!(path, Path::new("/logs/abc/audit.log.2026120314"));
        assert_eq!(
            segment_start("audit.log.2026120314").unwrap().to_rfc3339(),
            "2026-12-03T14:00:00+00:00"
        );
        for name in [
            "audit.log",
            "audit.log.20261203",
            "x.2026120314x",
            "x.2026139914",
        ] {
            assert!(segment_start(name).is_none(), "{name}");
        }
    }

    #[test]
    fn pruning_removes_only_segments_wholly_past_retention() {
        let dir = tempfile::tempdir().unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_796_309_999); // 14:59:59
        for name in [
            "audit.log.2026120312", // ends 13:00, 1h59m59s ago: past a 1h retention
            "audit.log.2026120313", // ends 14:00: its last entry may be 59m59s old
            "audit.log.2026120314", // the current one
            "audit.log",            // not a segment
            "notes.txt",
        ] {
            std::fs::write(dir.path().join(name), "{}\n").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub.2020010100")).unwrap();
        let removed = prune(dir.path(), Duration::from_secs(3600), now).unwrap();
        assert_eq!(removed, 1);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "audit.log",
                "audit.log.2026120313",
                "audit.log.2026120314",
                "notes.txt",
                "sub.2020010100"
            ]
        );
    }
}
