//! The self-discharge check: finds a cell that loses charge the others do not, the sign of an
//! internal short.
//!
//! Every cell of a series string carries the same current, so the charge in each changes from
//! cell to cell only by what it lost on its own (self-discharge, a leak) and what balancing
//! took from it or gave it. A capacity difference does not enter: a weak cell takes and gives
//! the same ampere-hours as the others. So the check notes each cell's charge, less what the
//! balancer took from it and plus what it gave it, relative to the string's median, at the two
//! ends of the SOC range, where the OCV curve is steep and the estimates are good: at the top of
//! a charge (the fullest cell at [`TOP_SOC`] or above, until it falls below [`TOP_REARM_SOC`])
//! and at the bottom of a discharge (the emptiest cell at [`BOTTOM_SOC`] or below, until it
//! rises above [`BOTTOM_REARM_SOC`]). Each end's note is taken at its quietest moment (the
//! least current, so the least error from the cells' resistance) and counts when the end is
//! over. A cell that falls further behind the median from one top to a later top, or from one
//! bottom to a later bottom, is leaking, at the charge lost per hour. The bottoms matter: a
//! leaking cell soon holds the string back from ever being full again (the imbalance derate
//! and trip stop the charge), but the string still empties every night.
//!
//! The estimates wander between notes, most where the filters are least sure (a cell on the
//! flat of the curve, or not yet converged from a wrong start), and a leaking cell's filter
//! follows the leak only with a lag. So the check reports a leak only beyond that wander: a
//! cell's fall less three standard deviations of the two notes' estimates and a floor of
//! [`FLOOR_FRACTION`] of capacity, per hour — a lower bound — and nothing before two notes of
//! the same end [`MIN_SPAN_MS`] apart. [`NOTES`] notes are kept, so a slow leak shows over a
//! week. Nothing is kept across a restart, and a reset of latched faults starts afresh (a person
//! has looked, perhaps replaced the cell).

use crate::MAX_CELLS;

/// The fullest cell's estimated SOC at which a top of charge begins.
pub const TOP_SOC: f32 = 0.97;
/// A top of charge ends when the fullest cell falls below this SOC.
pub const TOP_REARM_SOC: f32 = 0.90;
/// The emptiest cell's estimated SOC at which a bottom of discharge begins.
pub const BOTTOM_SOC: f32 = 0.10;
/// A bottom of discharge ends when the emptiest cell rises above this SOC.
pub const BOTTOM_REARM_SOC: f32 = 0.20;
/// Growth beyond the estimates' own bounds that is still not read as a leak, as a fraction of
/// capacity (what their wander in ten days of `solar-30` needs beside its 3σ).
pub const FLOOR_FRACTION: f32 = 0.01;
/// The 1σ of an SOC estimate that gives none (the coulomb counter's), fraction.
pub const UNBOUNDED_SIGMA: f32 = 0.02;
/// The shortest time between the notes a leak is read from, ms (20 h: about a day).
pub const MIN_SPAN_MS: u64 = 20 * 3_600_000;
/// Notes kept: a week of daily tops and bottoms.
pub const NOTES: usize = 14;
/// An end that lasts longer than this counts and begins again, ms (12 h): a string that sits
/// empty with its charge stopped (the imbalance trip does that to a leaking cell's string)
/// still gets a note twice a day, at rest, the clearest of all.
pub const MAX_END_MS: u64 = 12 * 3_600_000;

/// Which end of the SOC range a note was taken at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The top of a charge.
    Top,
    /// The bottom of a discharge.
    Bottom,
}

/// One end of charge: which and when, each cell's charge behind the median, and its 1σ, Ah.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Note {
    end: End,
    time_ms: u64,
    behind_ah: [f32; MAX_CELLS],
    sigma_ah: [f32; MAX_CELLS],
}

