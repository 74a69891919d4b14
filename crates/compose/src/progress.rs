//! Progress of compose operations on stderr: Docker Compose's plain lines
//! (` Container app-web-1  Started`), a live view redrawn in place on a
//! terminal (`[+] Running 3/3` and a line per object with its state and
//! time), or nothing (`--progress quiet`).

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

/// How progress is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Plain,
    Tty,
    Quiet,
}

struct Entry {
    what: String,
    state: String,
    started: Instant,
    done_after: Option<f64>,
}

struct View {
    mode: Mode,
    entries: Vec<Entry>,
    drawn: usize,
}

static VIEW: Mutex<View> = Mutex::new(View {
    mode: Mode::Plain,
    entries: Vec::new(),
    drawn: 0,
});

fn view() -> std::sync::MutexGuard<'static, View> {
    VIEW.lock().unwrap_or_else(|e| e.into_inner())
}

/// Chooses the mode (`auto` is decided by the caller).
pub fn set_mode(mode: Mode) {
    view().mode = mode;
}

/// States after which an object has nothing more to do.
fn is_final(state: &str) -> bool {
    matches!(
        state,
        "Created"
            | "Started"
            | "Running"
            | "Stopped"
            | "Removed"
            | "Healthy"
            | "Recreated"
            | "Pulled"
            | "Pushed"
            | "Killed"
            | "Paused"
            | "Unpaused"
            | "Built"
    )
}

/// One line of the live view (pure).
pub fn render_line(what: &str, state: &str, seconds: f64, width: usize, done: bool) -> String {
    let mark = if done { "✔" } else { "⠿" };
    format!(" {mark} {what:<width$}  {state:<10} {seconds:.1}s")
}

/// Reports `kind name` reaching `state`.
pub fn report(kind: &str, name: &str, state: &str) {
    let mut v = view();
    match v.mode {
        Mode::Quiet => {}
        Mode::Plain => eprintln!(" {kind} {name}  {state}"),
        Mode::Tty => {
            let what = format!("{kind} {name}").trim().to_string();
            let now = Instant::now();
            match v.entries.iter_mut().find(|e| e.what == what) {
                Some(e) => {
                    e.state = state.to_string();
                    e.done_after = is_final(state).then(|| (now - e.started).as_secs_f64());
                }
                None => v.entries.push(Entry {
                    what,
                    state: state.to_string(),
                    started: now,
                    done_after: is_final(state).then_some(0.0),
                }),
            }
            redraw(&mut v);
        }
    }
}

fn redraw(v: &mut View) {
    let width = v
        .entries
        .iter()
        .map(|e| e.what.chars().count())
        .max()
        .unwrap_or(0);
    let done = v.entries.iter().filter(|e| e.done_after.is_some()).count();
    let mut out = String::new();
    if v.drawn > 0 {
        out.push_str(&format!("\x1b[{}F", v.drawn));
    }
    out.push_str(&format!("\x1b[2K[+] Running {done}/{}\n", v.entries.len()));
    for e in &v.entries {
        let secs = e
            .done_after
            .unwrap_or_else(|| e.started.elapsed().as_secs_f64());
        out.push_str("\x1b[2K");
        out.push_str(&render_line(
            &e.what,
            &e.state,
            secs,
            width,
            e.done_after.is_some(),
        ));
        out.push('\n');
    }
    v.drawn = v.entries.len() + 1;
    let mut err = std::io::stderr();
    let _ = err.write_all(out.as_bytes());
    let _ = err.flush();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines() {
        assert_eq!(
            render_line("Container app-web-1", "Started", 0.25, 22, true),
            " ✔ Container app-web-1     Started    0.2s"
        );
        assert_eq!(
            render_line("Network app_default", "Creating", 1.0, 19, false),
            " ⠿ Network app_default  Creating   1.0s"
        );
        assert!(is_final("Started") && !is_final("Starting"));
    }
}
