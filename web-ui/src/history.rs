//! What the session has seen over time, for the history charts: one sample per telemetry
//! report — one a second from a device, or from the emulator at any speed — kept at full
//! resolution for [`FULL_RESOLUTION_SECS`] and more (a compact 48 bytes each), then merged in
//! neighbouring pairs (means for levels, the worst spread and temperature extremes) so that a
//! longer session keeps its whole span at a resolution that halves as it grows.
//!
//! Charts never draw all of it: [`History::view`] cuts out the time window on screen and
//! decimates it to a budget of buckets, each drawn as its lowest and highest value of every
//! series, so a spike of one second in a week still shows.

/// Most samples kept: a week and a bit at one a second (about 31 MB).
pub const HISTORY_POINTS: usize = 640_000;

/// The span kept at one-second resolution, s.
pub const FULL_RESOLUTION_SECS: f64 = 7.0 * 86_400.0;

/// One moment (or, after merging or decimation, one stretch) of the pack, in display units.
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
    /// Estimated state of health, %.
    pub soh_pct: Option<f64>,
    /// The true SOH, % (emulator mode): the weakest cell's capacity over nominal, as the
    /// estimate means it.
    pub true_soh_pct: Option<f64>,
    /// Highest minus lowest cell, mV.
    pub spread_mv: f64,
    /// Coldest and hottest sensor, °C.
    pub temperature_c: Option<(f64, f64)>,
}

impl HistoryPoint {
    /// The point a telemetry frame makes (without building a whole
    /// [`Reading`](crate::session::Reading): at 3600× the emulator sends thousands a second).
    pub fn of_telemetry(t: &bms_engine::protocol::Telemetry) -> Self {
        let (lo, hi) = t
            .cell_voltages_mv
            .iter()
            .fold((u16::MAX, 0), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        let temperature_c = temperature_range(
            t.temperatures_deci_c
                .iter()
                .flatten()
                .map(|&d| f64::from(d) / 10.0),
        );
        HistoryPoint {
            time_s: t.uptime_ms as f64 / 1000.0,
            pack_voltage_v: f64::from(t.pack_voltage_mv) / 1000.0,
            current_a: f64::from(t.current_ma) / 1000.0,
            soc_pct: f64::from(t.soc_permille) / 10.0,
            soc_bound_pct: t.soc_bound_permille.map(|b| f64::from(b) / 10.0),
            true_soc_pct: None,
            soh_pct: t.soh_permille.map(|p| f64::from(p) / 10.0),
            true_soh_pct: None,
            spread_mv: if hi >= lo { f64::from(hi - lo) } else { 0.0 },
            temperature_c,
        }
    }
}

/// The coldest and hottest of `temperatures`, °C; `None` when there are none.
pub fn temperature_range(temperatures: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    temperatures.fold(None, |acc, t| {
        Some(acc.map_or((t, t), |(lo, hi): (f64, f64)| (lo.min(t), hi.max(t))))
    })
}

/// A sample as stored: single precision, `NaN` for "none".
#[derive(Debug, Clone, Copy, PartialEq)]
struct Sample {
    time_s: f64,
    pack_voltage_v: f32,
    current_a: f32,
    soc_pct: f32,
    soc_bound_pct: f32,
    true_soc_pct: f32,
    soh_pct: f32,
    true_soh_pct: f32,
    spread_mv: f32,
    coldest_c: f32,
    hottest_c: f32,
}

fn some(x: f32) -> Option<f64> {
    (!x.is_nan()).then_some(f64::from(x))
}

fn nan_or(x: Option<f64>) -> f32 {
    x.map_or(f32::NAN, |x| x as f32)
}

impl Sample {
    fn of(p: &HistoryPoint) -> Self {
        Sample {
            time_s: p.time_s,
            pack_voltage_v: p.pack_voltage_v as f32,
            current_a: p.current_a as f32,
            soc_pct: p.soc_pct as f32,
            soc_bound_pct: nan_or(p.soc_bound_pct),
            true_soc_pct: nan_or(p.true_soc_pct),
            soh_pct: nan_or(p.soh_pct),
            true_soh_pct: nan_or(p.true_soh_pct),
            spread_mv: p.spread_mv as f32,
            coldest_c: nan_or(p.temperature_c.map(|t| t.0)),
            hottest_c: nan_or(p.temperature_c.map(|t| t.1)),
        }
    }

