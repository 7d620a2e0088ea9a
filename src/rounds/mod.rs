//! The monthly job: load who takes part and who met whom, run the matcher, and write the round,
//! its groups, its sit-outs and one email per person in one transaction. Also the mid-month
//! check-in, the automatic pause of people who never answer, the ten-week follow-up nudge, and
//! what the signed links in those emails do.
//!
//! A round is unique per month: a second run for the same month changes nothing and says so,
//! and concurrent runs (two servers on one PostgreSQL) serialise on a lock and the unique month.

pub mod links;
pub mod network;
pub mod questions;
pub mod schedule;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use anyhow::Context;
use sqlx::Any;
use tokio::sync::Notify;

use crate::{
    domain::Calendar,
    domain::stage_name,
    domain::{
        self, FreeTimes, Frequency, GroupId, LedTo, MeetFormat, Mode, Month, Reach, RoundId, RoundKind, Slot,
        UserId,
    },
    mail::{
        self,
        messages::{AutoPaused, CheckIn, Email as _, Intro, MemberCard, Nudge, SitOut},
    },
    matching::{self, HistoryEntry, ParticipantId, Plan, Weights},
    store::{
        Store, now,
        outbox::{self, NewMessage},
        rounds::{NewGroup, NewRound, Participant, Response},
    },
};
use links::{Action, Link, LinkSigner};

/// Reports progress of the long steps (the CLI shows a bar; elsewhere it is silent).
pub trait Progress: Send + Sync {
    /// A new step with `total` units of work (0 when unknown).
    fn step(&self, name: &str, total: u64);
    fn advance(&self, units: u64);
    fn finish(&self);
}

/// No progress reporting.
pub struct Quiet;

impl Progress for Quiet {
    fn step(&self, _: &str, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// One round: a month and a kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RoundKey {
    pub month: Month,
    pub kind: RoundKind,
}

impl std::fmt::Display for RoundKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.kind {
            RoundKind::Main => write!(f, "{}", self.month),
            RoundKind::MidMonth => write!(f, "{} (mid-month)", self.month),
        }
    }
}

impl RoundKey {
    /// The monthly round of `month`.
    pub fn main(month: Month) -> Self {
        Self { month, kind: RoundKind::Main }
    }

    /// "the January 2027 round", "the mid-January 2027 round".
    pub fn name(self) -> String {
        self.kind.round_name(&self.month.long_name())
    }
}

/// What a round run did.
#[derive(Debug)]
pub enum Outcome {
    Created(Summary),
    /// The round exists (it ran, or was recorded as skipped); nothing was changed.
    AlreadyRan(RoundKey),
    /// Fewer than two people could take part: recorded as skipped, nobody matched or emailed.
    Skipped(RoundKey, usize),
    /// `--dry-run`: the groups that would be made, nothing written.
    DryRun(Box<Preview>),
}

/// Figures of a round that was written.
#[derive(Clone, Debug)]
pub struct Summary {
    pub month: Month,
    pub kind: RoundKind,
    pub participants: usize,
    pub groups: usize,
    pub sit_outs: usize,
    pub total_score: i64,
    pub cross_department_groups: usize,
    pub emails: usize,
    pub auto_paused: usize,
    /// `Some(g)` when the exact search stopped at its bounded graph: the plan is at most `g`
    /// below the best possible ([`matching::PlanStats::proven_gap`]).
    pub proven_gap: Option<i64>,
    /// Seconds spent loading, matching, and writing groups and emails.
    pub seconds: [f64; 3],
}

/// A plan with the people it is about.
#[derive(Debug)]
pub struct Preview {
    pub month: Month,
    pub kind: RoundKind,
    pub plan: Plan,
    /// Everyone who took part, by the id the matcher knew them by.
    pub people: HashMap<ParticipantId, Participant>,
    /// The weights the plan was made with.
    pub weights: Weights,
}

impl Preview {
    pub fn person(&self, id: &ParticipantId) -> Option<&Participant> {
        self.people.get(id)
    }

    /// What would help `person` meet someone, when how they chose to meet left nobody to meet:
    /// "Nobody else at North Campus meets in person this month; choosing Either would help."
    pub fn sit_out_hint(&self, person: &Participant) -> Option<String> {
        let others = || self.people.values().filter(|p| p.id != person.id);
        let me = person.reach();
        match person.meet_format {
            MeetFormat::InPerson if !others().any(|p| me.in_person_with(&p.reach())) => {
                let at = person.site.as_ref().map(|site| format!(" at {site}")).unwrap_or_default();
                Some(format!(
                    "Nobody else{at} meets in person this month; choosing Either (in person or by video) on the profile would help."
                ))
            }
            MeetFormat::Video if !others().any(|p| me.video_with(&p.reach())) => Some(
                "Nobody else meets by video this month; choosing Either (in person or by video) on the profile would help."
                    .to_owned(),
            ),
            _ => None,
        }
    }

