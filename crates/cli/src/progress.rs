//! Progress for people and for logs. On a terminal (stderr), long work draws a bar that updates in
//! place: calls or files or stages done of planned, records, the current wait, and an estimate of
//! the time left. Piped to a file or a scheduler's log, the same work prints one plain line per
//! request, file or stage, as before bars existed. `--quiet` and `--format json` print neither:
//! stdout stays machine-readable and stderr keeps only warnings and errors.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Display {
    /// Bars on the terminal.
    Bars,
    /// One line per item on stderr (not a terminal).
    Lines,
    /// Nothing (quiet, or machine-readable output).
    Silent,
}

impl Display {
    /// Bars when stderr is a terminal, lines when it is not; silent for `--quiet` or JSON output.
    pub fn choose(quiet: bool, machine_output: bool) -> Self {
        if quiet || machine_output {
            Display::Silent
        } else if std::io::stderr().is_terminal() {
            Display::Bars
        } else {
            Display::Lines
        }
    }
}

/// One bar (or its plain-line stand-in) for a piece of work of `total` items.
#[derive(Clone)]
pub struct Progress {
    display: Display,
    bar: ProgressBar,
}

impl Progress {
    /// `what` names the work (`fetch comtrade`, `normalize`, `run`); `unit` the items (`calls`).
    pub fn new(display: Display, what: &str, unit: &str, total: u64) -> Self {
        let bar = match display {
            Display::Bars => {
                let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(8));
                let template = format!(
                    "{{spinner}} {what:<16} [{{bar:28}}] {{pos}}/{{len}} {unit} · {{elapsed_precise}} · eta {{eta}} {{msg}}"
                );
                bar.set_style(
                    ProgressStyle::with_template(&template).expect("a valid progress template").progress_chars("=> "),
                );
                bar.enable_steady_tick(Duration::from_millis(125));
                bar
            }
            Display::Lines | Display::Silent => ProgressBar::hidden(),
        };
        Self { display, bar }
    }

    /// The plan grew (a split request adds its parts).
    pub fn set_total(&self, total: u64) {
        self.bar.set_length(total);
    }

    pub fn set_position(&self, done: u64) {
        self.bar.set_position(done);
    }

    pub fn advance(&self) {
        self.bar.inc(1);
    }

    /// What the bar says beside its counts (records so far, the current wait).
    pub fn message(&self, text: String) {
        self.bar.set_message(text);
    }

    /// A line about one item: above the bar on a terminal, on its own in a log, nowhere when
    /// silent. `important` lines (failures) show on a terminal too.
    pub fn line(&self, text: &str, important: bool) {
        match self.display {
            Display::Bars if important => self.bar.println(text),
            Display::Bars | Display::Silent => {}
            Display::Lines => eprintln!("{text}"),
        }
    }

    /// A line about one item that is shown above the bar as well (a stage's result).
    pub fn always_line(&self, text: &str) {
        match self.display {
            Display::Bars => self.bar.println(text),
            Display::Lines => eprintln!("{text}"),
            Display::Silent => {}
        }
    }

    /// Ends the bar, leaving its final state on the terminal.
    pub fn finish(&self, text: String) {
        self.bar.finish_with_message(text);
    }
}