    fn point(&self) -> HistoryPoint {
        HistoryPoint {
            time_s: self.time_s,
            pack_voltage_v: f64::from(self.pack_voltage_v),
            current_a: f64::from(self.current_a),
            soc_pct: f64::from(self.soc_pct),
            soc_bound_pct: some(self.soc_bound_pct),
            true_soc_pct: some(self.true_soc_pct),
            soh_pct: some(self.soh_pct),
            true_soh_pct: some(self.true_soh_pct),
            spread_mv: f64::from(self.spread_mv),
            temperature_c: some(self.coldest_c).zip(some(self.hottest_c)),
        }
    }

    /// Field by field with `pick` (which ignores a `NaN` on either side).
    fn combine(&self, other: &Self, time_s: f64, pick: fn(f32, f32) -> f32) -> Self {
        Sample {
            time_s,
            pack_voltage_v: pick(self.pack_voltage_v, other.pack_voltage_v),
            current_a: pick(self.current_a, other.current_a),
            soc_pct: pick(self.soc_pct, other.soc_pct),
            soc_bound_pct: pick(self.soc_bound_pct, other.soc_bound_pct),
            true_soc_pct: pick(self.true_soc_pct, other.true_soc_pct),
            soh_pct: pick(self.soh_pct, other.soh_pct),
            true_soh_pct: pick(self.true_soh_pct, other.true_soh_pct),
            spread_mv: pick(self.spread_mv, other.spread_mv),
            coldest_c: pick(self.coldest_c, other.coldest_c),
            hottest_c: pick(self.hottest_c, other.hottest_c),
        }
    }

    /// Two neighbours as one: means for levels, the worst spread, bound and extremes.
    fn merged(a: &Self, b: &Self) -> Self {
        let mean = |x: f32, y: f32| match (x.is_nan(), y.is_nan()) {
            (false, false) => (x + y) / 2.0,
            (true, _) => y,
            (_, true) => x,
        };
        let mut m = a.combine(b, b.time_s, mean);
        m.spread_mv = a.spread_mv.max(b.spread_mv);
        m.soc_bound_pct = a.soc_bound_pct.max(b.soc_bound_pct);
        m.coldest_c = a.coldest_c.min(b.coldest_c);
        m.hottest_c = a.hottest_c.max(b.hottest_c);
        m
    }
}

/// The samples, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    samples: Vec<Sample>,
    /// How many reports each sample stands for at most.
    merged: u32,
}

impl History {
    /// Adds a report's point; a repeated or older device time is ignored (a paused device
    /// repeats its last report).
    pub fn push(&mut self, point: HistoryPoint) {
        if self
            .samples
            .last()
            .is_some_and(|p| p.time_s >= point.time_s)
        {
            return;
        }
        if self.samples.len() >= HISTORY_POINTS {
            self.samples = self
                .samples
                .chunks(2)
                .filter_map(|pair| match pair {
                    [a, b] => Some(Sample::merged(a, b)),
                    [a] => Some(*a),
                    _ => None,
                })
                .collect();
            self.merged = self.merged.max(1) * 2;
        }
        if self.samples.len() == self.samples.capacity() {
            // Grow by doubling, but never past the budget (a doubled 5-MB vector is 10 MB of
            // memory a browser tab does not give back).
            let wanted = (self.samples.capacity() * 2).clamp(1_024, HISTORY_POINTS);
            self.samples
                .reserve_exact(wanted.saturating_sub(self.samples.len()).max(1));
        }
        self.samples.push(Sample::of(&point));
    }

