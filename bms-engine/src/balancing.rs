//! Cell balancing: which cells to bleed (passive) or where to move charge (active), and how much
//! charge balancing has moved per cell.
//!
//! Balancing runs only when the engine allows it: no trip-level fault, a plausible snapshot, the
//! pack charging or at rest, and the hottest sensor below `balance_max_temperature_deci_c` (the
//! board's thermal budget). *At rest* is |current| below `rest_current_ma`: at once when the
//! last current outside that band was a charge (the tail of a charge, and the pauses of a pack
//! floating at the top, where an inverter tops it up in short bursts, are where LiFePO4 cells
//! show their differences), but only after `rest_time_ms` following a discharge or a start
//! (under load a cell's voltage says as much about its resistance as about its charge, and it
//! takes that long to recover). A cell
//! qualifies when it is at or above `balance_min_cell_mv` and more than `balance_start_delta_mv`
//! above the lowest cell; once bleeding it continues until it is within `balance_stop_delta_mv`.
//! Cells are chosen from the highest down, at most `max_channels` at once and, if configured,
//! never two neighbours. Selection is by voltage; SOC-based selection joins when per-cell SOC
//! estimates exist.

use crate::{BalancerKind, MAX_CELLS, Measurement, PackConfig};
use heapless::Vec;
use serde::{Deserialize, Serialize};

/// One charge transfer of an active balancer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// 0-based cell that gives charge.
    pub from_cell: u8,
    /// 0-based cell that receives it.
    pub to_cell: u8,
    /// Transfer current, mA.
    pub current_ma: u16,
}

/// The balancing decision of one step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balancing {
    /// Bit `i` set: cell `i` (0-based) is being discharged by the balancer.
    pub mask: u32,
    /// The active balancer's transfer, if any.
    pub transfer: Option<Transfer>,
}

/// Balancer state kept between steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Balancer {
    rest_ms: u32,
    /// Whether the last current outside the rest band was a charge (see the module docs).
    after_charge: bool,
    last: Balancing,
    /// Charge removed from each cell by balancing, mA·ms.
    counters_ma_ms: [u64; MAX_CELLS],
    /// Charge an active balancer gave each cell, mA·ms (at the transfer current: what the
    /// converter loses on the way is not known here).
    given_ma_ms: [u64; MAX_CELLS],
}

/// Counter `index` of per-cell mA·ms counters, in mAh.
fn mah(counters: &[u64; MAX_CELLS], index: usize) -> u32 {
    counters
        .get(index)
        .map_or(0, |c| u32::try_from(c / 3_600_000).unwrap_or(u32::MAX))
}

impl Default for Balancer {
    fn default() -> Self {
        Balancer {
            rest_ms: 0,
            after_charge: false,
            last: Balancing::default(),
            counters_ma_ms: [0; MAX_CELLS],
            given_ma_ms: [0; MAX_CELLS],
        }
    }
}

