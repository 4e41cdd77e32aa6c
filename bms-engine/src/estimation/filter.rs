//! One cell's extended Kalman filter (state vector and tuning: see the module above).
//!
//! Indices into the fixed 6×6 arrays are the named state constants or loop counters bounded
//! by `N`, and a cell's index into the [`MAX_CELLS`] lanes is below the string's length, so
//! none of them can be out of range. The loops across the cells index every lane array by the
//! cell: that is the shape the compiler vectorises.
#![allow(clippy::indexing_slicing, clippy::needless_range_loop)]

use super::{CellModelParams, StepInput};
use crate::MAX_CELLS;

const N: usize = 6;
const Z: usize = 0;
const V1: usize = 1;
const V2: usize = 2;
const H: usize = 3;
const B: usize = 4;
const E: usize = 5;

/// Current-sensor noise σ, A, and gain uncertainty, fraction of the current.
const CURRENT_NOISE: (f32, f32) = (0.05, 0.005);
/// Bias random walk, A per √hour, while the bias is not seen to move faster (see
/// `Step::with_bias_walk`).
pub(crate) const BIAS_WALK_A: f32 = 0.02;
/// Prior σ of the bias, A.
const BIAS_PRIOR_A: f32 = 1.0;
/// RC-voltage process noise, V per √s.
const RC_NOISE_V: f32 = 0.000_2;
/// Hysteresis-state process noise per unit of its own movement.
const HYSTERESIS_NOISE: f32 = 0.1;
/// Innovations beyond this many σ are not believed (a glitch, an open wire): skipped.
const OUTLIER_SIGMAS: f32 = 6.0;
/// A correction whose innovation is within this many σ agrees with the model.
const AGREEMENT_SIGMAS: f32 = 3.0;
/// How far a cell's ohmic drop may be from the model's, as a fraction of it (1σ): the
/// resistance's dependence on SOC, and a resistance that does not follow Arrhenius (a loose
/// connection's is the same warm or cold, but is learnt and applied as if it were a cell's).
const R0_REL_SIGMA: f32 = 0.2;
/// A full charge sets the SOC to 1 with this σ.
const FULL_CHARGE_SIGMA: f32 = 0.01;
/// A cell below the OCV curve's empty end is set to SOC 0 with this σ …
const EMPTY_SIGMA: f32 = 0.005;
/// … when it carries at most this current, in units of its capacity (and one above the full
/// end, its RC pairs relaxed to [`RESTED_RC_V`], is full).
const LIGHT_LOAD_C_RATE: f32 = 0.05;
/// RC pairs within this of relaxed, V: a voltage beyond the curve's top end is then the cell's
/// own, not what the last charge left in its slow pair.
const RESTED_RC_V: f32 = 0.002;
/// A cell held full is synchronised again after this long, s (a bias shows as drift).
const FULL_CHARGE_REPEAT_SECS: f32 = 3_600.0;

type Matrix = [[f32; N]; N];

/// What one step shares across the cells: its inputs, and what follows from them alone,
/// worked out once for the string instead of once per cell.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Step {
    pub current_a: f32,
    pub dt_secs: f32,
    /// e^(−dt/τ) of the two RC pairs.
    pub decays: (f32, f32),
    /// Arrhenius factor of the resistances.
    pub resistance_factor: f32,
    /// Accessible capacity fraction at the temperature.
    pub accessible: f32,
    /// The cells' temperature, °C (the OCV's temperature shift).
    pub temperature_c: f32,
    /// How much of the current each RC pair takes up over the step, V/A: R·f·(1 − a).
    gains: (f32, f32),
    /// σ of the measured current, A.
    current_sigma: f32,
    /// Process noise of each RC voltage over the step, V².
    rc_noise: f32,
    /// Process noise of the bias over the step, A².
    bias_noise: f32,
}

impl Step {
    pub(crate) fn new(
        params: &CellModelParams,
        current_a: f32,
        dt_secs: f32,
        decays: (f32, f32),
        resistance_factor: f32,
        accessible: f32,
        temperature_c: f32,
    ) -> Self {
        let (a1, a2) = decays;
        Step {
            current_a,
            dt_secs,
            decays,
            resistance_factor,
            accessible,
            temperature_c,
            gains: (
                params.rc1.0 * resistance_factor * (1.0 - a1),
                params.rc2.0 * resistance_factor * (1.0 - a2),
            ),
            current_sigma: CURRENT_NOISE.0 + CURRENT_NOISE.1 * libm::fabsf(current_a),
            rc_noise: RC_NOISE_V * RC_NOISE_V * dt_secs,
            bias_noise: BIAS_WALK_A * BIAS_WALK_A * dt_secs / 3600.0,
        }
    }

    /// The same step with the bias walking by `walk_a` A per √hour instead of
    /// [`BIAS_WALK_A`].
    pub(crate) fn with_bias_walk(self, walk_a: f32) -> Self {
        Step {
            bias_noise: walk_a * walk_a * self.dt_secs / 3600.0,
            ..self
        }
    }
}

/// One value per cell, cell 1 first; lanes beyond the string's length stay at their start.
pub(crate) type Lanes = [f32; MAX_CELLS];

/// The string's filters, one per cell, laid out by state rather than by cell: the time update
/// every step runs as one loop across the cells over these arrays (vectorised by the compiler,
/// the same arithmetic per cell as one at a time), and a voltage correction (one cell's, a
/// step) works on that cell's covariance and states alone.
#[derive(Debug, Clone, PartialEq)]
pub struct Filters {
    len: usize,
    /// The states, each across the cells (indexed by the state constants).
    x: [Lanes; N],
    /// Each cell's covariance.
    p: [Matrix; MAX_CELLS],
    /// Kahan carry of the SOC integration: per-second steps at small currents are below f32's
    /// resolution of an SOC near 1.
    z_carry: Lanes,
    /// How long the full-charge condition has held towards the next synchronisation, s.
    full_secs: Lanes,
    /// Innovations skipped as outliers.
    outliers: [u32; MAX_CELLS],
    /// Whether the last voltage correction was made and agreed with the model (innovation
    /// within [`AGREEMENT_SIGMAS`], OCV offset within as many σ of the table's error), or a
    /// full charge or a rest below the curve's empty end vouched for the SOC: a small σ means
    /// the SOC is known only while this holds.
    agrees: [bool; MAX_CELLS],
    /// Covariance propagation not yet applied to `p` (see [`PendingLanes`]), each across the cells,
    /// and which cells have any (bit `c` for cell `c`).
    pending: PendingLanes,
    pending_cells: u32,
    /// What the RC pairs did by themselves over the last time update, V.
    rc_change: Lanes,
    /// Scratch of the time update: the hysteresis exponent of each cell.
    hysteresis_x: Lanes,
}

