//! The open-circuit voltage curve a cell type rests at, as a table, with its slope: the slope
//! says how much a voltage can tell about the state of charge at that point.

use heapless::Vec;

/// Most points in an OCV table.
pub const MAX_OCV_POINTS: usize = 40;

/// Slope the curve is continued with beyond its ends, at least, V per unit of SOC. Past 0 % and
/// 100 % every real cell's voltage runs away steeply; a flat continuation would make a filter
/// blind exactly where the voltage is most telling.
const MIN_END_SLOPE_V: f32 = 1.0;

/// Why an OCV table was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OcvError {
    /// Fewer than two points.
    TooFewPoints,
    /// More than [`MAX_OCV_POINTS`] points.
    TooManyPoints,
    /// Point `index` (0-based) does not rise in SOC, falls in voltage, or is not finite.
    NotAscending {
        /// The offending point.
        index: usize,
    },
}

/// Every point finite and rising in SOC from the one before, and each pair of neighbours
/// `(a, b)` passing `values_ok(a, b)`; else the first point that is not.
fn check_ascending(
    points: &[(f32, f32)],
    values_ok: impl Fn((f32, f32), (f32, f32)) -> bool,
) -> Result<(), OcvError> {
    for (index, p) in points.iter().enumerate() {
        if !(p.0.is_finite() && p.1.is_finite()) {
            return Err(OcvError::NotAscending { index });
        }
    }
    for (k, w) in points.windows(2).enumerate() {
        if let [a, b] = w
            && !(b.0 > a.0 && values_ok(*a, *b))
        {
            return Err(OcvError::NotAscending { index: k + 1 });
        }
    }
    Ok(())
}

/// Lowest SOC of the look-up buckets, and buckets per unit of SOC (1 % each).
const BUCKET_LOW: f32 = -0.2;
const BUCKETS_PER_UNIT: f32 = 100.0;
const BUCKETS: usize = 141;

/// A rested OCV curve: (SOC fraction, volts) ascending in SOC, voltage never falling.
#[derive(Debug, Clone, PartialEq)]
pub struct OcvTable {
    points: Vec<(f32, f32), MAX_OCV_POINTS>,
    /// Slope below the first point, of each segment, and above the last, V per unit SOC.
    slopes: Vec<f32, { MAX_OCV_POINTS + 1 }>,
    /// For each 1 % bucket of SOC, how many points lie below its lower edge: where the search
    /// for a segment starts, so a look-up is a step or two instead of a binary search.
    buckets: [u8; BUCKETS],
}

impl OcvTable {
    /// A table from `(soc_fraction, volts)` points.
    pub fn new(points: &[(f32, f32)]) -> Result<Self, OcvError> {
        if points.len() < 2 {
            return Err(OcvError::TooFewPoints);
        }
        let points: Vec<(f32, f32), MAX_OCV_POINTS> =
            Vec::from_slice(points).map_err(|_| OcvError::TooManyPoints)?;
        check_ascending(&points, |a, b| b.1 >= a.1)?;
        Ok(Self::indexed(points))
    }

    fn indexed(points: Vec<(f32, f32), MAX_OCV_POINTS>) -> Self {
        let segment = |a: (f32, f32), b: (f32, f32)| (b.1 - a.1) / (b.0 - a.0);
        let mut slopes = Vec::new();
        let len = points.len();
        for i in 0..=len {
            let slope = match (i.checked_sub(1).and_then(|j| points.get(j)), points.get(i)) {
                (Some(&a), Some(&b)) => segment(a, b),
                (None, Some(&first)) => points
                    .get(1)
                    .map_or(MIN_END_SLOPE_V, |&next| segment(first, next))
                    .max(MIN_END_SLOPE_V),
                (Some(&last), None) => points
                    .get(len.saturating_sub(2))
                    .map_or(MIN_END_SLOPE_V, |&before| segment(before, last))
                    .max(MIN_END_SLOPE_V),
                (None, None) => MIN_END_SLOPE_V,
            };
            // Capacity is MAX_OCV_POINTS + 1 and `i` runs to `len` ≤ MAX_OCV_POINTS.
            let _ = slopes.push(slope);
        }
        let mut buckets = [0_u8; BUCKETS];
        for (k, b) in buckets.iter_mut().enumerate() {
            let edge = BUCKET_LOW + k as f32 / BUCKETS_PER_UNIT;
            let below = points.iter().filter(|p| p.0 < edge).count();
            *b = u8::try_from(below).unwrap_or(u8::MAX);
        }
        OcvTable {
            points,
            slopes,
            buckets,
        }
    }