    /// Where and when `group` would meet.
    pub fn meeting(&self, group: &matching::Group) -> Meeting {
        let cards: Vec<&Participant> = group.members.iter().filter_map(|id| self.person(id)).collect();
        Meeting::of(&cards)
    }

    /// Whether the account takes part in this round.
    pub fn includes(&self, id: UserId) -> bool {
        self.people.contains_key(&participant_id(id))
    }
}

/// What following a signed link did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkResult {
    Recorded(Action),
    /// A skip was recorded: the person sits out this month's round.
    Skipped(Month),
    /// The link was valid but is about a group or account that no longer exists.
    Gone,
    /// The link is about a round that has already gone out.
    Expired,
}

/// The round service. Cheap to clone.
#[derive(Clone)]
pub struct Rounds {
    pub store: Store,
    pub links: LinkSigner,
    pub base_url: String,
    /// The settings in force (the environment's, with those saved from the dashboard over them).
    pub settings: crate::settings::SettingsSource,
    pub mail_wake: Arc<Notify>,
}

/// The matcher's seed for a round: the month's, and another for its mid-month round, so the two
/// rounds of a month do not share their chance.
pub fn seed_of(round: RoundKey) -> u64 {
    let seed = matching::default_seed(round.month);
    match round.kind {
        RoundKind::Main => seed,
        RoundKind::MidMonth => seed ^ 0x6d69_642d_6d6f_6e74,
    }
}

/// Raises the matcher's stop flag when dropped.
#[derive(Default)]
struct StopOnDrop(Arc<AtomicBool>);

impl StopOnDrop {
    fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.0)
    }
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The matcher's id for an account: its number, as text.
fn participant_id(id: UserId) -> ParticipantId {
    ParticipantId::parse(&id.to_string()).expect("a number is a non-empty id")
}

fn number_word(n: i64) -> String {
    match n {
        1 => "one".into(),
        2 => "two".into(),
        3 => "three".into(),
        4 => "four".into(),
        5 => "five".into(),
        n => n.to_string(),
    }
}

/// Why a group was matched, in plain words: "different departments, two career stages apart".
pub fn reason(members: &[&Participant]) -> String {
    let distinct = |f: fn(&Participant) -> String| {
        let mut values: Vec<String> = members.iter().map(|m| f(m).trim().to_lowercase()).collect();
        values.sort();
        values.dedup();
        values.len()
    };
    let mut parts = Vec::new();
    match distinct(|m| m.department.clone()) {
        1 => parts.push("the same department".to_owned()),
        n if n == members.len() => parts.push("different departments".to_owned()),
        _ => parts.push("two departments".to_owned()),
    }
    if distinct(|m| m.role.clone()) > 1 {
        parts.push("different professions".to_owned());
    }
    let levels = members.iter().map(|m| i64::from(m.level.0));
    let gap = levels.clone().max().unwrap_or(0) - levels.min().unwrap_or(0);
    parts.push(match gap {
        0 => "the same career stage".to_owned(),
        1 => "one career stage apart".to_owned(),
        n => format!("{} career stages apart", number_word(n)),
    });
    parts.join(", ")
}

/// The earlier-career member writes first (ties: alphabetical), as the email suggests.
fn first_writer<'a>(members: &[&'a Participant]) -> &'a Participant {
    members
        .iter()
        .min_by(|a, b| a.level.cmp(&b.level).then_with(|| a.name.cmp(&b.name)))
        .copied()
        .expect("a group has members")
}

/// Where and when a group meets, as its introduction says it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Meeting {
    pub mode: Mode,
    /// The site when the group meets in person and someone gave one.
    pub site: Option<String>,
    /// The slots every member gave (empty when someone gave none).
    pub shared: FreeTimes,
}

impl Meeting {
    /// The group's mode (in person unless only video suits every pair; the matcher never forms a
    /// group without a common mode), its site and its shared times.
    pub fn of(members: &[&Participant]) -> Self {
        let reach: Vec<Reach<'_>> = members.iter().map(|m| m.reach()).collect();
        let mode = domain::meeting::group_mode(&reach).unwrap_or(Mode::InPerson);
        let site = match mode {
            Mode::InPerson => members.iter().find_map(|m| m.site.clone()),
            Mode::Video => None,
        };
        let times: Vec<FreeTimes> = members.iter().map(|m| m.free_times).collect();
        Self { mode, site, shared: domain::meeting::shared_times(&times) }
    }

