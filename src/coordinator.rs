//! What a coordinator sees and does, apart from HTTP: the dashboard's figures (labelled counts,
//! which the pages draw as tables and charts), the preview and run of a round, exports, and the
//! role changes made from the dashboard and the command line.

use crate::{
    domain::stage_name,
    domain::{Calendar, LedTo, Month, RoundId},
    rounds::network::{FIRST_YEAR_PACE, PER_YEAR_PACE},
    store::{
        Store,
        coordinators::{Actor, RoleChange},
        dashboard::{Count, Filter, RoundMix, RoundRow, StatusTotals},
        outcomes::{LedToCount, RoundLedTo},
    },
};

/// Labelled counts, in the order they are shown: a table's rows, a chart's bars.
pub type Counts = Vec<(String, i64)>;

/// Everything the dashboard home shows.
pub struct Dashboard {
    pub totals: StatusTotals,
    pub departments: Counts,
    pub roles: Counts,
    pub stages: Counts,
    /// By site, "No site given" last; empty when the program lists fewer than two sites.
    pub sites: Counts,
    pub formats: Counts,
    /// How many gave each slot among their free times, then how many gave none.
    pub times: Counts,
    pub frequencies: Counts,
    /// The conversations a month the frequencies chosen make: the people taking part, each
    /// counted by how often they chose, two to a conversation.
    pub chats_per_month: f64,
    /// The latest month with a round, and the groups its rounds made.
    pub latest_groups: Option<(Month, i64)>,
    /// Signups in each of the last twelve months, oldest first, months without signups included.
    pub signups: Vec<(Month, i64)>,
}

impl Dashboard {
    /// The figures for the accounts `filter` selects, as of `today`, before the round of `next_round`.
    pub async fn load(
        store: &Store,
        filter: &Filter,
        today: time::Date,
        next_round: Month,
    ) -> sqlx::Result<Self> {
        let this_month = Month::of(today);
        let since = first_second(this_month.plus(-11));
        let pairs = |counts: Vec<Count<String>>| counts.into_iter().map(|c| (c.key, c.n)).collect::<Counts>();
        // Scans of the accounts, each on a connection of its own: on PostgreSQL they run side by
        // side, so the page waits for the slowest rather than for their sum.
        let (totals, departments, roles, stages, sites, formats, times, frequencies, signups) = tokio::try_join!(
            store.status_totals(filter, next_round),
            store.count_by_department(filter),
            store.count_by_role(filter),
            store.count_by_level(filter),
            store.count_by_site(filter),
            store.count_by_format(filter),
            store.count_by_free_time(filter),
            store.count_by_frequency(filter),
            store.signups_by_month(filter, since),
        )?;
        let mut sites = pairs(sites);
        if let Some(i) = sites.iter().position(|(site, _)| site.is_empty()) {
            let (_, n) = sites.remove(i);
            sites.push(("No site given".to_owned(), n));
        }
        let by_site = sites.len() > 1 || store.sites().await?.len() > 1;
        Ok(Self {
            totals,
            departments: pairs(departments),
            roles: pairs(roles),
            stages: stages.into_iter().map(|c| (stage_name(c.key), c.n)).collect(),
            sites: if by_site { sites } else { Counts::new() },
            formats: formats.into_iter().map(|c| (c.key.label().to_owned(), c.n)).collect(),
            times: times
                .into_iter()
                .map(|c| (c.key.map_or("None given (any time)", |slot| slot.label()).to_owned(), c.n))
                .collect(),
            frequencies: frequencies.into_iter().map(|c| (c.key.label().to_owned(), c.n)).collect(),
            chats_per_month: store
                .taking_part_by_frequency()
                .await?
                .iter()
                .map(|c| c.n as f64 * c.key.per_month())
                .sum::<f64>()
                / 2.0,
            latest_groups: store.latest_month_groups().await?,
            signups: last_twelve_months(this_month, &signups),
        })
    }
}

