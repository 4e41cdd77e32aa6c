//! One cell's extended Kalman filter (state vector and tuning: see the module above).
//!
//! Indices into the fixed 6×6 arrays are the named state constants or loop counters bounded
//! by `N`, so none of them can be out of range.
#![allow(clippy::indexing_slicing)]

use super::{CellModelParams, StepInput};

const N: usize = 6;
const Z: usize = 0;
const V1: usize = 1;
const V2: usize = 2;
const H: usize = 3;
const B: usize = 4;
const E: usize = 5;

/// Current-sensor noise σ, A, and gain uncertainty, fraction of the current.
const CURRENT_NOISE: (f32, f32) = (0.05, 0.005);
/// Bias random walk, A per √hour.
const BIAS_WALK_A: f32 = 0.02;
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
/// … when it carries at most this current, in units of its capacity.
const EMPTY_MAX_C_RATE: f32 = 0.05;
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
    ) -> Self {
        let (a1, a2) = decays;
        Step {
            current_a,
            dt_secs,
            decays,
            resistance_factor,
            accessible,
            gains: (
                params.rc1.0 * resistance_factor * (1.0 - a1),
                params.rc2.0 * resistance_factor * (1.0 - a2),
            ),
            current_sigma: CURRENT_NOISE.0 + CURRENT_NOISE.1 * libm::fabsf(current_a),
            rc_noise: RC_NOISE_V * RC_NOISE_V * dt_secs,
            bias_noise: BIAS_WALK_A * BIAS_WALK_A * dt_secs / 3600.0,
        }
    }
}

/// A cell's filter: state, covariance and full-charge detection.
#[derive(Debug, Clone, PartialEq)]
pub struct CellFilter {
    x: [f32; N],
    p: Matrix,
    /// Kahan carry of the SOC integration: per-second steps at small currents are below f32's
    /// resolution of an SOC near 1.
    z_carry: f32,
    /// How long the full-charge condition has held towards the next synchronisation, s.
    full_secs: f32,
    /// Innovations skipped as outliers.
    outliers: u32,
    /// Whether the last voltage correction was made and agreed with the model (innovation
    /// within [`AGREEMENT_SIGMAS`], OCV offset within as many σ of the table's error), or a
    /// full charge or a rest below the curve's empty end vouched for the SOC: a small σ means
    /// the SOC is known only while this holds.
    agrees: bool,
    /// Covariance propagation not yet applied to `p` (see [`Pending`]).
    pending: Pending,
}

/// The time updates of the covariance since it was last brought up to date, composed into one.
///
/// Every step's Jacobian has the form `F = D + u·e_Bᵀ` (diagonal decays, and a column of how the
/// states depend on the current-sensor bias), with `d_B = 1` and `u_B = 0`. Such matrices
/// compose into the same form: `(D₂ + u₂e_Bᵀ)(D₁ + u₁e_Bᵀ) = D₂D₁ + (D₂u₁ + u₂)e_Bᵀ`. So the
/// state advances every step (a few multiplications per cell) while the O(N²) covariance
/// propagation runs only before a correction, with the steps' diagonal process noise added
/// at the end (which slightly overstates the noise of the decaying RC states: conservative).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pending {
    d: [f32; N],
    u: [f32; N],
    q: [f32; N],
}

impl Pending {
    const NONE: Pending = Pending {
        d: [1.0; N],
        u: [0.0; N],
        q: [0.0; N],
    };
}

impl CellFilter {
    /// A filter starting at `soc` with 1σ `soc_sigma`, rested, with no bias known.
    pub fn new(params: &CellModelParams, soc: f32, soc_sigma: f32) -> Self {
        let mut p = [[0.0; N]; N];
        p[Z][Z] = soc_sigma * soc_sigma;
        p[V1][V1] = 0.005 * 0.005;
        p[V2][V2] = 0.005 * 0.005;
        p[H][H] = 0.5 * 0.5;
        p[B][B] = BIAS_PRIOR_A * BIAS_PRIOR_A;
        p[E][E] = params.ocv_error_v.0 * params.ocv_error_v.0;
        CellFilter {
            x: [soc, 0.0, 0.0, 0.0, 0.0, 0.0],
            p,
            z_carry: 0.0,
            full_secs: 0.0,
            outliers: 0,
            agrees: false,
            pending: Pending::NONE,
        }
    }

