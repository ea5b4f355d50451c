//! Deterministic demo and benchmark data (SPEC 2): the demo users, and field-service work
//! order tasks and incidents made from a seed, so a test, a benchmark and a demo instance
//! seeded alike hold the very same records.
//!
//! Only `u32` draws are used from the generator: they come out the same on 64-bit hosts and
//! in 32-bit WebAssembly, where `usize` draws would not.

use crate::record::{derived_sys_id, Record, Timestamp};
use fastrand::Rng;

/// The fields of a work order task, besides the system fields.
pub const WM_TASK_FIELDS: [&str; 13] = [
    "number",
    "short_description",
    "description",
    "state",
    "priority",
    "assigned_to",
    "assignment_group",
    "location",
    "window_start",
    "window_end",
    "work_start",
    "work_end",
    "close_notes",
];

/// The fields of an incident, besides the system fields.
pub const INCIDENT_FIELDS: [&str; 10] = [
    "number",
    "short_description",
    "state",
    "priority",
    "urgency",
    "caller_id",
    "assigned_to",
    "category",
    "close_code",
    "close_notes",
];

/// The states of a work order task.
pub const WM_TASK_STATES: [&str; 7] = [
    "pending_dispatch",
    "assigned",
    "accepted",
    "work_in_progress",
    "closed_complete",
    "closed_incomplete",
    "cancelled",
];

/// The states generated incidents take.
pub const INCIDENT_STATES: [&str; 5] = ["new", "in_progress", "on_hold", "resolved", "closed"];

/// The field technicians demo tasks are assigned to, alternately.
pub const TECHNICIANS: [&str; 2] = ["beth.anglin", "abel.tuter"];

/// One of the demo users (password = user name, demo data only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DemoUser {
    /// A `sys_id` derived from the user's place in the list, the same on every instance.
    pub sys_id: String,
    /// The login name.
    pub user_name: &'static str,
    /// The full name.
    pub name: &'static str,
    /// `technician`, `dispatcher` or `admin`.
    pub roles: &'static str,
}

const USERS: [(&str, &str, &str); 4] = [
    ("beth.anglin", "Beth Anglin", "technician"),
    ("abel.tuter", "Abel Tuter", "technician"),
    ("fred.luddy", "Fred Luddy", "dispatcher"),
    ("admin", "System Administrator", "admin"),
];

/// The demo users: two technicians, a dispatcher and an administrator.
pub fn demo_users() -> Vec<DemoUser> {
    USERS
        .iter()
        .enumerate()
        .map(|(i, &(user_name, name, roles))| DemoUser {
            sys_id: derived_sys_id("demo-user", i),
            user_name,
            name,
            roles,
        })
        .collect()
}

impl DemoUser {
    /// The user's `sys_user` record, created by `system` at `now`.
    pub fn record(&self, now: Timestamp) -> Record {
        let mut r = Record::new();
        r.set("sys_id", self.sys_id.clone());
        r.set("user_name", self.user_name);
        r.set("name", self.name);
        r.set("roles", self.roles);
        r.stamp_insert("system", now);
        r
    }
}

const DAY_S: i64 = 86_400;
const HOUR_S: i64 = 3_600;

/// Task states weighted by repetition: most tasks are open and assigned.
const TASK_STATE_DRAW: [&str; 15] = [
    "pending_dispatch",
    "assigned",
    "assigned",
    "assigned",
    "assigned",
    "accepted",
    "accepted",
    "accepted",
    "work_in_progress",
    "work_in_progress",
    "work_in_progress",
    "closed_complete",
    "closed_complete",
    "closed_incomplete",
    "cancelled",
];
const INCIDENT_STATE_DRAW: [&str; 9] = [
    "new",
    "new",
    "in_progress",
    "in_progress",
    "in_progress",
    "on_hold",
    "resolved",
    "resolved",
    "closed",
];
const JOBS: [&str; 6] = [
    "Replace",
    "Repair",
    "Inspect",
    "Service",
    "Install",
    "Calibrate",
];
const ASSETS: [&str; 8] = [
    "rooftop HVAC unit",
    "fibre junction box",
    "backup generator",
    "water pump",
    "access control panel",
    "street cabinet",
    "smart meter",
    "fire alarm panel",
];
const DETAILS: [&str; 5] = [
    "Customer reports intermittent faults since Monday.",
    "Bring spare fuses and the torque wrench.",
    "Site contact waits at reception; sign in on arrival.",
    "Access is by the rear gate; call ahead.",
    "Follow-up from last month's visit.",
];
const LOCATIONS: [&str; 6] = [
    "12 Harbour Road, Leith",
    "Unit 4, Riverside Business Park",
    "St Mary's Primary School",
    "88 Station Street",
    "Northgate Water Works",
    "City Library, Main Hall",
];
const GROUPS: [&str; 3] = [
    "Field Services North",
    "Field Services South",
    "Network Field Team",
];
const TASK_DONE_NOTES: [&str; 3] = [
    "Replaced the faulty part and tested; working normally.",
    "Serviced and cleaned; no further faults found.",
    "Repaired on site; customer signed off.",
];
const TASK_UNDONE_NOTES: [&str; 3] = [
    "Customer not on site; revisit needed.",
    "Part not in stock; ordered, revisit needed.",
    "No safe access to the equipment; escalated to dispatch.",
];
const PROBLEMS: [&str; 6] = [
    "Power failure",
    "No network connectivity",
    "Alarm panel fault",
    "Water leak",
    "Door access not working",
    "Heating not working",
];
const CATEGORIES: [&str; 4] = ["hardware", "network", "software", "facilities"];
const CALLERS: [&str; 2] = ["fred.luddy", "admin"];
const CLOSE_CODES: [&str; 3] = [
    "Solved (Permanently)",
    "Solved (Work Around)",
    "Not Solved (Not Reproducible)",
];
const INCIDENT_NOTES: [&str; 3] = [
    "Fixed by the field technician on site.",
    "Temporary fix in place; permanent repair scheduled.",
    "Could not reproduce; monitoring.",
];