    /// The LiFePO4 curve of DOMAIN.md §1 (Libre Solar's table, mean of charge and discharge).
    pub fn lfp() -> Self {
        const LFP: [(f32, f32); 21] = [
            (0.00, 2.833),
            (0.05, 3.132),
            (0.10, 3.177),
            (0.15, 3.190),
            (0.20, 3.213),
            (0.25, 3.226),
            (0.30, 3.240),
            (0.35, 3.252),
            (0.40, 3.262),
            (0.45, 3.264),
            (0.50, 3.265),
            (0.55, 3.268),
            (0.60, 3.271),
            (0.65, 3.275),
            (0.70, 3.283),
            (0.75, 3.296),
            (0.80, 3.304),
            (0.85, 3.308),
            (0.90, 3.309),
            (0.95, 3.314),
            (1.00, 3.392),
        ];
        let mut points = Vec::new();
        for p in LFP {
            // 21 points fit the 40-point capacity.
            let _ = points.push(p);
        }
        Self::indexed(points)
    }

    /// The points.
    pub fn points(&self) -> &[(f32, f32)] {
        &self.points
    }

    /// Lowest and highest voltage of the table, V.
    pub fn range_v(&self) -> (f32, f32) {
        match (self.points.first(), self.points.last()) {
            (Some(f), Some(l)) => (f.1, l.1),
            _ => (0.0, 0.0),
        }
    }

    /// OCV at `soc` (fraction) and the slope there, V per unit SOC. Beyond the table the curve
    /// continues with the end segment's slope, at least [`MIN_END_SLOPE_V`].
    pub fn voltage(&self, soc: f32) -> (f32, f32) {
        // Start from the bucket's count of points below it (0 for NaN or far below), then step.
        let bucket = (soc - BUCKET_LOW) * BUCKETS_PER_UNIT;
        let mut i = if bucket >= 0.0 {
            let k = (bucket as usize).min(BUCKETS - 1);
            usize::from(self.buckets.get(k).copied().unwrap_or(0))
        } else {
            0
        };
        while self.points.get(i).is_some_and(|p| p.0 < soc) {
            i += 1;
        }
        let slope = self.slopes.get(i).copied().unwrap_or(MIN_END_SLOPE_V);
        // Below the first point, extrapolate from it; otherwise from the segment's start.
        let anchor = i
            .checked_sub(1)
            .and_then(|j| self.points.get(j))
            .or_else(|| self.points.first());
        match anchor {
            Some(&(s0, v0)) => (v0 + (soc - s0) * slope, slope),
            None => (0.0, 0.0),
        }
    }

    /// SOC (fraction, clamped to the table) at which the rested cell shows `volts`; on a flat
    /// stretch, its lowest SOC.
    pub fn soc_at(&self, volts: f32) -> f32 {
        let mut prev: Option<(f32, f32)> = None;
        for &(soc, v) in &self.points {
            if volts <= v {
                return match prev {
                    Some((s0, v0)) if v > v0 => s0 + (volts - v0) / (v - v0) * (soc - s0),
                    _ => soc,
                };
            }
            prev = Some((soc, v));
        }
        prev.map_or(0.0, |p| p.0)
    }
}

/// Most points in an OCV temperature-coefficient table.
pub const MAX_COEFFICIENT_POINTS: usize = 12;

/// How a rested OCV moves with temperature (the entropic coefficient dU/dT) by SOC:
/// `(soc_fraction, volts_per_kelvin)` points ascending in SOC, linear between them and held
/// beyond the ends. OCV(SOC, T) = OCV(SOC, 25 °C) + dU/dT(SOC) · (T − 25 °C). Without points
/// (the default, a cell known only from its datasheet) the OCV is the same at every temperature.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OcvTemperatureCoefficient {
    points: Vec<(f32, f32), MAX_COEFFICIENT_POINTS>,
}

impl OcvTemperatureCoefficient {
    /// A coefficient from `(soc_fraction, volts_per_kelvin)` points.
    pub fn new(points: &[(f32, f32)]) -> Result<Self, OcvError> {
        let points: Vec<(f32, f32), MAX_COEFFICIENT_POINTS> =
            Vec::from_slice(points).map_err(|_| OcvError::TooManyPoints)?;
        check_ascending(&points, |_, _| true)?;
        Ok(OcvTemperatureCoefficient { points })
    }

    /// LiFePO4/graphite's, as the emulator's cell has it (`emulator/params/README.md`): a
    /// fraction of a mV/K, most negative near empty.
    pub fn lfp() -> Self {
        const LFP: [(f32, f32); 7] = [
            (0.0, -0.000_40),
            (0.1, -0.000_25),
            (0.2, -0.000_15),
            (0.4, -0.000_06),
            (0.6, -0.000_02),
            (0.8, 0.0),
            (1.0, 0.000_02),
        ];
        let mut points = Vec::new();
        for p in LFP {
            // 7 points fit the 12-point capacity.
            let _ = points.push(p);
        }
        OcvTemperatureCoefficient { points }
    }

