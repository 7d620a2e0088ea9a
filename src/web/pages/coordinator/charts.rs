//! Server-drawn charts: labelled counts laid out in SVG units for the templates, which draw each
//! chart beside a table of the same figures. Presentation only; the figures come from
//! `crate::coordinator`.

use crate::{
    coordinator::{Dashboard, LedToReport, Outcomes, PLAYBOOK_SHARE, Pace, RoundRate, Share},
    domain::{Calendar, Month},
    rounds::network::{FIRST_YEAR_PACE, PER_YEAR_PACE},
    store::dashboard::StatusTotals,
};

/// Width in SVG units of the longest bar of a horizontal bar chart.
const BAR_SPACE: i64 = 200;
/// Height of one row of a horizontal bar chart.
const ROW_HEIGHT: i64 = 34;
/// Height in SVG units of the tallest column of the monthly chart.
pub const COLUMN_SPACE: i64 = 120;
/// Width of one column of the monthly chart.
const COLUMN_WIDTH: i64 = 30;

/// One bar of a chart: a label, its count, and where the chart draws it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bar {
    pub label: String,
    /// The label shortened for a chart's axis ("Nov" for "November 2026").
    pub short: String,
    pub n: i64,
    /// Length of the bar in SVG units (at least 1 when `n` > 0, so small counts stay visible).
    pub length: i64,
    /// Top of the row (horizontal charts) or left edge of the column (the monthly chart).
    pub offset: i64,
    /// Percentage of the chart's total, rounded.
    pub percent: i64,
}

/// A horizontal bar chart (and the table beside it) of labelled counts.
#[derive(Clone, Debug)]
pub struct Chart {
    pub bars: Vec<Bar>,
    /// Height of the whole SVG.
    pub height: i64,
}

impl Chart {
    pub fn new(counts: &[(String, i64)]) -> Self {
        let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
        let total: i64 = counts.iter().map(|(_, n)| *n).sum();
        let bars: Vec<Bar> = counts
            .iter()
            .enumerate()
            .map(|(i, (label, n))| Bar {
                length: scale(*n, max, BAR_SPACE),
                offset: i as i64 * ROW_HEIGHT,
                percent: if total > 0 { (n * 100 + total / 2) / total } else { 0 },
                short: label.clone(),
                label: label.clone(),
                n: *n,
            })
            .collect();
        let height = (bars.len() as i64 * ROW_HEIGHT).max(ROW_HEIGHT);
        Self { bars, height }
    }
}

/// `n` of `max` on a scale of `space`, never 0 for a positive `n`.
fn scale(n: i64, max: i64, space: i64) -> i64 {
    if n <= 0 || max <= 0 { 0 } else { (n * space / max).max(1) }
}

/// A count per month, as columns.
#[derive(Clone, Debug)]
pub struct MonthlyChart {
    /// Each bar's `length` is its height; `offset` its left edge.
    pub bars: Vec<Bar>,
    pub total: i64,
}

impl MonthlyChart {
    pub fn new(months: &[(Month, i64)]) -> Self {
        let max = months.iter().map(|(_, n)| *n).max().unwrap_or(0);
        let total = months.iter().map(|(_, n)| *n).sum();
        let bars = months
            .iter()
            .enumerate()
            .map(|(i, (m, n))| Bar {
                label: m.long_name(),
                short: m.long_name().chars().take(3).collect(),
                n: *n,
                length: scale(*n, max, COLUMN_SPACE),
                offset: i as i64 * COLUMN_WIDTH,
                percent: 0,
            })
            .collect();
        Self { bars, total }
    }
}

/// The dashboard home's figures, ready to draw.
pub struct DashboardView {
    pub totals: StatusTotals,
    pub departments: Chart,
    pub roles: Chart,
    pub stages: Chart,
    pub sites: Chart,
    pub formats: Chart,
    pub times: Chart,
    pub frequencies: Chart,
    /// About how many conversations a month the frequencies chosen make.
    pub chats_per_month: i64,
    /// "November 2026", and the groups its rounds made.
    pub latest_groups: Option<(String, i64)>,
    pub signups: MonthlyChart,
}

