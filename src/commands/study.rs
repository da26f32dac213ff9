//! `shortcut study`: the settings of the chosen profile, overridden by the flags; then the
//! study itself ([`shortcut::study::run_study`]) and what each task took.

use super::inputs::{resolve_data, say};
use crate::cli_args::StudyArgs;
use shortcut::study::{self, registry, Profile, StudyConfig, Task1Summary, TaskId};
use shortcut::{Device, Error, Result};
use std::path::PathBuf;

pub fn run(a: StudyArgs) -> Result<()> {
    let profile = Profile::parse(&a.profile)?;
    // The data folder is found (or fetched) only once every setting is known to be good.
    let mut cfg = StudyConfig::for_profile(profile, Device::parse(&a.device)?, PathBuf::new());
    if let Some(n) = a.seeds {
        if n == 0 || n > study::MAX_SEEDS as u64 {
            return Err(Error::Invalid(format!(
                "--seeds must be between 1 and {}, got {n}",
                study::MAX_SEEDS
            )));
        }
        cfg.seeds = (0..n).collect();
    }
    if let Some(e) = a.epochs {
        cfg.epochs = Some(e);
    }
    if a.limit.is_some() {
        cfg.limit = a.limit;
    }
    cfg.lr = a.lr;
    cfg.tasks = registry::parse_tasks(&registry::TASKS, &a.tasks)?;
    cfg.fresh = a.fresh;
    cfg.progress = true;
    cfg.validate()?;
    cfg.data_dir = resolve_data(&a.data)?;
    shortcut::interrupt::install();
    let r = study::run_study(&cfg, &a.out, &mut |s| shortcut::progress::println(s))?;
    if let Some(t1) = r.result::<Task1Summary>(TaskId::Shortcut)? {
        let n = t1.runs.len();
        let pm = |(m, s): (f64, f64)| shortcut::report::mean_std(m, s, n);
        say(&format!(
            "LazyCNN: train {} (report {:.1} %), hard {} (report {:.1} %)",
            pm(t1.train_acc_mean_std),
            t1.reference_train_acc,
            pm(t1.hard_acc_mean_std),
            t1.reference_hard_acc
        ));
    }
    let took: Vec<String> = r
        .task_seconds
        .iter()
        .map(|(t, s)| match r.task_peak_mb.get(t) {
            Some(mb) => format!("{t} {} ({mb:.0} MB peak)", study::plan::human(*s)),
            None => format!("{t} {}", study::plan::human(*s)),
        })
        .collect();
    say(&format!(
        "took {} in all: {}",
        study::plan::human(r.seconds),
        took.join(", ")
    ));
    say(&format!("open {}", a.out.join("index.html").display()));
    Ok(())
}
