//! The one float function the engine takes from the platform when it has one.
//!
//! On x86-64 `libm::sqrtf` is an inline-assembly `sqrtss` in the legacy SSE encoding. In a
//! build for a CPU with AVX (`-C target-cpu=native` on any recent PC) the code around it uses
//! the VEX encoding and the 256-bit registers, and every legacy instruction then waits for the
//! processor to merge the registers' upper halves: the σ of every cell, taken each step, made
//! a 16-cell pack-day 254 ms instead of 65. The assembly also keeps the compiler from
//! vectorising those square roots. With the `std` feature (hosted builds) the square root is
//! the compiler's own intrinsic instead; the results are the same bits, an IEEE square root
//! being exactly rounded. The firmware, without `std`, keeps libm.

/// √x, exactly rounded.
#[inline(always)]
pub(crate) fn sqrtf(x: f32) -> f32 {
    #[cfg(feature = "std")]
    {
        x.sqrt()
    }
    #[cfg(not(feature = "std"))]
    {
        libm::sqrtf(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_square_root_is_libms_to_the_bit() {
        // Every power of two's neighbourhood from subnormals to the largest floats, and the
        // edges: whichever path is built, the bits must be libm's.
        let mut checked = 0;
        for exponent in 0..255_u32 {
            for mantissa in [0_u32, 1, 0x1234, 0x40_0000, 0x7f_ffff] {
                let x = f32::from_bits(exponent << 23 | mantissa);
                assert_eq!(sqrtf(x).to_bits(), libm::sqrtf(x).to_bits(), "√{x:e}");
                checked += 1;
            }
        }
        assert_eq!(checked, 255 * 5);
        assert_eq!(sqrtf(-0.0).to_bits(), (-0.0_f32).to_bits());
        assert!(sqrtf(-1.0).is_nan() && sqrtf(f32::NAN).is_nan());
        assert_eq!(sqrtf(f32::INFINITY), f32::INFINITY);
    }
}
