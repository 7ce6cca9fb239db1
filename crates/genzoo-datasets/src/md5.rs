//! MD5, through RustCrypto's `md-5`: the canonical Fashion-MNIST and CIFAR-10 archives are published with MD5
//! sums only. Used solely to check downloads against those published sums, never for security.

use ::md5::Digest;
pub use ::md5::Md5;

/// Hex MD5 of `data`.
pub fn md5_hex(data: &[u8]) -> String {
    crate::verify::hex(&Md5::digest(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1321_test_suite() {
        let cases = [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("a", "0cc175b9c0f1b6a831c399e269772661"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            ("message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                "abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(md5_hex(input.as_bytes()), want, "{input:?}");
        }
    }

    #[test]
    fn streaming_equals_one_shot() {
        // python3 -c "import hashlib; print(hashlib.md5(bytes(i % 251 for i in range(10000))).hexdigest())"
        let data: Vec<u8> = (0..10_000u32).map(|i| (i % 251) as u8).collect();
        let want = "bbf1c77538f97ceeb1e03126edaa3594";
        assert_eq!(md5_hex(&data), want);
        let mut h = Md5::default();
        for c in data.chunks(37) {
            Digest::update(&mut h, c);
        }
        assert_eq!(crate::verify::hex(&h.finalize()), want);
    }
}
