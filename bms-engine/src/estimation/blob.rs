//! What the model estimator must keep across a restart, as a small byte blob the device stores
//! (flash, EEPROM, a file): per cell SOC and its σ, hysteresis, bias, capacity and R0. Little
//! endian, versioned, CRC-16 protected. A restored SOC gets extra uncertainty for the unknown
//! time the device was off.

use super::ModelEstimator;
use crate::MAX_CELLS;
use crc::{CRC_16_IBM_3740, Crc};

const MAGIC: [u8; 4] = *b"CSE1";
const VERSION: u8 = 1;
const HEADER: usize = 8;
const PER_CELL: usize = 7 * 4;
const CRC16: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);
/// SOC σ added on restore for self-discharge while off, fraction.
const RESTART_SIGMA: f32 = 0.02;

/// Largest blob: header, 32 cells, CRC.
pub const STATE_BLOB_MAX_LEN: usize = HEADER + MAX_CELLS * PER_CELL + 2;

/// Why a blob could not be written or read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BlobError {
    /// The output buffer is shorter than the blob (`needed` bytes).
    BufferTooSmall {
        /// Bytes the blob needs.
        needed: usize,
    },
    /// Not a Cellsight estimator blob, or one of another version.
    UnknownFormat,
    /// The blob's length does not match its cell count.
    WrongLength,
    /// The checksum does not match: the blob is corrupt.
    Corrupt,
    /// The blob is for `stored` cells, the estimator has another count.
    CellCount {
        /// Cells in the blob.
        stored: u8,
    },
    /// A stored value is not a number or out of its range (cell index from 0).
    BadValue {
        /// The cell whose values are bad.
        cell: u8,
    },
}

fn put(out: &mut [u8], at: &mut usize, value: f32) {
    if let Some(slot) = out.get_mut(*at..*at + 4) {
        slot.copy_from_slice(&value.to_le_bytes());
    }
    *at += 4;
}

fn get(bytes: &[u8], at: &mut usize) -> f32 {
    let value = bytes
        .get(*at..*at + 4)
        .and_then(|b| <[u8; 4]>::try_from(b).ok())
        .map_or(f32::NAN, f32::from_le_bytes);
    *at += 4;
    value
}

pub(super) fn save(e: &ModelEstimator, out: &mut [u8]) -> Result<usize, BlobError> {
    let cells = e.filters.len();
    let len = HEADER + cells * PER_CELL + 2;
    if out.len() < len {
        return Err(BlobError::BufferTooSmall { needed: len });
    }
    let health = e.health.report();
    if let Some(header) = out.get_mut(..HEADER) {
        header.copy_from_slice(&[
            MAGIC[0],
            MAGIC[1],
            MAGIC[2],
            MAGIC[3],
            VERSION,
            u8::try_from(cells).unwrap_or(0),
            0,
            0,
        ]);
    }
    let mut at = HEADER;
    for i in 0..cells {
        let f = &e.filters;
        let capacity = health.cell_capacity_ah.get(i).copied().flatten();
        let r0 = health.cell_r0_ohm.get(i).copied().flatten();
        put(out, &mut at, f.soc(i));
        put(
            out,
            &mut at,
            e.soc_sigma.get(i).copied().unwrap_or(f32::NAN),
        );
        put(out, &mut at, f.hysteresis(i));
        put(out, &mut at, f.bias_a(i));
        put(out, &mut at, capacity.map_or(f32::NAN, |c| c.0));
        put(out, &mut at, capacity.map_or(f32::NAN, |c| c.1));
        put(out, &mut at, r0.map_or(f32::NAN, |r| r.0));
    }
    let crc = CRC16.checksum(out.get(..at).unwrap_or_default());
    if let Some(slot) = out.get_mut(at..at + 2) {
        slot.copy_from_slice(&crc.to_le_bytes());
    }
    Ok(len)
}

