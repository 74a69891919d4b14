//! `top`: the container's processes as the host's `ps` shows them.

use super::ContainerService;
use crate::Error;

pub use berth_api::container::ContainerTop as TopResult;

/// Host pids whose pid namespace is the container init's.
pub(super) fn container_pids(init_pid: i64) -> Vec<i64> {
    let Ok(ns) = std::fs::read_link(format!("/proc/{init_pid}/ns/pid")) else {
        return Vec::new();
    };
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<i64> = entries
        .flatten()
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<i64>().ok()))
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/ns/pid")).is_ok_and(|l| l == ns))
        .collect();
    pids.sort_unstable();
    pids
}

/// Splits `ps` output into titles and rows, keeping the rows whose PID
/// column is one of `pids`; the last column keeps its spaces.
pub fn parse_ps(output: &str, pids: &[i64]) -> Result<TopResult, Error> {
    let mut lines = output.lines();
    let header = lines
        .next()
        .ok_or_else(|| Error::Internal("ps printed nothing".into()))?;
    let titles: Vec<String> = header.split_whitespace().map(str::to_string).collect();
    let pid_col = titles
        .iter()
        .position(|t| t == "PID")
        .ok_or_else(|| Error::InvalidArgument("Couldn't find PID field in ps output".into()))?;
    let mut processes = Vec::new();
    for line in lines {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < titles.len() {
            continue;
        }
        let Ok(pid) = fields[pid_col].parse::<i64>() else {
            continue;
        };
        if !pids.contains(&pid) {
            continue;
        }
        let mut row: Vec<String> = fields[..titles.len() - 1]
            .iter()
            .map(|s| s.to_string())
            .collect();
        row.push(fields[titles.len() - 1..].join(" "));
        processes.push(row);
    }
    Ok(TopResult { titles, processes })
}

impl ContainerService {
    /// `GET /containers/{id}/top?ps_args=...`.
    pub async fn top(&self, name_or_id: &str, ps_args: &str) -> Result<TopResult, Error> {
        let c = self.get(name_or_id)?;
        let rec = c.record();
        if !rec.status.is_running() {
            return Err(Error::Conflict {
                message: format!("Container {} is not running", rec.id),
            });
        }
        let args = if ps_args.trim().is_empty() {
            vec!["-ef".to_string()]
        } else {
            shell_split(ps_args)
        };
        let (runtime, pid) = (self.inner.runtime.clone(), rec.pid);
        let (out, pids) = tokio::task::spawn_blocking(move || runtime.ps(pid, &args))
            .await
            .map_err(|e| Error::Internal(format!("top task failed: {e}")))?
            .map_err(Error::Internal)?;
        parse_ps(&out, &pids)
    }
}

fn shell_split(s: &str) -> Vec<String> {
    s.split_whitespace().map(str::to_string).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_ps_rows() {
        let out = "UID          PID    PPID  C STIME TTY          TIME CMD\n\
                   root           1       0  0 00:18 ?        00:00:14 /sbin/init\n\
                   root         200       1  0 00:18 ?        00:00:00 sh -c sleep 100\n\
                   root         201     200  0 00:18 ?        00:00:00 sleep 100\n";
        let top = parse_ps(out, &[200, 201]).unwrap();
        assert_eq!(
            top.titles,
            vec!["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
        );
        assert_eq!(top.processes.len(), 2);
        assert_eq!(top.processes[0][7], "sh -c sleep 100");
        assert!(parse_ps("USER COMMAND\nroot x\n", &[1]).is_err());
    }
}