    /// "in person at North Campus", "in person", "by video".
    pub fn place(&self) -> String {
        match (self.mode, &self.site) {
            (Mode::InPerson, Some(site)) => format!("in person at {site}"),
            (Mode::InPerson, None) => "in person".to_owned(),
            (Mode::Video, _) => "by video".to_owned(),
        }
    }

    /// "You meet in person at North Campus." / "You meet by video: …"
    pub fn how(&self) -> String {
        match (self.mode, &self.site) {
            (Mode::InPerson, Some(site)) => format!("You meet in person at {site}."),
            (Mode::InPerson, None) => "You meet in person, over a coffee.".to_owned(),
            (Mode::Video, _) => "You meet by video: use the hospital's usual video tool.".to_owned(),
        }
    }

    /// "You both said midday (11:00 to 14:00) works." when the group shares a time.
    pub fn times_line(&self, members: usize) -> Option<String> {
        if self.shared.is_empty() {
            return None;
        }
        let all = if members > 2 { "all" } else { "both" };
        Some(format!("You {all} said {} works.", slot_phrases(self.shared)))
    }
}

/// "midday (11:00 to 14:00) or the evening, after 17:00".
fn slot_phrases(times: FreeTimes) -> String {
    times.slots().map(Slot::phrase).collect::<Vec<_>>().join(" or ")
}

