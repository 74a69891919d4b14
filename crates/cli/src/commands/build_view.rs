//! The compact view of `berth build` on a terminal: one line per step,
//! redrawn in place, ending with its time or `CACHED`; a step's output is
//! shown only when the step fails. The legacy lines (`Step N/M : ...`,
//! ` ---> Using cache`, RUN output) are its input.

use std::time::{Duration, Instant};

/// What a finished step line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Cached,
    Done(Duration),
    Failed,
}

/// One step's line (pure).
pub fn line(n: &str, text: &str, outcome: Option<&Outcome>, width: usize) -> String {
    let tail = match outcome {
        None => "...".to_string(),
        Some(Outcome::Cached) => "CACHED".to_string(),
        Some(Outcome::Done(d)) => format!("{:.1}s", d.as_secs_f64()),
        Some(Outcome::Failed) => "ERROR".to_string(),
    };
    let head = format!("[{n}] ");
    let room = width.saturating_sub(head.len() + tail.len() + 1).max(10);
    let text: String = if text.chars().count() > room {
        let mut t: String = text.chars().take(room - 1).collect();
        t.push('…');
        t
    } else {
        text.to_string()
    };
    let pad = room.saturating_sub(text.chars().count());
    format!("{head}{text}{} {tail}", " ".repeat(pad))
}

struct Current {
    n: String,
    text: String,
    started: Instant,
    cached: bool,
    output: String,
}

/// The view's state.
pub struct View {
    current: Option<Current>,
    started: Instant,
    /// `Successfully ...` lines, printed at the end.
    summary: Vec<String>,
    width: usize,
}

impl View {
    pub fn new(width: usize) -> Self {
        View {
            current: None,
            started: Instant::now(),
            summary: Vec::new(),
            width,
        }
    }

    fn finish(&mut self, outcome: Option<Outcome>) {
        if let Some(c) = self.current.take() {
            let o = outcome.unwrap_or(if c.cached {
                Outcome::Cached
            } else {
                Outcome::Done(c.started.elapsed())
            });
            println!("\r\x1b[2K{}", line(&c.n, &c.text, Some(&o), self.width));
            if o == Outcome::Failed && !c.output.is_empty() {
                print!("{}", c.output);
                if !c.output.ends_with('\n') {
                    println!();
                }
            }
        }
    }

    /// Feeds one `stream` text.
    pub fn stream(&mut self, s: &str) {
        use std::io::Write;
        if let Some(rest) = s.strip_prefix("Step ") {
            self.finish(None);
            let (n, text) = rest.split_once(" : ").unwrap_or((rest, ""));
            let c = Current {
                n: n.to_string(),
                text: text.trim_end().to_string(),
                started: Instant::now(),
                cached: false,
                output: String::new(),
            };
            print!("{}", line(&c.n, &c.text, None, self.width));
            let _ = std::io::stdout().flush();
            self.current = Some(c);
            return;
        }
        if s.starts_with("Successfully ") {
            self.finish(None);
            self.summary.push(s.trim_end().to_string());
            return;
        }
        if s.starts_with(" ---> ") {
            if s.starts_with(" ---> Using cache") {
                if let Some(c) = &mut self.current {
                    c.cached = true;
                }
            }
            return;
        }
        if let Some(c) = &mut self.current {
            c.output.push_str(s);
        }
    }

    /// The build failed: the current step is marked and its output shown.
    pub fn failed(&mut self) {
        self.finish(Some(Outcome::Failed));
    }

    /// The build ended.
    pub fn done(&mut self) {
        self.finish(None);
        println!("Built in {:.1}s", self.started.elapsed().as_secs_f64());
        for l in &self.summary {
            println!("{l}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        let cached = line("3/11", "COPY src/ /src/", Some(&Outcome::Cached), 40);
        assert_eq!(cached.chars().count(), 40);
        assert!(cached.starts_with("[3/11] COPY src/ /src/ ") && cached.ends_with(" CACHED"));
        let done = line(
            "4/11",
            "RUN make",
            Some(&Outcome::Done(Duration::from_millis(1234))),
            30,
        );
        assert_eq!(done.chars().count(), 30);
        assert!(done.starts_with("[4/11] RUN make ") && done.ends_with(" 1.2s"));
        let long = line("1/2", &"x".repeat(100), None, 30);
        assert_eq!(long.chars().count(), 30);
        assert!(long.contains('…') && long.ends_with(" ..."));
    }
}
