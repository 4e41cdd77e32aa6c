//! Pack configuration: what the engine protects and how. Every threshold lives here, never as a
//! literal in the protection logic; [`PackConfig::validate`] names the field and the rule broken.

use crate::{Error, MAX_CELLS};

/// Configuration of one module (one engine instance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackConfig {
    /// Number of series cells monitored, 1 ..= [`MAX_CELLS`].
    pub cell_count: u8,
    /// Nominal capacity of the series string in mAh (one cell's capacity times parallel count).
    pub capacity_mah: u32,
    /// Absolute maximum cell voltage (the cell's datasheet limit); protection must act below it.
    pub cell_voltage_max_mv: u16,
    /// Cell over-voltage: trip when the highest cell stays above this for `cell_ov_delay_ms`.
    pub cell_ov_trip_mv: u16,
    /// Cell over-voltage: released once the highest cell is at or below this.
    pub cell_ov_release_mv: u16,
    /// Cell over-voltage trip delay in milliseconds.
    pub cell_ov_delay_ms: u32,
    /// Absolute minimum cell voltage (the cell's datasheet limit).
    pub cell_voltage_min_mv: u16,
    /// Cell under-voltage: trip when the lowest cell stays below this for `cell_uv_delay_ms`.
    pub cell_uv_trip_mv: u16,
    /// Cell under-voltage: released once the lowest cell is at or above this.
    pub cell_uv_release_mv: u16,
    /// Cell under-voltage trip delay in milliseconds.
    pub cell_uv_delay_ms: u32,
    /// Time a fault's value must stay inside its release band before the fault clears, ms.
    pub release_delay_ms: u32,
}

/// Longest trip or release delay accepted: a protection slower than this does not protect.
const MAX_DELAY_MS: u32 = 60_000;

impl PackConfig {
    /// Typical settings for LiFePO4 280 Ah prismatic cells (see DOMAIN.md §2): over-voltage trip
    /// 3.65 V / release 3.40 V after 2 s, under-voltage trip 2.50 V / release 3.10 V after 2 s,
    /// absolute limits 2.00 V and 3.80 V.
    pub const fn lfp_280ah(cell_count: u8) -> Self {
        PackConfig {
            cell_count,
            capacity_mah: 280_000,
            cell_voltage_max_mv: 3_800,
            cell_ov_trip_mv: 3_650,
            cell_ov_release_mv: 3_400,
            cell_ov_delay_ms: 2_000,
            cell_voltage_min_mv: 2_000,
            cell_uv_trip_mv: 2_500,
            cell_uv_release_mv: 3_100,
            cell_uv_delay_ms: 2_000,
            release_delay_ms: 1_000,
        }
    }

    /// Checks every rule; the error names the first field that breaks one.
    pub fn validate(&self) -> Result<(), Error> {
        fn rule(ok: bool, field: &'static str, rule: &'static str) -> Result<(), Error> {
            if ok {
                Ok(())
            } else {
                Err(Error::InvalidConfig { field, rule })
            }
        }
        rule(
            self.cell_count >= 1 && usize::from(self.cell_count) <= MAX_CELLS,
            "cell_count",
            "must be between 1 and 32",
        )?;
        rule(
            self.capacity_mah > 0,
            "capacity_mah",
            "must be greater than 0",
        )?;
        rule(
            self.cell_ov_trip_mv < self.cell_voltage_max_mv,
            "cell_ov_trip_mv",
            "must be below cell_voltage_max_mv",
        )?;
        rule(
            self.cell_ov_release_mv < self.cell_ov_trip_mv,
            "cell_ov_release_mv",
            "must be below cell_ov_trip_mv",
        )?;
        rule(
            self.cell_voltage_min_mv < self.cell_uv_trip_mv,
            "cell_uv_trip_mv",
            "must be above cell_voltage_min_mv",
        )?;
        rule(
            self.cell_uv_release_mv > self.cell_uv_trip_mv,
            "cell_uv_release_mv",
            "must be above cell_uv_trip_mv",
        )?;
        rule(
            self.cell_uv_release_mv < self.cell_ov_release_mv,
            "cell_uv_release_mv",
            "must be below cell_ov_release_mv",
        )?;
        rule(
            self.cell_ov_delay_ms <= MAX_DELAY_MS,
            "cell_ov_delay_ms",
            "must be at most 60000 ms",
        )?;
        rule(
            self.cell_uv_delay_ms <= MAX_DELAY_MS,
            "cell_uv_delay_ms",
            "must be at most 60000 ms",
        )?;
        rule(
            self.release_delay_ms <= MAX_DELAY_MS,
            "release_delay_ms",
            "must be at most 60000 ms",
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_for_every_supported_cell_count() {
        for cells in 1..=32 {
            assert_eq!(PackConfig::lfp_280ah(cells).validate(), Ok(()));
        }
    }

    #[test]
    fn too_many_cells_names_the_field() {
        let err = PackConfig::lfp_280ah(33).validate().unwrap_err();
        assert_eq!(
            err,
            Error::InvalidConfig {
                field: "cell_count",
                rule: "must be between 1 and 32"
            }
        );
    }

    #[test]
    fn release_above_trip_is_rejected() {
        let mut config = PackConfig::lfp_280ah(16);
        config.cell_ov_release_mv = 3_700;
        assert!(matches!(
            config.validate(),
            Err(Error::InvalidConfig {
                field: "cell_ov_release_mv",
                ..
            })
        ));
    }

    #[test]
    fn trip_at_or_above_the_absolute_limit_is_rejected() {
        let mut config = PackConfig::lfp_280ah(16);
        config.cell_ov_trip_mv = config.cell_voltage_max_mv;
        assert!(matches!(
            config.validate(),
            Err(Error::InvalidConfig {
                field: "cell_ov_trip_mv",
                ..
            })
        ));
    }

    #[test]
    fn zero_capacity_is_rejected() {
        let mut config = PackConfig::lfp_280ah(4);
        config.capacity_mah = 0;
        assert!(matches!(
            config.validate(),
            Err(Error::InvalidConfig {
                field: "capacity_mah",
                ..
            })
        ));
    }
}