    /// The points.
    pub fn points(&self) -> &[(f32, f32)] {
        &self.points
    }

    /// How far the OCV at `soc` lies from the 25 °C curve at `temperature_c`, V, and how that
    /// shift changes with the SOC, V per unit SOC (added to the curve's slope).
    pub fn shift_v(&self, soc: f32, temperature_c: f32) -> (f32, f32) {
        let i = self.points.partition_point(|p| p.0 < soc);
        let delta_k = temperature_c - 25.0;
        match (
            i.checked_sub(1).and_then(|j| self.points.get(j)),
            self.points.get(i),
        ) {
            (Some(&(s0, c0)), Some(&(s1, c1))) => {
                let per_soc = (c1 - c0) / (s1 - s0);
                ((c0 + (soc - s0) * per_soc) * delta_k, per_soc * delta_k)
            }
            (Some(&(_, c)), None) | (None, Some(&(_, c))) => (c * delta_k, 0.0),
            (None, None) => (0.0, 0.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn voltage_and_slope_follow_the_table_and_continue_steeply() {
        let t = OcvTable::lfp();
        let (v, slope) = t.voltage(0.52);
        assert!(
            (v - 3.2662).abs() < 1e-4 && (slope - 0.06).abs() < 1e-3,
            "{v} {slope}"
        );
        let (v, slope) = t.voltage(0.975);
        assert!((v - 3.353).abs() < 1e-3 && slope > 1.5, "{v} {slope}");
        let (v, slope) = t.voltage(1.02);
        assert!(v > 3.42 && slope >= 1.0, "{v} {slope}");
        let (v, _) = t.voltage(-0.02);
        assert!(v < 2.833, "{v}");
    }

    #[test]
    fn soc_at_inverts_voltage_where_the_curve_rises() {
        let t = OcvTable::lfp();
        for soc in [0.02_f32, 0.12, 0.33, 0.72, 0.97] {
            let (v, _) = t.voltage(soc);
            assert!((t.soc_at(v) - soc).abs() < 1e-3, "{soc}");
        }
        assert_eq!(t.soc_at(2.0), 0.0);
        assert_eq!(t.soc_at(4.0), 1.0);
    }

    #[test]
    fn the_temperature_shift_follows_the_coefficient_and_holds_beyond_its_ends() {
        let c = OcvTemperatureCoefficient::lfp();
        // −0.15 mV/K at 20 %, 35 K colder: 5.25 mV higher.
        let (shift, _) = c.shift_v(0.2, -10.0);
        assert!((shift - 0.005_25).abs() < 1e-6, "{shift}");
        // Half-way from −0.06 to −0.02 mV/K, 20 K warmer; the slope the SOC adds:
        // 0.2 mV/K per 0.2 of SOC, times 20 K.
        let (shift, per_soc) = c.shift_v(0.5, 45.0);
        assert!((shift + 0.000_8).abs() < 1e-6 && (per_soc - 0.004).abs() < 1e-6);
        assert_eq!(c.shift_v(1.1, 35.0).1, 0.0);
        assert!((c.shift_v(1.1, 35.0).0 - 0.000_2).abs() < 1e-7);
        assert_eq!(c.shift_v(0.3, 25.0).0, 0.0);
        assert_eq!(
            OcvTemperatureCoefficient::default().shift_v(0.2, -10.0),
            (0.0, 0.0)
        );
        assert_eq!(
            OcvTemperatureCoefficient::new(&[(0.0, 0.0), (0.5, 1e-4), (0.5, 0.0)]),
            Err(OcvError::NotAscending { index: 2 })
        );
    }

    #[test]
    fn bad_tables_say_which_point() {
        assert_eq!(OcvTable::new(&[(0.0, 3.0)]), Err(OcvError::TooFewPoints));
        assert_eq!(
            OcvTable::new(&[(0.0, 3.0), (0.5, 3.2), (0.4, 3.3)]),
            Err(OcvError::NotAscending { index: 2 })
        );
        assert_eq!(
            OcvTable::new(&[(0.0, 3.0), (0.5, 2.9)]),
            Err(OcvError::NotAscending { index: 1 })
        );
        assert_eq!(
            OcvTable::new(&[(0.0, f32::NAN), (0.5, 2.9)]),
            Err(OcvError::NotAscending { index: 0 })
        );
    }
}