/// The count of each of the twelve months up to `this_month`, oldest first, 0 for a month
/// `counts` (keyed `YYYY-MM`) does not have.
fn last_twelve_months(this_month: Month, counts: &[Count<String>]) -> Vec<(Month, i64)> {
    (0..12)
        .rev()
        .map(|back| this_month.plus(-back))
        .map(|m| (m, counts.iter().find(|c| c.key == m.to_string()).map_or(0, |c| c.n)))
        .collect()
}

/// A round's meet rate.
#[derive(Clone, Debug)]
pub struct RoundRate {
    pub round_id: RoundId,
    pub month: Month,
    pub month_name: String,
    pub groups: i64,
    pub met: i64,
    pub answered: i64,
    /// Met groups as a whole percentage of groups.
    pub rate: i64,
    /// (met, groups) of the groups that met in person, and of those that met by video.
    pub in_person: (i64, i64),
    pub video: (i64, i64),
}

/// Fewer answers than this behind a figure about what conversations led to, and the figure is
/// not shown ("too few answers"), so that nobody's answer can be told from a small count.
pub const MIN_ANSWERS: i64 = 5;

/// The playbook's claim: 10 to 20 % of conversations lead to something concrete.
pub const PLAYBOOK_SHARE: (i64, i64) = (10, 20);

/// A figure about what met conversations led to: how many answers it rests on, and how many of
/// them said `what` (something concrete, or one kind of outcome).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Share {
    pub label: String,
    pub answers: i64,
    /// `None`: too few answers to show it (see [`hidden`]).
    pub count: Option<i64>,
}

impl Share {
    /// The count as a whole percentage of the answers, when shown.
    pub fn percent(&self) -> Option<i64> {
        let answers = self.answers;
        self.count.map(|n| if answers > 0 { (n * 100 + answers / 2) / answers } else { 0 })
    }
}

/// Which of a set of figures to hide, given the answers behind each. A figure resting on fewer
/// than [`MIN_ANSWERS`] answers is hidden; and since the set adds up to a total that may be
/// shown, the next smallest are hidden with it until the hidden ones together rest on none or at
/// least [`MIN_ANSWERS`] answers: no hidden figure can then be worked out by subtracting the
/// shown ones from the total.
pub fn hidden(answers: &[i64]) -> Vec<bool> {
    let mut hide: Vec<bool> = answers.iter().map(|n| *n < MIN_ANSWERS).collect();
    loop {
        let hidden_answers: i64 = answers.iter().zip(&hide).filter(|(_, h)| **h).map(|(n, _)| n).sum();
        if hidden_answers == 0 || hidden_answers >= MIN_ANSWERS {
            return hide;
        }
        let next = (0..answers.len()).filter(|i| !hide[*i] && answers[*i] > 0).min_by_key(|i| answers[*i]);
        match next {
            Some(i) => hide[i] = true,
            None => return hide,
        }
    }
}

/// Figures from (label, answers, count) rows that add up to a total, with [`hidden`] applied.
fn shares(rows: Vec<(String, i64, i64)>) -> Vec<Share> {
    let hide = hidden(&rows.iter().map(|(_, answers, _)| *answers).collect::<Vec<_>>());
    rows.into_iter()
        .zip(hide)
        .map(|((label, answers, count), hide)| Share { label, answers, count: (!hide).then_some(count) })
        .collect()
}

/// Which answers a figure counts.
type Keep<'a> = &'a dyn Fn(&LedToCount) -> bool;

/// One round's met groups and what the answers about them say.
#[derive(Clone, Debug)]
pub struct RoundShare {
    pub round_id: RoundId,
    pub month: Month,
    pub month_name: String,
    pub met_groups: i64,
    /// Answers saying the conversation led to something concrete.
    pub share: Share,
}

/// What met conversations led to: per round, and over the last 12 months by kind, by department
/// mix and by career-stage gap. Every figure resting on too few answers is hidden.
#[derive(Clone, Debug)]
pub struct LedToReport {
    /// The 12 months counted: rounds from `since` to `until`.
    pub since: Month,
    pub until: Month,
    /// Every round, oldest first.
    pub rounds: Vec<RoundShare>,
    /// The last 12 months: answers saying it led to something concrete.
    pub total: Share,
    /// Groups reported as met in the rounds of the last 12 months.
    pub met_groups: i64,
    /// Each concrete kind of outcome, of all answers of the last 12 months.
    pub kinds: Vec<Share>,
    /// Groups across departments, then within one.
    pub departments: Vec<Share>,
    /// Groups by career-stage gap: none, one or two stages, three or more.
    pub gaps: Vec<Share>,
}

