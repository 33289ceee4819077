//! Logging for `--verbose` / `RUST_LOG`: `tracing` events to stderr through
//! `tracing-subscriber`, every line passed through [`sayso::auth::redact::redact`] first, so no
//! token or secret reaches the log whatever logged it. Off unless asked for.

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Stderr, with secrets masked.
struct Redacting;

/// One event's text, masked and written when the formatter is done with it.
struct RedactingWriter {
    buf: Vec<u8>,
}

impl Write for RedactingWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&self.buf).into_owned();
        self.buf.clear();
        let masked = sayso::auth::redact::redact(&text);
        std::io::stderr().lock().write_all(masked.as_bytes())
    }
}

impl Drop for RedactingWriter {
    fn drop(&mut self) {
        let _ = self.flush();
    }
}

impl<'a> MakeWriter<'a> for Redacting {
    type Writer = RedactingWriter;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter { buf: Vec::new() }
    }
}

/// Starts logging: `RUST_LOG` when set (e.g. `sayso=debug`, `trace`), else `-v` (debug of
/// sayso) / `-vv` (trace of everything); neither: no log at all.
pub fn init(verbose: u8) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::new(v),
        _ => match verbose {
            0 => return,
            1 => EnvFilter::new("sayso=debug"),
            _ => EnvFilter::new("trace"),
        },
    };
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Redacting)
        .with_ansi(false)
        .try_init();
}
