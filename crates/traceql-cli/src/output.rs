//! Standard output that lets its reader go away: `traceql tags | head` ends quietly instead of
//! failing on the closed pipe.

use std::fmt::Arguments;
use std::io::{ErrorKind, Write};

/// Writes `text` to standard output. When the reader has closed the pipe there is no one left
/// to write for: the process ends with success, as `head` expects. Any other failure to write
/// ends it with status 2 and a message.
pub fn write(text: Arguments<'_>) {
    let mut out = std::io::stdout().lock();
    match out.write_fmt(text).and_then(|()| out.flush()) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("traceql: cannot write to standard output: {e}");
            std::process::exit(2)
        }
    }
}

/// `print!` through [`write`].
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::write(format_args!($($arg)*))
    };
}

/// `println!` through [`write`].
macro_rules! outln {
    () => {
        $crate::output::write(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::output::write(format_args!("{}\n", format_args!($($arg)*)))
    };
}
