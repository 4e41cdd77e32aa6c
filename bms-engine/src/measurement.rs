//! The measurement snapshot: what the analog front end (AFE) read at one instant.
//!
//! Everything is an integer in a named unit. A reading the sensor could not deliver, or a float
//! that was not a number, is `None` ([`deci_c_from_celsius`] does that conversion), so the engine
//! never sees a non-finite value and treats the gap as a sensor fault, never as "within limits".

use crate::{Error, MAX_CELLS, MAX_TEMPERATURES, PackConfig};
use heapless::Vec;

/// One snapshot of the module. Current is positive when charging (flowing into the pack).
/// The default snapshot is empty and stale, which the engine treats as implausible.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measurement {
    /// Cell voltages in mV, cell 1 first.
    pub cell_voltages_mv: Vec<u16, MAX_CELLS>,
    /// Pack current in mA; positive charges the pack, negative discharges it.
    pub current_ma: i32,
    /// Pack voltage measured independently of the cells, mV, if the hardware has it.
    pub pack_voltage_mv: Option<u32>,
    /// Voltage on the load side of the contactor, mV (pre-charge check), if measured.
    pub bus_voltage_mv: Option<u32>,
    /// Temperatures in 0.1 °C, sensor 1 first; `None` where the sensor gave no valid reading.
    pub temperatures_deci_c: Vec<Option<i16>, MAX_TEMPERATURES>,
    /// The front end has latched a short-circuit trip.
    pub short_circuit: bool,
    /// The front end delivered this snapshot now; `false` repeats an old one (link lost).
    pub fresh: bool,
    /// Whether a charge source is connected and offering charge (a charger-detect input, or
    /// an inverter with surplus to store), if the hardware can tell.
    pub charger_present: Option<bool>,
}

impl Measurement {
    /// A fresh snapshot with cells and current only; fails if more than [`MAX_CELLS`] voltages
    /// are given.
    pub fn new(cell_voltages_mv: &[u16], current_ma: i32) -> Result<Self, Error> {
        let cell_voltages_mv =
            Vec::from_slice(cell_voltages_mv).map_err(|_| Error::TooManyCells {
                given: cell_voltages_mv.len(),
            })?;
        Ok(Measurement {
            cell_voltages_mv,
            current_ma,
            fresh: true,
            ..Measurement::default()
        })
    }

    /// Adds temperatures (0.1 °C); fails if more than [`MAX_TEMPERATURES`] are given.
    pub fn with_temperatures(mut self, temperatures_deci_c: &[Option<i16>]) -> Result<Self, Error> {
        self.temperatures_deci_c =
            Vec::from_slice(temperatures_deci_c).map_err(|_| Error::TooManyTemperatures {
                given: temperatures_deci_c.len(),
            })?;
        Ok(self)
    }

    /// Sum of the cell voltages in mV.
    pub fn cell_sum_mv(&self) -> u32 {
        self.cell_voltages_mv.iter().map(|&mv| u32::from(mv)).sum()
    }

    /// Pack voltage: the measured one when present, else the sum of cells, mV.
    pub fn pack_voltage_mv(&self) -> u32 {
        self.pack_voltage_mv.unwrap_or_else(|| self.cell_sum_mv())
    }

    /// Cells whose reading is inside the sensor's range, with their 0-based index.
    pub fn plausible_cells<'a>(
        &'a self,
        config: &'a PackConfig,
    ) -> impl Iterator<Item = (usize, u16)> + Clone + 'a {
        self.cell_voltages_mv
            .iter()
            .copied()
            .enumerate()
            .filter(|&(_, mv)| (config.open_wire_mv..=config.cell_reading_max_mv).contains(&mv))
    }

    /// Temperatures that are present and inside the sensor's range, with their 0-based index.
    pub fn plausible_temperatures<'a>(
        &'a self,
        config: &'a PackConfig,
    ) -> impl Iterator<Item = (usize, i16)> + Clone + 'a {
        let limit = config.temperature_reading_limit_deci_c;
        self.temperatures_deci_c
            .iter()
            .enumerate()
            .filter_map(move |(i, t)| t.filter(|t| t.saturating_abs() <= limit).map(|t| (i, t)))
    }

    /// Highest cell voltage and its 0-based index (first of equals).
    pub fn max_cell(&self) -> Option<(usize, u16)> {
        let mut best: Option<(usize, u16)> = None;
        for (i, mv) in self.cell_voltages_mv.iter().copied().enumerate() {
            if best.is_none_or(|(_, b)| mv > b) {
                best = Some((i, mv));
            }
        }
        best
    }

    /// Lowest cell voltage and its 0-based index (first of equals).
    pub fn min_cell(&self) -> Option<(usize, u16)> {
        let mut best: Option<(usize, u16)> = None;
        for (i, mv) in self.cell_voltages_mv.iter().copied().enumerate() {
            if best.is_none_or(|(_, b)| mv < b) {
                best = Some((i, mv));
            }
        }
        best
    }
}

