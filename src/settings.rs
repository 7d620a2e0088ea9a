//! The program settings a coordinator changes from the dashboard: which email domains may sign
//! up, when rounds go out, and how the matcher weighs a pair. Environment variables give the
//! defaults; a setting saved from the dashboard overrides its variable until changed again.
//!
//! Everything arrives as the text of a form ([`SettingsForm`]) and is parsed here, in one place,
//! into [`Settings`]; the rest of the program only sees parsed values.

use std::{
    collections::BTreeMap,
    sync::{Arc, Mutex},
};

use crate::{
    config::{Config, parse_domains},
    domain::{
        parse_list_entry,
        schedule::{RoundDay, Schedule},
    },
    forms::FieldErrors,
    matching::Weights,
    store::{
        Store,
        coordinators::Actor,
        lists::{ListEdit, ListKind},
    },
};

/// The settings form, every field as typed. Field names are also the names the values are saved
/// under.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct SettingsForm {
    pub allowed_email_domains: String,
    pub timezone: String,
    pub round_day: String,
    pub round_time: String,
    pub checkin_day: String,
    pub mid_round_day: String,
    pub weight_department: String,
    pub weight_role: String,
    pub weight_gap_0: String,
    pub weight_gap_1: String,
    pub weight_gap_2: String,
    pub weight_gap_3: String,
    pub weight_gap_4: String,
    pub repeat_penalty: String,
    pub repeat_window: String,
    pub jitter: String,
    pub weight_shared_times: String,
}

/// The settings in force.
#[derive(Clone, Debug)]
pub struct Settings {
    /// Lower-case domains allowed to sign up; empty allows any address.
    pub allowed_email_domains: Vec<String>,
    pub schedule: Schedule,
    pub weights: Weights,
    /// The same settings as form text, to show in the form.
    pub form: SettingsForm,
}

/// Largest weight a coordinator can give one term; keeps every score far from overflow and the
/// terms comparable.
pub const MAX_WEIGHT: i64 = 200;

impl SettingsForm {
    /// The form filled in with `config`'s values: what applies when nothing was saved.
    pub fn defaults(config: &Config) -> Self {
        Self::of(&config.allowed_email_domains, &config.schedule, &Weights::default())
    }

    fn of(domains: &[String], schedule: &Schedule, w: &Weights) -> Self {
        Self {
            allowed_email_domains: domains.join(", "),
            timezone: schedule.tz.iana_name().unwrap_or("UTC").to_owned(),
            round_day: schedule.day.as_setting(),
            mid_round_day: schedule.mid_day.as_setting(),
            round_time: format!("{:02}:{:02}", schedule.hour, schedule.minute),
            checkin_day: schedule.checkin_day.to_string(),
            weight_department: w.department.to_string(),
            weight_role: w.role.to_string(),
            weight_gap_0: w.level_gap[0].to_string(),
            weight_gap_1: w.level_gap[1].to_string(),
            weight_gap_2: w.level_gap[2].to_string(),
            weight_gap_3: w.level_gap[3].to_string(),
            weight_gap_4: w.level_gap[4].to_string(),
            repeat_penalty: w.repeat_penalty.to_string(),
            repeat_window: w.repeat_window.to_string(),
            jitter: w.jitter.to_string(),
            weight_shared_times: w.shared_times.to_string(),
        }
    }