impl LedToReport {
    pub async fn load(store: &Store, this_month: Month) -> sqlx::Result<Self> {
        let (since, until) = (this_month.plus(-11), this_month);
        let (by_round, counts) =
            tokio::try_join!(store.led_to_by_round(), store.led_to_counts(since, until))?;
        Ok(Self::from_counts(since, until, by_round, &counts))
    }

    fn from_counts(since: Month, until: Month, by_round: Vec<RoundLedTo>, counts: &[LedToCount]) -> Self {
        let tally = |keep: Keep| {
            counts.iter().filter(|c| keep(c)).fold((0, 0), |(answers, concrete), c| {
                (answers + c.n, concrete + if c.led_to.is_concrete() { c.n } else { 0 })
            })
        };
        let (answers, concrete) = tally(&|_| true);
        let total = Share {
            label: "Last 12 months".to_owned(),
            answers,
            count: (answers >= MIN_ANSWERS).then_some(concrete),
        };
        let kinds = LedTo::ALL
            .into_iter()
            .filter(|kind| kind.is_concrete())
            .map(|kind| Share {
                label: kind.label().to_owned(),
                answers,
                count: total.count.map(|_| counts.iter().filter(|c| c.led_to == kind).map(|c| c.n).sum()),
            })
            .collect();
        let split = |rows: Vec<(&str, Keep)>| {
            shares(
                rows.into_iter()
                    .map(|(label, keep)| {
                        let (answers, concrete) = tally(keep);
                        (label.to_owned(), answers, concrete)
                    })
                    .collect(),
            )
        };
        let departments = split(vec![
            ("Different departments", &|c| c.cross_department),
            ("Same department", &|c| !c.cross_department),
        ]);
        let gaps = split(vec![
            ("Same career stage", &|c| c.gap == 0),
            ("1 or 2 stages apart", &|c| c.gap == 1),
            ("3 or more stages apart", &|c| c.gap >= 3),
        ]);
        // The rounds of the 12 months add up to the total; older ones stand alone.
        let in_window = |m: Month| m >= since && m <= until;
        let window: Vec<i64> = by_round.iter().filter(|r| in_window(r.month)).map(|r| r.answers).collect();
        let mut window_hidden = hidden(&window).into_iter();
        let met_groups = by_round.iter().filter(|r| in_window(r.month)).map(|r| r.met_groups).sum();
        let rounds = by_round
            .into_iter()
            .map(|r| {
                let hide = if in_window(r.month) {
                    window_hidden.next().unwrap_or(true)
                } else {
                    r.answers < MIN_ANSWERS
                };
                RoundShare {
                    round_id: r.id,
                    month_name: r.kind.label(r.month),
                    month: r.month,
                    met_groups: r.met_groups,
                    share: Share {
                        label: r.kind.label(r.month),
                        answers: r.answers,
                        count: (!hide).then_some(r.concrete),
                    },
                }
            })
            .collect();
        Self { since, until, rounds, total, met_groups, kinds, departments, gaps }
    }
}

/// Conversations per person over the last 12 months, against the playbook's pace.
#[derive(Clone, Debug)]
pub struct Pace {
    pub since: Month,
    pub until: Month,
    /// People placed in a group in those months.
    pub people: i64,
    /// How many people had each number of conversations, from 0 to [`PER_YEAR_PACE`] (the most
    /// monthly rounds allow), every number listed.
    pub counts: Vec<(i64, i64)>,
    /// The median number of conversations, when anyone took part.
    pub median: Option<i64>,
    /// People with at least the playbook's first-year pace ([`FIRST_YEAR_PACE`]).
    pub on_pace: i64,
}