impl DashboardView {
    pub fn new(dashboard: Dashboard) -> Self {
        Self {
            departments: Chart::new(&dashboard.departments),
            roles: Chart::new(&dashboard.roles),
            stages: Chart::new(&dashboard.stages),
            sites: Chart::new(&dashboard.sites),
            formats: Chart::new(&dashboard.formats),
            times: Chart::new(&dashboard.times),
            frequencies: Chart::new(&dashboard.frequencies),
            chats_per_month: dashboard.chats_per_month.round() as i64,
            latest_groups: dashboard.latest_groups.map(|(month, n)| (month.long_name(), n)),
            signups: MonthlyChart::new(&dashboard.signups),
            totals: dashboard.totals,
        }
    }
}

/// A round's meet rate, with where its bar is drawn.
#[derive(Clone, Debug)]
pub struct RateBar {
    pub rate: RoundRate,
    /// Length of the bar in SVG units (the full [`BAR_SPACE`] is 100 %).
    pub length: i64,
    pub offset: i64,
}

/// Room above the rows of a share chart for the reference band's label.
const BAND_LABEL: i64 = 18;

/// One bar of a share chart: a figure and where its bar is drawn.
#[derive(Clone, Debug)]
pub struct ShareBar {
    pub share: Share,
    /// Length in SVG units; 0 when the figure is hidden.
    pub length: i64,
    /// Top of the row.
    pub offset: i64,
    /// Where the figure (or "too few answers") is written: after the bar and the band.
    pub figure_x: i64,
}

/// Shares as horizontal bars on a scale of 0 to `scale_max` %, with the playbook's 10–20 % as a
/// shaded band between two dashed lines when it applies.
#[derive(Clone, Debug)]
pub struct ShareChart {
    pub bars: Vec<ShareBar>,
    pub height: i64,
    /// The percentage at the end of the bar space: 50, or more when a share is larger.
    pub scale_max: i64,
    /// The playbook's band: where it starts and how wide it is, in SVG units.
    pub band: Option<(i64, i64)>,
}

impl ShareChart {
    pub fn new(shares: &[Share], with_band: bool) -> Self {
        let largest = shares.iter().filter_map(Share::percent).max().unwrap_or(0);
        let scale_max = (largest.max(50) + 9) / 10 * 10;
        let top = if with_band { BAND_LABEL } else { 0 };
        let (low, high) = PLAYBOOK_SHARE;
        let x = |percent: i64| percent * BAR_SPACE / scale_max;
        let band_end = if with_band { x(high) } else { 0 };
        let bars: Vec<ShareBar> = shares
            .iter()
            .enumerate()
            .map(|(i, share)| {
                let length = share.percent().map_or(0, |p| scale(p, scale_max, BAR_SPACE));
                ShareBar {
                    length,
                    offset: top + i as i64 * ROW_HEIGHT,
                    figure_x: length.max(band_end) + 4,
                    share: share.clone(),
                }
            })
            .collect();
        Self {
            height: top + (bars.len() as i64 * ROW_HEIGHT).max(ROW_HEIGHT),
            bars,
            scale_max,
            band: with_band.then(|| (x(low), x(high) - x(low))),
        }
    }
}

/// What conversations led to, ready to draw: the last 12 months and each round on one chart, and
/// the breakdowns each on its own.
pub struct LedToView {
    pub report: LedToReport,
    pub rounds: ShareChart,
    pub kinds: ShareChart,
    pub departments: ShareChart,
    pub gaps: ShareChart,
}

impl LedToView {
    pub fn new(report: LedToReport) -> Self {
        let mut per_round = vec![report.total.clone()];
        per_round.extend(report.rounds.iter().map(|r| r.share.clone()));
        Self {
            rounds: ShareChart::new(&per_round, true),
            kinds: ShareChart::new(&report.kinds, false),
            departments: ShareChart::new(&report.departments, true),
            gaps: ShareChart::new(&report.gaps, true),
            report,
        }
    }
}

/// Width of one column of the pace chart, and where the first starts.
const PACE_COLUMN: i64 = 22;
const PACE_LEFT: i64 = 12;

/// Conversations per person as columns from 0 to 12, with the playbook's pace shaded.
pub struct PaceView {
    pub pace: Pace,
    /// Each column: `label` the number of conversations, `n` the people, `length` its height,
    /// `offset` its left edge, `percent` its share of the people.
    pub bars: Vec<Bar>,
    /// Where the playbook's pace (10 a year and more) starts, and how wide it is.
    pub band: (i64, i64),
}

