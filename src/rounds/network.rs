//! "My coffee network": the personal version of the program's outcome numbers — how many people
//! someone has met through the rounds, which departments and professions they reached, their
//! conversations over time against the playbook's pace, and what they reported those
//! conversations led to (shown to them alone).

use std::collections::BTreeSet;

use crate::{
    domain::{Calendar, GroupId, LedTo, Month},
    store::rounds::MyGroup,
};

/// The playbook's steady pace: about one conversation a month.
pub const PER_YEAR_PACE: i64 = 12;

/// The playbook's first year: about 10 conversations (fewer early on).
pub const FIRST_YEAR_PACE: i64 = 10;

/// The playbook's cumulative pace, as (months in the program, conversations so far): 10 in the
/// first year, 30 by the third, 50 by the fifth, 110 by the tenth; one a month after that.
pub const PLAYBOOK: [(i64, i64); 5] = [(0, 0), (12, FIRST_YEAR_PACE), (36, 30), (60, 50), (120, 110)];

/// The playbook's conversations so far after `months` in the program (straight lines between
/// its points).
pub fn playbook_pace(months: f64) -> f64 {
    let months = months.max(0.0);
    for pair in PLAYBOOK.windows(2) {
        let ((m0, c0), (m1, c1)) = (pair[0], pair[1]);
        if months <= m1 as f64 {
            return c0 as f64 + (months - m0 as f64) * (c1 - c0) as f64 / (m1 - m0) as f64;
        }
    }
    let (last_month, last) = PLAYBOOK[PLAYBOOK.len() - 1];
    last as f64 + (months - last_month as f64) * PER_YEAR_PACE as f64 / 12.0
}

/// Something a conversation led to, as the person reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reported {
    pub month: Month,
    /// The other members, as "Ana Souza and Ben Okafor".
    pub with: String,
    pub led_to: LedTo,
}

/// What one person's rounds add up to. Only groups reported as met count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Network {
    pub people: usize,
    pub departments: Vec<String>,
    pub professions: Vec<String>,
    /// The month of the person's first group, met or not: where their pace starts.
    pub started: Option<Month>,
    /// Conversations so far (groups reported as met), month by month (cumulative), oldest first;
    /// only the months that added one.
    pub conversations: Vec<(Month, usize)>,
    /// What the person reported their conversations led to (something concrete), newest first.
    pub reported: Vec<Reported>,
}

/// Adds up `groups` (any order) and the person's own `answers` about them.
pub fn network(groups: &[MyGroup], answers: &[(GroupId, LedTo)]) -> Network {
    let mut met: Vec<&MyGroup> = groups.iter().filter(|g| g.status == "met").collect();
    met.sort_by_key(|g| g.month);
    let (mut people, mut departments, mut professions) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let mut conversations: Vec<(Month, usize)> = Vec::new();
    for (count, group) in met.iter().enumerate() {
        for partner in &group.partners {
            people.insert(partner.user_id);
            departments.insert(partner.department.trim().to_owned());
            professions.insert(partner.role.trim().to_owned());
        }
        match conversations.last_mut() {
            Some((month, total)) if *month == group.month => *total = count + 1,
            _ => conversations.push((group.month, count + 1)),
        }
    }
    let mut reported: Vec<Reported> = met
        .iter()
        .filter_map(|group| {
            let (_, led_to) =
                answers.iter().find(|(id, answer)| *id == group.group_id && answer.is_concrete())?;
            let names: Vec<&str> = group.partners.iter().map(|p| p.name.as_str()).collect();
            Some(Reported { month: group.month, with: names.join(" and "), led_to: *led_to })
        })
        .collect();
    reported.reverse();
    Network {
        people: people.len(),
        departments: departments.into_iter().collect(),
        professions: professions.into_iter().collect(),
        started: groups.iter().map(|g| g.month).min(),
        conversations,
        reported,
    }
}

/// Width and height of the pace chart's drawing, in SVG units; the plot leaves room for labels.
const LEFT: f64 = 34.0;
const RIGHT: f64 = 312.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 118.0;

/// One row of the table beside the pace chart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaceRow {
    pub month_name: String,
    pub conversations: usize,
    /// The playbook's pace at the end of that month, rounded.
    pub playbook: i64,
}

/// A person's conversations so far on the playbook's curve, laid out for a 320 × 140 SVG.
#[derive(Clone, Debug, PartialEq)]
pub struct PaceChart {
    /// `points` of the person's line: conversations so far at the end of each month.
    pub mine: String,
    /// `points` of the playbook's curve over the same years.
    pub playbook: String,
    /// Where the person is now: x, y.
    pub now: (i64, i64),
    /// Year marks on the time axis: x and label.
    pub years: Vec<(i64, String)>,
    /// The top of the conversations axis.
    pub top: i64,
    pub rows: Vec<PaceRow>,
    /// Conversations so far and the playbook's pace for the same time, rounded.
    pub total: usize,
    pub playbook_now: i64,
}

