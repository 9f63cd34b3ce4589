//! Where an audit device writes: a file (append only, reopened on SIGHUP), a socket, stdout
//! (for Lambda: CloudWatch collects it), or nowhere (`discard`, for tests and benchmarks).
//!
//! File safety (CVE-2025-54997 is why): a device created through the API may only write inside
//! the configured `audit_file_dir`; the file is opened with `O_NOFOLLOW | O_APPEND`, so a
//! symlink is never followed and nothing is ever truncated; an existing file must be a regular,
//! singly-linked file that already looks like an audit log (empty, or starting with `{` or the
//! device's prefix).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use super::{segment, AuditError};

pub enum Sink {
    File(FileSink),
    Socket(SocketSink),
    Stdout,
    Discard,
}

impl Sink {
    pub fn write_line(&self, line: &[u8]) -> Result<(), AuditError> {
        match self {
            Sink::File(f) => f.write_line(line),
            Sink::Socket(s) => s.write_line(line),
            Sink::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(line)
                    .and_then(|_| out.flush())
                    .map_err(|e| AuditError::Write(e.to_string()))
            }
            Sink::Discard => Ok(()),
        }
    }

    pub fn reopen(&self) -> Result<(), AuditError> {
        match self {
            Sink::File(f) => f.reopen(),
            _ => Ok(()),
        }
    }
}

pub struct FileSink {
    path: PathBuf,
    mode: Option<u32>,
    prefix: String,
    /// Write hourly segments `<path>.<YYYYMMDDHH>` instead of `path` (see `segment`).
    segmented: bool,
    file: Mutex<Option<OpenFile>>,
}

/// The open file and the segment it is (always 0 when not segmented).
struct OpenFile {
    file: File,
    hour: u64,
}

/// Checks that `path` lies inside `dir` once every symlink in its parent is resolved; returns
/// the resolved path.
pub fn check_inside(dir: &Path, path: &Path) -> Result<PathBuf, AuditError> {
    let refuse = |why: &str| AuditError::Refused(format!("file_path {}: {why}", path.display()));
    if !path.is_absolute() {
        return Err(refuse("must be an absolute path"));
    }
    let dir = dir
        .canonicalize()
        .map_err(|e| AuditError::Refused(format!("audit_file_dir {}: {e}", dir.display())))?;
    let parent = path
        .parent()
        .ok_or_else(|| refuse("has no parent directory"))?;
    let name = path.file_name().ok_or_else(|| refuse("has no file name"))?;
    if name == ".." || name == "." {
        return Err(refuse("has no file name"));
    }
    let parent = parent
        .canonicalize()
        .map_err(|e| refuse(&format!("parent directory: {e}")))?;
    if !parent.starts_with(&dir) {
        return Err(refuse(&format!(
            "is outside the allowed audit_file_dir {}",
            dir.display()
        )));
    }
    Ok(parent.join(name))
}

impl FileSink {
    pub fn open(
        path: PathBuf,
        mode: Option<u32>,
        prefix: String,
        segmented: bool,
    ) -> Result<Self, AuditError> {
        let sink = FileSink {
            path,
            mode,
            prefix,
            segmented,
            file: Mutex::new(None),
        };
        sink.reopen()?;
        Ok(sink)
    }

    /// The segment an entry written now goes to.
    fn current_hour(&self) -> u64 {
        if self.segmented {
            segment::hour_of(SystemTime::now())
        } else {
            0
        }
    }