pub(super) fn restore(e: &mut ModelEstimator, bytes: &[u8]) -> Result<(), BlobError> {
    if bytes.get(..4) != Some(&MAGIC[..]) || bytes.get(4) != Some(&VERSION) {
        return Err(BlobError::UnknownFormat);
    }
    let stored = bytes.get(5).copied().unwrap_or(0);
    let body = HEADER + usize::from(stored) * PER_CELL;
    if bytes.len() != body + 2 {
        return Err(BlobError::WrongLength);
    }
    let crc = bytes
        .get(body..body + 2)
        .and_then(|b| <[u8; 2]>::try_from(b).ok())
        .map(u16::from_le_bytes);
    if crc != Some(CRC16.checksum(bytes.get(..body).unwrap_or_default())) {
        return Err(BlobError::Corrupt);
    }
    if usize::from(stored) != e.filters.len() {
        return Err(BlobError::CellCount { stored });
    }
    // Read and check everything before changing anything.
    let mut values = [[0.0_f32; 7]; MAX_CELLS];
    let mut at = HEADER;
    for (cell, v) in values.iter_mut().take(usize::from(stored)).enumerate() {
        for slot in v.iter_mut() {
            *slot = get(bytes, &mut at);
        }
        let [soc, sigma, h, bias, ..] = *v;
        let ok = soc.is_finite()
            && (-0.1..=1.1).contains(&soc)
            && sigma.is_finite()
            && sigma >= 0.0
            && (-1.0..=1.0).contains(&h)
            && bias.is_finite();
        if !ok {
            return Err(BlobError::BadValue {
                cell: u8::try_from(cell).unwrap_or(u8::MAX),
            });
        }
    }
    let mut capacities = [None; MAX_CELLS];
    let mut r0s = [f32::NAN; MAX_CELLS];
    let cells = e.filters.len().min(MAX_CELLS);
    for (i, v) in values.iter().enumerate().take(cells) {
        let [soc, sigma, h, bias, capacity, capacity_sigma, r0] = *v;
        let sigma = crate::math::sqrtf(sigma * sigma + RESTART_SIGMA * RESTART_SIGMA);
        e.filters.resume(i, &e.params, soc, sigma, h, bias);
        if let (Some(c), Some(r)) = (capacities.get_mut(i), r0s.get_mut(i)) {
            (*c, *r) = (Some((capacity, capacity_sigma)), r0);
        }
    }
    e.health.take_up(
        capacities.get(..cells).unwrap_or_default(),
        r0s.get(..cells).unwrap_or_default(),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimation::{CellModelParams, SocEstimator};

    fn estimator(soc: f32) -> ModelEstimator {
        ModelEstimator::new(CellModelParams::lfp(280.0), 4, soc, 0.05)
    }

    #[test]
    fn a_saved_state_comes_back_with_a_little_more_doubt() {
        let e = estimator(0.42);
        let mut buf = [0_u8; STATE_BLOB_MAX_LEN];
        let len = e.save(&mut buf).unwrap();
        assert_eq!(len, 8 + 4 * 28 + 2);
        let mut fresh = estimator(0.9);
        fresh.restore(&buf[..len]).unwrap();
        let c = fresh.cell(2).unwrap();
        assert!((c.soc - 0.42).abs() < 1e-6);
        let sigma = c.sigma.unwrap();
        assert!(sigma > 0.05 && sigma < 0.055, "{sigma}");
    }

    #[test]
    fn a_bad_blob_is_refused_and_changes_nothing() {
        let e = estimator(0.42);
        let mut buf = [0_u8; STATE_BLOB_MAX_LEN];
        let len = e.save(&mut buf).unwrap();
        let mut target = estimator(0.9);
        let before: [Option<crate::estimation::CellEstimate>; 4] =
            core::array::from_fn(|i| target.cell(i));
        let mut corrupt = buf;
        corrupt[20] ^= 0x40;
        assert_eq!(target.restore(&corrupt[..len]), Err(BlobError::Corrupt));
        assert_eq!(target.restore(&buf[..len - 1]), Err(BlobError::WrongLength));
        assert_eq!(target.restore(b"nonsense"), Err(BlobError::UnknownFormat));
        let mut other = ModelEstimator::new(CellModelParams::lfp(280.0), 3, 0.5, 0.05);
        assert_eq!(
            other.restore(&buf[..len]),
            Err(BlobError::CellCount { stored: 4 })
        );
        assert_eq!(core::array::from_fn(|i| target.cell(i)), before);
        let mut small = [0_u8; 10];
        assert_eq!(
            e.save(&mut small),
            Err(BlobError::BufferTooSmall { needed: len })
        );
    }
}