    /// The fields by name, in form order.
    pub fn fields(&self) -> [(&'static str, &String); 17] {
        [
            ("allowed_email_domains", &self.allowed_email_domains),
            ("timezone", &self.timezone),
            ("round_day", &self.round_day),
            ("round_time", &self.round_time),
            ("checkin_day", &self.checkin_day),
            ("mid_round_day", &self.mid_round_day),
            ("weight_department", &self.weight_department),
            ("weight_role", &self.weight_role),
            ("weight_gap_0", &self.weight_gap_0),
            ("weight_gap_1", &self.weight_gap_1),
            ("weight_gap_2", &self.weight_gap_2),
            ("weight_gap_3", &self.weight_gap_3),
            ("weight_gap_4", &self.weight_gap_4),
            ("repeat_penalty", &self.repeat_penalty),
            ("repeat_window", &self.repeat_window),
            ("jitter", &self.jitter),
            ("weight_shared_times", &self.weight_shared_times),
        ]
    }

    fn field_mut(&mut self, name: &str) -> Option<&mut String> {
        Some(match name {
            "allowed_email_domains" => &mut self.allowed_email_domains,
            "timezone" => &mut self.timezone,
            "round_day" => &mut self.round_day,
            "round_time" => &mut self.round_time,
            "checkin_day" => &mut self.checkin_day,
            "mid_round_day" => &mut self.mid_round_day,
            "weight_department" => &mut self.weight_department,
            "weight_role" => &mut self.weight_role,
            "weight_gap_0" => &mut self.weight_gap_0,
            "weight_gap_1" => &mut self.weight_gap_1,
            "weight_gap_2" => &mut self.weight_gap_2,
            "weight_gap_3" => &mut self.weight_gap_3,
            "weight_gap_4" => &mut self.weight_gap_4,
            "repeat_penalty" => &mut self.repeat_penalty,
            "repeat_window" => &mut self.repeat_window,
            "jitter" => &mut self.jitter,
            "weight_shared_times" => &mut self.weight_shared_times,
            _ => return None,
        })
    }

    /// These defaults with the saved values laid over them.
    fn with_saved(mut self, saved: &BTreeMap<String, String>) -> Self {
        for (name, value) in saved {
            if let Some(field) = self.field_mut(name) {
                *field = value.clone();
            }
        }
        self
    }

    /// Parses every field; each refusal names its field.
    pub fn parse(&self) -> Result<Settings, FieldErrors> {
        let mut errors = FieldErrors::default();
        let domains = parse_domains(&self.allowed_email_domains.replace(char::is_whitespace, ","));
        if let Some(bad) = domains.iter().find(|d| !is_domain(d)) {
            errors.add(
                "allowed_email_domains",
                format!("{bad:?} is not a domain. Write domains such as hospital.org, separated by commas."),
            );
        }
        let schedule = self.parse_schedule(&mut errors);
        let weights = self.parse_weights(&mut errors);
        match (schedule, weights, errors.is_empty()) {
            (Some(schedule), Some(weights), true) => {
                let form = Self::of(&domains, &schedule, &weights);
                Ok(Settings { allowed_email_domains: domains, schedule, weights, form })
            }
            _ => Err(errors),
        }
    }

    fn parse_schedule(&self, errors: &mut FieldErrors) -> Option<Schedule> {
        // Each field is checked alone, with known-good values for the others, so each message
        // lands next to its own field.
        let checks = [
            (
                "timezone",
                Schedule::parse(&self.timezone, "first-monday", "09:00", "15"),
                "Use a time zone name such as Europe/London or America/New_York.",
            ),
            (
                "round_day",
                Schedule::parse("UTC", &self.round_day, "09:00", "28"),
                "Choose the first Monday or a day from 1 to 28.",
            ),
            (
                "round_time",
                Schedule::parse("UTC", "first-monday", &self.round_time, "15"),
                "Write the time as HH:MM, such as 09:00.",
            ),
            (
                "checkin_day",
                Schedule::parse("UTC", "first-monday", "09:00", &self.checkin_day),
                "Choose a day from 8 to 28.",
            ),
        ];
        let mut ok = true;
        for (field, parsed, message) in checks {
            if parsed.is_err() {
                errors.add(field, message);
                ok = false;
            }
        }
        let mid =
            Schedule::parse("UTC", "1", "09:00", "15").and_then(|s| s.with_mid_day(&self.mid_round_day));
        if mid.is_err() {
            errors.add("mid_round_day", "Choose the third Monday or a day from 8 to 21.");
            ok = false;
        }
        if !ok {
            return None;
        }
        let schedule =
            Schedule::parse(&self.timezone, &self.round_day, &self.round_time, &self.checkin_day).ok()?;
        if let RoundDay::Day(day) = schedule.day
            && schedule.checkin_day <= day
        {
            errors.add("checkin_day", "The check-in must come after the round's day.");
            return None;
        }
        match schedule.with_mid_day(&self.mid_round_day) {
            Ok(schedule) => Some(schedule),
            Err(_) => {
                errors.add(
                    "mid_round_day",
                    "The mid-month round must come at least a week after the monthly round.",
                );
                None
            }
        }
    }

    fn parse_weights(&self, errors: &mut FieldErrors) -> Option<Weights> {
        let mut number = |field: &'static str, text: &str, max: i64| -> Option<i64> {
            match text.trim().parse::<i64>() {
                Ok(n) if (0..=max).contains(&n) => Some(n),
                _ => {
                    errors.add(field, format!("Use a whole number from 0 to {max}."));
                    None
                }
            }
        };
        let department = number("weight_department", &self.weight_department, MAX_WEIGHT);
        let role = number("weight_role", &self.weight_role, MAX_WEIGHT);
        let gaps = [
            number("weight_gap_0", &self.weight_gap_0, MAX_WEIGHT),
            number("weight_gap_1", &self.weight_gap_1, MAX_WEIGHT),
            number("weight_gap_2", &self.weight_gap_2, MAX_WEIGHT),
            number("weight_gap_3", &self.weight_gap_3, MAX_WEIGHT),
            number("weight_gap_4", &self.weight_gap_4, MAX_WEIGHT),
        ];
        let repeat_penalty = number("repeat_penalty", &self.repeat_penalty, MAX_WEIGHT);
        let repeat_window = number("repeat_window", &self.repeat_window, 24);
        let jitter = number("jitter", &self.jitter, 50);
        let shared_times = number("weight_shared_times", &self.weight_shared_times, MAX_WEIGHT);
        Some(Weights {
            department: department?,
            role: role?,
            level_gap: [gaps[0]?, gaps[1]?, gaps[2]?, gaps[3]?, gaps[4]?],
            repeat_penalty: repeat_penalty?,
            repeat_window: u32::try_from(repeat_window?).ok()?,
            jitter: u32::try_from(jitter?).ok()?,
            shared_times: shared_times?,
        })
    }
}