impl Pace {
    pub async fn load(store: &Store, this_month: Month) -> sqlx::Result<Self> {
        let (since, until) = (this_month.plus(-11), this_month);
        let counts = store.conversations_per_person(since, until).await?;
        Ok(Self::from_counts(since, until, &counts))
    }

    fn from_counts(since: Month, until: Month, counts: &[Count<i64>]) -> Self {
        let counts: Vec<(i64, i64)> = (0..=PER_YEAR_PACE)
            .map(|k| {
                let n = counts.iter().filter(|c| c.key.min(PER_YEAR_PACE) == k).map(|c| c.n).sum();
                (k, n)
            })
            .collect();
        let people: i64 = counts.iter().map(|(_, n)| n).sum();
        let median = (people > 0).then(|| {
            let middle = (people + 1) / 2;
            let mut seen = 0;
            counts
                .iter()
                .find(|(_, n)| {
                    seen += n;
                    seen >= middle
                })
                .map_or(0, |(k, _)| *k)
        });
        let on_pace = counts.iter().filter(|(k, _)| *k >= FIRST_YEAR_PACE).map(|(_, n)| n).sum();
        Self { since, until, people, counts, median, on_pace }
    }
}

/// Outcomes over time: meet rate per round, how far each person's network has reached, as
/// distributions (never a list of names), what conversations led to, and the pace.
pub struct Outcomes {
    pub led_to: LedToReport,
    pub pace: Pace,
    pub rounds: Vec<RoundRate>,
    /// Met groups ÷ groups over every round.
    pub overall: (i64, i64),
    /// People ever placed in a group.
    pub grouped: i64,
    /// Of those, people who met at least one person.
    pub met_someone: i64,
    /// Of those, people who met people from two or more departments.
    pub reached_two_departments: i64,
    pub people_met: Counts,
    pub departments_reached: Counts,
}

impl Outcomes {
    /// The figures as of `this_month` (the last 12 months end with it).
    pub async fn load(store: &Store, this_month: Month) -> sqlx::Result<Self> {
        let led_to = LedToReport::load(store, this_month).await?;
        let pace = Pace::load(store, this_month).await?;
        let rounds: Vec<RoundRate> = store
            .round_outcomes()
            .await?
            .into_iter()
            .map(|r| RoundRate {
                round_id: r.id,
                month_name: r.kind.label(r.month),
                rate: if r.groups > 0 { (r.met * 100 + r.groups / 2) / r.groups } else { 0 },
                month: r.month,
                groups: r.groups,
                met: r.met,
                answered: r.answered,
                in_person: (r.met - r.video_met, r.groups - r.video_groups),
                video: (r.video_met, r.video_groups),
            })
            .collect();
        let overall = rounds.iter().fold((0, 0), |(met, groups), r| (met + r.met, groups + r.groups));
        let grouped = store.people_ever_grouped().await?;
        let people = store.people_met_distribution().await?;
        let departments = store.departments_reached_distribution().await?;
        let met_someone: i64 = people.iter().map(|c| c.n).sum();
        let reached_two_departments = departments.iter().filter(|c| c.key >= 2).map(|c| c.n).sum();
        let nobody = (grouped - met_someone).max(0);
        let people_met = buckets(
            nobody,
            &people,
            &[
                (1, 1, "1 person"),
                (2, 2, "2 people"),
                (3, 3, "3 people"),
                (4, 4, "4 people"),
                (5, 9, "5 to 9 people"),
                (10, i64::MAX, "10 or more people"),
            ],
            "Nobody yet",
        );
        let departments_reached = buckets(
            nobody,
            &departments,
            &[
                (1, 1, "1 department"),
                (2, 2, "2 departments"),
                (3, 3, "3 departments"),
                (4, 4, "4 departments"),
                (5, i64::MAX, "5 or more departments"),
            ],
            "None yet",
        );
        Ok(Self {
            led_to,
            pace,
            rounds,
            overall,
            grouped,
            met_someone,
            reached_two_departments,
            people_met,
            departments_reached,
        })
    }
}