    /// A filter resumed from saved values: SOC and its σ, hysteresis, bias.
    pub(crate) fn resumed(
        params: &CellModelParams,
        soc: f32,
        soc_sigma: f32,
        hysteresis: f32,
        bias_a: f32,
    ) -> Self {
        let mut p = [[0.0; N]; N];
        p[Z][Z] = soc_sigma * soc_sigma;
        p[V1][V1] = 0.005 * 0.005;
        p[V2][V2] = 0.005 * 0.005;
        p[H][H] = 0.3 * 0.3;
        p[B][B] = 0.2 * 0.2;
        p[E][E] = params.ocv_error_v.0 * params.ocv_error_v.0;
        CellFilter {
            x: [soc, 0.0, 0.0, hysteresis, bias_a, 0.0],
            p,
            z_carry: 0.0,
            full_secs: 0.0,
            outliers: 0,
            agrees: false,
            pending: Pending::NONE,
        }
    }

    /// Estimated SOC, fraction (not clamped).
    pub fn soc(&self) -> f32 {
        self.x[Z]
    }

    /// 1σ of the SOC, fraction.
    pub fn soc_sigma(&self) -> f32 {
        libm::sqrtf(self.soc_variance())
    }

    /// Variance of the SOC, fraction².
    pub fn soc_variance(&self) -> f32 {
        // The pending propagation's (Z, Z) element alone: d_Z = 1, so
        // (F·P·Fᵀ)_ZZ = P_ZZ + 2·u_Z·P_ZB + u_Z²·P_BB.
        let u = self.pending.u[Z];
        let zz = self.p[Z][Z] + 2.0 * u * self.p[Z][B] + u * u * self.p[B][B] + self.pending.q[Z];
        zz.max(0.0)
    }

    /// Estimated current-sensor bias, A.
    pub fn bias_a(&self) -> f32 {
        self.x[B]
    }

    /// 1σ of the bias, A.
    pub fn bias_sigma_a(&self) -> f32 {
        // The bias row of a pending propagation is the identity's.
        libm::sqrtf((self.p[B][B] + self.pending.q[B]).max(0.0))
    }

    /// Hysteresis state, −1 … 1.
    pub fn hysteresis(&self) -> f32 {
        self.x[H]
    }

    /// Voltage across both RC pairs, V.
    pub fn rc_voltage(&self) -> f32 {
        self.x[V1] + self.x[V2]
    }

    /// Innovations skipped as outliers so far.
    pub fn outliers(&self) -> u32 {
        self.outliers
    }

    /// Whether the last voltage correction was made and agreed with the model (or a full
    /// charge or an empty cell vouched for the SOC).
    pub fn agrees(&self) -> bool {
        self.agrees
    }

    /// Time update over one step at the measured current.
    /// `capacity_ah` is the capacity to count against and `capacity_rel_sigma` its relative
    /// uncertainty: a capacity error is an SOC error growing with the charge moved, so the SOC
    /// variance grows by `capacity_rel_sigma² · |ΔSOC|`.
    pub(crate) fn predict(
        &mut self,
        params: &CellModelParams,
        step: &Step,
        capacity_ah: f32,
        capacity_rel_sigma: f32,
    ) {
        let dt = step.dt_secs;
        let coulombs = capacity_ah.max(0.001) * 3600.0;
        let i = step.current_a - self.x[B];
        let eff = if i > 0.0 {
            params.charge_efficiency
        } else {
            1.0
        };
        let dz_di = eff * dt / coulombs;
        let dz = dz_di * i;
        // Kahan-compensated z += dz.
        let y = dz - self.z_carry;
        let t = self.x[Z] + y;
        self.z_carry = (t - self.x[Z]) - y;
        self.x[Z] = t;

        let (a1, a2) = step.decays;
        let (g1, g2) = step.gains;
        self.x[V1] = a1 * self.x[V1] + g1 * i;
        self.x[V2] = a2 * self.x[V2] + g2 * i;
        let x = params.hysteresis_rate * libm::fabsf(dz);
        // e^(−x); a second's step moves x ≈ 0.004, where the series is exact to 1e-8.
        let k = if x < 0.01 {
            1.0 - x + 0.5 * x * x
        } else {
            libm::expf(-x)
        };
        let direction = if i > 0.0 {
            1.0
        } else if i < 0.0 {
            -1.0
        } else {
            0.0
        };
        let h_before = self.x[H];
        self.x[H] = k * h_before + (1.0 - k) * direction;

        // Jacobian F = D + u·e_Bᵀ with D = diag(1, a1, a2, k, 1, 1) and u = (−dz/di, −g1, −g2,
        // 0, 0, 0): the decays, and how the states depend on the bias through the current.
        // Composed into the pending propagation (u ← D·u + u_step, d ← D·d), written out for
        // the entries that change.
        let pending = &mut self.pending;
        pending.u[Z] -= dz_di;
        pending.u[V1] = a1 * pending.u[V1] - g1;
        pending.u[V2] = a2 * pending.u[V2] - g2;
        pending.u[H] *= k;
        pending.d[V1] *= a1;
        pending.d[V2] *= a2;
        pending.d[H] *= k;

        let z_noise = step.current_sigma * dz_di;
        pending.q[Z] +=
            z_noise * z_noise + capacity_rel_sigma * capacity_rel_sigma * libm::fabsf(dz);
        pending.q[V1] += step.rc_noise;
        pending.q[V2] += step.rc_noise;
        let h_moved = libm::fabsf(self.x[H] - h_before) + 1e-6;
        pending.q[H] += HYSTERESIS_NOISE * HYSTERESIS_NOISE * h_moved;
        pending.q[B] += step.bias_noise;
        let walk = params.ocv_error_v.1;
        pending.q[E] += walk * walk * libm::fabsf(dz);
    }