/// The check's state between steps.
#[derive(Debug, Clone, PartialEq)]
pub struct SelfDischarge {
    notes: [Option<Note>; NOTES],
    /// Where the next note goes in `notes`.
    next: usize,
    /// At an end: which, since when (ms), and the smallest |current| seen there so far, A.
    window: Option<(End, u64, f32)>,
    /// The note of this end so far (its quietest moment), with the cell count and capacity it
    /// was taken for.
    pending: Option<(Note, usize, f32)>,
    /// Per end (top, bottom), from its latest note: the worst cell's leak beyond the wander, mA
    /// (0 when none shows), and that cell (0-based).
    findings: [(i32, Option<u8>); 2],
}

impl Default for SelfDischarge {
    fn default() -> Self {
        SelfDischarge {
            notes: [None; NOTES],
            next: 0,
            window: None,
            pending: None,
            findings: [(0, None); 2],
        }
    }
}

/// One cell as the check reads it at an end of charge.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CellCharge {
    /// Estimated SOC, fraction.
    pub soc: f32,
    /// The SOC's 1σ, fraction (`None`: the estimator gives none).
    pub sigma: Option<f32>,
    /// Charge balancing took from the cell, Ah.
    pub taken_ah: f32,
    /// Charge an active balancer gave the cell, Ah.
    pub given_ah: f32,
}

impl SelfDischarge {
    /// The worst cell's extra self-discharge beyond the estimates' wander, mA (0 until two
    /// notes of one end far enough apart have been seen, or while none shows), and that cell
    /// (0-based): the larger of what the latest top and the latest bottom found, so that a
    /// leak seen at one end is not cleared by the other seeing less.
    pub fn finding(&self) -> (i32, Option<u8>) {
        let [top, bottom] = self.findings;
        if bottom.0 > top.0 { bottom } else { top }
    }

    /// Whether this step (engine time `time_ms`), with the fullest cell at SOC `highest`, the
    /// emptiest at `lowest` and `current_a` flowing, is the quietest moment so far of an end of
    /// charge; only then is [`SelfDischarge::note`] worth its work. Every step asks; an end
    /// that is over, or has lasted [`MAX_END_MS`], counts.
    pub fn wants_note(&mut self, time_ms: u64, highest: f32, lowest: f32, current_a: f32) -> bool {
        let quiet = libm::fabsf(current_a);
        let over = match self.window {
            Some((_, since, _)) if time_ms.saturating_sub(since) >= MAX_END_MS => true,
            Some((End::Top, _, _)) => highest < TOP_REARM_SOC,
            Some((End::Bottom, _, _)) => lowest > BOTTOM_REARM_SOC,
            None => false,
        };
        if over {
            self.window = None;
            self.close();
        }
        let (end, since) = match self.window {
            Some((end, since, best)) if quiet < best => (end, since),
            Some(_) => return false,
            None if highest >= TOP_SOC => (End::Top, time_ms),
            None if lowest <= BOTTOM_SOC => (End::Bottom, time_ms),
            None => return false,
        };
        self.window = Some((end, since, quiet));
        true
    }

    /// Notes this moment (engine time `time_ms`) of the present end of charge for `cells` of
    /// `capacity_ah`; it counts when the end is over, unless a quieter moment replaces it.
    /// Outside an end, or with fewer than three cells (no median worth comparing with), nothing
    /// is noted.
    pub fn note(&mut self, time_ms: u64, capacity_ah: f32, cells: &[CellCharge]) {
        let n = cells.len().min(MAX_CELLS);
        let Some((end, _, _)) = self.window else {
            return;
        };
        if n < 3 {
            return;
        }
        // Charge to full (the capacity's share cancels against the median's).
        let mut behind = [0.0_f32; MAX_CELLS];
        let mut sigma_ah = [0.0_f32; MAX_CELLS];
        for ((b, s), c) in behind.iter_mut().zip(sigma_ah.iter_mut()).zip(cells) {
            *b = capacity_ah * (1.0 - c.soc) - c.taken_ah + c.given_ah;
            *s = capacity_ah * c.sigma.unwrap_or(UNBOUNDED_SIGMA);
        }
        let median = crate::median(behind.get(..n).unwrap_or_default()).unwrap_or_default();
        for b in behind.iter_mut().take(n) {
            *b -= median;
        }
        let note = Note {
            end,
            time_ms,
            behind_ah: behind,
            sigma_ah,
        };
        self.pending = Some((note, n, capacity_ah));
    }

