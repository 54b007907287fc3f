//! Where output goes and how it looks: results on stdout, diagnostics on stderr.
//!
//! Diagnostics go through `tracing` with a compact, cargo-like format (`warning: …`); the level is
//! `info` by default, `warn` with `-q`, `debug` with `-v`, `trace` with `-vv`, or whatever
//! `RUST_LOG` says. Colour is used only when the stream is a terminal and neither `--no-color`
//! nor `NO_COLOR` is set (tracing-subscriber would colour a pipe too, so it is told). Progress
//! bars show only on a terminal, never in CI or with `-q`.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;

/// What the terminal and the user allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Terminal {
    pub(crate) stdout_color: bool,
    pub(crate) stderr_color: bool,
    /// Progress bars may be drawn on stderr.
    pub(crate) progress: bool,
    pub(crate) quiet: bool,
    pub(crate) verbose: u8,
}

impl Terminal {
    /// No terminal: no colour, no progress, nothing but warnings (the library's).
    pub(crate) fn none() -> Terminal {
        Terminal {
            stdout_color: false,
            stderr_color: false,
            progress: false,
            quiet: true,
            verbose: 0,
        }
    }

    /// Decides from the streams, the flags and the environment (`NO_COLOR`, `CI`).
    pub(crate) fn detect(no_color_flag: bool, quiet: bool, verbose: u8) -> Terminal {
        let no_color = no_color_flag || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false");
        let err_tty = std::io::stderr().is_terminal();
        Terminal {
            stdout_color: !no_color && std::io::stdout().is_terminal(),
            stderr_color: !no_color && err_tty,
            progress: err_tty && !quiet && !ci,
            quiet,
            verbose,
        }
    }
}

/// Installs the stderr logger. `rust_log` is the value of `RUST_LOG`, which wins when set.
pub(crate) fn init_logging(term: &Terminal, rust_log: Option<&str>) {
    let level = match (term.quiet, term.verbose) {
        (true, _) => Level::WARN,
        (false, 0) => Level::INFO,
        (false, 1) => Level::DEBUG,
        (false, _) => Level::TRACE,
    };
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(term.stderr_color)
        .event_format(CliFormat {
            color: term.stderr_color,
        });
    // RUST_LOG takes `level` or `target=level,…` (tracing's `Targets` syntax: no regular
    // expressions, which would add 700 KiB of code to every start).
    let targets = rust_log
        .filter(|s| !s.trim().is_empty())
        .and_then(|d| d.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(level));
    let result = builder
        .with_max_level(tracing::level_filters::LevelFilter::TRACE)
        .finish()
        .with(targets)
        .try_init();
    // A second init (tests, embedders) keeps the first subscriber.
    drop(result);
}

/// `warning: message key=value`, coloured labels on a terminal; info lines have no label.
struct CliFormat {
    color: bool,
}

impl<S, N> FormatEvent<S, N> for CliFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: format::Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let (label, style) = match *event.metadata().level() {
            Level::ERROR => ("error: ", "\x1b[1;31m"),
            Level::WARN => ("warning: ", "\x1b[1;33m"),
            Level::INFO => ("", ""),
            Level::DEBUG => ("debug: ", "\x1b[2m"),
            Level::TRACE => ("trace: ", "\x1b[2m"),
        };
        if self.color && !label.is_empty() {
            write!(writer, "{style}{label}\x1b[0m")?;
        } else {
            writer.write_str(label)?;
        }
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

/// Paints `text` with an ANSI style when `on`.
pub(crate) fn paint(on: bool, style: &str, text: &str) -> String {
    if on {
        format!("{style}{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

pub(crate) const RED: &str = "\x1b[31m";
pub(crate) const GREEN: &str = "\x1b[32m";
pub(crate) const YELLOW: &str = "\x1b[33m";
pub(crate) const BOLD_RED: &str = "\x1b[1;31m";

/// Where progress lines are drawn: stderr, as indicatif's own target, but with the width read
/// from the terminal even when it reports no rows (`script` without a size; console then
/// assumes 80 columns, and a line padded to 80 wraps on a 60-column terminal).
pub(crate) fn stderr_target() -> indicatif::ProgressDrawTarget {
    indicatif::ProgressDrawTarget::term_like_with_hz(
        Box::new(Stderr(console::Term::buffered_stderr())),
        20,
    )
}

#[derive(Debug)]
struct Stderr(console::Term);

impl indicatif::TermLike for Stderr {
    fn width(&self) -> u16 {
        columns().unwrap_or_else(|| self.0.size().1)
    }

    fn height(&self) -> u16 {
        self.0.size().0
    }

    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_up(n)
    }

    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_down(n)
    }

    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_right(n)
    }

    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_left(n)
    }

    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.0.write_line(s)
    }

    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.0.write_str(s)
    }

    fn clear_line(&self) -> std::io::Result<()> {
        self.0.clear_line()
    }

    fn flush(&self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// The columns of the terminal on stderr, when it reports them.
fn columns() -> Option<u16> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct it is given; it fails harmlessly
    // when fd 2 is not a terminal.
    #[allow(unsafe_code)]
    let ok = unsafe { libc::ioctl(2, libc::TIOCGWINSZ, &mut size) } == 0;
    (ok && size.ws_col > 0).then_some(size.ws_col)
}
