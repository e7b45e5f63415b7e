//! The report: one row per scenario, written as JSON and as a Markdown
//! table with the machine it ran on.

use std::path::Path;

use anyhow::Result;

use crate::dataset::Size;
use crate::load::Figures;

#[derive(Debug, serde::Serialize)]
pub struct Row {
    pub scenario: String,
    pub stride: Figures,
    /// The same SQL work straight from pgbench, when there is one.
    pub ceiling: Option<Figures>,
    /// Stride's rate over the ceiling's.
    pub ratio: Option<f64>,
    /// The minimal durable work of the same events, whatever the design
    /// (scenarios that write).
    pub minimal: Option<Figures>,
    /// Stride's rate over the minimal ceiling's.
    pub minimal_ratio: Option<f64>,
    /// Peak resident memory of the server process during the scenario.
    pub server_peak_rss_mib: f64,
    pub target: String,
    pub met: Option<bool>,
    pub note: String,
}

impl Row {
    /// A row for the scenario being run (its name is set by the runner).
    pub fn new(stride: Figures, ceiling: Option<Figures>, rss: f64) -> Row {
        let ratio = ceiling.as_ref().map(|c| stride.rate / c.rate);
        Row {
            scenario: String::new(),
            stride,
            ceiling,
            ratio,
            minimal: None,
            minimal_ratio: None,
            server_peak_rss_mib: rss,
            target: String::new(),
            met: None,
            note: String::new(),
        }
    }

    /// The minimal ceiling of the same events.
    pub fn minimal(mut self, minimal: Figures) -> Row {
        self.minimal_ratio = Some(self.stride.rate / minimal.rate);
        self.minimal = Some(minimal);
        self
    }

    /// Adds a target (all of a row's targets must be met).
    fn target(mut self, what: String, met: bool) -> Row {
        if !self.target.is_empty() {
            self.target += ", ";
        }
        self.target += &what;
        self.met = Some(self.met.unwrap_or(true) && met);
        self
    }

    /// Target: Stride's rate at least `share` of the minimal ceiling's.
    pub fn share_of_minimal(self, share: f64) -> Row {
        let met = self.minimal_ratio.is_some_and(|r| r >= share);
        self.target(
            format!(">= {:.0}% of the minimal ceiling", share * 100.0),
            met,
        )
    }

    /// Target: Stride's p99 at most `ms`.
    pub fn p99_at_most(self, ms: f64) -> Row {
        let met = self.stride.p99_ms <= ms;
        self.target(format!("p99 <= {ms} ms"), met)
    }

    /// Target: Stride's rate at least `rate` (its unit).
    pub fn rate_at_least(self, rate: f64) -> Row {
        let met = self.stride.rate >= rate;
        let what = format!(">= {rate:.0} {}", self.stride.unit);
        self.target(what, met)
    }

    pub fn note(mut self, note: String) -> Row {
        self.note = note;
        self
    }
}

#[derive(Debug, serde::Serialize)]
pub struct Report {
    pub ran_at: String,
    pub machine: Machine,
    pub size: Size,
    pub seconds_per_scenario: u64,
    pub rows: Vec<Row>,
    pub server_peak_rss_mib: f64,
    pub rss_target_mib: f64,
}

#[derive(Debug, serde::Serialize)]
pub struct Machine {
    pub cpu: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub kernel: String,
    pub postgres: String,
}

impl Machine {
    pub fn here(postgres: String) -> Machine {
        let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let meminfo = read("/proc/meminfo");
        Machine {
            cpu: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
                .unwrap_or_else(|| "unknown".into()),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_gib: meminfo
                .lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse::<f64>().ok())
                .map_or(0.0, |kib| kib / 1024.0 / 1024.0),
            kernel: read("/proc/sys/kernel/osrelease").trim().to_string(),
            postgres,
        }
    }
}

impl Report {
    pub fn markdown(&self) -> String {
        let m = &self.machine;
        let mut out = format!(
            "Ran {} on {} ({} cores, {:.0} GiB, Linux {}), {}; server, PostgreSQL and the load generator share the machine.\n\n\
             Dataset `{}`: {} learners, {} courses, {} skills, {} events; {} s per scenario.\n\n\
             Two ceilings, both pgbench on the same cluster in the same run: *Stride's SQL* runs the statements \
             Stride's work comes down to (it moves with Stride's design); the *minimal ceiling* runs only the \
             minimal durable work of the same events, whatever the design (an event under its idempotency key, \
             one ledger row, one upsert of the person's totals), one event per transaction at 16 clients for 1 and \
             5, 100 per transaction at 4 clients for 2.\n\n\
             | scenario | Stride | p50 / p95 / p99 ms | Stride's SQL (pgbench) | p50 / p95 / p99 ms | Stride / its SQL | minimal ceiling (pgbench) | Stride / minimal ceiling | server peak RSS | target | met |\n\
             | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
            self.ran_at,
            m.cpu,
            m.cores,
            m.memory_gib,
            m.kernel,
            m.postgres,
            self.size.name,
            self.size.learners,
            self.size.courses,
            self.size.skills,
            self.size.events,
            self.seconds_per_scenario,
        );
        let lat = |f: &Figures| format!("{:.2} / {:.2} / {:.2}", f.p50_ms, f.p95_ms, f.p99_ms);
        for row in &self.rows {
            let (ceiling, ceiling_lat) = match &row.ceiling {
                Some(c) => (format!("{:.0} {}", c.rate, c.unit), lat(c)),
                None => ("-".into(), "-".into()),
            };
            let percent = |r: Option<f64>| r.map_or("-".into(), |r| format!("{:.0}%", r * 100.0));
            let minimal = row.minimal.as_ref().map_or("-".into(), |m| {
                format!("{:.0} {} (p99 {:.2} ms)", m.rate, m.unit, m.p99_ms)
            });
            out += &format!(
                "| {} | {:.0} {} | {} | {} | {} | {} | {} | {} | {:.0} MiB | {} | {} |\n",
                row.scenario,
                row.stride.rate,
                row.stride.unit,
                lat(&row.stride),
                ceiling,
                ceiling_lat,
                percent(row.ratio),
                minimal,
                percent(row.minimal_ratio),
                row.server_peak_rss_mib,
                row.target,
                match row.met {
                    Some(true) => "yes",
                    Some(false) => "**no**",
                    None => "-",
                },
            );
        }
        out += &format!(
            "\nServer peak RSS over the whole run: {:.0} MiB (target <= {:.0} MiB: {}).\n\n",
            self.server_peak_rss_mib,
            self.rss_target_mib,
            if self.server_peak_rss_mib <= self.rss_target_mib {
                "met"
            } else {
                "**not met**"
            }
        );
        for row in self.rows.iter().filter(|r| !r.note.is_empty()) {
            out += &format!("- {}: {}\n", row.scenario, row.note);
        }
        out
    }

    pub fn write(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let stem = format!("report-{}", self.size.name);
        std::fs::write(
            dir.join(format!("{stem}.json")),
            serde_json::to_string_pretty(self)?,
        )?;
        std::fs::write(dir.join(format!("{stem}.md")), self.markdown())?;
        Ok(())
    }
}
