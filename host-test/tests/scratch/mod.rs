//! A test's own directory under the system temp dir, removed when the test passes. The
//! integration tests use it as `mod scratch;`, the library's unit tests through `lib.rs`.
//!
//! The load tests leave tens of megabytes of outbox behind; without this, every run of the
//! suite leaked them into `/tmp` until the disk filled. A failing test keeps its directory
//! (and says where) so its files can be read.
#![allow(dead_code)]

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fresh, empty directory; deleted on drop unless the thread is panicking.
pub struct Scratch(PathBuf);

impl Scratch {
    /// `<temp>/host-test-<suite>-<pid>-<n>-<name>`: unique per process and per call, so
    /// tests running in parallel never share one.
    pub fn new(suite: &str, name: &str) -> Scratch {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "host-test-{suite}-{}-{}-{name}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test files kept in {}", self.0.display());
        } else if let Err(e) = std::fs::remove_dir_all(&self.0) {
            eprintln!("could not remove {}: {e}", self.0.display());
        }
    }
}