    fn open_file(&self, hour: u64) -> Result<OpenFile, AuditError> {
        let path = if self.segmented {
            segment::segment_path(&self.path, hour)
        } else {
            self.path.clone()
        };
        let refuse =
            |why: String| AuditError::Refused(format!("file_path {}: {why}", path.display()));
        let mode = self.mode.unwrap_or(0o600);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(if mode == 0 { 0o600 } else { mode })
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| {
                if e.raw_os_error() == Some(libc::ELOOP) {
                    refuse("is a symbolic link".into())
                } else {
                    refuse(e.to_string())
                }
            })?;
        let meta = file.metadata().map_err(|e| refuse(e.to_string()))?;
        if !meta.is_file() {
            return Err(refuse("is not a regular file".into()));
        }
        if meta.nlink() > 1 {
            return Err(refuse("has several hard links".into()));
        }
        if meta.len() > 0 {
            let mut head = vec![0u8; self.prefix.len().max(1)];
            let n = file.read(&mut head).map_err(|e| refuse(e.to_string()))?;
            let head = &head[..n];
            let looks_like_log = head.first() == Some(&b'{')
                || (!self.prefix.is_empty() && head == self.prefix.as_bytes());
            if !looks_like_log {
                return Err(refuse(
                    "exists and is not an audit log; refusing to write to it".into(),
                ));
            }
        }
        if mode != 0 && meta.permissions().mode() & 0o7777 != mode {
            file.set_permissions(std::fs::Permissions::from_mode(mode))
                .map_err(|e| refuse(e.to_string()))?;
        }
        Ok(OpenFile { file, hour })
    }

    fn write_line(&self, line: &[u8]) -> Result<(), AuditError> {
        let hour = self.current_hour();
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        if guard.as_ref().is_none_or(|open| open.hour != hour) {
            // Close the previous segment first: if the new one cannot be opened, no entry
            // may go to the old one.
            *guard = None;
            *guard = Some(self.open_file(hour)?);
        }
        let open = guard.as_mut().expect("opened above");
        open.file.write_all(line).map_err(|e| {
            // Drop the handle so the next entry tries a fresh open.
            let msg = e.to_string();
            *guard = None;
            AuditError::Write(msg)
        })
    }

    /// Reopens the file (after log rotation moved it away). If it cannot be reopened the old
    /// handle is dropped too, so entries fail (closed) instead of going to a rotated file.
    pub fn reopen(&self) -> Result<(), AuditError> {
        let opened = self.open_file(self.current_hour());
        let mut guard = self.file.lock().unwrap_or_else(|p| p.into_inner());
        match opened {
            Ok(file) => {
                *guard = Some(file);
                Ok(())
            }
            Err(e) => {
                *guard = None;
                Err(e)
            }
        }
    }
}

pub enum SocketKind {
    Tcp,
    Unix,
}

enum Conn {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Conn {
    /// Whether the peer is still there: a write to a TCP peer that has gone away succeeds
    /// once (the kernel buffers it), so a closed peer is detected before writing, by a
    /// non-blocking peek that sees end-of-stream.
    fn is_open(&self) -> bool {
        let mut byte = [0u8; 1];
        let peek = match self {
            Conn::Tcp(s) => s
                .set_nonblocking(true)
                .and_then(|_| s.peek(&mut byte))
                .map(|n| (n, s.set_nonblocking(false))),
            // std has no stable peek on Unix streams; an audit collector sends nothing, so
            // reading (and dropping) one byte is as good.
            Conn::Unix(s) => s.set_nonblocking(true).and_then(|_| {
                let n = std::io::Read::read(&mut &*s, &mut byte)?;
                Ok((n, s.set_nonblocking(false)))
            }),
        };
        match peek {
            Ok((0, _)) => false,
            Ok((_, restored)) => restored.is_ok(),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let restored = match self {
                    Conn::Tcp(s) => s.set_nonblocking(false),
                    Conn::Unix(s) => s.set_nonblocking(false),
                };
                restored.is_ok()
            }
            Err(_) => false,
        }
    }
}

pub struct SocketSink {
    address: String,
    kind: SocketKind,
    timeout: Duration,
    conn: Mutex<Option<Conn>>,
}

impl SocketSink {
    pub fn new(address: String, kind: SocketKind, timeout: Duration) -> Self {
        SocketSink {
            address,
            kind,
            timeout,
            conn: Mutex::new(None),
        }
    }

    fn connect(&self) -> Result<Conn, AuditError> {
        let err = |e: std::io::Error| AuditError::Write(format!("socket {}: {e}", self.address));
        match self.kind {
            SocketKind::Tcp => {
                let addr = std::net::ToSocketAddrs::to_socket_addrs(&self.address)
                    .map_err(err)?
                    .next()
                    .ok_or_else(|| {
                        AuditError::Write(format!("socket {}: no address", self.address))
                    })?;
                let s = TcpStream::connect_timeout(&addr, self.timeout).map_err(err)?;
                s.set_write_timeout(Some(self.timeout)).map_err(err)?;
                Ok(Conn::Tcp(s))
            }
            SocketKind::Unix => {
                let s = UnixStream::connect(&self.address).map_err(err)?;
                s.set_write_timeout(Some(self.timeout)).map_err(err)?;
                Ok(Conn::Unix(s))
            }
        }
    }

    fn write_line(&self, line: &[u8]) -> Result<(), AuditError> {
        let mut guard = self.conn.lock().unwrap_or_else(|p| p.into_inner());
        // One reconnect: a peer that restarted gets the entry; a peer that is gone fails it.
        for _ in 0..2 {
            if guard.as_ref().is_some_and(|c| !c.is_open()) {
                *guard = None;
            }
            if guard.is_none() {
                *guard = Some(self.connect()?);
            }
            let result = match guard.as_mut().expect("connected above") {
                Conn::Tcp(s) => s.write_all(line),
                Conn::Unix(s) => s.write_all(line),
            };
            match result {
                Ok(()) => return Ok(()),
                Err(_) => *guard = None,
            }
        }
        Err(AuditError::Write(format!(
            "socket {}: write failed",
            self.address
        )))
    }
}