/// The time updates of the covariance since it was last brought up to date, composed into one.
///
/// Every step's Jacobian has the form `F = D + u·e_Bᵀ` (diagonal decays, and a column of how the
/// states depend on the current-sensor bias), with `d_B = 1` and `u_B = 0`. Such matrices
/// compose into the same form: `(D₂ + u₂e_Bᵀ)(D₁ + u₁e_Bᵀ) = D₂D₁ + (D₂u₁ + u₂)e_Bᵀ`. So the
/// state advances every step (a few multiplications per cell) while the O(N²) covariance
/// propagation runs only before a correction, with the steps' diagonal process noise added
/// at the end (which slightly overstates the noise of the decaying RC states: conservative).
///
/// Here for every cell, by component and state.
#[derive(Debug, Clone, Copy, PartialEq)]
struct PendingLanes {
    d: [Lanes; N],
    u: [Lanes; N],
    q: [Lanes; N],
}

impl PendingLanes {
    const NONE: PendingLanes = PendingLanes {
        d: [[1.0; MAX_CELLS]; N],
        u: [[0.0; MAX_CELLS]; N],
        q: [[0.0; MAX_CELLS]; N],
    };

    /// Back to the identity for cell `c`: only the decays of V1, V2, H and E and the bias column
    /// of Z, V1, V2 and H ever move from it (see [`Filters::predict`]), and every noise term.
    fn clear(&mut self, c: usize) {
        for k in [V1, V2, H, E] {
            self.d[k][c] = 1.0;
        }
        for k in [Z, V1, V2, H] {
            self.u[k][c] = 0.0;
        }
        for lane in self.q.iter_mut() {
            lane[c] = 0.0;
        }
    }
}

/// e^(−x) for the hysteresis update; a second's step moves x ≈ 0.004, where the series is
/// exact to 1e-8.
fn hysteresis_decay(x: f32) -> f32 {
    if x < HYSTERESIS_SERIES_BELOW {
        hysteresis_series(x)
    } else {
        libm::expf(-x)
    }
}

/// `x`, or 0 once it is too small to matter. A cell whose corrections are all skipped (its
/// voltage beyond the curve's ends for hours) composes decays that would otherwise sink into
/// subnormal numbers, which cost a hundred times as much to compute with.
fn negligible_to_zero(x: f32) -> f32 {
    if libm::fabsf(x) < 1e-30 { 0.0 } else { x }
}

fn hysteresis_series(x: f32) -> f32 {
    1.0 - x + 0.5 * x * x
}

/// Below this exponent the hysteresis decay is its series (see [`hysteresis_decay`]).
const HYSTERESIS_SERIES_BELOW: f32 = 0.01;

impl Filters {
    /// `len` filters (at most [`MAX_CELLS`]) starting at `soc` with 1σ `soc_sigma`, rested,
    /// with no bias known.
    pub(crate) fn new(params: &CellModelParams, len: usize, soc: f32, soc_sigma: f32) -> Self {
        let mut p = [[0.0; N]; N];
        p[Z][Z] = soc_sigma * soc_sigma;
        p[V1][V1] = 0.005 * 0.005;
        p[V2][V2] = 0.005 * 0.005;
        p[H][H] = 0.5 * 0.5;
        p[B][B] = BIAS_PRIOR_A * BIAS_PRIOR_A;
        p[E][E] = params.ocv_error_v.0 * params.ocv_error_v.0;
        let mut x = [[0.0; MAX_CELLS]; N];
        x[Z] = [soc; MAX_CELLS];
        Filters {
            len: len.min(MAX_CELLS),
            x,
            p: [p; MAX_CELLS],
            z_carry: [0.0; MAX_CELLS],
            full_secs: [0.0; MAX_CELLS],
            outliers: [0; MAX_CELLS],
            agrees: [false; MAX_CELLS],
            pending: PendingLanes::NONE,
            pending_cells: 0,
            rc_change: [0.0; MAX_CELLS],
            hysteresis_x: [0.0; MAX_CELLS],
        }
    }

    /// Resumes cell `c` (below [`Filters::len`]) from saved values: SOC and its σ, hysteresis,
    /// bias.
    pub(crate) fn resume(
        &mut self,
        c: usize,
        params: &CellModelParams,
        soc: f32,
        soc_sigma: f32,
        hysteresis: f32,
        bias_a: f32,
    ) {
        let p = &mut self.p[c];
        *p = [[0.0; N]; N];
        p[Z][Z] = soc_sigma * soc_sigma;
        p[V1][V1] = 0.005 * 0.005;
        p[V2][V2] = 0.005 * 0.005;
        p[H][H] = 0.3 * 0.3;
        p[B][B] = 0.2 * 0.2;
        p[E][E] = params.ocv_error_v.0 * params.ocv_error_v.0;
        for (k, value) in [soc, 0.0, 0.0, hysteresis, bias_a, 0.0]
            .into_iter()
            .enumerate()
        {
            self.x[k][c] = value;
        }
        self.z_carry[c] = 0.0;
        self.full_secs[c] = 0.0;
        self.outliers[c] = 0;
        self.agrees[c] = false;
        self.pending.clear(c);
        self.pending_cells &= !(1 << c);
    }