/// Exact counts gathered into labelled ranges, after a first bucket for zero.
fn buckets(zero: i64, counts: &[Count<i64>], ranges: &[(i64, i64, &str)], zero_label: &str) -> Counts {
    let mut out = vec![(zero_label.to_owned(), zero)];
    for (low, high, label) in ranges {
        let n = counts.iter().filter(|c| (*low..=*high).contains(&c.key)).map(|c| c.n).sum();
        out.push(((*label).to_owned(), n));
    }
    out
}

/// The Unix time of the first second of `month`, UTC.
fn first_second(month: Month) -> i64 {
    let m = time::Month::try_from(month.month()).unwrap_or(time::Month::January);
    time::Date::from_calendar_date(month.year(), m, 1)
        .map(|d| d.midnight().assume_utc().unix_timestamp())
        .unwrap_or(0)
}

/// What a coordinator's action did, in words for the page or the terminal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// The action was carried out (or there was nothing to change).
    Done(String),
    /// The action was refused; nothing changed.
    Refused(String),
}

impl Answer {
    /// The words to show, whichever it was.
    pub fn message(self) -> String {
        match self {
            Self::Done(message) | Self::Refused(message) => message,
        }
    }
}

/// What `coordinator add` / `remove` tell the person at the terminal or on the page.
pub fn describe_role_change(change: RoleChange, email: &str, grant: bool) -> Answer {
    match (change, grant) {
        (RoleChange::Granted, _) => Answer::Done(format!("{email} is now a coordinator.")),
        (RoleChange::Removed, _) => Answer::Done(format!("{email} is no longer a coordinator.")),
        (RoleChange::Unchanged, true) => {
            Answer::Done(format!("{email} was already a coordinator; nothing changed."))
        }
        (RoleChange::Unchanged, false) => {
            Answer::Done(format!("{email} was not a coordinator; nothing changed."))
        }
        (RoleChange::UnknownAccount, _) => Answer::Refused(format!(
            "There is no account with the email {email}. The person must sign up first."
        )),
        (RoleChange::Unconfirmed, _) => Answer::Refused(format!(
            "The account {email} has not confirmed its email address yet; only confirmed accounts can be coordinators."
        )),
    }
}

/// Grants or removes the role, logged as done by `actor`.
pub async fn change_role(store: &Store, email: &str, grant: bool, actor: &Actor) -> sqlx::Result<Answer> {
    let change = store.set_coordinator(email, grant, actor).await?;
    Ok(describe_role_change(change, email.trim(), grant))
}

/// A person in a group, ready to show.
#[derive(Clone, Debug)]
pub struct MemberView {
    pub name: String,
    pub role: String,
    pub stage: String,
    pub department: String,
}

/// A group of a past round, ready to show.
#[derive(Clone, Debug)]
pub struct GroupView {
    pub position: i64,
    pub status: String,
    pub members: Vec<MemberView>,
}

/// Everything the page of one past round shows.
pub struct RoundDetail {
    pub round: RoundRow,
    pub groups: Vec<GroupView>,
    pub mix: RoundMix,
    /// The stage-gap distribution ("Same stage", "1 stage apart" …).
    pub gaps: Counts,
}

impl RoundDetail {
    pub async fn load(store: &Store, round_id: RoundId) -> sqlx::Result<Option<Self>> {
        let Some(round) = store.round_row(round_id).await? else { return Ok(None) };
        let mut groups: Vec<GroupView> = Vec::new();
        for row in store.round_group_members(round_id).await? {
            let member = MemberView {
                name: row.name.to_string(),
                role: row.role,
                stage: stage_name(row.level),
                department: row.department,
            };
            match groups.last_mut() {
                Some(group) if group.position == row.position => group.members.push(member),
                _ => groups.push(GroupView {
                    position: row.position,
                    status: row.status,
                    members: vec![member],
                }),
            }
        }
        let mix = store.round_mix(round_id).await?;
        let labels = ["Same stage", "1 stage apart", "2 stages apart", "3 stages apart", "4 or more apart"];
        let gaps = labels.iter().zip(mix.stage_gaps).map(|(l, n)| ((*l).to_owned(), n)).collect();
        Ok(Some(Self { round, groups, mix, gaps }))
    }
}