impl PaceView {
    pub fn new(pace: Pace) -> Self {
        let max = pace.counts.iter().map(|(_, n)| *n).max().unwrap_or(0);
        let bars = pace
            .counts
            .iter()
            .map(|(k, n)| Bar {
                label: k.to_string(),
                short: k.to_string(),
                n: *n,
                length: scale(*n, max, COLUMN_SPACE),
                offset: PACE_LEFT + k * PACE_COLUMN,
                percent: if pace.people > 0 { (n * 100 + pace.people / 2) / pace.people } else { 0 },
            })
            .collect();
        let start = PACE_LEFT + FIRST_YEAR_PACE * PACE_COLUMN;
        Self { bars, band: (start, (PER_YEAR_PACE + 1 - FIRST_YEAR_PACE) * PACE_COLUMN), pace }
    }
}

/// The outcomes page's figures, ready to draw.
pub struct OutcomesView {
    pub led_to: LedToView,
    pub pace: PaceView,
    pub rounds: Vec<RateBar>,
    /// Height of the meet-rate chart.
    pub height: i64,
    pub overall: (i64, i64),
    pub grouped: i64,
    pub met_someone: i64,
    pub reached_two_departments: i64,
    pub people_met: Chart,
    pub departments_reached: Chart,
}

impl OutcomesView {
    pub fn new(outcomes: Outcomes) -> Self {
        let rounds: Vec<RateBar> = outcomes
            .rounds
            .into_iter()
            .enumerate()
            .map(|(i, rate)| RateBar {
                length: rate.rate * BAR_SPACE / 100,
                offset: i as i64 * ROW_HEIGHT,
                rate,
            })
            .collect();
        Self {
            led_to: LedToView::new(outcomes.led_to),
            pace: PaceView::new(outcomes.pace),
            height: (rounds.len() as i64 * ROW_HEIGHT).max(ROW_HEIGHT),
            rounds,
            overall: outcomes.overall,
            grouped: outcomes.grouped,
            met_someone: outcomes.met_someone,
            reached_two_departments: outcomes.reached_two_departments,
            people_met: Chart::new(&outcomes.people_met),
            departments_reached: Chart::new(&outcomes.departments_reached),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_longest_bar_fills_the_space_and_small_ones_stay_visible() {
        let chart = Chart::new(&[("a".into(), 400), ("b".into(), 1), ("c".into(), 0)]);
        let lengths: Vec<i64> = chart.bars.iter().map(|b| b.length).collect();
        assert_eq!(lengths, vec![BAR_SPACE, 1, 0]);
        assert_eq!(chart.bars[1].offset, ROW_HEIGHT);
        assert_eq!(chart.bars.iter().map(|b| b.percent).collect::<Vec<_>>(), vec![100, 0, 0]);
    }

    #[test]
    fn a_share_chart_draws_shown_figures_only_and_the_playbook_band_on_its_scale() {
        let share = |answers, count| Share { label: "x".into(), answers, count };
        let chart = ShareChart::new(&[share(10, Some(2)), share(3, None), share(20, Some(16))], true);
        assert_eq!(chart.scale_max, 80, "the largest share (80 %) sets the scale");
        assert_eq!(
            chart.bars.iter().map(|b| b.length).collect::<Vec<_>>(),
            vec![BAR_SPACE / 4, 0, BAR_SPACE]
        );
        assert_eq!(chart.band, Some((BAR_SPACE / 8, BAR_SPACE / 8)));
        let small = ShareChart::new(&[share(10, Some(1))], false);
        assert_eq!((small.scale_max, small.band), (50, None));
    }

    #[test]
    fn the_tallest_month_fills_the_column_space() {
        let march = Month::parse("2027-03").unwrap();
        let chart = MonthlyChart::new(&[(march.plus(-1), 2), (march, 4)]);
        assert_eq!(
            chart.bars.iter().map(|b| b.length).collect::<Vec<_>>(),
            vec![COLUMN_SPACE / 2, COLUMN_SPACE]
        );
        assert_eq!(chart.bars[1].offset, COLUMN_WIDTH);
        assert_eq!(chart.bars[1].short, "Mar");
        assert_eq!(chart.total, 6);
    }
}
