//! Shamir secret sharing over GF(2^8): splits the root key protector into unseal keys and
//! joins a threshold of them back.
//!
//! The share layout is byte-for-byte the one HashiCorp Vault's and OpenBao's `shamir` package
//! uses, so unseal keys produced by coffer look (and combine) exactly like OpenBao's: a share is
//! the polynomial's value for every secret byte, followed by ONE trailing byte holding the x
//! coordinate shared by all those points. x coordinates are distinct, non-zero, and drawn as the
//! first `parts` entries of a random permutation of 1..=255. Each secret byte gets its own
//! polynomial of degree `threshold - 1` whose intercept is the byte and whose other coefficients
//! are random.
//!
//! This module must never check whether a combination is *correct*: fewer than `threshold`
//! shares, or wrong shares, interpolate to some other bytes and that is indistinguishable here.
//! The caller detects a wrong key when it fails to open the keyring's AEAD. This module only
//! refuses input that is malformed on its face (lengths, duplicate or zero x coordinates).

use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use rand::RngCore;
use zeroize::Zeroizing;

/// Why a split or combine was refused. No variant carries share or secret bytes.
#[derive(Debug, thiserror::Error)]
pub enum ShamirError {
    /// A threshold of 1 would make every share the secret itself; Vault refuses it here too.
    #[error("threshold must be at least 2, got {threshold}")]
    ThresholdTooSmall { threshold: usize },
    /// x coordinates are single non-zero bytes, so at most 255 distinct shares exist.
    #[error("parts cannot exceed 255, got {parts}")]
    TooManyParts { parts: usize },
    /// More shares would be required than exist, so the secret could never be recovered.
    #[error("threshold ({threshold}) cannot exceed parts ({parts})")]
    ThresholdExceedsParts { threshold: usize, parts: usize },
    #[error("cannot split an empty secret")]
    EmptySecret,
    /// One share alone never determines a polynomial of degree >= 1.
    #[error("at least 2 shares are needed to reconstruct the secret, got {got}")]
    TooFewShares { got: usize },
    /// A share is at least one secret byte plus the x coordinate byte.
    #[error("share {index} is {len} bytes long; shares must be at least 2 bytes")]
    ShareTooShort { index: usize, len: usize },
    /// Shares of one split all have the secret's length plus one.
    #[error("share {index} is {len} bytes long, but share 0 is {expected} bytes; all shares must be the same length")]
    ShareLengthMismatch {
        index: usize,
        len: usize,
        expected: usize,
    },
    /// The same share given twice (or two forged with one x) would divide by zero.
    #[error("shares {first} and {second} have the same x coordinate (duplicate share)")]
    DuplicateXCoordinate { first: usize, second: usize },
    /// `split` never emits x = 0: the point at x = 0 is the secret itself.
    #[error("share {index} has x coordinate 0, which no valid share has")]
    ZeroXCoordinate { index: usize },
}

/// One unseal key share: y bytes followed by the x coordinate byte. Wiped on drop and never
/// printed, since `threshold` of them are the secret.
pub struct Share(Zeroizing<Vec<u8>>);

impl Share {
    /// The share in Vault's wire layout, ready to be base64- or hex-encoded for the operator.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Hands the bytes over without an unzeroized copy.
    pub fn into_bytes(self) -> Zeroizing<Vec<u8>> {
        self.0
    }
}

impl std::fmt::Debug for Share {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Share(<redacted>)")
    }
}