/// `count` records made from `seed`: three `wm_task` for every `incident`, with every field
/// of their table and the system fields (created by `system` at most 30 days before `now`,
/// never updated). The same seed and `now` give the same records, ids included.
pub fn generate(seed: u64, count: usize, now: Timestamp) -> Vec<(&'static str, Record)> {
    let mut rng = Rng::with_seed(seed);
    let ids = format!("generate:{seed}");
    let (mut tasks, mut incidents) = (0u32, 0u32);
    let mut out = Vec::with_capacity(count);
    for i in 0..count {
        let (table, mut record) = if i % 4 == 3 {
            incidents += 1;
            ("incident", incident(&mut rng, incidents))
        } else {
            tasks += 1;
            ("wm_task", task(&mut rng, tasks, now))
        };
        let created = stamp(now, -i64::from(rng.u32(1..=30 * 24)) * HOUR_S);
        record.set("sys_id", derived_sys_id(&ids, i));
        record.set("sys_created_on", created.clone());
        record.set("sys_updated_on", created);
        record.set("sys_created_by", "system");
        record.set("sys_updated_by", "system");
        record.set("sys_mod_count", 0);
        out.push((table, record));
    }
    out
}

/// The `n`-th work order task (from 1). Times are worked out as offsets from `now`, small
/// enough never to overflow, and applied once.
fn task(rng: &mut Rng, n: u32, now: Timestamp) -> Record {
    let state = pick(rng, &TASK_STATE_DRAW);
    let short = format!("{} {}", pick(rng, &JOBS), pick(rng, &ASSETS));
    let location = pick(rng, &LOCATIONS);
    let today = -now.unix().rem_euclid(DAY_S);
    let this_hour = -now.unix().rem_euclid(HOUR_S);
    let window_start = match state {
        "work_in_progress" => this_hour - i64::from(rng.u32(1..=2)) * HOUR_S,
        "closed_complete" | "closed_incomplete" | "cancelled" => {
            today - i64::from(rng.u32(1..=6)) * DAY_S + i64::from(rng.u32(8..=15)) * HOUR_S
        }
        _ => today + i64::from(rng.u32(0..=5)) * DAY_S + i64::from(rng.u32(8..=15)) * HOUR_S,
    };
    let window_end = window_start + i64::from(rng.u32(2..=4)) * HOUR_S;
    let minutes = |rng: &mut Rng, range| i64::from(rng.u32(range)) * 60;
    let (work_start, work_end) = match state {
        "work_in_progress" => (Some(-minutes(rng, 10..=90)), None),
        "closed_complete" | "closed_incomplete" => {
            let start = window_start + minutes(rng, 0..=45);
            (Some(start), Some(start + minutes(rng, 30..=150)))
        }
        _ => (None, None),
    };
    let close_notes = match state {
        "closed_complete" => pick(rng, &TASK_DONE_NOTES),
        "closed_incomplete" => pick(rng, &TASK_UNDONE_NOTES),
        "cancelled" => "Cancelled by dispatch: duplicate request.",
        _ => "",
    };
    let assigned_to = if state == "pending_dispatch" {
        ""
    } else {
        technician(n)
    };
    let mut r = Record::new();
    r.set("number", format!("WOT{:07}", 1000 + n));
    r.set(
        "description",
        format!("{short} at {location}. {}", pick(rng, &DETAILS)),
    );
    r.set("short_description", short);
    r.set("state", state);
    r.set("priority", rng.u32(1..=4).to_string());
    r.set("assigned_to", assigned_to);
    r.set("assignment_group", pick(rng, &GROUPS));
    r.set("location", location);
    r.set("window_start", stamp(now, window_start));
    r.set("window_end", stamp(now, window_end));
    // Set only in the states that imply them; "" otherwise, as the instance writes empty.
    r.set(
        "work_start",
        work_start.map(|t| stamp(now, t)).unwrap_or_default(),
    );
    r.set(
        "work_end",
        work_end.map(|t| stamp(now, t)).unwrap_or_default(),
    );
    r.set("close_notes", close_notes);
    r
}

