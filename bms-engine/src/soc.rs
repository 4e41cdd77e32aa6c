//! Coulomb-counting state of charge: integrates current over time in exact integer units
//! (mA·ms), clamped to the configured capacity. The baseline estimator; the model-based one
//! arrives with the estimation work and will sit beside it.

/// mA·ms in one mAh.
const MA_MS_PER_MAH: i64 = 3_600_000;

/// Integrates charge in and out of the pack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoulombCounter {
    capacity_ma_ms: i64,
    charge_ma_ms: i64,
}

impl CoulombCounter {
    /// A counter for `capacity_mah`, starting at `soc_permille` (clamped to 0..=1000).
    pub fn new(capacity_mah: u32, soc_permille: u16) -> Self {
        let capacity_ma_ms = i64::from(capacity_mah) * MA_MS_PER_MAH;
        let soc = i64::from(soc_permille.min(1000));
        CoulombCounter {
            capacity_ma_ms,
            charge_ma_ms: capacity_ma_ms * soc / 1000,
        }
    }

    /// Adds `current_ma` (positive = charging) flowing for `dt_millis`.
    pub fn integrate(&mut self, current_ma: i32, dt_millis: u32) {
        let delta = i64::from(current_ma) * i64::from(dt_millis);
        self.charge_ma_ms = self
            .charge_ma_ms
            .saturating_add(delta)
            .clamp(0, self.capacity_ma_ms);
    }

    /// State of charge in per mille (0..=1000), rounded to nearest.
    pub fn soc_permille(&self) -> u16 {
        if self.capacity_ma_ms == 0 {
            return 0;
        }
        let permille = (self.charge_ma_ms * 1000 + self.capacity_ma_ms / 2) / self.capacity_ma_ms;
        u16::try_from(permille.clamp(0, 1000)).unwrap_or(1000)
    }

    /// Remaining charge in mAh.
    pub fn remaining_mah(&self) -> u32 {
        u32::try_from(self.charge_ma_ms / MA_MS_PER_MAH).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_hour_at_a_tenth_of_capacity_moves_ten_percent() {
        let mut cc = CoulombCounter::new(280_000, 500);
        for _ in 0..3600 {
            cc.integrate(28_000, 1_000);
        }
        assert_eq!(cc.soc_permille(), 600);
        assert_eq!(cc.remaining_mah(), 168_000);
    }

    #[test]
    fn clamps_at_empty_and_full() {
        let mut cc = CoulombCounter::new(1_000, 10);
        cc.integrate(-1_000_000, 60_000);
        assert_eq!(cc.soc_permille(), 0);
        cc.integrate(i32::MAX, u32::MAX);
        assert_eq!(cc.soc_permille(), 1000);
    }
}