/// A ready-to-send first message from `from` to the rest of the group: a time the group shares
/// when there is one, else the writer's own times, else a request for two or three options.
fn ask(from: &Participant, others: &[&Participant], month: Month, meeting: &Meeting) -> String {
    let names: Vec<&str> = others.iter().map(|o| o.name.first()).collect();
    let what = match meeting.mode {
        Mode::InPerson => "a coffee",
        Mode::Video => "a video call",
    };
    let when = if !meeting.shared.is_empty() {
        let us = if others.len() > 1 { "all of us" } else { "both of us" };
        format!(
            "We said {} works for {us}: would a day in the next two weeks then suit you?",
            slot_phrases(meeting.shared)
        )
    } else if !from.free_times.is_empty() {
        format!("{} usually works for me. What suits you?", capitalised(&slot_phrases(from.free_times)))
    } else {
        "Could you suggest two or three times in the next two weeks that suit you?".to_owned()
    };
    let video = match meeting.mode {
        Mode::Video => " I'll send the video link with the time.",
        Mode::InPerson => "",
    };
    format!(
        "Hi {},\n\nCoffee Rounds matched us for {}. I'm {} ({}, {}, {}). Would you have 20 minutes for \
         {what} in the next two weeks? I'd love to hear how you got to where you are and what you'd do \
         differently.\n\n{when}{video}\n\nThanks,\n{}",
        names.join(" and "),
        month.long_name(),
        from.name,
        from.role,
        stage_name(from.level).to_lowercase(),
        from.department,
        from.name.first(),
    )
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

impl Rounds {
    fn link(&self, action: Action, group_id: GroupId, user_id: UserId) -> String {
        format!("{}/r/{}", self.base_url, self.links.token(Link { action, group_id, user_id }, now()))
    }

    /// The RFC 8058 one-click address (POST without a login).
    fn unsubscribe_link(&self, user_id: UserId) -> String {
        format!(
            "{}/u/{}",
            self.base_url,
            self.links.token(Link { action: Action::Unsubscribe, group_id: GroupId(0), user_id }, now())
        )
    }

    fn with_unsubscribe(&self, mut message: NewMessage, user_id: UserId) -> NewMessage {
        message.list_unsubscribe = Some(self.unsubscribe_link(user_id));
        message
    }

    /// The settings in force: the defaults with those saved from the dashboard over them.
    pub async fn settings(&self) -> sqlx::Result<crate::settings::Settings> {
        self.settings.load(&self.store).await
    }

    /// Runs the monthly round of `month` (or, with `dry_run`, only shows it) with the weights in
    /// force.
    pub async fn run(&self, month: Month, dry_run: bool, progress: &dyn Progress) -> anyhow::Result<Outcome> {
        self.run_round(RoundKey::main(month), dry_run, None, progress).await
    }

    /// Runs `round` (or, with `dry_run`, only shows it), with `weights` instead of those in force
    /// when given (a preview of weights not saved yet).
    ///
    /// The mid-month round treats the month's monthly round as the latest past one: its pairs
    /// may not meet again, and whoever sat out of it has priority. A round with fewer than two
    /// people to match is recorded as skipped.
    #[tracing::instrument(skip(self, progress))]
    pub async fn run_round(
        &self,
        round: RoundKey,
        dry_run: bool,
        weights: Option<Weights>,
        progress: &dyn Progress,
    ) -> anyhow::Result<Outcome> {
        let RoundKey { month, kind } = round;
        if !dry_run && self.store.round_by(month, kind).await?.is_some() {
            return Ok(Outcome::AlreadyRan(round));
        }
        let weights = match weights {
            Some(weights) => weights,
            None => self.settings().await?.weights,
        };
        // Once a month, before the monthly round.
        let auto_paused =
            if dry_run || kind == RoundKind::MidMonth { 0 } else { self.auto_pause(month).await? };

        let started = std::time::Instant::now();
        progress.step("Loading participants and history", 2);
        let people = self.store.round_participants(month, kind).await.context("loading participants")?;
        progress.advance(1);
        let mid_month = kind == RoundKind::MidMonth;
        let mut history =
            self.store.meeting_history(month, mid_month).await.context("loading meeting history")?;
        if mid_month {
            // The month's monthly round counts as the one just before.
            for meeting in history.iter_mut().filter(|h| h.month == month) {
                meeting.month = month.prev();
            }
        }
        progress.advance(1);
        if people.len() < 2 && !dry_run {
            progress.finish();
            return self.record_skipped(round, people.len(), &weights).await;
        }

        let loaded = started.elapsed().as_secs_f64();
        progress.step("Matching", 0);
        let input = matching::Input {
            participants: people
                .iter()
                .map(|p| matching::Participant {
                    id: participant_id(p.id),
                    role: p.role.clone(),
                    level: p.level,
                    department: p.department.clone(),
                    site: p.site.clone(),
                    format: p.meet_format,
                    times: p.free_times,
                })
                .collect(),
            history: history
                .iter()
                .map(|h| HistoryEntry { a: participant_id(h.a), b: h.b.map(participant_id), month: h.month })
                .collect(),
            month,
            weights: weights.clone(),
            seed: seed_of(round),
        };
        // If this future is dropped (a preview whose request went away or timed out), the guard
        // tells the solve on the blocking thread to stop instead of finishing for nobody.
        let stop = StopOnDrop::default();
        let tuning = matching::Tuning { stop: Some(stop.flag()), ..matching::Tuning::default() };
        let plan = tokio::task::spawn_blocking(move || matching::plan_with(&input, &tuning))
            .await
            .context("matching thread")?
            .map_err(|e| anyhow::anyhow!("matching failed: {e}"))?;
        drop(stop);
        let matched = started.elapsed().as_secs_f64() - loaded;
        let people: HashMap<ParticipantId, Participant> =
            people.into_iter().map(|p| (participant_id(p.id), p)).collect();
        let preview = Preview { month, kind, plan, people, weights };
        if dry_run {
            progress.finish();
            return Ok(Outcome::DryRun(Box::new(preview)));
        }
        let outcome = self.write(preview, auto_paused, progress).await?;
        Ok(match outcome {
            Outcome::Created(mut summary) => {
                summary.seconds = [loaded, matched, started.elapsed().as_secs_f64() - loaded - matched];
                tracing::info!(?summary, "round written");
                Outcome::Created(summary)
            }
            other => other,
        })
    }

    /// Records `round` as not taking place: `available` people could take part, fewer than two.
    async fn record_skipped(
        &self,
        round: RoundKey,
        available: usize,
        weights: &Weights,
    ) -> anyhow::Result<Outcome> {
        let reason = match (round.kind, available) {
            (RoundKind::MidMonth, 0) => "nobody chose twice a month",
            (RoundKind::MidMonth, _) => "only one person chose twice a month",
            (RoundKind::Main, 0) => "nobody was taking part",
            (RoundKind::Main, _) => "only one person was taking part",
        };
        let weights = format!("{weights:?}");
        let new_round = NewRound {
            month: round.month,
            kind: round.kind,
            seed: seed_of(round) as i64,
            participants: available as i64,
            groups: 0,
            sit_outs: 0,
            total_score: 0,
            weights: &weights,
            skipped_reason: Some(reason),
        };
        let mut tx = self.store.pool().begin().await?;
        if self.store.insert_round(&mut tx, &new_round).await?.is_none() {
            tx.rollback().await?;
            return Ok(Outcome::AlreadyRan(round));
        }
        tx.commit().await?;
        tracing::info!(round = %round.name(), reason, "round skipped");
        Ok(Outcome::Skipped(round, available))
    }

    async fn write(
        &self,
        preview: Preview,
        auto_paused: usize,
        progress: &dyn Progress,
    ) -> anyhow::Result<Outcome> {
        let Preview { month, kind, plan, people, weights } = &preview;
        let round = RoundKey { month: *month, kind: *kind };
        progress.step("Writing groups and emails", (plan.groups.len() + plan.sit_outs.len()) as u64);

        let seen_rows = self.store.questions_sent_after(month.plus(-12)).await?;
        let mut seen: HashMap<UserId, Vec<i64>> = HashMap::new();
        for (user, question) in seen_rows {
            seen.entry(user).or_default().push(question);
        }

        let mut groups = Vec::with_capacity(plan.groups.len());
        let mut group_cards: Vec<Vec<&Participant>> = Vec::with_capacity(plan.groups.len());
        for group in &plan.groups {
            let cards: Vec<&Participant> = group.members.iter().filter_map(|id| people.get(id)).collect();
            let members = cards.iter().map(|p| p.id).collect();
            let mode = Meeting::of(&cards).mode;
            groups.push(NewGroup { score: group.score, reason: reason(&cards), mode, members });
            group_cards.push(cards);
        }
        let sit_outs: Vec<(&Participant, String)> = plan
            .sit_outs
            .iter()
            .filter_map(|s| Some((people.get(&s.id)?, s.reason.describe().to_owned())))
            .collect();
        let sit_out_rows: Vec<(UserId, String)> =
            sit_outs.iter().map(|(p, why)| (p.id, why.clone())).collect();

        let mut tx: sqlx::Transaction<'_, Any> = self.store.pool().begin().await?;
        let weights = format!("{weights:?}");
        let new_round = NewRound {
            month: *month,
            kind: *kind,
            seed: seed_of(round) as i64,
            participants: people.len() as i64,
            groups: groups.len() as i64,
            sit_outs: sit_outs.len() as i64,
            total_score: plan.stats.total_score,
            weights: &weights,
            skipped_reason: None,
        };
        let Some(round_id) = self.store.insert_round(&mut tx, &new_round).await? else {
            tx.rollback().await?;
            return Ok(Outcome::AlreadyRan(round));
        };
        let group_ids = Store::insert_groups(&mut tx, round_id, &groups).await?;
        Store::insert_sit_outs(&mut tx, round_id, &sit_out_rows).await?;

        let mut messages: Vec<(String, NewMessage)> = Vec::with_capacity(people.len());
        let mut questions_sent: Vec<(UserId, i64)> = Vec::with_capacity(people.len() * 3);
        for (index, ((group, group_id), cards)) in groups.iter().zip(&group_ids).zip(&group_cards).enumerate()
        {
            let seen_by: Vec<&[i64]> =
                group.members.iter().map(|id| seen.get(id).map_or(&[][..], |v| v.as_slice())).collect();
            let chosen = questions::choose(seed_of(round).wrapping_add(index as u64 * 3), &seen_by);
            let writer = first_writer(cards);
            let meeting = Meeting::of(cards);
            for me in cards {
                let others: Vec<&Participant> = cards.iter().filter(|o| o.id != me.id).copied().collect();
                let intro = Intro {
                    name: me.name.first().to_owned(),
                    month_name: kind.in_sentence(*month),
                    others: others
                        .iter()
                        .map(|o| MemberCard {
                            name: o.name.to_string(),
                            role: o.role.clone(),
                            stage: stage_name(o.level),
                            department: o.department.clone(),
                        })
                        .collect(),
                    reason: group.reason.clone(),
                    you_write_first: writer.id == me.id,
                    first_writer: writer.name.to_string(),
                    how: meeting.how(),
                    times_line: meeting.times_line(cards.len()),
                    video: meeting.mode == Mode::Video,
                    ask: ask(me, &others, *month, &meeting),
                    questions: chosen.iter().map(|q| questions::QUESTIONS[*q as usize].to_owned()).collect(),
                    met_link: self.link(Action::Met, *group_id, me.id),
                    not_yet_link: self.link(Action::NotYet, *group_id, me.id),
                    skip_link: self.link(Action::Skip, *group_id, me.id),
                    unsubscribe_link: self.unsubscribe_link(me.id),
                    profile_link: format!("{}/profile", self.base_url),
                    frequency: me.frequency.label().to_lowercase(),
                    frequency_links: Frequency::ALL
                        .into_iter()
                        .filter(|f| *f != me.frequency)
                        .map(|f| (f.label().to_owned(), self.link(Action::Frequency(f), GroupId(0), me.id)))
                        .collect(),
                };
                let message = self.with_unsubscribe(intro.to_message(Some(me.id), &me.email)?, me.id);
                messages.push((mail::new_message_id(), message));
                questions_sent.extend(chosen.iter().map(|q| (me.id, *q)));
            }
            progress.advance(1);
        }
        for (person, why) in &sit_outs {
            let email = SitOut {
                name: person.name.first().to_owned(),
                reason: why.clone(),
                hint: preview.sit_out_hint(person),
                profile_link: format!("{}/profile", self.base_url),
                unsubscribe_link: self.unsubscribe_link(person.id),
            };
            let message = self.with_unsubscribe(email.to_message(Some(person.id), &person.email)?, person.id);
            messages.push((mail::new_message_id(), message));
            progress.advance(1);
        }
        Store::insert_questions_sent(&mut tx, *month, &questions_sent).await?;
        outbox::enqueue_many(&mut tx, Some(round_id), &messages).await?;
        tx.commit().await.context("committing the round")?;
        progress.finish();
        self.mail_wake.notify_one();
        Ok(Outcome::Created(Summary {
            month: *month,
            kind: *kind,
            participants: people.len(),
            groups: groups.len(),
            sit_outs: sit_outs.len(),
            total_score: plan.stats.total_score,
            cross_department_groups: plan.stats.cross_department_groups,
            emails: messages.len(),
            auto_paused,
            proven_gap: plan.stats.proven_gap,
            seconds: [0.0; 3],
        }))
    }

    /// Pauses everyone whose groups of the last three rounds they were in before `month` went
    /// unanswered by them, and tells them how to come back.
    async fn auto_pause(&self, month: Month) -> anyhow::Result<usize> {
        let silent = self.store.silent_participants(month).await?;
        let mut paused = 0;
        for (user_id, name, email) in &silent {
            let mut tx = self.store.pool().begin().await?;
            if !Store::set_auto_paused(&mut tx, *user_id, true).await? {
                continue;
            }
            let message = AutoPaused {
                name: name.first().to_owned(),
                resume_link: self.link(Action::Resume, GroupId(0), *user_id),
            }
            .to_message(Some(*user_id), email)?;
            mail::queue(&mut tx, &message).await?;
            tx.commit().await?;
            paused += 1;
        }
        if paused > 0 {
            tracing::info!(count = paused, "auto-paused participants who never answered");
            self.mail_wake.notify_one();
        }
        Ok(paused)
    }

    /// Sends the check-in of `round` to members of groups not reported as met who have not
    /// answered; once per round. Returns how many emails were queued.
    #[tracing::instrument(skip(self))]
    pub async fn send_checkins(&self, round: RoundKey) -> anyhow::Result<usize> {
        let Some(round) = self.store.round_by(round.month, round.kind).await? else { return Ok(0) };
        if round.checkin_sent_at.is_some() {
            return Ok(0);
        }
        let recipients = self.store.checkin_recipients(round.id).await?;
        let mut groups = HashMap::new();
        let mut messages = Vec::with_capacity(recipients.len());
        for member in &recipients {
            let partners = self.partner_names(&mut groups, member.group_id, member.user_id).await?;
            let email = CheckIn {
                name: member.name.first().to_owned(),
                partners,
                met_link: self.link(Action::Met, member.group_id, member.user_id),
                not_yet_link: self.link(Action::NotYet, member.group_id, member.user_id),
                skip_link: self.link(Action::Skip, member.group_id, member.user_id),
                unsubscribe_link: self.unsubscribe_link(member.user_id),
            };
            let message =
                self.with_unsubscribe(email.to_message(Some(member.user_id), &member.email)?, member.user_id);
            messages.push((mail::new_message_id(), message));
        }
        let mut tx = self.store.pool().begin().await?;
        if !Store::mark_checkin_sent(&mut tx, round.id).await? {
            return Ok(0);
        }
        outbox::enqueue_many(&mut tx, Some(round.id), &messages).await?;
        tx.commit().await?;
        self.mail_wake.notify_one();
        Ok(messages.len())
    }

    /// The names of `user_id`'s partners in `group_id`, reading each group once per batch.
    async fn partner_names(
        &self,
        groups: &mut HashMap<GroupId, Vec<crate::store::rounds::Partner>>,
        group_id: GroupId,
        user_id: UserId,
    ) -> anyhow::Result<String> {
        if let std::collections::hash_map::Entry::Vacant(entry) = groups.entry(group_id) {
            entry.insert(self.store.group_partners(group_id).await?);
        }
        let names: Vec<&str> =
            groups[&group_id].iter().filter(|p| p.user_id != user_id).map(|p| p.name.as_str()).collect();
        Ok(names.join(" and "))
    }

    /// Sends the one follow-up nudge to members of groups that met about ten weeks before `now`,
    /// with the question "Did it lead to anything?" and a signed link per answer.
    #[tracing::instrument(skip(self))]
    pub async fn send_nudges(&self, now: i64) -> anyhow::Result<usize> {
        const TEN_WEEKS: i64 = 70 * 24 * 3600;
        let recipients = self.store.nudge_recipients(now - TEN_WEEKS).await?;
        let mut groups = HashMap::new();
        let mut by_group: Vec<(GroupId, RoundId, Vec<&crate::store::rounds::GroupMember>)> = Vec::new();
        for member in &recipients {
            match by_group.last_mut() {
                Some((group, _, members)) if *group == member.group_id => members.push(member),
                _ => by_group.push((member.group_id, member.round_id, vec![member])),
            }
        }
        let mut sent = 0;
        for (group_id, round_id, members) in by_group {
            let mut messages = Vec::new();
            for member in members {
                let email = Nudge {
                    name: member.name.first().to_owned(),
                    partners: self.partner_names(&mut groups, group_id, member.user_id).await?,
                    led_to_links: LedTo::ALL
                        .iter()
                        .map(|a| {
                            (a.label().to_owned(), self.link(Action::LedTo(*a), group_id, member.user_id))
                        })
                        .collect(),
                    profile_link: format!("{}/profile", self.base_url),
                };
                messages
                    .push((mail::new_message_id(), email.to_message(Some(member.user_id), &member.email)?));
            }
            let mut tx = self.store.pool().begin().await?;
            if Store::mark_nudged(&mut tx, group_id).await? {
                outbox::enqueue_many(&mut tx, Some(round_id), &messages).await?;
                sent += messages.len();
            }
            tx.commit().await?;
        }
        if sent > 0 {
            self.mail_wake.notify_one();
        }
        Ok(sent)
    }

    /// The round a "Skip next month" link skips: the one after its group's round, while that
    /// round is still to come (`next_round` or later, and not run early). `None` once it has
    /// gone out.
    pub async fn skip_month(&self, group_id: GroupId, next_round: Month) -> anyhow::Result<Option<Month>> {
        let Some(month) = self.store.group_month(group_id).await? else { return Ok(None) };
        let skipped = month.next();
        let to_come = skipped >= next_round && self.store.round_by(skipped, RoundKind::Main).await?.is_none();
        Ok(to_come.then_some(skipped))
    }

    /// Does what a verified link asks. "Skip next month" pauses the person for the round after
    /// the group's (a pause that reaches further is kept), and only while that round is still
    /// to come: an old email cannot pause whatever round is next months later.
    #[tracing::instrument(skip(self))]
    pub async fn follow(&self, link: Link, next_round: Month) -> anyhow::Result<LinkResult> {
        let Some(user) = self.store.user_by_id(link.user_id).await? else { return Ok(LinkResult::Gone) };
        let recorded = match link.action {
            Action::Met => self.store.record_response(link.group_id, user.id, Response::Met).await?,
            Action::NotYet => self.store.record_response(link.group_id, user.id, Response::NotYet).await?,
            Action::Skip => {
                let Some(skipped) = self.skip_month(link.group_id, next_round).await? else {
                    return Ok(LinkResult::Expired);
                };
                if !self.store.record_response(link.group_id, user.id, Response::Skip).await? {
                    return Ok(LinkResult::Gone);
                }
                if user.paused_through.is_none_or(|through| through < skipped) {
                    self.store.set_paused_through(user.id, Some(skipped)).await?;
                }
                return Ok(LinkResult::Skipped(skipped));
            }
            Action::Unsubscribe => {
                self.store.set_opted_out(user.id, true).await?;
                true
            }
            Action::Resume => {
                let mut conn = self.store.pool().acquire().await?;
                Store::set_auto_paused(&mut conn, user.id, false).await?;
                true
            }
            Action::LedTo(answer) => self.store.record_led_to(link.group_id, user.id, answer).await?,
            Action::Frequency(frequency) => {
                self.store.set_frequency(user.id, frequency).await?;
                true
            }
        };
        Ok(if recorded { LinkResult::Recorded(link.action) } else { LinkResult::Gone })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Level;

    fn person(id: i64, level: u32, role: &str, department: &str) -> Participant {
        Participant {
            id: UserId(id),
            email: crate::domain::Email::parse(&format!("p{id}@hospital.test")).unwrap(),
            name: crate::domain::PersonName::parse(&format!("Person {id}")).unwrap(),
            role: role.into(),
            level: Level(level),
            department: department.into(),
            site: None,
            meet_format: crate::domain::MeetFormat::Either,
            free_times: FreeTimes::none(),
            frequency: Frequency::Monthly,
        }
    }

    #[test]
    fn a_solve_whose_caller_went_away_stops() {
        let input = matching::Input {
            participants: (0..400)
                .map(|i| {
                    matching::Participant::new(
                        participant_id(UserId(i)),
                        ["Nurse", "Physician"][i as usize % 2],
                        Level((i % 6) as u32),
                        ["Cardiology", "Surgery", "Pharmacy"][i as usize % 3],
                    )
                })
                .collect(),
            history: Vec::new(),
            month: Month::parse("2027-01").unwrap(),
            weights: Weights::default(),
            seed: 1,
        };
        let stop = StopOnDrop::default();
        let tuning = matching::Tuning { stop: Some(stop.flag()), ..matching::Tuning::default() };
        assert!(matching::plan_with(&input, &tuning).is_ok(), "runs while wanted");
        drop(stop);
        assert_eq!(matching::plan_with(&input, &tuning).unwrap_err(), matching::PlanError::Cancelled);
    }

    #[test]
    fn the_reason_is_said_in_plain_words() {
        let a = person(1, 1, "Nurse", "Cardiology");
        let b = person(2, 3, "Physician", "Surgery");
        assert_eq!(
            reason(&[&a, &b]),
            "different departments, different professions, two career stages apart"
        );
        let c = person(3, 1, "Nurse", "cardiology ");
        assert_eq!(reason(&[&a, &c]), "the same department, the same career stage");
    }

    #[test]
    fn the_earlier_career_member_writes_first() {
        let a = person(1, 4, "Physician", "Surgery");
        let b = person(2, 1, "Nurse", "Cardiology");
        assert_eq!(first_writer(&[&a, &b]).id, UserId(2));
        let meeting = Meeting::of(&[&a, &b]);
        let note = ask(&b, &[&a], Month::parse("2026-12").unwrap(), &meeting);
        assert!(note.starts_with("Hi Person,"));
        assert!(note.contains("20 minutes for a coffee"));
        assert!(note.contains("December 2026"));
        assert!(note.contains("suggest two or three times"), "nobody gave times: {note}");
    }

    #[test]
    fn the_introduction_says_how_and_when_the_group_meets() {
        let mut a = person(1, 4, "Physician", "Surgery");
        let mut b = person(2, 1, "Nurse", "Cardiology");
        a.site = Some("North Campus".into());
        b.site = Some("South Campus".into());
        a.free_times = FreeTimes::from_slots([Slot::Midday, Slot::Night]);
        b.free_times = FreeTimes::from_slots([Slot::Midday]);
        let meeting = Meeting::of(&[&a, &b]);
        assert_eq!(meeting.mode, Mode::Video, "two sites: by video");
        assert_eq!(meeting.how(), "You meet by video: use the hospital's usual video tool.");
        assert_eq!(meeting.times_line(2).as_deref(), Some("You both said midday (11:00 to 14:00) works."));
        let note = ask(&b, &[&a], Month::parse("2026-12").unwrap(), &meeting);
        assert!(note.contains("20 minutes for a video call"), "{note}");
        assert!(note.contains("midday (11:00 to 14:00) works for both of us"), "{note}");
        assert!(note.contains("I'll send the video link"), "{note}");

        b.site = Some("north campus".into());
        let meeting = Meeting::of(&[&a, &b]);
        assert_eq!(meeting.how(), "You meet in person at North Campus.");
        b.free_times = FreeTimes::none();
        let meeting = Meeting::of(&[&a, &b]);
        assert_eq!(meeting.times_line(2), None);
        let note = ask(&a, &[&b], Month::parse("2026-12").unwrap(), &meeting);
        assert!(
            note.contains("Midday (11:00 to 14:00) or during a night shift usually works for me"),
            "{note}"
        );
    }
}
