//! "My coffee network": the personal version of the program's outcome numbers — how many people
//! someone has met through the rounds, and which departments and professions they reached.

use std::collections::BTreeSet;

use crate::{domain::Month, store::rounds::MyGroup};

/// What one person's rounds add up to. Only groups reported as met count.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Network {
    pub people: usize,
    pub departments: Vec<String>,
    pub professions: Vec<String>,
    /// People met so far, month by month (cumulative), oldest first.
    pub growth: Vec<(Month, usize)>,
}

/// Adds up `groups` (any order).
pub fn network(groups: &[MyGroup]) -> Network {
    let mut met: Vec<&MyGroup> = groups.iter().filter(|g| g.status == "met").collect();
    met.sort_by_key(|g| g.month);
    let (mut people, mut departments, mut professions) = (BTreeSet::new(), BTreeSet::new(), BTreeSet::new());
    let mut growth: Vec<(Month, usize)> = Vec::new();
    for group in met {
        for partner in &group.partners {
            people.insert(partner.user_id);
            departments.insert(partner.department.trim().to_owned());
            professions.insert(partner.role.trim().to_owned());
        }
        match growth.last_mut() {
            Some((month, total)) if *month == group.month => *total = people.len(),
            _ => growth.push((group.month, people.len())),
        }
    }
    Network {
        people: people.len(),
        departments: departments.into_iter().collect(),
        professions: professions.into_iter().collect(),
        growth,
    }
}

/// One bar of the growth chart, in SVG units of a 300 × 90 drawing.
#[derive(Clone, Debug, PartialEq)]
pub struct Bar {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
    pub label: String,
}

/// The growth as bars (at most the last 12 months shown).
pub fn growth_bars(network: &Network) -> Vec<Bar> {
    let shown = &network.growth[network.growth.len().saturating_sub(12)..];
    let most = shown.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    // At least six slots, so one or two months do not make a wall of colour.
    let slot = 300 / shown.len().max(6) as u32;
    shown
        .iter()
        .enumerate()
        .map(|(i, (month, n))| {
            let height = ((*n as u32) * 80 / most as u32).max(2);
            Bar {
                x: i as u32 * slot + slot / 8,
                y: 85 - height,
                width: (slot * 3 / 4).max(1),
                height,
                label: format!("{month}: {n} met so far"),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        domain::{Email, GroupId, Level, PersonName, UserId},
        store::rounds::Partner,
    };

    fn month(m: &str) -> Month {
        Month::parse(m).unwrap()
    }

    fn group(month: Month, status: &str, partners: &[(i64, &str, &str)]) -> MyGroup {
        MyGroup {
            group_id: GroupId(0),
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
            group(month("2027-03"), "met", &[(2, "Nurse", "Surgery"), (3, "Physician", "Surgery")]),
            group(month("2027-01"), "met", &[(2, "Nurse", "Surgery")]),
            group(month("2027-02"), "open", &[(4, "Pharmacist", "Pharmacy")]),
        ];
        let n = network(&groups);
        assert_eq!(n.people, 2);
        assert_eq!(n.departments, ["Surgery"]);
        assert_eq!(n.professions, ["Nurse", "Physician"]);
        assert_eq!(n.growth, [(month("2027-01"), 1), (month("2027-03"), 2)]);
        let bars = growth_bars(&n);
        assert_eq!(bars.len(), 2);
        assert!(bars[1].height > bars[0].height);
        assert!(growth_bars(&Network::default()).is_empty());
    }
}