/// The `n`-th incident (from 1).
fn incident(rng: &mut Rng, n: u32) -> Record {
    let state = pick(rng, &INCIDENT_STATE_DRAW);
    let closed = matches!(state, "resolved" | "closed");
    let mut r = Record::new();
    r.set("number", format!("INC{:07}", 1000 + n));
    r.set(
        "short_description",
        format!("{} at {}", pick(rng, &PROBLEMS), pick(rng, &LOCATIONS)),
    );
    r.set("state", state);
    r.set("priority", rng.u32(1..=4).to_string());
    r.set("urgency", rng.u32(1..=3).to_string());
    r.set("caller_id", pick(rng, &CALLERS));
    let assigned_to = if state == "new" { "" } else { technician(n) };
    r.set("assigned_to", assigned_to);
    r.set("category", pick(rng, &CATEGORIES));
    r.set(
        "close_code",
        if closed { pick(rng, &CLOSE_CODES) } else { "" },
    );
    r.set(
        "close_notes",
        if closed {
            pick(rng, &INCIDENT_NOTES)
        } else {
            ""
        },
    );
    r
}

fn pick(rng: &mut Rng, choices: &[&'static str]) -> &'static str {
    // Every list here is a non-empty constant, and the index is below its length.
    choices[rng.u32(0..choices.len() as u32) as usize]
}

/// The technician for the `n`-th task or incident (from 1): Beth, Abel, Beth, ...
fn technician(n: u32) -> &'static str {
    TECHNICIANS[(n.saturating_sub(1) % 2) as usize]
}

/// `secs` after `at`, as text.
fn stamp(at: Timestamp, secs: i64) -> String {
    Timestamp::from_unix(at.unix().saturating_add(secs)).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::{is_valid_sys_id, SYSTEM_FIELDS};
    use std::collections::BTreeSet;

    fn now() -> Timestamp {
        Timestamp::parse("2026-11-22 10:30:00").unwrap()
    }

    fn text(r: &Record, field: &str) -> String {
        r.text(field).unwrap_or_default()
    }

    fn of_table<'a>(records: &'a [(&str, Record)], table: &str) -> Vec<&'a Record> {
        records
            .iter()
            .filter(|(t, _)| *t == table)
            .map(|(_, r)| r)
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_records() {
        assert_eq!(generate(7, 50, now()), generate(7, 50, now()));
    }

    /// Benchmarks compare runs over time on "the same" data: a change to the generator (or a
    /// fastrand upgrade that changes its stream) must be a deliberate, visible one.
    #[test]
    fn the_first_task_of_seed_one_is_pinned() {
        let (_, first) = &generate(1, 1, now())[0];
        assert_eq!(text(first, "short_description"), "Install fire alarm panel");
        assert_eq!(text(first, "state"), "work_in_progress");
    }

    #[test]
    fn another_seed_gives_other_records_and_ids() {
        let a = generate(7, 50, now());
        let b = generate(8, 50, now());
        assert_ne!(a, b);
        let ids_a: BTreeSet<String> = a.iter().map(|(_, r)| text(r, "sys_id")).collect();
        assert!(b.iter().all(|(_, r)| !ids_a.contains(&text(r, "sys_id"))));
    }

    #[test]
    fn three_tasks_are_made_for_every_incident() {
        let records = generate(1, 100, now());
        assert_eq!(records.len(), 100);
        assert_eq!(of_table(&records, "wm_task").len(), 75);
        assert_eq!(of_table(&records, "incident").len(), 25);
        assert!(generate(1, 0, now()).is_empty());
    }

    #[test]
    fn every_record_has_a_unique_valid_sys_id_and_every_field_of_its_table() {
        let records = generate(3, 200, now());
        let ids: BTreeSet<String> = records.iter().map(|(_, r)| text(r, "sys_id")).collect();
        assert_eq!(ids.len(), records.len());
        for (table, r) in &records {
            assert!(is_valid_sys_id(&text(r, "sys_id")));
            let fields: &[&str] = if *table == "wm_task" {
                &WM_TASK_FIELDS
            } else {
                &INCIDENT_FIELDS
            };
            for field in fields.iter().chain(&SYSTEM_FIELDS) {
                assert!(r.get(field).is_some(), "{table} lacks {field}");
            }
            assert_eq!(r.0.len(), fields.len() + SYSTEM_FIELDS.len(), "{r:?}");
            assert_eq!(r.mod_count(), 0);
            assert_eq!(text(r, "sys_created_by"), "system");
            let created = Timestamp::parse(&text(r, "sys_created_on")).unwrap();
            assert!(created < now() && created >= now().plus(-30 * DAY_S));
        }
    }

    #[test]
    fn numbers_count_up_per_table() {
        let records = generate(5, 8, now());
        let numbers: Vec<String> = records.iter().map(|(_, r)| text(r, "number")).collect();
        assert_eq!(
            numbers,
            [
                "WOT0001001",
                "WOT0001002",
                "WOT0001003",
                "INC0001001",
                "WOT0001004",
                "WOT0001005",
                "WOT0001006",
                "INC0001002"
            ]
        );
    }

    #[test]
    fn states_are_valid_and_mostly_open() {
        let records = generate(11, 400, now());
        let tasks = of_table(&records, "wm_task");
        for r in &tasks {
            assert!(WM_TASK_STATES.contains(&text(r, "state").as_str()), "{r:?}");
            let priority: u32 = text(r, "priority").parse().unwrap();
            assert!((1..=4).contains(&priority));
        }
        for r in of_table(&records, "incident") {
            assert!(
                INCIDENT_STATES.contains(&text(r, "state").as_str()),
                "{r:?}"
            );
        }
        let open = tasks
            .iter()
            .filter(|r| {
                matches!(
                    text(r, "state").as_str(),
                    "assigned" | "accepted" | "work_in_progress"
                )
            })
            .count();
        assert!(open * 2 > tasks.len(), "{open} of {}", tasks.len());
        let seen: BTreeSet<String> = tasks.iter().map(|r| text(r, "state")).collect();
        assert_eq!(seen.len(), WM_TASK_STATES.len());
    }

    #[test]
    fn tasks_go_to_both_technicians_and_undispatched_ones_to_nobody() {
        let records = generate(2, 100, now());
        let mut assignees = BTreeSet::new();
        for r in of_table(&records, "wm_task") {
            let who = text(r, "assigned_to");
            if text(r, "state") == "pending_dispatch" {
                assert_eq!(who, "");
            } else {
                assert!(TECHNICIANS.contains(&who.as_str()), "{who}");
                assignees.insert(who);
            }
        }
        assert_eq!(assignees.len(), 2);
    }

    #[test]
    fn work_times_are_set_only_when_the_state_implies_them() {
        for (_, r) in generate(4, 300, now())
            .iter()
            .filter(|(t, _)| *t == "wm_task")
        {
            let (started, ended) = match text(r, "state").as_str() {
                "work_in_progress" => (true, false),
                "closed_complete" | "closed_incomplete" => (true, true),
                _ => (false, false),
            };
            assert_eq!(!text(r, "work_start").is_empty(), started, "{r:?}");
            assert_eq!(!text(r, "work_end").is_empty(), ended, "{r:?}");
            if started {
                let start = Timestamp::parse(&text(r, "work_start")).unwrap();
                assert!(start <= now(), "{r:?}");
            }
            let window_start = Timestamp::parse(&text(r, "window_start")).unwrap();
            let window_end = Timestamp::parse(&text(r, "window_end")).unwrap();
            assert!(window_start < window_end);
            assert!(
                (window_start.unix() - now().unix()).abs() <= 7 * DAY_S,
                "{r:?}"
            );
        }
    }

    #[test]
    fn demo_users_have_stable_ids_and_the_spec_roles() {
        let users = demo_users();
        let roles: Vec<(&str, &str)> = users.iter().map(|u| (u.user_name, u.roles)).collect();
        assert_eq!(
            roles,
            [
                ("beth.anglin", "technician"),
                ("abel.tuter", "technician"),
                ("fred.luddy", "dispatcher"),
                ("admin", "admin")
            ]
        );
        assert_eq!(users, demo_users());
        assert!(users.iter().all(|u| is_valid_sys_id(&u.sys_id)));
    }

    #[test]
    fn a_demo_user_record_carries_its_fields_and_system_fields() {
        let beth = &demo_users()[0];
        let r = beth.record(now());
        assert_eq!(r.sys_id(), Some(beth.sys_id.as_str()));
        assert_eq!(text(&r, "user_name"), "beth.anglin");
        assert_eq!(text(&r, "name"), "Beth Anglin");
        assert_eq!(text(&r, "sys_created_by"), "system");
        assert_eq!(text(&r, "sys_created_on"), "2026-11-22 10:30:00");
        assert_eq!(r.mod_count(), 0);
    }
}