    /// Number of cells.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Cell `c`'s estimated SOC, fraction (not clamped). Cells are numbered below
    /// [`Filters::len`] here and in every per-cell accessor.
    pub(crate) fn soc(&self, c: usize) -> f32 {
        self.x[Z][c]
    }

    /// The SOCs of the cells, fraction (not clamped).
    pub(crate) fn socs(&self) -> &[f32] {
        &self.x[Z][..self.len]
    }

    /// 1σ of cell `c`'s SOC, fraction.
    pub(crate) fn soc_sigma(&self, c: usize) -> f32 {
        crate::math::sqrtf(self.soc_variance(c))
    }

    /// Variance of cell `c`'s SOC, fraction².
    pub(crate) fn soc_variance(&self, c: usize) -> f32 {
        // The pending propagation's (Z, Z) element alone: d_Z = 1, so
        // (F·P·Fᵀ)_ZZ = P_ZZ + 2·u_Z·P_ZB + u_Z²·P_BB.
        let p = &self.p[c];
        let u = self.pending.u[Z][c];
        let zz = p[Z][Z] + 2.0 * u * p[Z][B] + u * u * p[B][B] + self.pending.q[Z][c];
        zz.max(0.0)
    }

    /// Cell `c`'s estimated current-sensor bias, A.
    pub(crate) fn bias_a(&self, c: usize) -> f32 {
        self.x[B][c]
    }

    /// Every cell's SOC σ (fraction), cell 1 first.
    pub(crate) fn soc_sigmas(&self, soc: &mut Lanes) {
        for c in 0..self.len.min(MAX_CELLS) {
            soc[c] = self.soc_sigma(c);
        }
    }

    /// Variance of cell `c`'s current-sensor bias, A².
    pub(crate) fn bias_variance(&self, c: usize) -> f32 {
        // The bias row of a pending propagation is the identity's.
        (self.p[c][B][B] + self.pending.q[B][c]).max(0.0)
    }

    /// Cell `c`'s OCV-model error state, V.
    pub(crate) fn ocv_error_v(&self, c: usize) -> f32 {
        self.x[E][c]
    }

    /// Cell `c`'s hysteresis state, −1 … 1.
    pub(crate) fn hysteresis(&self, c: usize) -> f32 {
        self.x[H][c]
    }

    /// What cell `c`'s RC pairs did by themselves over the last time update (before any
    /// correction), V.
    pub(crate) fn rc_change_v(&self, c: usize) -> f32 {
        self.rc_change[c]
    }

    /// Whether cell `c`'s last voltage correction was made and agreed with the model (or a
    /// full charge or an empty cell vouched for the SOC).
    pub(crate) fn agrees(&self, c: usize) -> bool {
        self.agrees[c]
    }

    /// Time update of every cell over one step at the measured current, less what balancing
    /// drew from each cell (`balance_a`, A). `coulombs` is the capacity each cell is counted
    /// against, A·s, and `capacity_rel_sigma` its relative uncertainty: a capacity error is an
    /// SOC error growing with the charge moved, so the SOC variance grows by
    /// `capacity_rel_sigma² · |ΔSOC|`.
    pub(crate) fn predict(
        &mut self,
        params: &CellModelParams,
        step: &Step,
        coulombs: &Lanes,
        capacity_rel_sigma: &Lanes,
        balance_a: &Lanes,
    ) {
        let n = self.len.min(MAX_CELLS);
        let dt = step.dt_secs;
        let (a1, a2) = step.decays;
        let (g1, g2) = step.gains;
        let efficiency = params.charge_efficiency;
        // The OCV error is a first-order Gauss–Markov process along the SOC: over a short move
        // it walks by `walk` per √(unit SOC), and it never strays beyond `e_sigma` (1σ), however
        // far the cell cycles. Decay 1/(1 + |Δz|/λ) ≈ e^(−|Δz|/λ) with λ = 2σ²/walk², and the
        // noise that keeps the variance at σ².
        let (e_sigma, walk) = params.ocv_error_v;
        let e_variance = e_sigma * e_sigma;
        let e_per_soc = walk * walk / (2.0 * e_variance);
        let [xz, xv1, xv2, _, xb, x_e] = &mut self.x;
        let PendingLanes { d, u, q } = &mut self.pending;
        for c in 0..n {
            let i = step.current_a - xb[c] - balance_a[c];
            let eff = if i > 0.0 { efficiency } else { 1.0 };
            let dz_di = eff * dt / coulombs[c];
            let dz = dz_di * i;
            // Kahan-compensated z += dz.
            let z = xz[c];
            let y = dz - self.z_carry[c];
            let t = z + y;
            self.z_carry[c] = (t - z) - y;
            xz[c] = t;

            let rc_before = xv1[c] + xv2[c];
            xv1[c] = a1 * xv1[c] + g1 * i;
            xv2[c] = a2 * xv2[c] + g2 * i;
            self.rc_change[c] = (xv1[c] + xv2[c]) - rc_before;
            self.hysteresis_x[c] = params.hysteresis_rate * libm::fabsf(dz);

            // Jacobian F = D + u·e_Bᵀ with D = diag(1, a1, a2, k, 1, keep) and u = (−dz/di, −g1,
            // −g2, 0, 0, 0): the decays, and how the states depend on the bias through the
            // current (E's decay depends on it too, at second order: left out). Composed into
            // the pending propagation (u ← D·u + u_step, d ← D·d), written out for the entries
            // that change (the hysteresis's below, E's at the end).
            u[Z][c] -= dz_di;
            u[V1][c] = a1 * u[V1][c] - g1;
            u[V2][c] = a2 * u[V2][c] - g2;
            d[V1][c] = negligible_to_zero(d[V1][c] * a1);
            d[V2][c] = negligible_to_zero(d[V2][c] * a2);

            let z_noise = step.current_sigma * dz_di;
            q[Z][c] +=
                z_noise * z_noise + capacity_rel_sigma[c] * capacity_rel_sigma[c] * libm::fabsf(dz);
            q[V1][c] += step.rc_noise;
            q[V2][c] += step.rc_noise;
            q[B][c] += step.bias_noise;
            let keep = 1.0 / (1.0 + e_per_soc * libm::fabsf(dz));
            x_e[c] *= keep;
            d[E][c] = negligible_to_zero(d[E][c] * keep);
            // Composed exactly (the noise so far decays with E), not added: a cell unheard for
            // hours (its voltage beyond the table's ends) would otherwise walk without bound.
            let keep_sq = keep * keep;
            q[E][c] = keep_sq * q[E][c] + e_variance * (1.0 - keep_sq);
        }
        self.pending_cells |= if n >= 32 { u32::MAX } else { (1 << n) - 1 };
        // The hysteresis, in a loop of its own: its exponent needs e^(−x) only for a step far
        // longer or stronger than a second's (a replay's), and the common case vectorises.
        if self.hysteresis_x[..n]
            .iter()
            .all(|&x| x < HYSTERESIS_SERIES_BELOW)
        {
            self.hysteresis_update(step.current_a, balance_a, hysteresis_series);
        } else {
            self.hysteresis_update(step.current_a, balance_a, hysteresis_decay);
        }
    }

