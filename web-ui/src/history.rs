//! What the session has seen over time, for the history charts: one point per telemetry report,
//! kept within a fixed budget. When the budget is full, neighbouring points are merged in pairs
//! (means for levels, the worst for the spread and the temperature extremes), so a week stays
//! in memory at a resolution that halves as it grows instead of being cut off.

use crate::session::Reading;

/// Most points kept.
pub const HISTORY_POINTS: usize = 4_096;

/// One moment (or, after merging, one stretch) of the pack.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HistoryPoint {
    /// Device time, s.
    pub time_s: f64,
    /// Pack voltage, V.
    pub pack_voltage_v: f64,
    /// Current, A (positive charges).
    pub current_a: f64,
    /// Estimated SOC, %.
    pub soc_pct: f64,
    /// Its 3σ bound, points.
    pub soc_bound_pct: Option<f64>,
    /// The true SOC, % (emulator mode).
    pub true_soc_pct: Option<f64>,
    /// Highest minus lowest cell, mV.
    pub spread_mv: f64,
    /// Coldest and hottest sensor, °C.
    pub temperature_c: Option<(f64, f64)>,
}

impl HistoryPoint {
    /// The point a reading makes.
    pub fn of(r: &Reading) -> Self {
        let spread_mv = match (r.min_cell(), r.max_cell()) {
            (Some((_, lo)), Some((_, hi))) => (hi - lo) * 1000.0,
            _ => 0.0,
        };
        let temperature_c =
            r.temperatures_c
                .iter()
                .flatten()
                .fold(None, |acc: Option<(f64, f64)>, &t| {
                    Some(acc.map_or((t, t), |(lo, hi)| (lo.min(t), hi.max(t))))
                });
        HistoryPoint {
            time_s: r.uptime_secs,
            pack_voltage_v: r.pack_voltage_v,
            current_a: r.current_a,
            soc_pct: r.soc_pct,
            soc_bound_pct: r.soc_bound_pct,
            true_soc_pct: None,
            spread_mv,
            temperature_c,
        }
    }

    /// One point standing for `a` then `b`.
    fn merged(a: &Self, b: &Self) -> Self {
        let mean = |x: f64, y: f64| (x + y) / 2.0;
        let both = |x: Option<f64>, y: Option<f64>, f: fn(f64, f64) -> f64| match (x, y) {
            (Some(x), Some(y)) => Some(f(x, y)),
            (x, y) => x.or(y),
        };
        HistoryPoint {
            time_s: b.time_s,
            pack_voltage_v: mean(a.pack_voltage_v, b.pack_voltage_v),
            current_a: mean(a.current_a, b.current_a),
            soc_pct: mean(a.soc_pct, b.soc_pct),
            soc_bound_pct: both(a.soc_bound_pct, b.soc_bound_pct, f64::max),
            true_soc_pct: both(a.true_soc_pct, b.true_soc_pct, mean),
            spread_mv: a.spread_mv.max(b.spread_mv),
            temperature_c: match (a.temperature_c, b.temperature_c) {
                (Some((l1, h1)), Some((l2, h2))) => Some((l1.min(l2), h1.max(h2))),
                (x, y) => x.or(y),
            },
        }
    }
}

/// The points, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    points: Vec<HistoryPoint>,
    /// How many reports each point stands for at most.
    merged: u32,
}

impl History {
    /// Adds a report's point; a repeated or older device time is ignored (a paused device
    /// repeats its last report).
    pub fn push(&mut self, point: HistoryPoint) {
        if self.points.last().is_some_and(|p| p.time_s >= point.time_s) {
            return;
        }
        if self.points.len() >= HISTORY_POINTS {
            self.points = self
                .points
                .chunks(2)
                .filter_map(|pair| match pair {
                    [a, b] => Some(HistoryPoint::merged(a, b)),
                    [a] => Some(*a),
                    _ => None,
                })
                .collect();
            self.merged = self.merged.max(1) * 2;
        }
        self.points.push(point);
    }

    /// Records the emulated pack's true SOC for the latest point.
    pub fn set_latest_truth(&mut self, true_soc_pct: f64) {
        if let Some(p) = self.points.last_mut() {
            p.true_soc_pct = Some(true_soc_pct);
        }
    }

    /// The points, oldest first.
    pub fn points(&self) -> &[HistoryPoint] {
        &self.points
    }

    /// How many reports the coarsest points stand for (1 until the budget first filled).
    pub fn reports_per_point(&self) -> u32 {
        self.merged.max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: f64, soc: f64, spread: f64) -> HistoryPoint {
        HistoryPoint {
            time_s: t,
            pack_voltage_v: 52.0,
            current_a: 10.0,
            soc_pct: soc,
            soc_bound_pct: Some(3.0),
            true_soc_pct: None,
            spread_mv: spread,
            temperature_c: Some((20.0, 21.0)),
        }
    }

    #[test]
    fn a_week_of_minutes_stays_within_the_budget_and_keeps_the_worst_spread() {
        let mut h = History::default();
        for k in 0..7 * 24 * 60 {
            let spread = if k == 5_000 { 80.0 } else { 5.0 };
            h.push(point(f64::from(k) * 60.0, 50.0, spread));
        }
        assert!(h.points().len() <= HISTORY_POINTS);
        assert!(h.reports_per_point() >= 2);
        let first = h.points().first().unwrap().time_s;
        let last = h.points().last().unwrap().time_s;
        assert!(first < 3_600.0 && last > 6.9 * 86_400.0, "{first} … {last}");
        assert!(
            h.points().iter().any(|p| p.spread_mv == 80.0),
            "the spike survives"
        );
        assert!(h.points().windows(2).all(|w| w[0].time_s < w[1].time_s));
    }

    #[test]
    fn repeated_reports_of_a_paused_device_add_nothing() {
        let mut h = History::default();
        h.push(point(60.0, 50.0, 5.0));
        h.push(point(60.0, 50.0, 5.0));
        h.push(point(30.0, 50.0, 5.0));
        assert_eq!(h.points().len(), 1);
        h.set_latest_truth(49.5);
        assert_eq!(h.points()[0].true_soc_pct, Some(49.5));
    }
}
