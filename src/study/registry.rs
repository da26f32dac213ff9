//! The study's tasks, in one list: the order they run in (a task after every task it needs),
//! and `--tasks` read against it.

use super::task::{Task, TaskId};
use super::{task0, task1, task2, task3, task4, task5, task6};
use crate::error::{Error, Result};

/// Every task of the study, in the order they run: Task 1 and Task 4 train the models that
/// Tasks 2, 3, 5 and 6 read.
pub static TASKS: [&dyn Task; 7] = [
    &task0::DataTask,
    &task1::ShortcutTask,
    &task4::DebiasTask,
    &task2::LearnedTask,
    &task3::GradCamTask,
    &task5::AttackTask,
    &task6::SaeTask,
];

/// The task of `registry` with this id.
pub fn find<'a>(registry: &[&'a dyn Task], id: TaskId) -> Option<&'a dyn Task> {
    registry.iter().copied().find(|t| t.id() == id)
}

/// Every task id of `registry`, by number.
pub fn ids(registry: &[&dyn Task]) -> Vec<TaskId> {
    let mut ids: Vec<TaskId> = registry.iter().map(|t| t.id()).collect();
    ids.sort_unstable();
    ids
}

/// Parse `--tasks`: `all`, or task numbers separated by commas (`0,1,4`).
pub fn parse_tasks(registry: &[&dyn Task], s: &str) -> Result<Vec<TaskId>> {
    let all = ids(registry);
    if s.trim() == "all" {
        return Ok(all);
    }
    let numbers: Vec<String> = all.iter().map(|t| t.to_string()).collect();
    let mut tasks = Vec::new();
    for part in s.split(',').map(str::trim) {
        match all.iter().find(|t| t.to_string() == part) {
            Some(&t) => tasks.push(t),
            None => {
                return Err(Error::Invalid(format!(
                    "--tasks: unknown task '{part}': the tasks are {} (e.g. --tasks 0,1,4), or all",
                    numbers.join(", ")
                )))
            }
        }
    }
    tasks.sort_unstable();
    tasks.dedup();
    Ok(tasks)
}

/// The tasks of `registry` to run for `chosen`: those and every task they need, in the
/// registry's (running) order. An id the registry does not hold is an error.
pub fn with_needs<'a>(registry: &[&'a dyn Task], chosen: &[TaskId]) -> Result<Vec<&'a dyn Task>> {
    let mut wanted: Vec<TaskId> = chosen.to_vec();
    let mut i = 0;
    while i < wanted.len() {
        let task = find(registry, wanted[i])
            .ok_or_else(|| Error::Invalid(format!("--tasks: there is no task {}", wanted[i])))?;
        for &n in task.needs() {
            if !wanted.contains(&n) {
                wanted.push(n);
            }
        }
        i += 1;
    }
    Ok(registry
        .iter()
        .copied()
        .filter(|t| wanted.contains(&t.id()))
        .collect())
}

/// Check that every task runs after the tasks it needs and that ids are unique (a registry
/// that breaks this is a programming error, caught by the tests).
pub fn check(registry: &[&dyn Task]) -> Result<()> {
    for (i, t) in registry.iter().enumerate() {
        if registry[..i].iter().any(|u| u.id() == t.id()) {
            return Err(Error::Invalid(format!("task {} is listed twice", t.id())));
        }
        for n in t.needs() {
            if !registry[..i].iter().any(|u| u.id() == *n) {
                return Err(Error::Invalid(format!(
                    "task {} needs task {n}, which is not listed before it",
                    t.id()
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbers(tasks: &[&dyn Task]) -> Vec<u8> {
        tasks.iter().map(|t| t.id().number()).collect()
    }

    #[test]
    fn the_registry_runs_every_task_after_what_it_needs() {
        check(&TASKS).unwrap();
        assert_eq!(numbers(&TASKS), [0, 1, 4, 2, 3, 5, 6]);
    }

    #[test]
    fn a_chosen_task_pulls_in_what_it_needs() {
        let with = |c: &[u8]| {
            let ids: Vec<TaskId> = c
                .iter()
                .map(|n| *ids(&TASKS).iter().find(|t| t.number() == *n).unwrap())
                .collect();
            numbers(&with_needs(&TASKS, &ids).unwrap())
        };
        assert_eq!(with(&[0, 1, 4]), vec![0, 1, 4]);
        assert_eq!(with(&[3]), vec![1, 4, 2, 3]);
        assert_eq!(with(&[5]), vec![1, 4, 5]);
        assert_eq!(with(&[0]), vec![0]);
    }

    #[test]
    fn tasks_parse_and_unknown_ones_are_named() {
        let p = |s| parse_tasks(&TASKS, s);
        assert_eq!(p("4, 1,1").unwrap(), vec![TaskId::Shortcut, TaskId::Debias]);
        assert_eq!(p("all").unwrap(), ids(&TASKS));
        for bad in ["7", "x", "", "1,,2", "-1"] {
            let e = p(bad).unwrap_err().to_string();
            assert!(e.contains("unknown task"), "{bad}: {e}");
        }
    }
}