/// Whether `text` looks like a DNS domain with at least two labels.
fn is_domain(text: &str) -> bool {
    let labels: Vec<&str> = text.split('.').collect();
    text.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// Where the settings in force come from: the environment's defaults with the saved values laid
/// over them. Cheap to clone; clones share the last result, so a page reads the small saved map
/// (itself cached by the store) and parses only when it changed.
#[derive(Clone, Debug)]
pub struct SettingsSource {
    defaults: SettingsForm,
    last: Arc<Mutex<Option<(SettingsForm, Settings)>>>,
}

impl SettingsSource {
    pub fn new(config: &Config) -> Self {
        Self { defaults: SettingsForm::defaults(config), last: Arc::default() }
    }

    /// The settings in force.
    pub async fn load(&self, store: &Store) -> sqlx::Result<Settings> {
        let merged = self.defaults.clone().with_saved(&store.stored_settings().await?);
        if let Ok(last) = self.last.lock()
            && let Some((key, settings)) = last.as_ref()
            && *key == merged
        {
            return Ok(settings.clone());
        }
        let settings = Settings::resolve(&self.defaults, merged.clone());
        if let Ok(mut last) = self.last.lock() {
            *last = Some((merged, settings.clone()));
        }
        Ok(settings)
    }
}

impl Settings {
    /// Parses `merged`. A saved value that no longer parses with the rest (it was checked when
    /// saved, but the environment may have changed since) leaves the environment's settings in
    /// force, and is logged.
    fn resolve(defaults: &SettingsForm, merged: SettingsForm) -> Self {
        match merged.parse() {
            Ok(settings) => settings,
            Err(errors) => {
                tracing::error!(?errors, "saved settings do not parse; using the environment's");
                defaults.parse().unwrap_or_else(|_| Self {
                    allowed_email_domains: Vec::new(),
                    schedule: Schedule::parse("UTC", "first-monday", "09:00", "15")
                        .expect("the built-in schedule parses"),
                    weights: Weights::default(),
                    form: defaults.clone(),
                })
            }
        }
    }

    /// The next round's month as of now.
    pub fn next_round(&self) -> crate::matching::Month {
        self.schedule.next_round(jiff::Timestamp::now())
    }
}

/// Saves a coordinator's settings form: the fields that changed, logged with their old and new
/// values. Returns the settings now in force, or the form's errors.
pub async fn save(
    store: &Store,
    current: &Settings,
    form: &SettingsForm,
    actor: &Actor,
) -> sqlx::Result<Result<Settings, FieldErrors>> {
    let parsed = match form.parse() {
        Ok(parsed) => parsed,
        Err(errors) => return Ok(Err(errors)),
    };
    let mut changed = BTreeMap::new();
    let mut detail = Vec::new();
    for ((name, old), (_, new)) in current.form.fields().into_iter().zip(parsed.form.fields()) {
        if old != new {
            changed.insert(name.to_owned(), new.clone());
            detail.push(format!("{name}: {old:?} → {new:?}"));
        }
    }
    if !changed.is_empty() {
        store.save_settings(&changed, actor, &detail.join("; ")).await?;
    }
    Ok(Ok(parsed))
}

/// An edit of the departments or professions list, as the settings page sends it.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct ListForm {
    /// Which list ([`ListKind::parse`]).
    pub kind: String,
    /// `add`, `rename` or `merge`.
    pub action: String,
    /// The new name (add, rename).
    pub name: String,
    /// The entry renamed or merged away.
    pub from: String,
    /// The entry merged into.
    pub into: String,
}