impl Balancer {
    /// The current each cell's balancing drew from it under the last decision, A (negative:
    /// an active balancer's transfer into it, at the transfer current), cell 1 first, into
    /// `out`: what flowed through the cells beside the string's current since that decision.
    pub fn cell_currents_a(&self, config: &PackConfig, out: &mut [f32; MAX_CELLS]) {
        out.fill(0.0);
        let current_ma = match (config.balancer, self.last.transfer) {
            (
                BalancerKind::Passive {
                    bleed_current_ma, ..
                },
                _,
            ) => bleed_current_ma,
            (BalancerKind::Active { .. }, Some(t)) => t.current_ma,
            (BalancerKind::Active { .. }, None) => 0,
        };
        let current_a = f32::from(current_ma) / 1000.0;
        let mut mask = self.last.mask;
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            if let Some(slot) = out.get_mut(i) {
                *slot = current_a;
            }
        }
        if let Some(t) = self.last.transfer
            && let Some(slot) = out.get_mut(usize::from(t.to_cell))
        {
            *slot = -f32::from(t.current_ma) / 1000.0;
        }
    }

    /// Charge balancing has removed from cell `index` (0-based), mAh.
    pub fn balanced_mah(&self, index: usize) -> u32 {
        mah(&self.counters_ma_ms, index)
    }

    /// Charge an active balancer has given cell `index` (0-based), mAh.
    pub fn given_mah(&self, index: usize) -> u32 {
        mah(&self.given_ma_ms, index)
    }

    /// Decides this step's balancing. `permitted` is false while any trip-level fault is active
    /// or the snapshot is implausible.
    pub fn update(
        &mut self,
        config: &PackConfig,
        m: &Measurement,
        permitted: bool,
        dt_millis: u32,
    ) -> Balancing {
        let current = m.current_ma.unsigned_abs();
        self.rest_ms = if current < config.rest_current_ma {
            self.rest_ms.saturating_add(dt_millis)
        } else {
            0
        };
        let charging = m.current_ma > 0 && current >= config.rest_current_ma;
        if current >= config.rest_current_ma {
            self.after_charge = charging;
        }
        let resting = current < config.rest_current_ma
            && (self.after_charge || self.rest_ms >= config.rest_time_ms);
        let cool = m
            .plausible_temperatures(config)
            .all(|(_, t)| t < config.balance_max_temperature_deci_c);
        let decision = if permitted && m.fresh && cool && (charging || resting) {
            self.choose(config, m)
        } else {
            Balancing::default()
        };
        self.account(config, decision, dt_millis);
        self.last = decision;
        decision
    }

    fn choose(&self, config: &PackConfig, m: &Measurement) -> Balancing {
        let (lowest, highest) = m
            .plausible_cells(config)
            .fold((u16::MAX, 0_u16), |(lo, hi), (_, mv)| {
                (lo.min(mv), hi.max(mv))
            });
        // No cell can qualify (none plausible, or none far enough above the lowest even by the
        // smaller of the two deltas, or none high enough): most steps, decided in one pass.
        let smallest_delta = config
            .balance_stop_delta_mv
            .min(config.balance_start_delta_mv);
        if lowest > highest
            || highest < config.balance_min_cell_mv
            || highest - lowest <= smallest_delta
        {
            return Balancing::default();
        }
        let was_bleeding = |i: usize| self.last.mask & (1 << i) != 0;
        // Highest first; the lower index first among equals, so choices are stable. Sorted as
        // one number a cell, `(u16::MAX − mV) · 32 + index`, ascending (this runs every step
        // while the pack balances; a pair compared field by field cost twice as much).
        let mut candidates: Vec<u32, MAX_CELLS> = m
            .plausible_cells(config)
            .filter(|&(i, mv)| {
                let delta = if was_bleeding(i) {
                    config.balance_stop_delta_mv
                } else {
                    config.balance_start_delta_mv
                };
                mv >= config.balance_min_cell_mv && mv.saturating_sub(lowest) > delta
            })
            .map(|(i, mv)| (u32::from(u16::MAX - mv) << 5) | (i as u32 & 31))
            .collect();
        candidates.sort_unstable();
        const _: () = assert!(MAX_CELLS <= 32, "a cell's index in 5 bits");
        let cell = |key: u32| (key & 31) as usize;
        match config.balancer {
            BalancerKind::Passive {
                max_channels,
                no_adjacent,
                ..
            } => {
                let mut mask = 0_u32;
                let mut chosen = 0_u8;
                for i in candidates.iter().map(|&key| cell(key)) {
                    if chosen >= max_channels {
                        break;
                    }
                    let neighbours = (if i > 0 { 1_u32 << (i - 1) } else { 0 })
                        | 1_u32
                            .checked_shl(u32::try_from(i + 1).unwrap_or(u32::MAX))
                            .unwrap_or(0);
                    if no_adjacent && mask & neighbours != 0 {
                        continue;
                    }
                    mask |= 1 << i;
                    chosen += 1;
                }
                Balancing {
                    mask,
                    transfer: None,
                }
            }
            BalancerKind::Active { max_current_ma } => {
                let low = m
                    .plausible_cells(config)
                    .min_by_key(|&(_, mv)| mv)
                    .map(|(i, _)| i);
                match (candidates.first().map(|&key| cell(key)), low) {
                    (Some(from), Some(to)) if from != to => Balancing {
                        mask: 1 << from,
                        transfer: Some(Transfer {
                            from_cell: u8::try_from(from).unwrap_or(0),
                            to_cell: u8::try_from(to).unwrap_or(0),
                            current_ma: max_current_ma,
                        }),
                    },
                    _ => Balancing::default(),
                }
            }
        }
    }

    fn account(&mut self, config: &PackConfig, decision: Balancing, dt_millis: u32) {
        let current_ma = match (config.balancer, decision.transfer) {
            (
                BalancerKind::Passive {
                    bleed_current_ma, ..
                },
                _,
            ) => bleed_current_ma,
            (BalancerKind::Active { .. }, Some(t)) => t.current_ma,
            (BalancerKind::Active { .. }, None) => 0,
        };
        let mut mask = decision.mask;
        while mask != 0 {
            let i = mask.trailing_zeros() as usize;
            mask &= mask - 1;
            if let Some(counter) = self.counters_ma_ms.get_mut(i) {
                *counter = counter.saturating_add(u64::from(current_ma) * u64::from(dt_millis));
            }
        }
        if let Some(t) = decision.transfer
            && let Some(given) = self.given_ma_ms.get_mut(usize::from(t.to_cell))
        {
            *given = given.saturating_add(u64::from(t.current_ma) * u64::from(dt_millis));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default config's passive balancer with `max_channels` and `no_adjacent`.
    fn passive(max_channels: u8, no_adjacent: bool) -> BalancerKind {
        BalancerKind::Passive {
            bleed_current_ma: 60,
            max_channels,
            no_adjacent,
        }
    }

    fn charging(cells: &[u16]) -> Measurement {
        Measurement::new(cells, 20_000)
            .unwrap()
            .with_temperatures(&[Some(250), Some(260)])
            .unwrap()
    }

    #[test]
    fn bleeds_the_high_cells_never_two_neighbours() {
        let config = PackConfig::lfp_280ah(6);
        let mut b = Balancer::default();
        let d = b.update(
            &config,
            &charging(&[3_400, 3_420, 3_425, 3_380, 3_300, 3_415]),
            true,
            1_000,
        );
        // Candidates > 10 mV above 3.300 V, from the top: cell 2 (3.425), 1 (3.420, neighbour of
        // 2: skipped), 5 (3.415), 0 (3.400), 3 (3.380, neighbour of 2: skipped).
        assert_eq!(d.mask, 0b10_0101);
        assert_eq!(d.transfer, None);
    }

    #[test]
    fn respects_the_channel_limit_and_the_minimum_voltage() {
        let mut config = PackConfig::lfp_280ah(6);
        config.balancer = passive(1, false);
        let mut b = Balancer::default();
        let d = b.update(
            &config,
            &charging(&[3_400, 3_420, 3_425, 3_380, 3_300, 3_415]),
            true,
            1_000,
        );
        assert_eq!(d.mask, 0b00_0100);
        let d = b.update(
            &config,
            &charging(&[3_250, 3_290, 3_200, 3_200, 3_200, 3_200]),
            true,
            1_000,
        );
        assert_eq!(d.mask, 0, "below 3.30 V the spread says nothing on LFP");
    }

    #[test]
    fn among_equal_cells_the_first_is_chosen_up_to_cell_32() {
        let mut config = PackConfig::lfp_280ah(32);
        config.balancer = passive(2, false);
        let mut cells = [3_350; 32];
        for i in [31, 29, 30] {
            cells[i] = 3_420;
        }
        cells[0] = 3_425;
        let d = Balancer::default().update(&config, &charging(&cells), true, 1_000);
        assert_eq!(d.mask, 1 | 1 << 29);
        config.balancer = passive(3, true);
        let d = Balancer::default().update(&config, &charging(&cells), true, 1_000);
        assert_eq!(d.mask, 1 | 1 << 29 | 1 << 31);
    }

    #[test]
    fn nothing_while_discharging_too_hot_or_not_permitted() {
        let config = PackConfig::lfp_280ah(4);
        let cells = [3_400, 3_350, 3_350, 3_350];
        let mut b = Balancer::default();
        let mut discharging = charging(&cells);
        discharging.current_ma = -20_000;
        assert_eq!(b.update(&config, &discharging, true, 1_000).mask, 0);
        let hot = charging(&cells)
            .with_temperatures(&[Some(250), Some(510)])
            .unwrap();
        assert_eq!(b.update(&config, &hot, true, 1_000).mask, 0);
        assert_eq!(b.update(&config, &charging(&cells), false, 1_000).mask, 0);
        assert_eq!(b.update(&config, &charging(&cells), true, 1_000).mask, 1);
    }

    #[test]
    fn balances_at_rest_only_after_the_rest_time() {
        let config = PackConfig::lfp_280ah(4);
        let mut b = Balancer::default();
        let mut rest = charging(&[3_400, 3_350, 3_350, 3_350]);
        rest.current_ma = 200;
        let half_hour = config.rest_time_ms;
        assert_eq!(b.update(&config, &rest, true, half_hour - 1_000).mask, 0);
        assert_eq!(b.update(&config, &rest, true, 1_000).mask, 1);
        // A discharge: the half hour again.
        let mut discharging = rest.clone();
        discharging.current_ma = -20_000;
        assert_eq!(b.update(&config, &discharging, true, 1_000).mask, 0);
        assert_eq!(b.update(&config, &rest, true, half_hour - 1_000).mask, 0);
        assert_eq!(b.update(&config, &rest, true, 1_000).mask, 1);
    }

    #[test]
    fn keeps_balancing_in_a_charge_tail_and_between_top_up_bursts() {
        let config = PackConfig::lfp_280ah(4);
        let mut b = Balancer::default();
        let cells = [3_600, 3_370, 3_370, 3_370];
        let mut m = charging(&cells);
        assert_eq!(b.update(&config, &m, true, 1_000).mask, 1);
        // The charge ends: the pack floats at the top, an inverter topping it up now and then.
        for current_ma in [300, -80, 0, 1_500, 40, -200, 2_000, 0] {
            m.current_ma = current_ma;
            for _ in 0..600 {
                assert_eq!(
                    b.update(&config, &m, true, 1_000).mask,
                    1,
                    "at {current_ma} mA"
                );
            }
        }
        // A discharge ends that: the voltages must recover first.
        m.current_ma = -1_000;
        assert_eq!(b.update(&config, &m, true, 1_000).mask, 0);
        m.current_ma = 0;
        assert_eq!(b.update(&config, &m, true, 1_000).mask, 0);
    }

    #[test]
    fn hysteresis_keeps_a_bleeding_cell_until_the_stop_delta() {
        let config = PackConfig::lfp_280ah(4);
        let mut b = Balancer::default();
        assert_eq!(
            b.update(
                &config,
                &charging(&[3_400, 3_350, 3_350, 3_350]),
                true,
                1_000
            )
            .mask,
            1
        );
        // 8 mV above: below the 10 mV start, above the 5 mV stop: keeps bleeding.
        assert_eq!(
            b.update(
                &config,
                &charging(&[3_358, 3_350, 3_350, 3_350]),
                true,
                1_000
            )
            .mask,
            1
        );
        assert_eq!(
            b.update(
                &config,
                &charging(&[3_355, 3_350, 3_350, 3_350]),
                true,
                1_000
            )
            .mask,
            0
        );
    }

    #[test]
    fn counts_the_charge_each_cell_gave() {
        let config = PackConfig::lfp_280ah(4);
        let mut b = Balancer::default();
        for _ in 0..3_600 {
            b.update(
                &config,
                &charging(&[3_400, 3_350, 3_350, 3_350]),
                true,
                1_000,
            );
        }
        assert_eq!(b.balanced_mah(0), 60, "60 mA for an hour");
        assert_eq!(b.balanced_mah(1), 0);
    }

    #[test]
    fn active_balancer_moves_charge_from_highest_to_lowest() {
        let mut config = PackConfig::lfp_280ah(4);
        config.balancer = BalancerKind::Active {
            max_current_ma: 2_000,
        };
        let mut b = Balancer::default();
        let d = b.update(
            &config,
            &charging(&[3_350, 3_420, 3_330, 3_360]),
            true,
            1_000,
        );
        assert_eq!(
            d.transfer,
            Some(Transfer {
                from_cell: 1,
                to_cell: 2,
                current_ma: 2_000
            })
        );
        assert_eq!(d.mask, 0b0010);
        // What the estimator is told flows through each cell beside the string's current.
        let mut currents = [f32::NAN; MAX_CELLS];
        b.cell_currents_a(&config, &mut currents);
        assert_eq!(currents[..5], [0.0, 2.0, -2.0, 0.0, 0.0]);
    }

    #[test]
    fn the_cells_bled_draw_the_bleed_current_until_the_next_decision() {
        let config = PackConfig::lfp_280ah(6);
        let mut b = Balancer::default();
        let mut currents = [f32::NAN; MAX_CELLS];
        b.cell_currents_a(&config, &mut currents);
        assert_eq!(currents, [0.0; MAX_CELLS], "nothing before a decision");
        b.update(
            &config,
            &charging(&[3_400, 3_420, 3_425, 3_380, 3_300, 3_415]),
            true,
            1_000,
        );
        b.cell_currents_a(&config, &mut currents);
        assert_eq!(currents[..7], [0.06, 0.0, 0.06, 0.0, 0.0, 0.06, 0.0]);
        // Discharging: the bleeding stops, and so does what the estimator is told.
        let discharging = Measurement::new(&[3_300; 6], -20_000)
            .unwrap()
            .with_temperatures(&[Some(250), Some(260)])
            .unwrap();
        b.update(&config, &discharging, true, 1_000);
        b.cell_currents_a(&config, &mut currents);
        assert_eq!(currents, [0.0; MAX_CELLS]);
    }
}