    /// Ends an end of charge: its note counts, and the finding is worked out again.
    fn close(&mut self) {
        let Some((note, n, capacity_ah)) = self.pending.take() else {
            return;
        };
        if let Some(slot) = self.notes.get_mut(self.next) {
            *slot = Some(note);
        }
        self.next = (self.next + 1) % NOTES;
        let found = self.leak(&note, n, capacity_ah);
        // Without an earlier note to compare with, what the end found before still stands.
        if found.1.is_some() {
            let end = match note.end {
                End::Top => 0,
                End::Bottom => 1,
            };
            if let Some(slot) = self.findings.get_mut(end) {
                *slot = found;
            }
        }
    }

    /// The largest leak any cell shows between `latest` and an earlier note of the same end at
    /// least [`MIN_SPAN_MS`] before it, beyond the estimates' wander (0 if none shows), and
    /// that cell (the one nearest to showing one, so that a warning's clearing names it too);
    /// `(0, None)` without an earlier note to compare with.
    fn leak(&self, latest: &Note, n: usize, capacity_ah: f32) -> (i32, Option<u8>) {
        let floor_ah = FLOOR_FRACTION * capacity_ah;
        let mut worst: (f32, Option<u8>) = (f32::NEG_INFINITY, None);
        for earlier in self.notes.iter().flatten() {
            let span_ms = latest.time_ms.saturating_sub(earlier.time_ms);
            if earlier.end != latest.end || span_ms < MIN_SPAN_MS {
                continue;
            }
            let hours = span_ms as f32 / 3_600_000.0;
            let behind = latest.behind_ah.iter().zip(&earlier.behind_ah);
            let sigma = latest.sigma_ah.iter().zip(&earlier.sigma_ah);
            for (i, ((now, then), (a, b))) in behind.zip(sigma).take(n).enumerate() {
                let wander_ah = 3.0 * crate::math::sqrtf(a * a + b * b) + floor_ah;
                let leak_a = (now - then - wander_ah) / hours;
                if leak_a > worst.0 {
                    worst = (leak_a, u8::try_from(i).ok());
                }
            }
        }
        // Amperes to milliamperes; the check's figures are far inside i32.
        ((worst.0.max(0.0) * 1000.0) as i32, worst.1)
    }