    /// Moves every cell's hysteresis state towards the direction of its current by
    /// `decay(x)` of the way, with `x` from [`Filters::predict`].
    #[inline(always)]
    fn hysteresis_update(&mut self, current_a: f32, balance_a: &Lanes, decay: impl Fn(f32) -> f32) {
        let n = self.len.min(MAX_CELLS);
        let [_, _, _, xh, xb, _] = &mut self.x;
        let PendingLanes { d, u, q } = &mut self.pending;
        for c in 0..n {
            let k = decay(self.hysteresis_x[c]);
            let i = current_a - xb[c] - balance_a[c];
            let direction = if i > 0.0 {
                1.0
            } else if i < 0.0 {
                -1.0
            } else {
                0.0
            };
            let h_before = xh[c];
            let h = k * h_before + (1.0 - k) * direction;
            xh[c] = h;
            u[H][c] = negligible_to_zero(u[H][c] * k);
            d[H][c] = negligible_to_zero(d[H][c] * k);
            let h_moved = libm::fabsf(h - h_before) + 1e-6;
            q[H][c] += HYSTERESIS_NOISE * HYSTERESIS_NOISE * h_moved;
        }
    }

    /// Applies cell `c`'s pending propagation to its covariance: `P ← F·P·Fᵀ + Q`, which with
    /// `F = D + u·e_Bᵀ` costs O(N²) instead of two matrix products.
    fn propagate(&mut self, c: usize) {
        if self.pending_cells & (1 << c) == 0 {
            return;
        }
        self.pending_cells &= !(1 << c);
        // What moves from the identity is read (see `PendingLanes::clear`); the rest is
        // written as the constants it is.
        let pd = &mut self.pending;
        let d = [1.0, pd.d[V1][c], pd.d[V2][c], pd.d[H][c], 1.0, pd.d[E][c]];
        let u = [pd.u[Z][c], pd.u[V1][c], pd.u[V2][c], pd.u[H][c], 0.0, 0.0];
        let q: [f32; N] = core::array::from_fn(|k| pd.q[k][c]);
        pd.clear(c);
        let p = &mut self.p[c];
        let col: [f32; N] = core::array::from_fn(|i| p[i][B]);
        let pbb = p[B][B];
        // Written out for the structure: among the moving states (Z, V1, V2, H, E) the whole
        // product (E's entry of u is 0); between a moving state and the bias (d = 1, u = 0)
        // only what is not multiplied by 0; the bias's own variance does not change. The same
        // values as the full product, but for the sign of an exact zero.
        const MOVING: [usize; 5] = [Z, V1, V2, H, E];
        for (a, &i) in MOVING.iter().enumerate() {
            for &j in &MOVING[a..] {
                let value = d[i] * d[j] * p[i][j]
                    + u[i] * d[j] * col[j]
                    + d[i] * col[i] * u[j]
                    + u[i] * u[j] * pbb;
                p[i][j] = value;
                p[j][i] = value;
            }
            let value = d[i] * p[i][B] + u[i] * pbb;
            p[i][B] = value;
            p[B][i] = value;
        }
        for (n, qn) in q.iter().enumerate() {
            p[n][n] += qn;
        }
    }

    /// Cell `c`'s states.
    fn state(&self, c: usize) -> [f32; N] {
        core::array::from_fn(|k| self.x[k][c])
    }

