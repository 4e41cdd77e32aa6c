//! The measurement snapshot: what the analog front end read at one instant.

use crate::{Error, MAX_CELLS};
use heapless::Vec;

/// One snapshot of the module. Current is positive when charging (flowing into the pack).
/// The default snapshot has no cells, which the engine treats as implausible.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Measurement {
    /// Cell voltages in mV, cell 1 first.
    pub cell_voltages_mv: Vec<u16, MAX_CELLS>,
    /// Pack current in mA; positive charges the pack, negative discharges it.
    pub current_ma: i32,
}

impl Measurement {
    /// Builds a snapshot; fails if more than [`MAX_CELLS`] voltages are given.
    pub fn new(cell_voltages_mv: &[u16], current_ma: i32) -> Result<Self, Error> {
        let cell_voltages_mv =
            Vec::from_slice(cell_voltages_mv).map_err(|_| Error::TooManyCells {
                given: cell_voltages_mv.len(),
            })?;
        Ok(Measurement {
            cell_voltages_mv,
            current_ma,
        })
    }

    /// Sum of the cell voltages in mV.
    pub fn pack_voltage_mv(&self) -> u32 {
        self.cell_voltages_mv.iter().map(|&mv| u32::from(mv)).sum()
    }

    /// Highest cell voltage and its 0-based index, or `None` for an empty snapshot.
    pub fn max_cell(&self) -> Option<(usize, u16)> {
        self.cell_voltages_mv
            .iter()
            .copied()
            .enumerate()
            .max_by_key(|&(_, mv)| mv)
    }

    /// Lowest cell voltage and its 0-based index, or `None` for an empty snapshot.
    pub fn min_cell(&self) -> Option<(usize, u16)> {
        self.cell_voltages_mv
            .iter()
            .copied()
            .enumerate()
            .min_by_key(|&(_, mv)| mv)
    }
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
    }

    #[test]
    fn extremes_report_the_right_cell() {
        let m = Measurement::new(&[3300, 3410, 3290, 3350], 0).unwrap();
        assert_eq!(m.max_cell(), Some((1, 3410)));
        assert_eq!(m.min_cell(), Some((2, 3290)));
        assert_eq!(m.pack_voltage_mv(), 13_350);
    }
}
