//! The crate's one error type. Faults of the battery are not errors (they are [`crate::Outputs`]);
//! errors are malformed input: an invalid configuration, a bad measurement, a corrupt frame.

use core::fmt;

/// Everything that can be wrong with input handed to the engine or its protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A configuration field breaks a rule; `field` names it, `rule` says what it must satisfy.
    InvalidConfig {
        /// Name of the offending [`crate::PackConfig`] field.
        field: &'static str,
        /// The rule it breaks, in words.
        rule: &'static str,
    },
    /// A measurement holds more cells than one engine instance supports.
    TooManyCells {
        /// How many cell voltages were given.
        given: usize,
    },
    /// A measurement holds more temperatures than one engine instance supports.
    TooManyTemperatures {
        /// How many temperatures were given.
        given: usize,
    },
    /// A frame ended before a complete header, payload and checksum were read.
    FrameTooShort {
        /// How many bytes the decoded frame held.
        len: usize,
    },
    /// A frame's bytes are not valid COBS.
    FrameEncoding,
    /// A frame does not fit in the decoder's buffer (it was discarded up to the next delimiter).
    FrameTooLong,
    /// The frame's CRC does not match its contents.
    Checksum {
        /// CRC carried by the frame.
        received: u16,
        /// CRC computed over the frame's contents.
        computed: u16,
    },
    /// The frame was written by a protocol version this build does not speak.
    UnsupportedVersion {
        /// Version byte found in the frame.
        found: u8,
    },
    /// The frame's payload does not decode as a protocol message.
    MalformedPayload,
    /// The output buffer is too small for the encoded frame.
    BufferTooSmall,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidConfig { field, rule } => {
                write!(f, "invalid configuration: `{field}` {rule}")
            }
            Error::TooManyCells { given } => write!(
                f,
                "measurement has {given} cells, one engine supports at most {}",
                crate::MAX_CELLS
            ),
            Error::TooManyTemperatures { given } => write!(
                f,
                "measurement has {given} temperatures, one engine supports at most {}",
                crate::MAX_TEMPERATURES
            ),
            Error::FrameTooShort { len } => {
                write!(f, "frame of {len} bytes is shorter than header + checksum")
            }
            Error::FrameEncoding => write!(f, "frame is not valid COBS"),
            Error::FrameTooLong => write!(f, "frame exceeds the decoder buffer"),
            Error::Checksum { received, computed } => write!(
                f,
                "frame checksum mismatch: received {received:#06x}, computed {computed:#06x}"
            ),
            Error::UnsupportedVersion { found } => write!(
                f,
                "frame has protocol version {found}, this build speaks {}",
                crate::protocol::PROTOCOL_VERSION
            ),
            Error::MalformedPayload => write!(f, "frame payload is not a valid message"),
            Error::BufferTooSmall => write!(f, "output buffer too small for the frame"),
        }
    }
}

impl core::error::Error for Error {}