/// Splits `secret` into `parts` shares, any `threshold` of which recover it.
pub fn split(secret: &[u8], parts: usize, threshold: usize) -> Result<Vec<Share>, ShamirError> {
    if threshold < 2 {
        return Err(ShamirError::ThresholdTooSmall { threshold });
    }
    if parts > 255 {
        return Err(ShamirError::TooManyParts { parts });
    }
    if threshold > parts {
        return Err(ShamirError::ThresholdExceedsParts { threshold, parts });
    }
    if secret.is_empty() {
        return Err(ShamirError::EmptySecret);
    }

    let mut rng = OsRng;
    let mut x_coordinates: Vec<u8> = (1..=255).collect();
    x_coordinates.shuffle(&mut rng);
    x_coordinates.truncate(parts);

    let mut shares: Vec<Zeroizing<Vec<u8>>> = x_coordinates
        .iter()
        .map(|&x| {
            let mut share = Zeroizing::new(vec![0u8; secret.len() + 1]);
            share[secret.len()] = x;
            share
        })
        .collect();

    // coefficients[0] is the intercept; the rest are the random higher-degree terms.
    let mut coefficients = Zeroizing::new(vec![0u8; threshold]);
    for (idx, &byte) in secret.iter().enumerate() {
        coefficients[0] = byte;
        rng.fill_bytes(&mut coefficients[1..]);
        for (share, &x) in shares.iter_mut().zip(&x_coordinates) {
            share[idx] = evaluate(&coefficients, x);
        }
    }
    Ok(shares.into_iter().map(Share).collect())
}