    /// Measurement update of cell `c` with its terminal voltage `v`. `r0` is the cell's ohmic
    /// resistance at its temperature now.
    pub(crate) fn correct(
        &mut self,
        c: usize,
        params: &CellModelParams,
        step: &Step,
        r0: f32,
        v: f32,
    ) {
        // Until this correction is made and agrees, the voltage has not vouched for the SOC.
        self.agrees[c] = false;
        let x = self.state(c);
        let i = step.current_a - x[B];
        let z = x[Z];
        // The SOC the OCV shows: emptier under discharge load in the cold. Once the charge left
        // is all beyond reach (`cold` ≤ 0) the cell sags towards empty under load, and how far
        // depends on the load and the cold far more than on the SOC: no correction then.
        let load = (-i / (0.1 * params.capacity_ah)).clamp(0.0, 1.0);
        let cold = 1.0 - (1.0 - z) / step.accessible.max(0.05);
        let (z_shown, dz_shown) = if load <= 0.0 || cold >= z {
            (z, 1.0)
        } else if cold > 0.0 {
            (
                z + load * (cold - z),
                1.0 - load + load / step.accessible.max(0.05),
            )
        } else {
            return;
        };
        // The 25 °C curve moved by the OCV's temperature coefficient, in value and slope.
        let (ocv_25, slope_25) = params.ocv.voltage(z_shown);
        let (shift, shift_slope) = params.ocv_temperature.shift_v(z_shown, step.temperature_c);
        let (ocv, slope) = (ocv_25 + shift, (slope_25 + shift_slope) * dz_shown);
        // Beyond the table's ends the curve is not known: a voltage there says only "full" or
        // "empty". Full is the full-charge synchronisation's to say. Below the empty end at a
        // light load (where the SOC cannot hinge on the resistance) the cell is empty, however
        // far the count was: a weak cell the filter counted as full-sized once sat at 2.80 V
        // for hours while its estimate stayed at 15 %.
        // Brought back to 25 °C to compare with the table's ends.
        let ocv_seen = v - r0 * i - x[V1] - x[V2] - params.hysteresis_v * x[H] - shift;
        let (lowest, highest) = params.ocv.range_v();
        let light_load = libm::fabsf(i) <= LIGHT_LOAD_C_RATE * params.capacity_ah;
        if ocv_seen < lowest && light_load {
            // A reset, not an update: a filter that counted this far wrong was sure of itself
            // (its σ small, its other states bent to follow), so a weighted update would move
            // it only part of the way, and its correlations would carry the error elsewhere.
            if x[Z] > EMPTY_SIGMA {
                self.propagate(c);
                self.x[Z][c] = 0.0;
                self.z_carry[c] = 0.0;
                let p = &mut self.p[c];
                p[Z] = [0.0; N];
                for row in p.iter_mut() {
                    row[Z] = 0.0;
                }
                p[Z][Z] = EMPTY_SIGMA * EMPTY_SIGMA;
            }
            // The voltage vouches for this SOC as a full charge does for 100 %.
            self.agrees[c] = true;
            return;
        }
        // Above the full end at a light load with the RC pairs relaxed, the cell is full: a
        // measurement of SOC 1 like a full charge's, when the estimate has drifted from it
        // either way. Nothing else would say so: the full-charge detection's current window is
        // read through the cell's own bias, so a cell resting full with its bias wrong by
        // amperes was never synchronised and counted that bias for hours. Too high a bias
        // counts it down (the sensor 3 A low: one cell 12 points low by the next day, and a
        // false self-discharge trip); too low a bias counts it past full, where no voltage
        // can correct it (the sensor 3 A high: one cell 5 points past full in an afternoon's
        // rest, learning nothing, its bias wrong and its estimate 25–50 points high for a
        // fortnight).
        let relaxed = libm::fabsf(x[V1] + x[V2]) <= RESTED_RC_V;
        let drifted = libm::fabsf(x[Z] - 1.0) > FULL_CHARGE_SIGMA;
        if ocv_seen > highest && light_load && relaxed && drifted {
            self.measure_full(c, params);
            return;
        }
        if !(lowest..=highest).contains(&ocv_seen) {
            return;
        }
        let predicted = ocv + params.hysteresis_v * x[H] + x[E] + x[V1] + x[V2] + r0 * i;
        // ∂v/∂b = −R0 is left out: the bias is heard through the charge it counts, not through
        // an ohmic drop whose own error is far larger (see the module's noise tuning).
        let h = [slope, 1.0, 1.0, params.hysteresis_v, 0.0, 1.0];
        let drop_sigma = R0_REL_SIGMA * r0 * i;
        match self.scalar_update(
            c,
            &h,
            v - predicted,
            params.voltage_sigma_v * params.voltage_sigma_v + drop_sigma * drop_sigma,
            OUTLIER_SIGMAS,
            params.soc_sigma_floor,
        ) {
            Some(normalised) => {
                self.agrees[c] = normalised <= AGREEMENT_SIGMAS * AGREEMENT_SIGMAS
                    && libm::fabsf(self.x[E][c]) <= AGREEMENT_SIGMAS * params.ocv_error_v.0;
            }
            None => self.outliers[c] = self.outliers[c].saturating_add(1),
        }
        self.x[H][c] = self.x[H][c].clamp(-1.0, 1.0);
    }

    /// Full-charge synchronisation of every cell with a voltage (`voltages`, V; NaN for a cell
    /// without a plausible reading, whose detection time holds): a cell at or above the charged
    /// voltage while the current is between 0 and the tail current for the detection time is
    /// full.
    pub(crate) fn full_charge_sync(
        &mut self,
        params: &CellModelParams,
        input: &StepInput<'_>,
        voltages: &Lanes,
    ) {
        let n = self.len.min(MAX_CELLS);
        let (charged_v, tail_a) = input.full_charge;
        let mut any_full = false;
        for c in 0..n {
            let v = voltages[c];
            let current = input.current_a - self.x[B][c];
            let held = self.full_secs[c];
            let counted = if v >= charged_v && (-0.5..=tail_a).contains(&current) {
                held + input.dt_secs
            } else {
                0.0
            };
            // A cell without a reading keeps its time (NaN compares false both ways).
            let full_secs = if v.is_nan() { held } else { counted };
            self.full_secs[c] = full_secs;
            any_full |= full_secs >= input.full_detect_secs;
        }
        if !any_full {
            return;
        }
        for c in 0..n {
            if self.full_secs[c] < input.full_detect_secs || voltages[c].is_nan() {
                continue;
            }
            self.measure_full(c, params);
            // Held full: again after an hour.
            self.full_secs[c] = input.full_detect_secs - FULL_CHARGE_REPEAT_SECS;
            // A full charge vouches for the SOC, whatever the voltage beyond the table's end
            // did to the last correction: a pin for the capacity.
            self.agrees[c] = true;
        }
    }

    /// Measures cell `c` full: SOC 1 with σ [`FULL_CHARGE_SIGMA`]. Full is a fact, however far
    /// the estimate was: no outlier gate.
    fn measure_full(&mut self, c: usize, params: &CellModelParams) {
        let mut h = [0.0; N];
        h[Z] = 1.0;
        let _ = self.scalar_update(
            c,
            &h,
            1.0 - self.x[Z][c],
            FULL_CHARGE_SIGMA * FULL_CHARGE_SIGMA,
            f32::INFINITY,
            params.soc_sigma_floor,
        );
    }