/// The extremes of a snapshot's plausible readings (what limits and thermal management need).
/// The engine gets them from its one pass over the snapshot ([`crate::protection::Signals`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Extremes {
    /// Highest plausible cell voltage, mV.
    pub highest_cell_mv: Option<i32>,
    /// Lowest plausible cell voltage, mV.
    pub lowest_cell_mv: Option<i32>,
    /// Hottest plausible temperature, 0.1 °C.
    pub hottest_deci_c: Option<i32>,
    /// Coldest plausible temperature, 0.1 °C.
    pub coldest_deci_c: Option<i32>,
}

impl Extremes {
    /// The extremes of `m` under `config`'s sensor ranges.
    pub fn of(m: &Measurement, config: &PackConfig) -> Self {
        let cells = || m.plausible_cells(config).map(|(_, mv)| i32::from(mv));
        let temps = || m.plausible_temperatures(config).map(|(_, t)| i32::from(t));
        Extremes {
            highest_cell_mv: cells().max(),
            lowest_cell_mv: cells().min(),
            hottest_deci_c: temps().max(),
            coldest_deci_c: temps().min(),
        }
    }
}

/// Converts a temperature in °C from a float sensor conversion to 0.1 °C; `None` for a
/// non-finite value or one outside the i16 range.
pub fn deci_c_from_celsius(celsius: f32) -> Option<i16> {
    if !celsius.is_finite() {
        return None;
    }
    let deci = celsius * 10.0;
    if deci > f32::from(i16::MAX) || deci < f32::from(i16::MIN) {
        return None;
    }
    // Round half away from zero without std.
    let rounded = if deci >= 0.0 { deci + 0.5 } else { deci - 0.5 };
    Some(rounded as i16)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn more_than_max_cells_is_an_error() {
        let cells = [3300_u16; MAX_CELLS + 1];
        assert_eq!(
            Measurement::new(&cells, 0),
            Err(Error::TooManyCells { given: 33 })
        );
        let m = Measurement::new(&[3300], 0).unwrap();
        assert_eq!(
            m.with_temperatures(&[Some(250); 9]),
            Err(Error::TooManyTemperatures { given: 9 })
        );
    }

    #[test]
    fn extremes_report_the_first_matching_cell() {
        let m = Measurement::new(&[3300, 3410, 3290, 3410, 3290], 0).unwrap();
        assert_eq!(m.max_cell(), Some((1, 3410)));
        assert_eq!(m.min_cell(), Some((2, 3290)));
        assert_eq!(m.cell_sum_mv(), 16_700);
        assert_eq!(m.pack_voltage_mv(), 16_700);
    }

    #[test]
    fn implausible_readings_are_left_out() {
        let config = PackConfig::lfp_280ah(4);
        let m = Measurement::new(&[3300, 0, 6000, 3200], 0)
            .unwrap()
            .with_temperatures(&[Some(250), None, Some(2000), Some(-100)])
            .unwrap();
        let cells: Vec<(usize, u16), 4> = m.plausible_cells(&config).collect();
        assert_eq!(cells.as_slice(), &[(0, 3300), (3, 3200)]);
        let temps: Vec<(usize, i16), 4> = m.plausible_temperatures(&config).collect();
        assert_eq!(temps.as_slice(), &[(0, 250), (3, -100)]);
    }

    #[test]
    fn non_finite_temperatures_become_missing() {
        assert_eq!(deci_c_from_celsius(f32::NAN), None);
        assert_eq!(deci_c_from_celsius(f32::INFINITY), None);
        assert_eq!(deci_c_from_celsius(1.0e9), None);
        assert_eq!(deci_c_from_celsius(25.04), Some(250));
        assert_eq!(deci_c_from_celsius(-3.26), Some(-33));
    }
}