    /// Applies the pending propagation to the covariance: `P ← F·P·Fᵀ + Q`, which with
    /// `F = D + u·e_Bᵀ` costs O(N²) instead of two matrix products.
    fn propagate(&mut self) {
        if self.pending == Pending::NONE {
            return;
        }
        let Pending { d, u, q } = self.pending;
        let c = {
            let mut c = [0.0; N];
            for (ci, row) in c.iter_mut().zip(&self.p) {
                *ci = row[B];
            }
            c
        };
        let pbb = self.p[B][B];
        for i in 0..N {
            for j in i..N {
                let value = d[i] * d[j] * self.p[i][j]
                    + u[i] * d[j] * c[j]
                    + d[i] * c[i] * u[j]
                    + u[i] * u[j] * pbb;
                self.p[i][j] = value;
                self.p[j][i] = value;
            }
        }
        for (n, qn) in q.iter().enumerate() {
            self.p[n][n] += qn;
        }
        self.pending = Pending::NONE;
    }

    /// Measurement update with the cell's terminal voltage `v`.
    /// `r0` is the cell's ohmic resistance at its temperature now.
    pub(crate) fn correct(&mut self, params: &CellModelParams, step: &Step, r0: f32, v: f32) {
        // Until this correction is made and agrees, the voltage has not vouched for the SOC.
        self.agrees = false;
        let i = step.current_a - self.x[B];
        let z = self.x[Z];
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
        let (ocv, slope) = params.ocv.voltage(z_shown);
        let slope = slope * dz_shown;
        // Beyond the table's ends the curve is not known: a voltage there says only "full" or
        // "empty". Full is the full-charge synchronisation's to say. Below the empty end at a
        // light load (where the SOC cannot hinge on the resistance) the cell is empty, however
        // far the count was: a weak cell the filter counted as full-sized once sat at 2.80 V
        // for hours while its estimate stayed at 15 %.
        let ocv_seen = v - r0 * i - self.x[V1] - self.x[V2] - params.hysteresis_v * self.x[H];
        let (lowest, highest) = params.ocv.range_v();
        if ocv_seen < lowest && libm::fabsf(i) <= EMPTY_MAX_C_RATE * params.capacity_ah {
            // A reset, not an update: a filter that counted this far wrong was sure of itself
            // (its σ small, its other states bent to follow), so a weighted update would move
            // it only part of the way, and its correlations would carry the error elsewhere.
            if self.x[Z] > EMPTY_SIGMA {
                self.propagate();
                self.x[Z] = 0.0;
                self.z_carry = 0.0;
                for k in 0..N {
                    self.p[Z][k] = 0.0;
                    self.p[k][Z] = 0.0;
                }
                self.p[Z][Z] = EMPTY_SIGMA * EMPTY_SIGMA;
            }
            // The voltage vouches for this SOC as a full charge does for 100 %.
            self.agrees = true;
            return;
        }
        if !(lowest..=highest).contains(&ocv_seen) {
            return;
        }
        let predicted =
            ocv + params.hysteresis_v * self.x[H] + self.x[E] + self.x[V1] + self.x[V2] + r0 * i;
        // ∂v/∂b = −R0 is left out: the bias is heard through the charge it counts, not through
        // an ohmic drop whose own error is far larger (see the module's noise tuning).
        let h = [slope, 1.0, 1.0, params.hysteresis_v, 0.0, 1.0];
        let drop_sigma = R0_REL_SIGMA * r0 * i;
        match self.scalar_update(
            &h,
            v - predicted,
            params.voltage_sigma_v * params.voltage_sigma_v + drop_sigma * drop_sigma,
            OUTLIER_SIGMAS,
            params.soc_sigma_floor,
        ) {
            Some(normalised) => {
                self.agrees = normalised <= AGREEMENT_SIGMAS * AGREEMENT_SIGMAS
                    && libm::fabsf(self.x[E]) <= AGREEMENT_SIGMAS * params.ocv_error_v.0;
            }
            None => self.outliers = self.outliers.saturating_add(1),
        }
        self.x[H] = self.x[H].clamp(-1.0, 1.0);
    }