    /// Kalman update of cell `c` with one scalar measurement of `h · x`: the squared innovation
    /// over its variance, or `None` if it was an outlier (and nothing changed). The SOC σ
    /// is kept at or above `soc_sigma_floor`: the OCV table and the
    /// capacity are never exact, and a filter that believes otherwise stops listening.
    fn scalar_update(
        &mut self,
        c: usize,
        h: &[f32; N],
        innovation: f32,
        r: f32,
        gate_sigmas: f32,
        soc_sigma_floor: f32,
    ) -> Option<f32> {
        // Every measurement update needs the covariance brought up to date first.
        self.propagate(c);
        let p = &mut self.p[c];
        let mut ph = [0.0_f32; N];
        for (out, row) in ph.iter_mut().zip(p.iter()) {
            *out = dot(row, h);
        }
        let s = dot(h, &ph) + r;
        if s.is_nan() || s <= 0.0 || !innovation.is_finite() {
            return None;
        }
        if innovation * innovation > gate_sigmas * gate_sigmas * s {
            return None;
        }
        let inv_s = 1.0 / s;
        let normalised = innovation * innovation * inv_s;
        for (k, phi) in ph.iter().enumerate() {
            self.x[k][c] += phi * inv_s * innovation;
        }
        // P −= (P·h)(P·h)ᵀ / s, computed on one triangle and mirrored: exactly symmetric.
        for i in 0..N {
            let ki = ph[i] * inv_s;
            for (j, phj) in ph.iter().enumerate().skip(i) {
                let value = p[i][j] - ki * phj;
                p[i][j] = value;
                p[j][i] = value;
            }
        }
        for (k, row) in p.iter_mut().enumerate() {
            row[k] = row[k].max(1e-12);
        }
        // Adding to a diagonal keeps the covariance positive definite.
        let floor = soc_sigma_floor * soc_sigma_floor;
        if p[Z][Z] < floor {
            p[Z][Z] = floor;
        }
        Some(normalised)
    }
}