/// One pair of a previewed group with the terms of its score.
#[derive(Clone, Debug)]
pub struct PairView {
    pub a: String,
    pub b: String,
    pub terms: crate::matching::ScoreTerms,
    pub total: i64,
}

/// A group the matcher would make.
#[derive(Clone, Debug)]
pub struct PreviewGroup {
    pub members: Vec<MemberView>,
    pub score: i64,
    /// "in person at North Campus", "by video".
    pub mode: String,
    /// The slots every member gave, or empty.
    pub shared_times: String,
    pub pairs: Vec<PairView>,
}

/// What the next round would be, written nowhere.
pub struct PreviewView {
    pub month: Month,
    pub kind: crate::domain::RoundKind,
    pub groups: Vec<PreviewGroup>,
    /// (name, reason, what would help) of each person who would sit out.
    pub sit_outs: Vec<(String, &'static str, Option<String>)>,
    pub weights: crate::matching::Weights,
    /// When the exact search stopped at its bounded graph: how many points the plan may be
    /// below the best possible at most (proven by the duals).
    pub proven_gap: Option<i64>,
}

impl PreviewView {
    pub fn new(preview: &crate::rounds::Preview) -> Self {
        let name = |id: &crate::matching::ParticipantId| {
            preview.person(id).map_or_else(|| id.as_str().to_owned(), |p| p.name.to_string())
        };
        let groups = preview
            .plan
            .groups
            .iter()
            .map(|group| PreviewGroup {
                mode: preview.meeting(group).place(),
                shared_times: preview.meeting(group).shared.to_list(),
                members: group
                    .members
                    .iter()
                    .map(|id| match preview.person(id) {
                        Some(p) => MemberView {
                            name: p.name.to_string(),
                            role: p.role.clone(),
                            stage: stage_name(p.level),
                            department: p.department.clone(),
                        },
                        None => MemberView {
                            name: id.as_str().to_owned(),
                            role: String::new(),
                            stage: String::new(),
                            department: String::new(),
                        },
                    })
                    .collect(),
                score: group.score,
                pairs: group
                    .pairs
                    .iter()
                    .map(|pair| PairView {
                        a: name(&pair.a),
                        b: name(&pair.b),
                        terms: pair.terms,
                        total: pair.terms.total(),
                    })
                    .collect(),
            })
            .collect();
        let sit_outs = preview
            .plan
            .sit_outs
            .iter()
            .map(|s| {
                (
                    name(&s.id),
                    s.reason.describe(),
                    preview.person(&s.id).and_then(|p| preview.sit_out_hint(p)),
                )
            })
            .collect();
        Self {
            month: preview.month,
            kind: preview.kind,
            groups,
            sit_outs,
            weights: preview.weights.clone(),
            proven_gap: preview.plan.stats.proven_gap,
        }
    }
}

/// Runs `round` for real for a coordinator and logs it. A round that already ran (or was
/// skipped) is refused and changes nothing.
pub async fn run_round(
    rounds: &crate::rounds::Rounds,
    round: crate::rounds::RoundKey,
    actor: &Actor,
) -> anyhow::Result<Answer> {
    use crate::rounds::Outcome;
    let name = round.name();
    match rounds.run_round(round, false, None, &crate::rounds::Quiet).await? {
        Outcome::Created(s) => {
            let detail = format!(
                "{round}: {} participants, {} groups, {} sat out, {} emails queued",
                s.participants, s.groups, s.sit_outs, s.emails
            );
            rounds.store.audit(actor, "round run", &detail).await?;
            Ok(Answer::Done(format!("{} has run: {detail}.", capitalised(&name))))
        }
        Outcome::Skipped(_, available) => {
            let detail = format!("{round}: skipped, {available} could take part");
            rounds.store.audit(actor, "round run", &detail).await?;
            Ok(Answer::Done(format!(
                "{} did not take place: it needs two people and {available} could take part. It is recorded as skipped.",
                capitalised(&name)
            )))
        }
        Outcome::AlreadyRan(_) => {
            Ok(Answer::Refused(format!("{} has already run; nothing was changed.", capitalised(&name))))
        }
        Outcome::DryRun(_) => anyhow::bail!("a real run returned a dry-run preview"),
    }
}

/// "The January 2027 round" from "the January 2027 round".
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// A CSV cell that a spreadsheet will not run as a formula: text starting with `=`, `+`, `-`,
/// `@`, a tab or a carriage return gets a leading single quote.
pub fn csv_cell(value: &str) -> std::borrow::Cow<'_, str> {
    if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        std::borrow::Cow::Owned(format!("'{value}"))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

fn write_csv(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> anyhow::Result<Vec<u8>> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(header)?;
    for row in rows {
        writer.write_record(row.iter().map(|cell| csv_cell(cell).into_owned()))?;
    }
    writer.into_inner().map_err(|e| anyhow::anyhow!("finishing the CSV: {e}"))
}

/// What the exports are called in the audit log and the download.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    Participants,
    Results,
    /// The Outcomes page's figures about what conversations led to and the pace, hidden where
    /// the page hides them; nobody's answer.
    Outcomes,
}