/// Adds, renames or merges a list entry, logged as done by `actor`; the message to show, as
/// `Ok` when the edit was made and `Err` when it was refused.
pub async fn edit_list(
    store: &Store,
    kind: ListKind,
    edit: &ListForm,
    actor: &Actor,
) -> sqlx::Result<Result<String, String>> {
    let noun = kind.noun();
    Ok(match edit.action.as_str() {
        "add" => match parse_list_entry(&edit.name) {
            Err(message) => Err(message.to_owned()),
            Ok(name) => match store.add_list_entry(kind, &name, actor).await? {
                ListEdit::Done(_) => Ok(format!("Added the {noun} {name}.")),
                ListEdit::Taken => Err(format!("The list already has {name}.")),
                ListEdit::Missing => Err(format!("That {noun} is no longer on the list.")),
            },
        },
        "rename" => match parse_list_entry(&edit.name) {
            Err(message) => Err(message.to_owned()),
            Ok(name) => match store.rename_list_entry(kind, &edit.from, &name, actor).await? {
                ListEdit::Done(moved) => {
                    Ok(format!("Renamed {} to {name}; {moved} profiles now show the new name.", edit.from))
                }
                ListEdit::Taken => {
                    Err(format!("The list already has {name}. To join the two, merge them instead."))
                }
                ListEdit::Missing => Err(format!("Choose the {noun} to rename from the list.")),
            },
        },
        "merge" if edit.from.trim().is_empty() || edit.into.trim().is_empty() => {
            Err(format!("Choose both the {noun} to merge and the one to keep."))
        }
        "merge" if edit.from.trim().eq_ignore_ascii_case(edit.into.trim()) => {
            Err(format!("Choose two different entries: a {noun} cannot be merged into itself."))
        }
        "merge" => match store.merge_list_entries(kind, edit.from.trim(), edit.into.trim(), actor).await? {
            ListEdit::Done(moved) => {
                Ok(format!("Merged {} into {}; {moved} profiles moved.", edit.from.trim(), edit.into.trim()))
            }
            _ => Err(format!("Choose the {noun} to keep from the list.")),
        },
        _ => Err("Choose what to do.".to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> SettingsForm {
        SettingsForm::defaults(&Config::from_lookup(|_| None).unwrap())
    }

    #[test]
    fn the_defaults_parse_back_to_themselves() {
        let settings = defaults().parse().unwrap();
        assert_eq!(settings.form, defaults());
        assert_eq!(settings.weights, Weights::default());
    }

    #[test]
    fn saved_values_override_the_environment() {
        let saved = BTreeMap::from([
            ("weight_department".to_owned(), "80".to_owned()),
            ("allowed_email_domains".to_owned(), "Hospital.org, clinic.net".to_owned()),
            ("no_such_setting".to_owned(), "1".to_owned()),
        ]);
        let settings = Settings::resolve(&defaults(), defaults().with_saved(&saved));
        assert_eq!(settings.weights.department, 80);
        assert_eq!(settings.allowed_email_domains, vec!["hospital.org", "clinic.net"]);
    }

    #[test]
    fn each_bad_field_is_named() {
        let form = SettingsForm {
            allowed_email_domains: "hospital".into(),
            timezone: "Mars/Olympus".into(),
            round_day: "31".into(),
            round_time: "9".into(),
            weight_department: "-1".into(),
            jitter: "51".into(),
            repeat_window: "x".into(),
            ..defaults()
        };
        let errors = form.parse().unwrap_err();
        for field in [
            "allowed_email_domains",
            "timezone",
            "round_day",
            "round_time",
            "weight_department",
            "jitter",
            "repeat_window",
        ] {
            assert!(errors.get(field).is_some(), "{field} has no message");
        }
        assert!(errors.get("weight_role").is_none());
    }

    #[test]
    fn the_check_in_comes_after_a_fixed_round_day() {
        let form = SettingsForm { round_day: "20".into(), checkin_day: "15".into(), ..defaults() };
        assert!(form.parse().unwrap_err().get("checkin_day").is_some());
        let form = SettingsForm { round_day: "7".into(), checkin_day: "20".into(), ..defaults() };
        assert!(form.parse().is_ok());
        let form = SettingsForm { round_day: "10".into(), checkin_day: "20".into(), ..defaults() };
        let errors = form.parse().unwrap_err();
        assert!(
            errors.get("mid_round_day").unwrap().contains("a week after"),
            "the third Monday can be the 15th"
        );
    }
}