    /// Full-charge synchronisation: a cell at or above the charged voltage while the current
    /// is between 0 and the tail current for the detection time is full.
    pub(crate) fn full_charge_sync(
        &mut self,
        params: &CellModelParams,
        input: &StepInput<'_>,
        v: f32,
    ) {
        let (charged_v, tail_a) = input.full_charge;
        let current = input.current_a - self.x[B];
        if v >= charged_v && (-0.5..=tail_a).contains(&current) {
            self.full_secs += input.dt_secs;
        } else {
            self.full_secs = 0.0;
        }
        if self.full_secs >= input.full_detect_secs {
            let mut h = [0.0; N];
            h[Z] = 1.0;
            // A full charge is a fact, however far the estimate was: no outlier gate.
            let _ = self.scalar_update(
                &h,
                1.0 - self.x[Z],
                FULL_CHARGE_SIGMA * FULL_CHARGE_SIGMA,
                f32::INFINITY,
                params.soc_sigma_floor,
            );
            // Held full: again after an hour.
            self.full_secs = input.full_detect_secs - FULL_CHARGE_REPEAT_SECS;
            // A full charge vouches for the SOC, whatever the voltage beyond the table's end
            // did to the last correction: a pin for the capacity.
            self.agrees = true;
        }
    }

    /// Kalman update with one scalar measurement of `h · x`: the squared innovation over its
    /// variance, or `None` if it was an outlier (and nothing changed). The SOC σ
    /// is kept at or above `soc_sigma_floor`: the OCV table and the
    /// capacity are never exact, and a filter that believes otherwise stops listening.
    fn scalar_update(
        &mut self,
        h: &[f32; N],
        innovation: f32,
        r: f32,
        gate_sigmas: f32,
        soc_sigma_floor: f32,
    ) -> Option<f32> {
        // Every measurement update needs the covariance brought up to date first.
        self.propagate();
        let mut ph = [0.0_f32; N];
        for (out, row) in ph.iter_mut().zip(&self.p) {
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
        for (x, phi) in self.x.iter_mut().zip(&ph) {
            *x += phi * inv_s * innovation;
        }
        // P −= (P·h)(P·h)ᵀ / s, computed on one triangle and mirrored: exactly symmetric.
        for i in 0..N {
            let ki = ph[i] * inv_s;
            for (j, phj) in ph.iter().enumerate().skip(i) {
                let value = self.p[i][j] - ki * phj;
                self.p[i][j] = value;
                self.p[j][i] = value;
            }
        }
        for k in 0..N {
            self.p[k][k] = self.p[k][k].max(1e-12);
        }
        // Adding to a diagonal keeps the covariance positive definite.
        let floor = soc_sigma_floor * soc_sigma_floor;
        if self.p[Z][Z] < floor {
            self.p[Z][Z] = floor;
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

    fn step(current_a: f32) -> Step {
        Step::new(
            &CellModelParams::lfp(280.0),
            current_a,
            1.0,
            (libm::expf(-1.0 / 45.0), libm::expf(-1.0 / 2_700.0)),
            1.3,
            1.0,
        )
    }

    /// Eight steps composed and propagated once give the covariance that propagating after
    /// every step gives, up to where the steps' noise enters (added at the end instead of
    /// decaying with the RC states, so a variance may come out larger by at most that noise):
    /// the composition of `F = D + u·e_Bᵀ` is exact.
    #[test]
    fn composed_steps_propagate_like_single_steps() {
        let params = CellModelParams::lfp(280.0);
        let mut composed = CellFilter::new(&params, 0.6, 0.1);
        // A correlated start, so that the bias column matters.
        composed.p[Z][B] = 0.02;
        composed.p[B][Z] = 0.02;
        composed.p[V1][B] = 0.000_1;
        composed.p[B][V1] = 0.000_1;
        let mut stepwise = composed.clone();
        for current in [30.0, -50.0, 0.0, 12.0, -3.0, 80.0, -80.0, 5.0] {
            composed.predict(&params, &step(current), 280.0, 0.05);
            stepwise.predict(&params, &step(current), 280.0, 0.05);
            stepwise.propagate();
        }
        assert_eq!(
            composed.x, stepwise.x,
            "the state does not depend on when P is updated"
        );
        let sigma_before = composed.soc_sigma();
        let noise = composed.pending.q;
        composed.propagate();
        assert!((composed.soc_sigma() - sigma_before).abs() <= 1e-6 * sigma_before);
        for (i, noise_i) in noise.iter().enumerate() {
            for j in 0..N {
                let (a, b) = (composed.p[i][j], stepwise.p[i][j]);
                let scale = libm::sqrtf(stepwise.p[i][i] * stepwise.p[j][j]);
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
            let mut filter = CellFilter::new(&params, soc, 0.01);
            assert!(!filter.agrees(), "nothing heard yet");
            for _ in 0..20 {
                filter.predict(&params, &rest, 280.0, 0.05);
                filter.correct(&params, &rest, r0, ocv);
            }
            assert!(filter.agrees());
            filter
        };
        // 60 mV below the OCV at once: beyond belief.
        let mut filter = settled();
        filter.predict(&params, &rest, 280.0, 0.05);
        filter.correct(&params, &rest, r0, ocv - 0.06);
        assert!(!filter.agrees());
        // An OCV offset of 30 mV (4σ of the table's error) that explains the voltage.
        let mut filter = settled();
        filter.x[E] = -0.03;
        filter.predict(&params, &rest, 280.0, 0.05);
        filter.correct(&params, &rest, r0, ocv - 0.03);
        assert_eq!(filter.outliers(), 0);
        assert!(!filter.agrees(), "{:?}", filter.x);
    }

    /// A voltage under load that the ohmic drop does not explain (the cell's resistance is
    /// higher than the filter knows) is not a current-sensor bias: once it was, by amperes.
    #[test]
    fn an_unexplained_ohmic_drop_is_not_read_as_a_bias() {
        let params = CellModelParams::lfp(280.0);
        let load = step(45.0);
        let r0 = 5.0e-3 * load.resistance_factor;
        let mut filter = CellFilter::new(&params, 0.5, 0.02);
        for _ in 0..200 {
            filter.predict(&params, &load, 280.0, 0.05);
            // The drop is 5 % more than the filter's R0 gives: 11 mV at 45 A.
            let v = params.ocv.voltage(filter.soc()).0
                + params.hysteresis_v * filter.hysteresis()
                + filter.rc_voltage()
                + 1.05 * r0 * 45.0;
            filter.correct(&params, &load, r0, v);
        }
        assert!(filter.bias_a().abs() < 0.2, "bias {} A", filter.bias_a());
    }

    /// A cell resting below the OCV curve's empty end is empty, however sure the filter was of
    /// more (a weak cell counted as full-sized once sat at 2.80 V for hours, its estimate at
    /// 15 % with σ 1.4 %); under a heavy load such a voltage may be the resistance: no reset.
    #[test]
    fn a_cell_below_the_empty_end_at_light_load_is_empty() {
        let params = CellModelParams::lfp(280.0);
        let r0 = params.r0_ohm;
        let empty_v = params.ocv.range_v().0;
        let mut filter = CellFilter::new(&params, 0.15, 0.014);
        let heavy = step(-0.2 * 280.0);
        filter.predict(&params, &heavy, 280.0, 0.05);
        let before = filter.soc();
        filter.correct(&params, &heavy, r0, empty_v - 0.2);
        assert!(filter.soc() > 0.1, "{} (was {before})", filter.soc());
        let rest = step(0.0);
        for _ in 0..3 {
            filter.predict(&params, &rest, 280.0, 0.05);
            filter.correct(&params, &rest, r0, empty_v - 0.03);
        }
        assert!(filter.soc().abs() < 0.005, "{}", filter.soc());
        assert!(
            (filter.soc_sigma() - EMPTY_SIGMA).abs() < 0.002,
            "{}",
            filter.soc_sigma()
        );
        // Empty is known from the voltage: a pin for the capacity, as a full charge is.
        assert!(filter.agrees());
    }
}