impl Export {
    pub fn file_name(self) -> &'static str {
        match self {
            Self::Participants => "coffee-rounds-participants.csv",
            Self::Results => "coffee-rounds-results.csv",
            Self::Outcomes => "coffee-rounds-outcomes.csv",
        }
    }
}

/// The CSV cell of a figure that may be hidden.
const TOO_FEW: &str = "too few answers";

/// The outcomes export's rows: what conversations led to (the last 12 months, each round, by
/// kind, by departments, by career-stage gap) and the pace, as the Outcomes page shows them.
fn outcome_rows(led_to: &LedToReport, pace: &Pace) -> Vec<Vec<String>> {
    let figure = |share: &Share, section: &str, group: &str, met_groups: String| {
        vec![
            section.to_owned(),
            group.to_owned(),
            met_groups,
            share.answers.to_string(),
            share.count.map_or_else(|| TOO_FEW.to_owned(), |n| n.to_string()),
            share.percent().map_or_else(|| TOO_FEW.to_owned(), |p| p.to_string()),
            String::new(),
        ]
    };
    let window = format!("{} to {}", led_to.since, led_to.until);
    let mut rows = vec![figure(&led_to.total, "last 12 months", &window, String::new())];
    for round in &led_to.rounds {
        rows.push(figure(&round.share, "round", &round.month.to_string(), round.met_groups.to_string()));
    }
    for (section, shares) in [
        ("kind of outcome, last 12 months", &led_to.kinds),
        ("departments, last 12 months", &led_to.departments),
        ("career-stage gap, last 12 months", &led_to.gaps),
    ] {
        rows.extend(shares.iter().map(|share| figure(share, section, &share.label, String::new())));
    }
    for (conversations, people) in &pace.counts {
        let share = if pace.people > 0 { (people * 100 + pace.people / 2) / pace.people } else { 0 };
        rows.push(vec![
            "conversations per person, last 12 months".to_owned(),
            conversations.to_string(),
            String::new(),
            String::new(),
            String::new(),
            share.to_string(),
            people.to_string(),
        ]);
    }
    rows
}

