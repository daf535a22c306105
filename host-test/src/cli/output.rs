//! Writing the command's output: a closed stdout (`| head -1`) ends the command quietly.

/// `println!` for the command's output, ending the command quietly (exit 0) when stdout
/// is closed, as it is under `host-test render ... | head -1`: `println!` would panic and
/// exit 101 with a message about a broken pipe.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::cli::output::emit(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// `print!` with the same rule as [`out!`].
#[macro_export]
macro_rules! out_part {
    ($($arg:tt)*) => {
        $crate::cli::output::emit(format_args!($($arg)*))
    };
}

/// Write to stdout; a closed stdout ends the process quietly, any other failure says so.
pub fn emit(args: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    written(stdout.write_fmt(args).and_then(|()| stdout.flush()));
}

/// [`emit`] for bytes, written exactly as they are.
pub fn emit_bytes(bytes: &[u8]) {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    written(stdout.write_all(bytes).and_then(|()| stdout.flush()));
}

/// The end of a write to stdout: a closed stdout ends the process quietly (exit 0), any
/// other failure says so (exit 2).
fn written(result: std::io::Result<()>) {
    if let Err(e) = result {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("host-test: cannot write the output: {e}");
        std::process::exit(2);
    }
}
