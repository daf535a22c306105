//! Keys at rest in files of their own (the seal key of the definitions' secrets, the
//! platform token's signing keys): readable and writable by their owner only (0600), made
//! whole or not at all.

use std::io::Write as _;
use std::path::Path;

/// Write `bytes` to a new file at `path`, owner-only, creating its directory; an error
/// when the file exists (two processes racing to make a key keep the first one's).
pub fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = private_options().create_new(true).open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Replace the file at `path` with `bytes`, owner-only: written beside it and renamed over
/// it, so a reader (or a crash) sees the old content or the new, never half of either.
pub fn replace(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".new");
    let temporary = path.with_file_name(name);
    let _ = std::fs::remove_file(&temporary);
    write_new(&temporary, bytes)?;
    std::fs::rename(&temporary, path)
}

/// Refuse a key file that others than its owner may read or write: the error names the
/// file, its mode and the command that fixes it.
pub fn check_private(path: &Path, what: &str) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map_err(|e| format!("{what} {}: cannot read it: {e}", path.display()))?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{what} {}: others than its owner may read or change it (mode {mode:04o}); a key file must be owner-only: chmod 600 {}",
                path.display(),
                path.display()
            ));
        }
    }
    Ok(())
}

fn private_options() -> std::fs::OpenOptions {
    let mut o = std::fs::OpenOptions::new();
    o.write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        o.mode(0o600);
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::Scratch;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn key_files_are_owner_only_made_once_and_replaced_whole() {
        let dir = Scratch::new("key-file", "owner-only");
        let path = dir.join("keys/k.json");
        write_new(&path, b"one").unwrap();
        assert!(write_new(&path, b"two").is_err(), "an existing key is kept");
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        replace(&path, b"three").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"three");
        assert!(!dir.join("keys/k.json.new").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(mode(&path), 0o600);
            check_private(&path, "key").unwrap();
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
            let e = check_private(&path, "platform key").unwrap_err();
            assert!(e.contains("mode 0640") && e.contains("chmod 600"), "{e}");
        }
    }
}
