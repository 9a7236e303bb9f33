//! G.711 μ-law and A-law codecs (ITU-T G.711), as SIP recorders write them.
//!
//! Decoding goes through 256-entry tables built at compile time; encoding is
//! the standard segment search. Both follow the classic reference
//! implementation, so `decode(encode(decode(b))) == decode(b)` for every byte.

/// Which G.711 companding law a stream uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Law {
    /// μ-law (North America, Japan); WAV format tag 7.
    MuLaw,
    /// A-law (Europe and most of the world); WAV format tag 6.
    ALaw,
}

const fn ulaw_decode_i16(byte: u8) -> i16 {
    let u = !byte;
    let sign = u & 0x80;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    if sign != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn alaw_decode_i16(byte: u8) -> i16 {
    let a = byte ^ 0x55;
    let sign = a & 0x80;
    let exponent = ((a >> 4) & 0x07) as i32;
    let mantissa = (a & 0x0F) as i32;
    let mut magnitude = (mantissa << 4) + 8;
    if exponent != 0 {
        magnitude = (magnitude + 0x100) << (exponent - 1);
    }
    if sign != 0 {
        magnitude as i16
    } else {
        -magnitude as i16
    }
}

const fn build_table(law: Law) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = match law {
            Law::MuLaw => ulaw_decode_i16(i as u8),
            Law::ALaw => alaw_decode_i16(i as u8),
        };
        i += 1;
    }
    table
}

static ULAW_TABLE: [i16; 256] = build_table(Law::MuLaw);
static ALAW_TABLE: [i16; 256] = build_table(Law::ALaw);

impl Law {
    /// Decodes one byte to a 16-bit linear sample.
    pub fn decode(self, byte: u8) -> i16 {
        match self {
            Law::MuLaw => ULAW_TABLE[byte as usize],
            Law::ALaw => ALAW_TABLE[byte as usize],
        }
    }

    /// Decodes one byte to a sample in `[-1, 1)`.
    pub fn decode_f32(self, byte: u8) -> f32 {
        f32::from(self.decode(byte)) / 32768.0
    }

    /// Encodes a 16-bit linear sample.
    pub fn encode(self, sample: i16) -> u8 {
        match self {
            Law::MuLaw => ulaw_encode(sample),
            Law::ALaw => alaw_encode(sample),
        }
    }

    /// The WAV format tag of this law.
    pub fn format_tag(self) -> u16 {
        match self {
            Law::MuLaw => 7,
            Law::ALaw => 6,
        }
    }
}

fn ulaw_encode(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80u8
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    // s is in [0x84, 0x7FFF]: its highest set bit is 7..=14, the exponent 0..=7.
    let exponent = (31 - s.leading_zeros() as i32 - 7) as u8;
    let mantissa = ((s >> (exponent + 3)) & 0x0F) as u8;
    !(sign | (exponent << 4) | mantissa)
}

fn alaw_encode(sample: i16) -> u8 {
    const SEG_END: [i32; 8] = [0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF];
    let mut s = i32::from(sample) >> 3;
    let mask = if s >= 0 {
        0xD5u8
    } else {
        s = -s - 1;
        0x55u8
    };
    let Some(seg) = SEG_END.iter().position(|&end| s <= end) else {
        return 0x7F ^ mask;
    };
    let mantissa = if seg < 2 {
        (s >> 1) & 0x0F
    } else {
        (s >> seg) & 0x0F
    };
    ((seg as u8) << 4 | mantissa as u8) ^ mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_mulaw_values() {
        assert_eq!(Law::MuLaw.decode(0xFF), 0);
        assert_eq!(Law::MuLaw.decode(0x7F), 0);
        assert_eq!(Law::MuLaw.decode(0x00), -32124);
        assert_eq!(Law::MuLaw.decode(0x80), 32124);
        assert_eq!(Law::MuLaw.encode(0), 0xFF);
        assert_eq!(Law::MuLaw.encode(i16::MAX), 0x80);
        assert_eq!(Law::MuLaw.encode(i16::MIN), 0x00);
    }

    #[test]
    fn known_alaw_values() {
        assert_eq!(Law::ALaw.decode(0xD5), 8);
        assert_eq!(Law::ALaw.decode(0x55), -8);
        assert_eq!(Law::ALaw.decode(0xAA), 32256);
        assert_eq!(Law::ALaw.decode(0x2A), -32256);
        assert_eq!(Law::ALaw.encode(0), 0xD5);
        assert_eq!(Law::ALaw.encode(i16::MAX), 0xAA);
    }

    #[test]
    fn every_code_round_trips() {
        for law in [Law::MuLaw, Law::ALaw] {
            for byte in 0..=255u8 {
                let linear = law.decode(byte);
                let again = law.decode(law.encode(linear));
                assert_eq!(again, linear, "{law:?} byte {byte:#04x}");
            }
        }
    }

    #[test]
    fn decoding_is_monotonic_in_linear_order() {
        for law in [Law::MuLaw, Law::ALaw] {
            let mut values: Vec<i16> = (0..=255u8).map(|b| law.decode(b)).collect();
            values.sort_unstable();
            values.dedup();
            // μ-law has +0 and -0 (both 0); A-law has no zero code.
            let expected = if law == Law::MuLaw { 255 } else { 256 };
            assert_eq!(values.len(), expected, "{law:?}");
        }
    }

    #[test]
    fn quantisation_error_is_small_relative_to_signal() {
        for law in [Law::MuLaw, Law::ALaw] {
            for s in (-32000i32..32000).step_by(37) {
                let s = s as i16;
                let back = law.decode(law.encode(s));
                let err = (i32::from(back) - i32::from(s)).abs();
                // Logarithmic companding: error below ~6.5 % of the magnitude (+ a small floor).
                assert!(
                    err as f64 <= 0.065 * f64::from(s).abs() + 20.0,
                    "{law:?} {s} -> {back}"
                );
            }
        }
    }
}