    /// Forgets every note: a person has looked at the pack, or it is another pack.
    pub fn restart(&mut self) {
        *self = SelfDischarge::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR_MS: u64 = 3_600_000;

    /// A top of charge of four 280 Ah cells, cell 1 (0-based) `behind` Ah further from full,
    /// each estimate ±0.5 % (1.4 Ah).
    fn top(check: &mut SelfDischarge, hours: u64, behind: f32, taken: [f32; 4]) {
        top_with(check, hours, behind, taken, 0.005);
    }

    /// Four cells at `soc`, each ±`sigma`, balancing having taken `taken` Ah.
    fn charges(soc: [f32; 4], sigma: f32, taken: [f32; 4]) -> [CellCharge; 4] {
        core::array::from_fn(|i| CellCharge {
            soc: soc[i],
            sigma: Some(sigma),
            taken_ah: taken[i],
            given_ah: 0.0,
        })
    }

    fn top_with(check: &mut SelfDischarge, hours: u64, behind: f32, taken: [f32; 4], sigma: f32) {
        let soc = [0.97, 0.97 - behind / 280.0, 0.965, 0.968];
        assert!(check.wants_note(hours * HOUR_MS, 0.97, 0.5, 20.0));
        check.note(hours * HOUR_MS, 280.0, &charges(soc, sigma, taken));
        // The charge ends.
        assert!(!check.wants_note(hours * HOUR_MS, 0.8, 0.5, -20.0));
    }

    #[test]
    fn a_cell_falling_further_behind_each_day_is_found_at_its_rate_beyond_the_noise() {
        let mut check = SelfDischarge::default();
        top(&mut check, 6, 2.0, [0.0; 4]);
        assert_eq!(check.finding().0, 0, "one note says nothing");
        top(&mut check, 18, 14.0, [0.0; 4]);
        assert_eq!(check.finding().0, 0, "12 h apart is too short a span");
        // 24 Ah more behind in 24 h is a 1 A leak; 8.7 Ah of it may be wander (3σ of two
        // estimates of ±1.4 Ah, and 1 % of capacity).
        top(&mut check, 30, 26.0, [0.0; 4]);
        let (ma, cell) = check.finding();
        assert_eq!(cell, Some(1));
        assert!((630..=640).contains(&ma), "{ma} mA");
        // Over two days the wander weighs half as much.
        top(&mut check, 54, 50.0, [0.0; 4]);
        let (ma, _) = check.finding();
        assert!((812..=822).contains(&ma), "{ma} mA");
    }

    #[test]
    fn charge_the_balancer_took_is_not_a_leak_and_a_wandering_estimate_is_not_either() {
        let mut check = SelfDischarge::default();
        top(&mut check, 6, 0.0, [0.0; 4]);
        // Cell 2 was bled 12 Ah: it is behind by that, and nothing leaked.
        top(&mut check, 30, 12.0, [0.0, 12.0, 0.0, 0.0]);
        assert_eq!(check.finding().0, 0);
        // 6 Ah of wander in a day is within the noise.
        top(&mut check, 54, 18.0, [0.0, 12.0, 0.0, 0.0]);
        assert_eq!(check.finding().0, 0);
    }

    #[test]
    fn an_estimate_still_unsure_of_itself_is_not_read_as_a_leak() {
        let mut check = SelfDischarge::default();
        // Not yet converged from the start: ±5 % (14 Ah).
        top_with(&mut check, 6, 0.0, [0.0; 4], 0.05);
        // 24 Ah in a day against 3σ of √(14² + 1.4²) Ah and the floor: within the wander.
        top(&mut check, 30, 24.0, [0.0; 4]);
        assert_eq!(check.finding().0, 0);
        // The same growth from a sure start is a leak.
        let mut sure = SelfDischarge::default();
        top(&mut sure, 6, 0.0, [0.0; 4]);
        top(&mut sure, 30, 24.0, [0.0; 4]);
        assert!(sure.finding().0 > 500, "{:?}", sure.finding());
    }

    #[test]
    fn bottoms_of_discharge_are_compared_with_bottoms_and_never_with_tops() {
        let mut check = SelfDischarge::default();
        let bottom = |check: &mut SelfDischarge, hours: u64, behind: f32| {
            assert!(check.wants_note(hours * HOUR_MS, 0.3, 0.08, -5.0));
            let soc = [0.20, 0.20 - behind / 280.0, 0.21, 0.22];
            check.note(hours * HOUR_MS, 280.0, &charges(soc, 0.005, [0.0; 4]));
            assert!(
                !check.wants_note(hours * HOUR_MS, 0.5, 0.4, 30.0),
                "charging again: the bottom is over"
            );
        };
        // A top a day before the bottoms, with cell 1 far ahead: not compared.
        top(&mut check, 0, -40.0, [0.0; 4]);
        bottom(&mut check, 18, 0.0);
        assert_eq!(check.finding().0, 0);
        // A night later cell 1 is 24 Ah further behind the others: 1 A less the wander.
        bottom(&mut check, 42, 24.0);
        let (ma, cell) = check.finding();
        assert_eq!(cell, Some(1));
        assert!((630..=640).contains(&ma), "{ma} mA");
    }

    #[test]
    fn a_leak_seen_at_the_tops_stands_while_the_bottoms_see_less() {
        let mut check = SelfDischarge::default();
        let bottom = |check: &mut SelfDischarge, hours: u64| {
            assert!(check.wants_note(hours * HOUR_MS, 0.3, 0.08, -5.0));
            check.note(
                hours * HOUR_MS,
                280.0,
                &charges([0.2, 0.2, 0.21, 0.22], 0.005, [0.0; 4]),
            );
            assert!(!check.wants_note(hours * HOUR_MS, 0.5, 0.4, 30.0));
        };
        top(&mut check, 6, 0.0, [0.0; 4]);
        bottom(&mut check, 18);
        top(&mut check, 30, 24.0, [0.0; 4]);
        assert_eq!(check.finding().1, Some(1));
        let found = check.finding().0;
        assert!(found > 600, "{found} mA");
        bottom(&mut check, 42);
        assert_eq!(
            check.finding(),
            (found, Some(1)),
            "the bottoms saw nothing; the tops did"
        );
    }

    #[test]
    fn a_top_of_charge_is_noted_at_its_quietest_moment_and_counts_when_it_ends() {
        let mut check = SelfDischarge::default();
        assert!(!check.wants_note(0, 0.95, 0.5, 80.0), "not yet at the top");
        assert!(check.wants_note(0, 0.97, 0.5, 80.0));
        assert!(
            !check.wants_note(0, 0.99, 0.5, 90.0),
            "more current than before"
        );
        assert!(check.wants_note(0, 0.99, 0.5, -30.0), "less");
        assert!(
            check.wants_note(0, 0.92, 0.5, 2.0),
            "still the same charge, quieter still"
        );
        assert!(!check.wants_note(0, 0.98, 0.5, 5.0));
        assert!(!check.wants_note(0, 0.85, 0.5, 0.0), "ended");
        assert!(!check.wants_note(0, 0.95, 0.5, 0.0));
        assert!(check.wants_note(0, 0.975, 0.5, 60.0), "the next charge");
    }

    #[test]
    fn a_string_sitting_empty_gets_a_note_every_twelve_hours() {
        let mut check = SelfDischarge::default();
        assert!(check.wants_note(0, 0.3, 0.05, 0.0));
        assert!(!check.wants_note(HOUR_MS, 0.3, 0.05, 0.0));
        check.note(
            HOUR_MS,
            280.0,
            &charges([0.2, 0.05, 0.21, 0.22], 0.005, [0.0; 4]),
        );
        assert!(!check.wants_note(11 * HOUR_MS, 0.3, 0.05, 0.0));
        assert_eq!(check.notes.iter().flatten().count(), 0);
        // Twelve hours on, still empty: the note counts and a new bottom begins.
        assert!(check.wants_note(12 * HOUR_MS, 0.3, 0.05, 0.0));
        assert_eq!(check.notes.iter().flatten().count(), 1);
    }

    #[test]
    fn only_the_quietest_note_of_a_top_of_charge_counts() {
        let mut check = SelfDischarge::default();
        top(&mut check, 6, 0.0, [0.0; 4]);
        assert!(check.wants_note(0, 0.97, 0.5, 80.0));
        let note = |check: &mut SelfDischarge, hours: u64, behind: f32| {
            let soc = [0.97, 0.97 - behind / 280.0, 0.965, 0.968];
            check.note(hours * HOUR_MS, 280.0, &charges(soc, 0.005, [0.0; 4]));
        };
        // At 80 A the cell's resistance makes it look 30 Ah behind; at 1 A, it is not.
        note(&mut check, 30, 30.0);
        assert!(check.wants_note(0, 0.98, 0.5, 1.0));
        note(&mut check, 31, 0.5);
        assert_eq!(
            check.finding(),
            (0, None),
            "nothing counts before the charge ends"
        );
        assert!(!check.wants_note(0, 0.5, 0.5, -40.0));
        assert_eq!(check.finding().0, 0);
        assert_eq!(check.notes.iter().flatten().count(), 2);
    }

    #[test]
    fn a_restart_forgets_and_two_cells_are_not_compared() {
        let mut check = SelfDischarge::default();
        top(&mut check, 6, 2.0, [0.0; 4]);
        top(&mut check, 30, 40.0, [0.0; 4]);
        assert!(check.finding().0 > 0);
        check.restart();
        assert_eq!(check.finding().0, 0);
        top(&mut check, 54, 80.0, [0.0; 4]);
        assert_eq!(
            check.finding(),
            (0, None),
            "the notes before the restart are gone"
        );
        assert!(check.wants_note(0, 0.97, 0.5, 0.0));
        check.note(100 * HOUR_MS, 280.0, &[CellCharge::default(); 2]);
        check.wants_note(0, 0.5, 0.5, 0.0);
        assert_eq!(check.notes.iter().flatten().count(), 1);
    }
}