fn dot(a: &[f32; N], b: &[f32; N]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A time update of every cell of `f` counted against 280 Ah known to 5 %.
    fn predict(f: &mut Filters, params: &CellModelParams, step: &Step) {
        f.predict(
            params,
            step,
            &[280.0 * 3600.0; MAX_CELLS],
            &[0.05; MAX_CELLS],
            &[0.0; MAX_CELLS],
        );
    }

    fn step(current_a: f32) -> Step {
        Step::new(
            &CellModelParams::lfp(280.0),
            current_a,
            1.0,
            (libm::expf(-1.0 / 45.0), libm::expf(-1.0 / 2_700.0)),
            1.3,
            1.0,
            25.0,
        )
    }

    /// Eight steps composed and propagated once give the covariance that propagating after
    /// every step gives, up to where the steps' noise enters (added at the end instead of
    /// decaying with the RC states, so a variance may come out larger by at most that noise):
    /// the composition of `F = D + u·e_Bᵀ` is exact.
    #[test]
    fn composed_steps_propagate_like_single_steps() {
        let params = CellModelParams::lfp(280.0);
        let mut composed = Filters::new(&params, 1, 0.6, 0.1);
        // A correlated start, so that the bias column matters.
        composed.p[0][Z][B] = 0.02;
        composed.p[0][B][Z] = 0.02;
        composed.p[0][V1][B] = 0.000_1;
        composed.p[0][B][V1] = 0.000_1;
        let mut stepwise = composed.clone();
        for current in [30.0, -50.0, 0.0, 12.0, -3.0, 80.0, -80.0, 5.0] {
            predict(&mut composed, &params, &step(current));
            predict(&mut stepwise, &params, &step(current));
            stepwise.propagate(0);
        }
        assert_eq!(
            composed.state(0),
            stepwise.state(0),
            "the state does not depend on when P is updated"
        );
        let sigma_before = composed.soc_sigma(0);
        let noise: [f32; N] = core::array::from_fn(|k| composed.pending.q[k][0]);
        composed.propagate(0);
        assert!((composed.soc_sigma(0) - sigma_before).abs() <= 1e-6 * sigma_before);
        let (pc, ps) = (&composed.p[0], &stepwise.p[0]);
        for (i, noise_i) in noise.iter().enumerate() {
            for j in 0..N {
                let (a, b) = (pc[i][j], ps[i][j]);
                let scale = crate::math::sqrtf(ps[i][i] * ps[j][j]);
                let agrees = if i == j {
                    // The noise added at the end has not decayed: more, never more than it.
                    a - b >= -1e-5 * scale && a - b <= noise_i + 1e-5 * scale
                } else {
                    (a - b).abs() <= 1e-4 * scale
                };
                assert!(agrees, "P[{i}][{j}]: composed {a:e}, step by step {b:e}");
            }
        }
    }

    /// A cell the balancer bleeds is counted down by the bleed beside the string's current,
    /// its hysteresis driven by its own current; its neighbour is not.
    #[test]
    fn a_bled_cell_is_counted_with_its_bleed() {
        let params = CellModelParams::lfp(280.0);
        let mut f = Filters::new(&params, 2, 0.5, 0.1);
        let mut balance = [0.0; MAX_CELLS];
        balance[1] = 2.0;
        for _ in 0..3_600 {
            f.predict(
                &params,
                &step(-1.0),
                &[280.0 * 3600.0; MAX_CELLS],
                &[0.05; MAX_CELLS],
                &balance,
            );
        }
        // An hour at 1 A out, and 2 A more out of cell 2: 1/280 and 3/280 of the capacity.
        assert!(
            (f.soc(0) - (0.5 - 1.0 / 280.0)).abs() < 1e-5,
            "{}",
            f.soc(0)
        );
        assert!(
            (f.soc(1) - (0.5 - 3.0 / 280.0)).abs() < 1e-5,
            "{}",
            f.soc(1)
        );
        // At 0.5 A into the string, cell 2 still loses 1.5 A: its hysteresis turns to
        // discharge while its neighbour's turns to charge.
        for _ in 0..600 {
            f.predict(
                &params,
                &step(0.5),
                &[280.0 * 3600.0; MAX_CELLS],
                &[0.05; MAX_CELLS],
                &balance,
            );
        }
        assert!(
            f.hysteresis(0) > f.hysteresis(1),
            "{} {}",
            f.hysteresis(0),
            f.hysteresis(1)
        );
        assert!(f.soc(1) < 0.5 - 3.0 / 280.0);
    }

    /// A cell whose corrections are all skipped for hours (its voltage beyond the curve's
    /// ends) composes its pending propagation all that time: the decays come down to exactly
    /// 0, never into subnormal numbers.
    #[test]
    fn an_uncorrected_cell_composes_no_subnormals() {
        let params = CellModelParams::lfp(280.0);
        let mut filter = Filters::new(&params, 1, 0.5, 0.02);
        for k in 0..20_000 {
            predict(
                &mut filter,
                &params,
                &step(if k % 2 == 0 { 30.0 } else { -30.0 }),
            );
            let pending = &filter.pending;
            for x in pending.d.iter().chain(&pending.u).map(|lane| &lane[0]) {
                assert!(*x == 0.0 || x.is_normal(), "step {k}: {x:e}");
            }
        }
        assert_eq!(filter.pending.d[V1][0], 0.0);
    }

    /// The voltage vouches for the SOC only while the model explains it: a rested cell showing
    /// its OCV agrees; a voltage too far from the model's to be believed does not, nor one the
    /// model follows only by bending its OCV offset further than the table's error can go.
    #[test]
    fn agreement_is_lost_when_the_voltage_and_the_model_part() {
        let params = CellModelParams::lfp(280.0);
        let r0 = params.r0_ohm;
        let soc = 0.2;
        let ocv = params.ocv.voltage(soc).0;
        let rest = step(0.0);
        let settled = || {
            let mut filter = Filters::new(&params, 1, soc, 0.01);
            assert!(!filter.agrees(0), "nothing heard yet");
            for _ in 0..20 {
                predict(&mut filter, &params, &rest);
                filter.correct(0, &params, &rest, r0, ocv);
            }
            assert!(filter.agrees(0));
            filter
        };
        // 60 mV below the OCV at once: beyond belief.
        let mut filter = settled();
        predict(&mut filter, &params, &rest);
        filter.correct(0, &params, &rest, r0, ocv - 0.06);
        assert!(!filter.agrees(0));
        // An OCV offset of 30 mV (4σ of the table's error) that explains the voltage.
        let mut filter = settled();
        filter.x[E][0] = -0.03;
        predict(&mut filter, &params, &rest);
        filter.correct(0, &params, &rest, r0, ocv - 0.03);
        assert_eq!(filter.outliers[0], 0);
        assert!(!filter.agrees(0), "{:?}", filter.state(0));
    }

    /// The OCV table's error is bounded: however far a cell cycles unheard, its variance
    /// stays at the table's σ², and an offset learnt at one SOC fades as the cell moves away
    /// from it. (As a random walk it grew without bound, and a month of cycles let one cell
    /// explain its voltage by a −100 mV "table error".)
    #[test]
    fn the_ocv_error_stays_bounded_however_far_the_cell_cycles() {
        let params = CellModelParams::lfp(280.0);
        let sigma = params.ocv_error_v.0;
        let mut filter = Filters::new(&params, 1, 0.5, 0.02);
        filter.x[E][0] = 2.0 * sigma;
        // 30 full cycles at 0.5 C, in 1 s steps, with no voltage heard.
        for k in 0..30 * 2 * 7_200 {
            let current = if (k / 7_200) % 2 == 0 { 140.0 } else { -140.0 };
            predict(&mut filter, &params, &step(current));
        }
        filter.propagate(0);
        let variance = filter.p[0][E][E];
        assert!(
            variance <= 1.01 * sigma * sigma && variance >= 0.9 * sigma * sigma,
            "σ {} mV",
            1e3 * crate::math::sqrtf(variance)
        );
        assert!(filter.x[E][0].abs() < 0.01 * sigma, "{}", filter.x[E][0]);
        // Learnt exactly at one SOC, then 1 % of the SOC further: it is known to the walk's
        // 1.2 mV and has kept almost all of its value; 0.9 of the SOC further, a third of it.
        let walk = params.ocv_error_v.1;
        let mut filter = Filters::new(&params, 1, 0.05, 0.02);
        filter.p[0][E][E] = 0.0;
        filter.x[E][0] = 0.01;
        let charge = |filter: &mut Filters, soc: f32| {
            // 100.8 A for a second is 1e-4 of 280 Ah.
            for _ in 0..libm::roundf(soc / 1e-4) as u32 {
                predict(filter, &params, &step(100.8 / params.charge_efficiency));
            }
            filter.propagate(0);
        };
        charge(&mut filter, 0.01);
        let added = filter.p[0][E][E];
        assert!(
            (added - walk * walk * 0.01).abs() <= 0.02 * walk * walk * 0.01,
            "{added:e}"
        );
        assert!(
            (filter.x[E][0] - 0.01 * 0.989).abs() < 1e-5,
            "{}",
            filter.x[E][0]
        );
        charge(&mut filter, 0.89);
        assert!(
            (filter.x[E][0] - 0.01 / core::f32::consts::E).abs() < 2e-4,
            "{}",
            filter.x[E][0]
        );
    }

    /// A cold cell rests a few mV above the 25 °C curve near empty (LiFePO4's OCV temperature
    /// coefficient, here 5 mV at 15 % and −10 °C); the filter that knows the coefficient keeps
    /// its SOC, one that does not (a cell known from its datasheet) reads it half a point high,
    /// most of the 5 mV taken up by its OCV-error state.
    #[test]
    fn a_cold_rested_cell_is_read_through_the_temperature_coefficient() {
        let known = CellModelParams::lfp(280.0);
        let unknown = CellModelParams {
            ocv_temperature: crate::estimation::OcvTemperatureCoefficient::default(),
            ..known.clone()
        };
        let soc = 0.15;
        let cold = Step {
            temperature_c: -10.0,
            ..step(0.0)
        };
        let v = known.ocv.voltage(soc).0 + known.ocv_temperature.shift_v(soc, -10.0).0;
        let error = |params: &CellModelParams| {
            let mut filter = Filters::new(params, 1, soc, 0.05);
            filter.x[H][0] = 0.0;
            for _ in 0..400 {
                predict(&mut filter, params, &cold);
                filter.correct(0, params, &cold, params.r0_ohm, v);
            }
            filter.soc(0) - soc
        };
        let (with, without) = (error(&known), error(&unknown));
        assert!(with.abs() < 0.001 && without > 0.004, "{with} {without}");
    }

    /// A voltage under load that the ohmic drop does not explain (the cell's resistance is
    /// higher than the filter knows) is not a current-sensor bias: once it was, by amperes.
    #[test]
    fn an_unexplained_ohmic_drop_is_not_read_as_a_bias() {
        let params = CellModelParams::lfp(280.0);
        let load = step(45.0);
        let r0 = 5.0e-3 * load.resistance_factor;
        let mut filter = Filters::new(&params, 1, 0.5, 0.02);
        for _ in 0..200 {
            predict(&mut filter, &params, &load);
            // The drop is 5 % more than the filter's R0 gives: 11 mV at 45 A.
            let v = params.ocv.voltage(filter.soc(0)).0
                + params.hysteresis_v * filter.hysteresis(0)
                + filter.x[V1][0]
                + filter.x[V2][0]
                + 1.05 * r0 * 45.0;
            filter.correct(0, &params, &load, r0, v);
        }
        assert!(filter.bias_a(0).abs() < 0.2, "bias {} A", filter.bias_a(0));
    }

    /// A cell resting below the OCV curve's empty end is empty, however sure the filter was of
    /// more (a weak cell counted as full-sized once sat at 2.80 V for hours, its estimate at
    /// 15 % with σ 1.4 %); under a heavy load such a voltage may be the resistance: no reset.
    #[test]
    fn a_cell_below_the_empty_end_at_light_load_is_empty() {
        let params = CellModelParams::lfp(280.0);
        let r0 = params.r0_ohm;
        let empty_v = params.ocv.range_v().0;
        let mut filter = Filters::new(&params, 1, 0.15, 0.014);
        let heavy = step(-0.2 * 280.0);
        predict(&mut filter, &params, &heavy);
        let before = filter.soc(0);
        filter.correct(0, &params, &heavy, r0, empty_v - 0.2);
        assert!(filter.soc(0) > 0.1, "{} (was {before})", filter.soc(0));
        let rest = step(0.0);
        for _ in 0..3 {
            predict(&mut filter, &params, &rest);
            filter.correct(0, &params, &rest, r0, empty_v - 0.03);
        }
        assert!(filter.soc(0).abs() < 0.005, "{}", filter.soc(0));
        assert!(
            (filter.soc_sigma(0) - EMPTY_SIGMA).abs() < 0.002,
            "{}",
            filter.soc_sigma(0)
        );
        // Empty is known from the voltage: a pin for the capacity, as a full charge is.
        assert!(filter.agrees(0));
    }

    /// A cell resting above the curve's full end is full, whatever its bias made of the rest:
    /// here the sensor reads −3 A with nothing flowing, the filter believes a bias of 0, so it
    /// counts 3 A out of the cell and, with the voltage beyond the table, heard nothing to
    /// stop it. Under load, or with its RC pairs still charged, the same voltage says nothing.
    #[test]
    fn a_cell_resting_above_the_full_end_is_full() {
        let params = CellModelParams::lfp(280.0);
        let r0 = params.r0_ohm;
        let above_v = params.ocv.range_v().1 + 0.005;
        let mut filter = Filters::new(&params, 1, 0.97, 0.02);
        filter.x[B][0] = 0.0;
        let rest = step(-3.0);
        // Charged RC pairs: nothing is concluded.
        filter.x[V1][0] = 0.01;
        predict(&mut filter, &params, &rest);
        filter.correct(0, &params, &rest, r0, above_v + filter.x[V1][0]);
        assert!(filter.soc(0) < 0.975, "{}", filter.soc(0));
        // A heavy discharge: nothing either.
        filter.x[V1][0] = 0.0;
        let load = step(-50.0);
        predict(&mut filter, &params, &load);
        filter.correct(0, &params, &load, r0, above_v);
        assert!(filter.soc(0) < 0.975, "{}", filter.soc(0));
        // Relaxed, at rest: full, and the bias learns what took the count away.
        filter.x[V1][0] = 0.0;
        filter.x[V2][0] = 0.0;
        for _ in 0..4 * 3_600 {
            predict(&mut filter, &params, &rest);
            filter.correct(0, &params, &rest, r0, above_v);
        }
        assert!(filter.soc(0) > 0.98, "{}", filter.soc(0));
        assert!(filter.bias_a(0) < -1.0, "bias {} A", filter.bias_a(0));
    }

    /// The other way: the sensor reads 2 A high with nothing flowing, so the count climbs past
    /// full, where the voltage (20 mV above the curve's end: beyond its reach even with the
    /// charge branch of the hysteresis) says nothing more. Resting there, the cell is measured
    /// full again, and the bias learns the offset (without that: 103 % after four hours, the
    /// bias unmoved).
    #[test]
    fn a_cell_counting_past_full_at_rest_is_brought_back_and_learns_the_offset() {
        let params = CellModelParams::lfp(280.0);
        let above_v = params.ocv.range_v().1 + 0.020;
        let mut filter = Filters::new(&params, 1, 1.0, 0.01);
        filter.x[B][0] = 0.0;
        let rest = step(2.0);
        for _ in 0..4 * 3_600 {
            predict(&mut filter, &params, &rest);
            filter.correct(0, &params, &rest, params.r0_ohm, above_v);
        }
        assert!(filter.soc(0) < 1.015, "{}", filter.soc(0));
        assert!(filter.bias_a(0) > 0.5, "bias {} A", filter.bias_a(0));
    }
}