/// The pace chart of `network` as of `this_month`: from the first round, over whole years (at
/// least one).
pub fn pace_chart(network: &Network, this_month: Month) -> Option<PaceChart> {
    let started = network.started?;
    let months = (this_month.index() - started.index() + 1).max(1);
    let span = (months + 11) / 12 * 12;
    // Conversations so far at the end of each month since the start.
    let mut so_far = Vec::with_capacity(months as usize);
    let mut total = 0;
    for offset in 0..months {
        let month = started.plus(offset as i32);
        if let Some((_, n)) = network.conversations.iter().rev().find(|(m, _)| *m <= month) {
            total = *n;
        }
        so_far.push(total);
    }
    let playbook_end = playbook_pace(span as f64);
    let top = ((total as f64).max(playbook_end) / 5.0).ceil().max(1.0) as i64 * 5;
    let x = |m: f64| LEFT + m * (RIGHT - LEFT) / span as f64;
    let y = |n: f64| BOTTOM - n * (BOTTOM - TOP) / top as f64;
    let point = |m: f64, n: f64| format!("{:.1},{:.1}", x(m), y(n));
    let mine: Vec<String> = std::iter::once(point(0.0, 0.0))
        .chain(so_far.iter().enumerate().map(|(i, n)| point(i as f64 + 1.0, *n as f64)))
        .collect();
    let mut bends: Vec<f64> = PLAYBOOK.iter().map(|(m, _)| *m as f64).filter(|m| *m < span as f64).collect();
    bends.push(span as f64);
    let playbook: Vec<String> = bends.iter().map(|m| point(*m, playbook_pace(*m))).collect();
    let years = (0..=span / 12)
        .map(|year| {
            (
                x(year as f64 * 12.0).round() as i64,
                if year == 0 { "Start".to_owned() } else { format!("Year {year}") },
            )
        })
        .collect();
    let rows = network
        .conversations
        .iter()
        .map(|(month, n)| PaceRow {
            month_name: month.long_name(),
            conversations: *n,
            playbook: playbook_pace((month.index() - started.index() + 1) as f64).round() as i64,
        })
        .collect();
    Some(PaceChart {
        mine: mine.join(" "),
        playbook: playbook.join(" "),
        now: (x(months as f64).round() as i64, y(total as f64).round() as i64),
        years,
        top,
        rows,
        total,
        playbook_now: playbook_pace(months as f64).round() as i64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        domain::{Email, Level, PersonName, UserId},
        store::rounds::Partner,
    };

    fn month(m: &str) -> Month {
        Month::parse(m).unwrap()
    }

    fn group(id: i64, month: Month, status: &str, partners: &[(i64, &str, &str)]) -> MyGroup {
        MyGroup {
            group_id: GroupId(id),
            month,
            kind: crate::domain::RoundKind::Main,
            status: status.into(),
            partners: partners
                .iter()
                .map(|(id, role, department)| Partner {
                    group_id: GroupId(0),
                    user_id: UserId(*id),
                    name: PersonName::parse(&format!("P{id}")).unwrap(),
                    email: Email::parse(&format!("p{id}@hospital.test")).unwrap(),
                    role: (*role).into(),
                    level: Level(1),
                    department: (*department).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn only_met_groups_count_and_each_person_once() {
        let groups = vec![
            group(3, month("2027-03"), "met", &[(2, "Nurse", "Surgery"), (3, "Physician", "Surgery")]),
            group(1, month("2027-01"), "met", &[(2, "Nurse", "Surgery")]),
            group(2, month("2027-02"), "open", &[(4, "Pharmacist", "Pharmacy")]),
        ];
        let answers =
            [(GroupId(1), LedTo::NotYet), (GroupId(3), LedTo::Project), (GroupId(2), LedTo::Advice)];
        let n = network(&groups, &answers);
        assert_eq!(n.people, 2);
        assert_eq!(n.departments, ["Surgery"]);
        assert_eq!(n.professions, ["Nurse", "Physician"]);
        assert_eq!(n.started, Some(month("2027-01")));
        assert_eq!(n.conversations, [(month("2027-01"), 1), (month("2027-03"), 2)]);
        assert_eq!(
            n.reported,
            [Reported { month: month("2027-03"), with: "P2 and P3".into(), led_to: LedTo::Project }],
            "only concrete answers about met groups"
        );
        let chart = pace_chart(&n, month("2027-04")).unwrap();
        assert_eq!((chart.total, chart.playbook_now), (2, 3));
        assert_eq!(chart.years.len(), 2, "one year shown: start and year 1");
        assert_eq!(chart.mine.split(' ').count(), 5, "the start and each of four months");
        assert_eq!(chart.rows.iter().map(|r| r.conversations).collect::<Vec<_>>(), [1, 2]);
        assert!(pace_chart(&Network::default(), month("2027-04")).is_none());
    }

    #[test]
    fn the_playbook_pace_passes_through_its_points_and_goes_on_at_twelve_a_year() {
        for (months, conversations) in PLAYBOOK {
            assert_eq!(playbook_pace(months as f64), conversations as f64);
        }
        assert_eq!(playbook_pace(6.0), 5.0);
        assert_eq!(playbook_pace(24.0), 20.0);
        assert_eq!(playbook_pace(132.0), 122.0);
    }
}