    /// Records the emulated pack's true SOC and SOH beside the points of the same device
    /// time: `truth` is oldest first, as the emulator noted it at each report. A time with no
    /// point (merged away, or never pushed) is skipped.
    pub fn set_truth(&mut self, truth: &[crate::link::Truth]) {
        let Some(first) = truth.first() else {
            return;
        };
        let mut i = self.samples.partition_point(|p| p.time_s < first.time_s);
        for t in truth {
            while self.samples.get(i).is_some_and(|p| p.time_s < t.time_s) {
                i += 1;
            }
            match self.samples.get_mut(i) {
                Some(p) if p.time_s == t.time_s => {
                    p.true_soc_pct = t.soc_pct;
                    p.true_soh_pct = t.soh_pct;
                }
                Some(_) => {}
                None => break,
            }
        }
    }

    /// Samples kept.
    pub fn len(&self) -> usize {
        self.samples.len()
    }

    /// Whether nothing has been kept yet.
    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    /// Device time of the first and last sample, s.
    pub fn span_s(&self) -> Option<(f64, f64)> {
        Some((self.samples.first()?.time_s, self.samples.last()?.time_s))
    }

    /// The latest point.
    pub fn latest(&self) -> Option<HistoryPoint> {
        self.samples.last().map(Sample::point)
    }

    /// How many reports the coarsest samples stand for (1 until the budget first filled).
    pub fn reports_per_point(&self) -> u32 {
        self.merged.max(1)
    }

