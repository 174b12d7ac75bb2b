//! The named pipe a doctest job gives libtest as its `--logfile`.
//!
//! A file would not do: rustdoc may start two libtest runs one after the other (edition 2024:
//! the merged doctests, then the others), and each creates the log afresh, truncating what the
//! first wrote, perhaps before the runner read it. A pipe cannot be truncated: what each run
//! writes arrives in order. The runner holds both ends (so that a run opening it never waits,
//! and reading never sees an end between two runs) and reads without blocking, each time the
//! job's stdout moves, as libtest writes a test's record just before its result line.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::stat::Mode;

/// How much the pipe may hold unread: records of thousands of doctests that end at once.
const PIPE_SIZE: i32 = 1 << 20;

pub(super) struct LogPipe {
    /// Removed, with the pipe, when the job is done.
    _dir: tempfile::TempDir,
    path: PathBuf,
    file: File,
    buf: Vec<u8>,
}

impl LogPipe {
    /// A new pipe in a directory of its own, whose path holds no whitespace (rustdoc cuts its
    /// test arguments at whitespace).
    pub(super) fn create() -> std::io::Result<LogPipe> {
        let mut base = std::env::temp_dir();
        if base.display().to_string().contains(char::is_whitespace) {
            base = PathBuf::from("/tmp");
        }
        let dir = tempfile::Builder::new()
            .prefix("runner-doc-")
            .tempdir_in(base)?;
        let path = dir.path().join("results.log");
        nix::unistd::mkfifo(&path, Mode::S_IRUSR | Mode::S_IWUSR)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(OFlag::O_NONBLOCK.bits())
            .open(&path)?;
        // A bigger buffer only spares libtest a wait; the default one works too.
        let _ = fcntl(file.as_raw_fd(), FcntlArg::F_SETPIPE_SZ(PIPE_SIZE));
        Ok(LogPipe {
            _dir: dir,
            path,
            file,
            buf: Vec::new(),
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// What was written since the last read.
    pub(super) fn read_new(&mut self) -> &[u8] {
        self.buf.clear();
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.file.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // Empty for now (WouldBlock); any other error leaves tests without records,
                // which the job then reports as such.
                Err(_) => break,
            }
        }
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn what_two_writers_write_in_turn_is_read_whole() {
        let mut pipe = LogPipe::create().unwrap();
        assert!(pipe.read_new().is_empty());
        for record in ["ok a\n", "failed b\n"] {
            // As libtest opens its log: create, truncate, write, close.
            let mut writer = File::create(pipe.path()).unwrap();
            writer.write_all(record.as_bytes()).unwrap();
        }
        assert_eq!(pipe.read_new(), b"ok a\nfailed b\n");
        assert!(pipe.read_new().is_empty());
    }
}