/// The CSV of `export`, logged in the audit log as taken by `actor`.
pub async fn export_csv(
    store: &Store,
    export: Export,
    actor: &Actor,
    next_round: Month,
) -> anyhow::Result<Vec<u8>> {
    let (bytes, rows) = match export {
        Export::Participants => {
            let people = store.export_participants(next_round).await?;
            let rows = people.len();
            let csv = write_csv(
                &[
                    "name",
                    "email",
                    "department",
                    "profession",
                    "career_stage",
                    "site",
                    "format",
                    "times",
                    "status",
                    "signed_up",
                ],
                people.into_iter().map(|p| {
                    vec![
                        p.name.to_string(),
                        p.email.to_string(),
                        p.department,
                        p.role,
                        stage_name(p.level),
                        p.site.unwrap_or_default(),
                        p.meet_format.as_str().to_owned(),
                        p.free_times.to_list(),
                        p.status,
                        date(p.created_at),
                    ]
                }),
            )?;
            (csv, rows)
        }
        Export::Results => {
            let results = store.export_results().await?;
            let rows = results.len();
            let csv = write_csv(
                &[
                    "month",
                    "round",
                    "group",
                    "group_status",
                    "name",
                    "email",
                    "department",
                    "profession",
                    "career_stage",
                    "answer",
                ],
                results.into_iter().map(|r| {
                    vec![
                        r.month.to_string(),
                        r.kind.as_str().to_owned(),
                        (r.position + 1).to_string(),
                        r.status,
                        r.name.to_string(),
                        r.email.to_string(),
                        r.department,
                        r.role,
                        stage_name(r.level),
                        r.response.unwrap_or_default(),
                    ]
                }),
            )?;
            (csv, rows)
        }
        Export::Outcomes => {
            let this_month = Month::of(time::OffsetDateTime::now_utc().date());
            let led_to = LedToReport::load(store, this_month).await?;
            let pace = Pace::load(store, this_month).await?;
            let rows = outcome_rows(&led_to, &pace);
            let count = rows.len();
            let header =
                ["section", "group", "met_groups", "answers", "led_to_something", "share_percent", "people"];
            (write_csv(&header, rows.into_iter())?, count)
        }
    };
    store.audit(actor, "export", &format!("{} ({rows} rows)", export.file_name())).await?;
    Ok(bytes)
}

/// "2026-11-25" for a Unix time.
fn date(at: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(at).map(|t| t.date().to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_a_spreadsheet_would_run_are_neutralised() {
        for formula in ["=SUM(A1)", "+1", "-2+3", "@cmd", "\tx", "\rx"] {
            assert_eq!(csv_cell(formula), format!("'{formula}"));
        }
        for plain in ["Ana", "", "a=b", "O'Neil", "1-2"] {
            assert_eq!(csv_cell(plain), plain);
        }
    }

    #[test]
    fn figures_on_fewer_than_five_answers_are_hidden_and_never_left_alone_to_subtract() {
        assert_eq!(hidden(&[10, 7, 5]), [false, false, false]);
        // A small figure alone could be worked out from the total: the next smallest goes too.
        assert_eq!(hidden(&[10, 4, 6]), [false, true, true]);
        assert_eq!(hidden(&[10, 4, 0]), [true, true, true]);
        assert_eq!(hidden(&[10, 1, 2, 20]), [true, true, true, false], "hidden until together at least five");
        assert_eq!(hidden(&[3, 1]), [true, true], "a total under five hides everything");
        assert_eq!(hidden(&[0, 0, 8]), [true, true, false], "nothing to protect in empty figures");
        assert_eq!(hidden(&[]), Vec::<bool>::new());
    }

    #[test]
    fn exact_counts_fall_into_their_ranges() {
        let counts = vec![
            Count { key: 1, n: 5 },
            Count { key: 5, n: 2 },
            Count { key: 9, n: 1 },
            Count { key: 10, n: 3 },
            Count { key: 40, n: 1 },
        ];
        let got =
            buckets(7, &counts, &[(1, 1, "one"), (2, 9, "two to nine"), (10, i64::MAX, "ten+")], "none");
        let want: Vec<(String, i64)> =
            vec![("none".into(), 7), ("one".into(), 5), ("two to nine".into(), 3), ("ten+".into(), 4)];
        assert_eq!(got, want);
    }

    #[test]
    fn the_signups_are_the_twelve_months_ending_this_month() {
        let now = Month::parse("2027-03").unwrap();
        let counts =
            vec![Count { key: "2026-04".to_owned(), n: 2 }, Count { key: "2027-03".to_owned(), n: 4 }];
        let months = last_twelve_months(now, &counts);
        assert_eq!(months.len(), 12);
        assert_eq!(months[0], (Month::parse("2026-04").unwrap(), 2));
        assert_eq!(months[11], (now, 4));
        assert_eq!(months.iter().map(|(_, n)| n).sum::<i64>(), 6);
    }
}