    /// The samples between `from_s` and `to_s` (the whole span for `None`), at most
    /// `2 × buckets` points: as they are when they fit, otherwise each of `buckets` equal
    /// stretches of time drawn as its lowest and its highest value of every series (at the
    /// stretch's start and end), so that no peak or dip disappears. Oldest first.
    pub fn view(&self, window: Option<(f64, f64)>, buckets: usize) -> Vec<HistoryPoint> {
        let (from, to) = window.unwrap_or((f64::NEG_INFINITY, f64::INFINITY));
        let start = self.samples.partition_point(|s| s.time_s < from);
        let end = self.samples.partition_point(|s| s.time_s <= to);
        let inside = self.samples.get(start..end).unwrap_or_default();
        let (Some(first), Some(last)) = (inside.first(), inside.last()) else {
            return Vec::new();
        };
        let buckets = buckets.max(1);
        if inside.len() <= 2 * buckets {
            return inside.iter().map(Sample::point).collect();
        }
        let width = (last.time_s - first.time_s) / buckets as f64;
        let mut out = Vec::with_capacity(2 * buckets);
        let mut rest = inside;
        for k in 1..=buckets {
            let edge = first.time_s + width * k as f64;
            let n = if k == buckets {
                rest.len()
            } else {
                rest.partition_point(|s| s.time_s < edge)
            };
            let (bucket, after) = rest.split_at(n);
            rest = after;
            let (Some(a), Some(b)) = (bucket.first(), bucket.last()) else {
                continue;
            };
            let low = bucket
                .iter()
                .fold(*a, |m, s| m.combine(s, a.time_s, f32::min));
            let high = bucket
                .iter()
                .fold(*a, |m, s| m.combine(s, b.time_s, f32::max));
            out.push(low.point());
            if b.time_s > a.time_s {
                out.push(high.point());
            }
        }
        out
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
            soh_pct: None,
            true_soh_pct: None,
            spread_mv: spread,
            temperature_c: Some((20.0, 21.0)),
        }
    }

    #[test]
    fn a_week_at_one_second_is_kept_whole_and_viewed_within_budget() {
        let mut h = History::default();
        let week = 7 * 86_400;
        for k in 0..week {
            // One spike of a single second, in the middle of the week.
            let spread = if k == 300_001 { 80.0 } else { 5.0 };
            h.push(point(
                f64::from(k),
                50.0 + f64::from(k % 100) / 100.0,
                spread,
            ));
        }
        assert_eq!(h.len(), week as usize);
        assert_eq!(h.reports_per_point(), 1, "a week fits at one second");
        assert_eq!(h.span_s(), Some((0.0, f64::from(week - 1))));

        // The whole week in 1 500 buckets: at most 3 000 points, the spike still there.
        let all = h.view(None, 1_500);
        assert!(all.len() <= 3_000, "{}", all.len());
        assert!(
            all.iter().any(|p| p.spread_mv == 80.0),
            "the one-second spike survives"
        );
        assert!(all.windows(2).all(|w| w[0].time_s <= w[1].time_s));

        // Zoomed to 10 minutes around the spike: every second, as recorded.
        let zoom = h.view(Some((299_700.0, 300_300.0)), 1_500);
        assert_eq!(zoom.len(), 601);
        assert_eq!(zoom.iter().filter(|p| p.spread_mv == 80.0).count(), 1);
        assert_eq!(zoom[301].time_s, 300_001.0);
        assert!(
            (zoom[1].soc_pct - 50.01).abs() < 1e-4,
            "{}",
            zoom[1].soc_pct
        );
    }

    #[test]
    fn beyond_the_budget_pairs_merge_and_the_worst_spread_stays() {
        let mut h = History::default();
        for k in 0..HISTORY_POINTS + 10 {
            let spread = if k == 5_000 { 80.0 } else { 5.0 };
            h.push(point(k as f64 * 2.0, 50.0, spread));
        }
        assert!(h.len() <= HISTORY_POINTS);
        assert_eq!(h.reports_per_point(), 2);
        let (first, last) = h.span_s().unwrap();
        assert!(first <= 2.0 && last >= (HISTORY_POINTS as f64 + 9.0) * 2.0);
        assert!(h.view(None, 100_000).iter().any(|p| p.spread_mv == 80.0));
    }

    #[test]
    fn repeated_reports_of_a_paused_device_add_nothing() {
        let mut h = History::default();
        h.push(point(60.0, 50.0, 5.0));
        h.push(point(60.0, 50.0, 5.0));
        h.push(point(30.0, 50.0, 5.0));
        assert_eq!(h.len(), 1);
        let truth = |time_s: f64, soc_pct: f32| crate::link::Truth {
            time_s,
            soc_pct,
            soh_pct: 97.5,
        };
        h.set_truth(&[truth(30.0, 48.0), truth(60.0, 49.5), truth(90.0, 51.0)]);
        assert_eq!(h.latest().unwrap().true_soc_pct, Some(49.5));
        assert_eq!(h.latest().unwrap().true_soh_pct, Some(97.5));
        assert_eq!(h.latest().unwrap().temperature_c, Some((20.0, 21.0)));
    }

    #[test]
    fn a_telemetry_frame_makes_the_same_point_as_its_reading() {
        let mut dev = emulator::EmulatedDevice::new(emulator::SimulationConfig::new(
            emulator::Scenario::SolarDay,
            3,
            16,
        ))
        .unwrap();
        dev.advance(600);
        let t = dev.simulation().telemetry();
        let mut session = crate::session::Session::default();
        session.ingest(&dev.advance(0), 0.0);
        let r = session.latest.as_ref().unwrap();
        let from_frame = HistoryPoint::of_telemetry(&t);
        let (lo, hi) = (r.min_cell().unwrap().1, r.max_cell().unwrap().1);
        let sensors: Vec<f64> = r.temperatures_c.iter().flatten().copied().collect();
        let reading_temperatures = Some((
            sensors.iter().copied().fold(f64::INFINITY, f64::min),
            sensors.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        ));
        assert_eq!(from_frame.time_s, r.uptime_secs);
        assert!((from_frame.spread_mv - (hi - lo) * 1000.0).abs() < 1e-6);
        assert_eq!(from_frame.temperature_c, reading_temperatures);
        assert_eq!(from_frame.soc_bound_pct, r.soc_bound_pct);
    }
}