/// Recovers the secret from shares made by [`split`] (ours or Vault's/OpenBao's).
///
/// Given too few or wrong shares this returns wrong bytes rather than an error; see the module
/// comment for why.
pub fn combine(shares: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>, ShamirError> {
    let [first, _, ..] = shares else {
        return Err(ShamirError::TooFewShares { got: shares.len() });
    };
    let share_len = first.len();
    if share_len < 2 {
        return Err(ShamirError::ShareTooShort {
            index: 0,
            len: share_len,
        });
    }
    if let Some((index, share)) = shares
        .iter()
        .enumerate()
        .find(|(_, share)| share.len() != share_len)
    {
        return Err(ShamirError::ShareLengthMismatch {
            index,
            len: share.len(),
            expected: share_len,
        });
    }

    let secret_len = share_len - 1;
    let x_samples: Vec<u8> = shares.iter().map(|share| share[secret_len]).collect();
    let mut seen_at: [Option<usize>; 256] = [None; 256];
    for (index, &x) in x_samples.iter().enumerate() {
        if x == 0 {
            return Err(ShamirError::ZeroXCoordinate { index });
        }
        if let Some(first) = seen_at[usize::from(x)] {
            return Err(ShamirError::DuplicateXCoordinate {
                first,
                second: index,
            });
        }
        seen_at[usize::from(x)] = Some(index);
    }

    let mut secret = Zeroizing::new(vec![0u8; secret_len]);
    let mut y_samples = Zeroizing::new(vec![0u8; shares.len()]);
    for (idx, out) in secret.iter_mut().enumerate() {
        for (y, share) in y_samples.iter_mut().zip(shares) {
            *y = share[idx];
        }
        *out = interpolate_at_zero(&x_samples, &y_samples);
    }
    Ok(secret)
}

/// Horner evaluation of the polynomial with `coefficients` (lowest degree first) at `x`.
fn evaluate(coefficients: &[u8], x: u8) -> u8 {
    coefficients
        .iter()
        .rev()
        .fold(0, |acc, &coefficient| add(mult(acc, x), coefficient))
}

/// Lagrange interpolation of the points evaluated at x = 0, where the intercept (the secret
/// byte) lives. The x samples are distinct and non-zero, so no denominator is zero.
fn interpolate_at_zero(x_samples: &[u8], y_samples: &[u8]) -> u8 {
    let mut result = 0;
    for (i, (&x_i, &y_i)) in x_samples.iter().zip(y_samples).enumerate() {
        let mut basis = 1;
        for (j, &x_j) in x_samples.iter().enumerate() {
            if i != j {
                // (0 - x_j) / (x_i - x_j); subtraction is addition in GF(2^8).
                basis = mult(basis, div(x_j, add(x_i, x_j)));
            }
        }
        result = add(result, mult(y_i, basis));
    }
    result
}

/// Addition in GF(2^8) is XOR (and so is subtraction).
fn add(a: u8, b: u8) -> u8 {
    a ^ b
}

/// Multiplication in GF(2^8) modulo the AES polynomial x^8 + x^4 + x^3 + x + 1 (0x11b).
///
/// Branch-free shift-and-add over all 8 bits of `b`, so the time does not depend on the
/// (secret) operands, and without tables whose cache lines could leak them.
fn mult(a: u8, b: u8) -> u8 {
    let mut product: u8 = 0;
    for bit in (0..8).rev() {
        // Double the running product, reducing by 0x1b when x^8 overflows out of the byte.
        let carry_mask = 0u8.wrapping_sub(product >> 7);
        product = (product << 1) ^ (carry_mask & 0x1b);
        let bit_mask = 0u8.wrapping_sub((b >> bit) & 1);
        product ^= bit_mask & a;
    }
    product
}

/// Multiplicative inverse as a^254 (the group of non-zero elements has order 255), computed by
/// a fixed sequence of multiplications; maps 0 to 0.
fn inverse(a: u8) -> u8 {
    let mut square = a;
    let mut result = 1;
    for _ in 1..8 {
        square = mult(square, square);
        result = mult(result, square);
    }
    result
}

/// Division in GF(2^8). Callers guarantee `b != 0`; `a / 0` would silently yield 0.
fn div(a: u8, b: u8) -> u8 {
    mult(a, inverse(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn gf_mult_matches_known_vectors() {
        assert_eq!(mult(3, 7), 9);
        assert_eq!(mult(3, 0), 0);
        assert_eq!(mult(0, 3), 0);
        assert_eq!(mult(1, 0xab), 0xab);
        // FIPS-197 section 4.2 examples.
        assert_eq!(mult(0x57, 0x83), 0xc1);
        assert_eq!(mult(0x57, 0x13), 0xfe);
    }

    #[test]
    fn gf_div_matches_known_vectors() {
        assert_eq!(div(0, 7), 0);
        assert_eq!(div(3, 3), 1);
        assert_eq!(div(6, 3), 2);
        // FIPS-197 section 5.1.1: the inverse of 0x53 is 0xca.
        assert_eq!(inverse(0x53), 0xca);
        assert_eq!(inverse(0), 0);
    }

    #[test]
    fn every_nonzero_element_times_its_inverse_is_one() {
        for a in 1..=255u8 {
            assert_eq!(mult(a, inverse(a)), 1, "a = {a:#04x}");
        }
    }

    #[test]
    fn gf_mult_is_commutative_and_distributes_over_add() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(mult(a, b), mult(b, a));
                assert_eq!(mult(a, add(b, 0x35)), add(mult(a, b), mult(a, 0x35)));
            }
        }
    }

    #[test]
    fn shares_use_vault_layout_with_distinct_nonzero_trailing_x() {
        let secret = b"root key protector";
        let shares = split(secret, 255, 3).expect("split");
        assert_eq!(shares.len(), 255);
        let mut xs: Vec<u8> = shares
            .iter()
            .map(|share| {
                assert_eq!(share.as_bytes().len(), secret.len() + 1);
                share.as_bytes()[secret.len()]
            })
            .collect();
        xs.sort_unstable();
        assert_eq!(xs, (1..=255).collect::<Vec<u8>>());
    }

    #[test]
    fn combines_shares_laid_out_by_hand_like_vault() {
        // Secret 0x2a with polynomial 0x2a + 0x05*x: at x=1 -> 0x2f, at x=2 -> 0x2a ^ 0x0a = 0x20.
        let recovered = combine(&[&[0x2f, 1], &[0x20, 2]]).expect("combine");
        assert_eq!(recovered.as_slice(), &[0x2a]);
    }

    #[test]
    fn into_bytes_returns_the_same_bytes_as_as_bytes() {
        let shares = split(b"abc", 2, 2).expect("split");
        let share = shares.into_iter().next().expect("one share");
        let copy = share.as_bytes().to_vec();
        assert_eq!(share.into_bytes().as_slice(), copy.as_slice());
    }

    #[test]
    fn share_debug_is_redacted() {
        let shares = split(b"top secret", 3, 2).expect("split");
        assert_eq!(format!("{:?}", shares[0]), "Share(<redacted>)");
    }

    #[test]
    fn split_refuses_threshold_below_two() {
        assert!(matches!(
            split(b"s", 3, 1),
            Err(ShamirError::ThresholdTooSmall { threshold: 1 })
        ));
        assert!(matches!(
            split(b"s", 3, 0),
            Err(ShamirError::ThresholdTooSmall { threshold: 0 })
        ));
    }

    #[test]
    fn split_refuses_more_than_255_parts() {
        assert!(matches!(
            split(b"s", 256, 2),
            Err(ShamirError::TooManyParts { parts: 256 })
        ));
    }

    #[test]
    fn split_refuses_threshold_above_parts() {
        assert!(matches!(
            split(b"s", 3, 4),
            Err(ShamirError::ThresholdExceedsParts {
                threshold: 4,
                parts: 3
            })
        ));
    }

    #[test]
    fn split_refuses_empty_secret() {
        assert!(matches!(split(b"", 3, 2), Err(ShamirError::EmptySecret)));
    }

    #[test]
    fn combine_refuses_fewer_than_two_shares() {
        assert!(matches!(
            combine(&[]),
            Err(ShamirError::TooFewShares { got: 0 })
        ));
        assert!(matches!(
            combine(&[&[1, 2, 3]]),
            Err(ShamirError::TooFewShares { got: 1 })
        ));
    }

    #[test]
    fn combine_refuses_shares_shorter_than_two_bytes() {
        assert!(matches!(
            combine(&[&[1], &[2]]),
            Err(ShamirError::ShareTooShort { index: 0, len: 1 })
        ));
    }

    #[test]
    fn combine_refuses_shares_of_different_lengths() {
        assert!(matches!(
            combine(&[&[1, 2, 3], &[4, 5, 6], &[7, 8]]),
            Err(ShamirError::ShareLengthMismatch {
                index: 2,
                len: 2,
                expected: 3
            })
        ));
    }

    #[test]
    fn combine_refuses_duplicate_x_coordinates() {
        let shares = split(b"secret", 3, 2).expect("split");
        let first = shares[0].as_bytes();
        assert!(matches!(
            combine(&[first, shares[1].as_bytes(), first]),
            Err(ShamirError::DuplicateXCoordinate {
                first: 0,
                second: 2
            })
        ));
    }

    #[test]
    fn combine_refuses_zero_x_coordinate() {
        assert!(matches!(
            combine(&[&[9, 1], &[9, 0]]),
            Err(ShamirError::ZeroXCoordinate { index: 1 })
        ));
    }

    /// (secret, parts, threshold, a shuffled order of share indices) for the properties below.
    fn split_case(
        secret_len: std::ops::Range<usize>,
    ) -> impl Strategy<Value = (Vec<u8>, usize, usize, Vec<usize>)> {
        (
            proptest::collection::vec(any::<u8>(), secret_len),
            2usize..=10,
        )
            .prop_flat_map(|(secret, parts)| {
                (
                    Just(secret),
                    Just(parts),
                    2..=parts,
                    Just((0..parts).collect::<Vec<usize>>()).prop_shuffle(),
                )
            })
    }

    proptest! {
        #[test]
        fn any_subset_of_at_least_threshold_shares_recovers_the_secret(
            (secret, parts, threshold, order) in split_case(1..64),
            extra in 0usize..10,
        ) {
            let shares = split(&secret, parts, threshold).expect("split");
            let count = threshold + extra % (parts - threshold + 1);
            let subset: Vec<&[u8]> = order[..count].iter().map(|&i| shares[i].as_bytes()).collect();
            let recovered = combine(&subset).expect("combine");
            prop_assert_eq!(recovered.as_slice(), secret.as_slice());
        }

        #[test]
        fn threshold_minus_one_shares_do_not_recover_the_secret(
            (secret, parts, threshold, order) in split_case(16..64),
        ) {
            let shares = split(&secret, parts, threshold).expect("split");
            let subset: Vec<&[u8]> =
                order[..threshold - 1].iter().map(|&i| shares[i].as_bytes()).collect();
            if threshold == 2 {
                // A lone share cannot even be combined: refused rather than guessed.
                let refused = matches!(combine(&subset), Err(ShamirError::TooFewShares { got: 1 }));
                prop_assert!(refused, "a single share must be refused");
            } else {
                // Each byte comes out uniform and independent of the secret: a match of 16 or
                // more bytes has probability at most 2^-128.
                let recovered = combine(&subset).expect("combine");
                prop_assert_ne!(recovered.as_slice(), secret.as_slice());
            }
        }
    }
}
