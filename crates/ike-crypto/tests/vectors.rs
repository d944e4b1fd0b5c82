//! Published test vectors (RFC 5903, RFC 7748, RFC 4231, RFC 2202, RFC 4868) and the
//! tables and error behaviour of the public API.

mod common;

use std::net::IpAddr;

use common::{hex, to_hex};
use ike_crypto::{
    child_keymat, derive_ike_keys, esp_key_lengths, hmac_sha256, nat_detection_hash, psk_auth,
    signed_octets, skeyseed, Cipher, CryptoError, DhGroup, Integrity, Prf,
};

// ---------------------------------------------------------------- ECP, RFC 5903 §8

struct EcpVector {
    group: DhGroup,
    i: &'static str,
    gix: &'static str,
    giy: &'static str,
    r: &'static str,
    grx: &'static str,
    gry: &'static str,
    girx: &'static str,
}

const RFC5903: [EcpVector; 3] = [
    // §8.1, 256-bit random ECP group
    EcpVector {
        group: DhGroup::Ecp256,
        i: "C88F01F5 10D9AC3F 70A292DA A2316DE5 44E9AAB8 AFE84049 C62A9C57 862D1433",
        gix: "DAD0B653 94221CF9 B051E1FE CA5787D0 98DFE637 FC90B9EF 945D0C37 72581180",
        giy: "5271A046 1CDB8252 D61F1C45 6FA3E59A B1F45B33 ACCF5F58 389E0577 B8990BB3",
        r: "C6EF9C5D 78AE012A 011164AC B397CE20 88685D8F 06BF9BE0 B283AB46 476BEE53",
        grx: "D12DFB52 89C8D4F8 1208B702 70398C34 2296970A 0BCCB74C 736FC755 4494BF63",
        gry: "56FBF3CA 366CC23E 8157854C 13C58D6A AC23F046 ADA30F83 53E74F33 039872AB",
        girx: "D6840F6B 42F6EDAF D13116E0 E1256520 2FEF8E9E CE7DCE03 812464D0 4B9442DE",
    },
    // §8.2, 384-bit random ECP group
    EcpVector {
        group: DhGroup::Ecp384,
        i: "099F3C70 34D4A2C6 99884D73 A375A67F 7624EF7C 6B3C0F16 0647B674 14DCE655
            E35B5380 41E649EE 3FAEF896 783AB194",
        gix: "667842D7 D180AC2C DE6F74F3 7551F557 55C7645C 20EF73E3 1634FE72 B4C55EE6
              DE3AC808 ACB4BDB4 C88732AE E95F41AA",
        giy: "9482ED1F C0EEB9CA FC498462 5CCFC23F 65032149 E0E144AD A0241815 35A0F38E
              EB9FCFF3 C2C947DA E69B4C63 4573A81C",
        r: "41CB0779 B4BDB85D 47846725 FBEC3C94 30FAB46C C8DC5060 855CC9BD A0AA2942
            E0308312 916B8ED2 960E4BD5 5A7448FC",
        grx: "E558DBEF 53EECDE3 D3FCCFC1 AEA08A89 A987475D 12FD950D 83CFA417 32BC509D
              0D1AC43A 0336DEF9 6FDA41D0 774A3571",
        gry: "DCFBEC7A ACF31964 72169E83 8430367F 66EEBE3C 6E70C416 DD5F0C68 759DD1FF
              F83FA401 42209DFF 5EAAD96D B9E6386C",
        girx: "11187331 C279962D 93D60424 3FD592CB 9D0A926F 422E4718 7521287E 7156C5C4
               D6031355 69B9E9D0 9CF5D4A2 70F59746",
    },
    // §8.3, 521-bit random ECP group
    EcpVector {
        group: DhGroup::Ecp521,
        i: "0037ADE9 319A89F4 DABDB3EF 411AACCC A5123C61 ACAB57B5 393DCE47 608172A0
            95AA85A3 0FE1C295 2C6771D9 37BA9777 F5957B26 39BAB072 462F68C2 7A57382D
            4A52",
        gix: "0015417E 84DBF28C 0AD3C278 713349DC 7DF153C8 97A1891B D98BAB43 57C9ECBE
              E1E3BF42 E00B8E38 0AEAE57C 2D107564 94188594 2AF5A7F4 601723C4 195D176C
              ED3E",
        giy: "017CAE20 B6641D2E EB695786 D8C94614 6239D099 E18E1D5A 514C739D 7CB4A10A
              D8A78801 5AC405D7 799DC75E 7B7D5B6C F2261A6A 7F150743 8BF01BEB 6CA3926F
              9582",
        r: "0145BA99 A847AF43 793FDD0E 872E7CDF A16BE30F DC780F97 BCCC3F07 8380201E
            9C677D60 0B343757 A3BDBF2A 3163E4C2 F869CCA7 458AA4A4 EFFC311F 5CB15168
            5EB9",
        grx: "00D0B397 5AC4B799 F5BEA16D 5E13E9AF 971D5E9B 984C9F39 728B5E57 39735A21
              9B97C356 436ADC6E 95BB0352 F6BE64A6 C2912D4E F2D0433C ED2B6171 640012D9
              460F",
        gry: "015C6822 6383956E 3BD066E7 97B623C2 7CE0EAC2 F551A10C 2C724D98 52077B87
              220B6536 C5C408A1 D2AEBB8E 86D678AE 49CB5709 1F473229 6579AB44 FCD17F0F
              C56A",
        girx: "01144C7D 79AE6956 BC8EDB8E 7C787C45 21CB086F A64407F9 7894E5E6 B2D79B04
               D1427E73 CA4BAA24 0A347868 59810C06 B3C715A3 A8CC3151 F2BEE417 996D19F3
               DDEA",
    },
];

#[test]
fn rfc5903_ecp_vectors() {
    for v in &RFC5903 {
        let g = v.group;
        let i = g.generate(&hex(v.i)).unwrap();
        let r = g.generate(&hex(v.r)).unwrap();
        let gi = [hex(v.gix), hex(v.giy)].concat();
        let gr = [hex(v.grx), hex(v.gry)].concat();
        assert_eq!(to_hex(&i.public_value()), to_hex(&gi), "{g}: g^i");
        assert_eq!(to_hex(&r.public_value()), to_hex(&gr), "{g}: g^r");
        assert_eq!(i.public_value().len(), g.public_len());
        let s_i = i.agree(&gr).unwrap();
        let s_r = r.agree(&gi).unwrap();
        assert_eq!(to_hex(&s_i), to_hex(&hex(v.girx)), "{g}: g^ir (initiator)");
        assert_eq!(to_hex(&s_r), to_hex(&hex(v.girx)), "{g}: g^ir (responder)");
        assert_eq!(s_i.len(), g.shared_len());
        assert_eq!(i.group(), g);
    }
}

#[test]
fn ecp_peer_values_are_validated() {
    for v in &RFC5903 {
        let g = v.group;
        let i = g.generate(&hex(v.i)).unwrap();
        let gr = [hex(v.grx), hex(v.gry)].concat();
        // y changed: not on the curve (RFC 6989 §2.3 / RFC 5903 §7).
        let mut bad = gr.clone();
        *bad.last_mut().unwrap() ^= 1;
        assert_eq!(
            i.agree(&bad).unwrap_err(),
            CryptoError::PeerPublicNotOnCurve { group: g }
        );
        // (0, 0) and all-ones (coordinates >= p) are not points either.
        for filler in [0x00, 0xFF] {
            assert_eq!(
                i.agree(&vec![filler; g.public_len()]).unwrap_err(),
                CryptoError::PeerPublicNotOnCurve { group: g }
            );
        }
        // Wrong lengths, including the SEC 1 form with its 0x04 prefix.
        let with_prefix = [&[0x04][..], &gr].concat();
        for peer in [&gr[1..], &with_prefix[..], &[][..]] {
            assert_eq!(
                i.agree(peer).unwrap_err(),
                CryptoError::PeerPublicLength {
                    group: g,
                    expected: g.public_len(),
                    actual: peer.len()
                }
            );
        }
    }
    let err = DhGroup::Ecp256
        .generate(&hex(RFC5903[0].i))
        .unwrap()
        .agree(&[0u8; 64])
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "peer's DH public value is not a point on the ECP_256 curve"
    );
}

/// Group orders n (SEC 2 §2.4.2, §2.5.1, §2.6.1).
const ORDERS: [(DhGroup, &str); 3] = [
    (
        DhGroup::Ecp256,
        "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551",
    ),
    (
        DhGroup::Ecp384,
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
    ),
    (
        DhGroup::Ecp521,
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
    ),
];

fn minus_one(bytes: &[u8]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for b in out.iter_mut().rev() {
        let (v, borrow) = b.overflowing_sub(1);
        *b = v;
        if !borrow {
            break;
        }
    }
    out
}

#[test]
fn ecp_scalars_out_of_range_are_bad_random() {
    for (g, n) in ORDERS {
        let n = hex(n);
        assert_eq!(n.len(), g.random_len());
        let bad = CryptoError::BadRandom { group: g };
        assert_eq!(g.generate(&n).unwrap_err(), bad, "{g}: n");
        assert_eq!(g.generate(&vec![0; n.len()]).unwrap_err(), bad, "{g}: 0");
        assert_eq!(
            g.generate(&vec![0xFF; n.len()]).unwrap_err(),
            bad,
            "{g}: all ones"
        );
        // n-1 and 1 are the extreme valid scalars.
        assert!(g.generate(&minus_one(&n)).is_ok(), "{g}: n-1");
        let mut one = vec![0; n.len()];
        *one.last_mut().unwrap() = 1;
        assert!(g.generate(&one).is_ok(), "{g}: 1");
        assert!(g.generate(&n[1..]).is_err(), "{g}: short random");
    }
    assert_eq!(
        CryptoError::BadRandom {
            group: DhGroup::Ecp384
        }
        .to_string(),
        "the random bytes do not give a valid ECP_384 private key; retry with fresh random bytes"
    );
}

#[test]
fn p521_ignores_the_top_seven_bits() {
    let i = hex(RFC5903[2].i);
    let mut noisy = i.clone();
    noisy[0] |= 0xFE;
    let a = DhGroup::Ecp521.generate(&i).unwrap();
    let b = DhGroup::Ecp521.generate(&noisy).unwrap();
    assert_eq!(a.public_value(), b.public_value());
}

// ---------------------------------------------------------------- X25519, RFC 7748 §6.1

#[test]
fn rfc7748_x25519() {
    let alice = "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
    let alice_pub = "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
    let bob = "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
    let bob_pub = "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
    let shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
    let g = DhGroup::Curve25519;
    let a = g.generate(&hex(alice)).unwrap();
    let b = g.generate(&hex(bob)).unwrap();
    assert_eq!(to_hex(&a.public_value()), alice_pub);
    assert_eq!(to_hex(&b.public_value()), bob_pub);
    assert_eq!(to_hex(&a.agree(&hex(bob_pub)).unwrap()), shared);
    assert_eq!(to_hex(&b.agree(&hex(alice_pub)).unwrap()), shared);
}

#[test]
fn x25519_low_order_points_are_rejected() {
    let a = DhGroup::Curve25519.generate(&[7u8; 32]).unwrap();
    // u = 0 and u = 1 are of low order: the result is all zero (RFC 7748 §6.1, RFC 8031 §2).
    let mut one = [0u8; 32];
    one[0] = 1;
    for peer in [[0u8; 32], one] {
        let err = a.agree(&peer).unwrap_err();
        assert_eq!(
            err,
            CryptoError::PeerPublicLowOrder {
                group: DhGroup::Curve25519
            }
        );
        assert!(err.to_string().contains("CURVE_25519"));
    }
    assert!(matches!(
        a.agree(&[9u8; 31]),
        Err(CryptoError::PeerPublicLength {
            expected: 32,
            actual: 31,
            ..
        })
    ));
}

// ---------------------------------------------------------------- HMAC, RFC 4231 / RFC 2202

/// (key, data, HMAC-SHA-256, HMAC-SHA-384, HMAC-SHA-512).
type HmacCase = (Vec<u8>, Vec<u8>, &'static str, &'static str, &'static str);

/// RFC 4231 §4.2-§4.8 except §4.6 (truncated output, tested separately).
fn rfc4231() -> Vec<HmacCase> {
    vec![
        (
            vec![0x0b; 20],
            b"Hi There".to_vec(),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
            "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
        ),
        (
            b"Jefe".to_vec(),
            b"what do ya want for nothing?".to_vec(),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
        ),
        (
            vec![0xaa; 20],
            vec![0xdd; 50],
            "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b2a5ab39dc13814b94e3ab6e101a34f27",
            "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
        ),
        (
            (1u8..=25).collect(),
            vec![0xcd; 50],
            "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb",
            "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd",
        ),
        (
            vec![0xaa; 131],
            b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
            "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
        ),
        (
            vec![0xaa; 131],
            b"This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.".to_vec(),
            "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e",
            "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
        ),
    ]
}

#[test]
fn rfc4231_hmac_sha2() {
    for (n, (key, data, s256, s384, s512)) in rfc4231().into_iter().enumerate() {
        for (prf, expected) in [
            (Prf::HmacSha256, s256),
            (Prf::HmacSha384, s384),
            (Prf::HmacSha512, s512),
        ] {
            let out = prf.compute(&key, &[&data]);
            assert_eq!(to_hex(&out), expected, "case {n}, {prf}");
            assert_eq!(out.len(), prf.output_len());
            // The data may come in parts.
            let (a, b) = data.split_at(data.len() / 3);
            assert_eq!(to_hex(&prf.compute(&key, &[a, &[], b])), expected);
        }
    }
    assert_eq!(
        to_hex(&hmac_sha256(&[0x0b; 20], &[b"Hi ", b"There"])),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    );
}

#[test]
fn rfc4231_truncated_case_and_rfc2202_sha1() {
    // RFC 4231 §4.6: output truncated to 128 bits.
    let key = [0x0c; 20];
    let data = b"Test With Truncation";
    assert_eq!(
        to_hex(&Prf::HmacSha256.compute(&key, &[data])[..16]),
        "a3b6167473100ee06e0c796c2955552b"
    );
    // RFC 2202 §3, test cases 1, 5 (HMAC-SHA-1-96 = first 96 bits, RFC 2404) and 6.
    assert_eq!(
        to_hex(&Prf::HmacSha1.compute(&[0x0b; 20], &[b"Hi There"])),
        "b617318655057264e28bc0b6fb378c8ef146be00"
    );
    assert_eq!(
        to_hex(&Integrity::HmacSha1_96.compute(&key, &[data])),
        "4c1a03424b55e07fe7f27be1"
    );
    assert_eq!(
        to_hex(&Prf::HmacSha1.compute(
            &[0xaa; 80],
            &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
        )),
        "aa4ae5e15272d00e95705637ce8a3b55ed402112"
    );
}

#[test]
fn rfc4868_truncations() {
    // RFC 4868 §2.7.2.1-§2.7.2.3, test case AUTH-1: key 0x0b repeated key_len times.
    let cases = [
        (
            Integrity::HmacSha256_128,
            "198a607eb44bfbc69903a0f1cf2bbdc5",
        ),
        (
            Integrity::HmacSha384_192,
            "b6a8d5636f5c6a7224f9977dcf7ee6c7fb6d0c48cbdee973",
        ),
        (
            Integrity::HmacSha512_256,
            "637edc6e01dce7e6742a99451aae82df23da3e92439e590e43e761b33e910fb8",
        ),
    ];
    for (integ, icv) in cases {
        let key = vec![0x0b; integ.key_len()];
        let out = integ.compute(&key, &[b"Hi There"]);
        assert_eq!(to_hex(&out), icv, "{integ}");
        assert_eq!(out.len(), integ.icv_len());
        assert!(integ.verify(&key, &[b"Hi ", b"There"], &hex(icv)));
        // Wrong ICV, truncated ICV, full-length HMAC and wrong key are all rejected.
        let mut wrong = hex(icv);
        wrong[0] ^= 1;
        assert!(!integ.verify(&key, &[b"Hi There"], &wrong));
        assert!(!integ.verify(&key, &[b"Hi There"], &hex(icv)[..integ.icv_len() - 1]));
        let full = integ_prf(integ).compute(&key, &[b"Hi There"]);
        assert!(!integ.verify(&key, &[b"Hi There"], &full));
        assert!(!integ.verify(&key[1..], &[b"Hi There"], &hex(icv)));
    }
    // RFC 4868 §2.7.1 PRF test case PRF-1 (key 0x0b × 20).
    assert_eq!(
        to_hex(&Prf::HmacSha256.compute(&[0x0b; 20], &[b"Hi There"])),
        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7"
    );
}

fn integ_prf(integ: Integrity) -> Prf {
    match integ {
        Integrity::HmacSha1_96 => Prf::HmacSha1,
        Integrity::HmacSha256_128 => Prf::HmacSha256,
        Integrity::HmacSha384_192 => Prf::HmacSha384,
        Integrity::HmacSha512_256 => Prf::HmacSha512,
    }
}

// ---------------------------------------------------------------- prf+ (RFC 7296 §2.13)

#[test]
fn prf_plus_is_the_rfc_7296_construction() {
    let key = b"key";
    let seed: [&[u8]; 2] = [b"seed-", b"parts"];
    for prf in Prf::ALL {
        let n = prf.output_len();
        let out = prf.plus(key, &seed, 3 * n + 5).unwrap();
        let t1 = prf.compute(key, &[b"seed-parts", &[1]]);
        let t2 = prf.compute(key, &[&t1, b"seed-parts", &[2]]);
        let t3 = prf.compute(key, &[&t2, b"seed-parts", &[3]]);
        let t4 = prf.compute(key, &[&t3, b"seed-parts", &[4]]);
        let expected = [&t1[..], &t2[..], &t3[..], &t4[..5]].concat();
        assert_eq!(to_hex(&out), to_hex(&expected), "{prf}");
        // 255 blocks is the limit.
        assert_eq!(prf.plus(key, &seed, 255 * n).unwrap().len(), 255 * n);
        assert_eq!(
            prf.plus(key, &seed, 255 * n + 1).unwrap_err(),
            CryptoError::PrfPlusTooLong {
                prf,
                requested: 255 * n + 1,
                max: 255 * n
            }
        );
        assert!(prf.plus(key, &seed, 0).unwrap().is_empty());
    }
    assert_eq!(
        Prf::HmacSha256.plus(b"k", &[], 10_000).unwrap_err().to_string(),
        "prf+ with PRF_HMAC_SHA2_256 can produce at most 8160 bytes (255 blocks), 10000 were requested (RFC 7296 §2.13)"
    );
}

// ---------------------------------------------------------------- key derivation

#[test]
fn ike_key_lengths_follow_the_algorithms() {
    let seed = skeyseed(Prf::HmacSha384, b"ni", b"nr", b"gir");
    assert_eq!(seed.len(), 48);
    let spi_i = [1u8; 8];
    let spi_r = [2u8; 8];
    let k = derive_ike_keys(
        Prf::HmacSha384,
        &seed,
        b"ni",
        b"nr",
        &spi_i,
        &spi_r,
        Some(Integrity::HmacSha1_96),
        Cipher::AesCbc { key_bits: 192 },
    )
    .unwrap();
    let lens = [
        k.sk_d.len(),
        k.sk_ai.len(),
        k.sk_ar.len(),
        k.sk_ei.len(),
        k.sk_er.len(),
        k.sk_pi.len(),
        k.sk_pr.len(),
    ];
    assert_eq!(lens, [48, 20, 20, 24, 24, 48, 48]);
    // The same bytes as one prf+ run, in §2.14 order.
    let all = Prf::HmacSha384
        .plus(&seed, &[b"ni", b"nr", &spi_i, &spi_r], 232)
        .unwrap();
    let joined = [
        &k.sk_d[..],
        &k.sk_ai,
        &k.sk_ar,
        &k.sk_ei,
        &k.sk_er,
        &k.sk_pi,
        &k.sk_pr,
    ]
    .concat();
    assert_eq!(joined, all.to_vec());
    // Debug shows lengths only.
    let dbg = format!("{k:?}");
    assert!(!dbg.contains(&to_hex(&k.sk_d[..4])), "{dbg}");
    assert!(dbg.contains("48 bytes"), "{dbg}");

    let gcm = derive_ike_keys(
        Prf::HmacSha256,
        &seed,
        b"ni",
        b"nr",
        &spi_i,
        &spi_r,
        None,
        Cipher::AesGcm16 { key_bits: 256 },
    )
    .unwrap();
    assert!(gcm.sk_ai.is_empty() && gcm.sk_ar.is_empty());
    assert_eq!(gcm.sk_ei.len(), 36);
}

#[test]
fn ike_key_derivation_rejects_bad_combinations() {
    let args = |integ, cipher| {
        derive_ike_keys(
            Prf::HmacSha256,
            b"seed",
            b"ni",
            b"nr",
            &[0; 8],
            &[1; 8],
            integ,
            cipher,
        )
    };
    let gcm = Cipher::AesGcm16 { key_bits: 128 };
    let err = args(Some(Integrity::HmacSha256_128), gcm).unwrap_err();
    assert!(matches!(err, CryptoError::IntegrityWithAead { .. }));
    assert_eq!(
        err.to_string(),
        "ENCR_AES_GCM_16 (128-bit key) is a combined-mode cipher and must not be combined with an integrity algorithm (RFC 5282 §8)"
    );
    let err = args(None, Cipher::AesCbc { key_bits: 128 }).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ENCR_AES_CBC (128-bit key) needs an integrity algorithm, but none was negotiated"
    );
    let err = args(
        Some(Integrity::HmacSha256_128),
        Cipher::AesCbc { key_bits: 100 },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported IKE encryption algorithm: 100-bit key for ENCR_AES_CBC"
    );
}

#[test]
fn child_keymat_with_and_without_pfs() {
    let sk_d = [5u8; 32];
    let a = child_keymat(Prf::HmacSha256, &sk_d, None, b"ni", b"nr", 40).unwrap();
    let b = child_keymat(Prf::HmacSha256, &sk_d, Some(b"gir"), b"ni", b"nr", 40).unwrap();
    assert_eq!(a.len(), 40);
    assert_ne!(a, b);
    assert_eq!(
        b.to_vec(),
        Prf::HmacSha256
            .plus(&sk_d, &[b"girni", b"nr"], 40)
            .unwrap()
            .to_vec()
    );
    assert!(child_keymat(Prf::HmacSha1, &sk_d, None, b"", b"", 20 * 256).is_err());
}

#[test]
fn psk_auth_is_the_rfc_7296_construction() {
    let octets = signed_octets(Prf::HmacSha256, b"MSG", b"NONCE", b"skp", b"IDBODY");
    let maced = Prf::HmacSha256.compute(b"skp", &[b"IDBODY"]);
    assert_eq!(octets, [&b"MSGNONCE"[..], &maced].concat());
    let key = Prf::HmacSha256.compute(b"psk", &[b"Key Pad for IKEv2"]);
    assert_eq!(
        psk_auth(Prf::HmacSha256, b"psk", &[&octets]),
        Prf::HmacSha256.compute(&key, &[&octets]).to_vec()
    );
}

// ---------------------------------------------------------------- NAT detection (§2.23)

#[test]
fn nat_detection_hash_known_answers() {
    // SHA-1(SPIi | SPIr | IP | port), computed independently (Python hashlib).
    let spi_i = hex("0102030405060708").try_into().unwrap();
    let spi_r = [0u8; 8];
    let v4: IpAddr = "192.0.2.1".parse().unwrap();
    let v6: IpAddr = "2001:db8::1".parse().unwrap();
    assert_eq!(
        to_hex(&nat_detection_hash(&spi_i, &spi_r, v4, 500)),
        "644b4575455bd6fcc1efe2be8162a9218e448e5f"
    );
    assert_eq!(
        to_hex(&nat_detection_hash(&spi_i, &spi_r, v6, 4500)),
        "98c75483db80168697635aa7844504963e87de33"
    );
}

// ---------------------------------------------------------------- transform tables

#[test]
fn transform_ids_round_trip() {
    for prf in Prf::ALL {
        assert_eq!(Prf::from_transform_id(prf.transform_id()), Some(prf));
    }
    for integ in Integrity::ALL {
        assert_eq!(
            Integrity::from_transform_id(integ.transform_id()),
            Some(integ)
        );
    }
    for g in DhGroup::ALL {
        assert_eq!(DhGroup::from_id(g.id()), Some(g));
    }
    let prf_ids: Vec<u16> = Prf::ALL.iter().map(|p| p.transform_id()).collect();
    assert_eq!(prf_ids, [2, 5, 6, 7]);
    let integ_ids: Vec<u16> = Integrity::ALL.iter().map(|i| i.transform_id()).collect();
    assert_eq!(integ_ids, [2, 12, 13, 14]);
    let group_ids: Vec<u16> = DhGroup::ALL.iter().map(|g| g.id()).collect();
    assert_eq!(group_ids, [2, 5, 14, 15, 16, 19, 20, 21, 31]);
    let n_prf = (0..=u16::MAX)
        .filter(|id| Prf::from_transform_id(*id).is_some())
        .count();
    let n_integ = (0..=u16::MAX)
        .filter(|id| Integrity::from_transform_id(*id).is_some())
        .count();
    let n_dh = (0..=u16::MAX)
        .filter(|id| DhGroup::from_id(*id).is_some())
        .count();
    assert_eq!((n_prf, n_integ, n_dh), (4, 4, 9));
    assert_eq!(Integrity::from_transform_id(0), None, "NONE");
    assert_eq!(
        Prf::from_transform_id(4),
        None,
        "AES128_XCBC is not implemented"
    );
}

#[test]
fn algorithm_sizes() {
    let sizes: Vec<(usize, usize)> = Integrity::ALL
        .iter()
        .map(|i| (i.key_len(), i.icv_len()))
        .collect();
    assert_eq!(sizes, [(20, 12), (32, 16), (48, 24), (64, 32)]);
    let prf_len: Vec<usize> = Prf::ALL.iter().map(|p| p.output_len()).collect();
    assert_eq!(prf_len, [20, 32, 48, 64]);
    let public: Vec<(usize, usize, usize)> = DhGroup::ALL
        .iter()
        .map(|g| (g.public_len(), g.shared_len(), g.random_len()))
        .collect();
    assert_eq!(
        public,
        [
            (128, 128, 32),
            (192, 192, 32),
            (256, 256, 32),
            (384, 384, 32),
            (512, 512, 40),
            (64, 32, 32),
            (96, 48, 48),
            (132, 66, 66),
            (32, 32, 32)
        ]
    );
    for g in DhGroup::ALL {
        assert_eq!(
            g.modp_prime().map(<[u8]>::len).unwrap_or(g.public_len()),
            g.public_len()
        );
    }
}

#[test]
fn ciphers_from_transforms() {
    for bits in [128, 192, 256] {
        let cbc = Cipher::from_transform(12, Some(bits)).unwrap();
        assert_eq!(cbc, Cipher::AesCbc { key_bits: bits });
        assert_eq!(
            (cbc.transform_id(), cbc.key_bits(), cbc.key_len()),
            (12, bits, usize::from(bits) / 8)
        );
        assert_eq!((cbc.iv_len(), cbc.block_len(), cbc.icv_len()), (16, 16, 0));
        assert!(!cbc.is_aead());
        let gcm = Cipher::from_transform(20, Some(bits)).unwrap();
        assert_eq!(gcm, Cipher::AesGcm16 { key_bits: bits });
        assert_eq!(
            (gcm.transform_id(), gcm.key_bits(), gcm.key_len()),
            (20, bits, usize::from(bits) / 8 + 4)
        );
        assert_eq!((gcm.iv_len(), gcm.block_len(), gcm.icv_len()), (8, 1, 16));
        assert!(gcm.is_aead());
    }
    assert_eq!(
        Cipher::from_transform(12, None),
        None,
        "Key Length is required"
    );
    assert_eq!(Cipher::from_transform(20, Some(64)), None);
    assert_eq!(Cipher::from_transform(3, Some(128)), None, "3DES");
    assert_eq!(Cipher::from_transform(18, Some(128)), None, "AES-GCM-8");
    assert_eq!(
        Cipher::AesGcm16 { key_bits: 192 }.to_string(),
        "ENCR_AES_GCM_16 (192-bit key)"
    );
}

#[test]
fn cipher_input_errors() {
    let cbc = Cipher::AesCbc { key_bits: 128 };
    let gcm = Cipher::AesGcm16 { key_bits: 128 };
    assert_eq!(
        cbc.encrypt(&[0; 16], &[0; 16], &[], &[0; 15]).unwrap_err(),
        CryptoError::NotBlockAligned {
            what: "plaintext",
            cipher: cbc,
            actual: 15,
            block: 16
        }
    );
    assert!(matches!(
        cbc.decrypt(&[0; 16], &[0; 16], &[], &[0; 17]),
        Err(CryptoError::NotBlockAligned { .. })
    ));
    assert_eq!(
        cbc.encrypt(&[0; 15], &[0; 16], &[], &[])
            .unwrap_err()
            .to_string(),
        "encryption key for ENCR_AES_CBC (128-bit key) must be 16 bytes long, got 15"
    );
    assert_eq!(
        gcm.encrypt(&[0; 20], &[0; 16], &[], &[])
            .unwrap_err()
            .to_string(),
        "IV for ENCR_AES_GCM_16 (128-bit key) must be 8 bytes long, got 16"
    );
    assert!(matches!(
        gcm.decrypt(&[0; 20], &[0; 8], &[], &[0; 15]),
        Err(CryptoError::CiphertextTooShort {
            actual: 15,
            icv: 16,
            ..
        })
    ));
    let err = gcm.decrypt(&[0; 20], &[0; 8], &[], &[0; 32]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ENCR_AES_GCM_16 (128-bit key) decryption failed: the ICV does not match (message modified or wrong key)"
    );
    // Empty CBC input is valid and empty.
    assert!(cbc
        .encrypt(&[0; 16], &[0; 16], &[], &[])
        .unwrap()
        .is_empty());
    assert!(cbc
        .decrypt(&[0; 16], &[0; 16], &[], &[])
        .unwrap()
        .is_empty());
    // Not an AES key size.
    assert!(matches!(
        Cipher::AesGcm16 { key_bits: 0 }.encrypt(&[0; 4], &[0; 8], &[], &[]),
        Err(CryptoError::Unsupported { .. })
    ));
}

/// AES-GCM known answer: the GCM spec test case 4 (key feffe9...), nonce cafebabe... split
/// into the RFC 5282 salt (4 bytes, end of the key material) and 8-byte IV.
#[test]
fn aes_gcm_known_answer() {
    let key = hex("feffe9928665731c6d6a8f9467308308 cafebabe");
    let iv = hex("facedbaddecaf888");
    let aad = hex("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    let pt = hex(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
    );
    let ct = hex(
        "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091
         5bc94fbc3221a5db94fae95ae7121a47",
    );
    let cipher = Cipher::AesGcm16 { key_bits: 128 };
    assert_eq!(
        to_hex(&cipher.encrypt(&key, &iv, &aad, &pt).unwrap()),
        to_hex(&ct)
    );
    assert_eq!(cipher.decrypt(&key, &iv, &aad, &ct).unwrap().to_vec(), pt);
}

/// AES-CBC known answer: NIST SP 800-38A F.2.1 (CBC-AES128.Encrypt), first two blocks.
#[test]
fn aes_cbc_known_answer() {
    let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
    let iv = hex("000102030405060708090a0b0c0d0e0f");
    let pt = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
    let ct = hex("7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2");
    let cipher = Cipher::AesCbc { key_bits: 128 };
    assert_eq!(cipher.encrypt(&key, &iv, b"ignored", &pt).unwrap(), ct);
    assert_eq!(cipher.decrypt(&key, &iv, &[], &ct).unwrap().to_vec(), pt);
}

#[test]
fn esp_key_length_table() {
    let sha256 = Some(12);
    assert_eq!(esp_key_lengths(11, None, sha256), Ok((0, 32)));
    assert_eq!(esp_key_lengths(12, Some(128), Some(2)), Ok((16, 20)));
    assert_eq!(esp_key_lengths(12, Some(256), Some(14)), Ok((32, 64)));
    assert_eq!(esp_key_lengths(20, Some(128), None), Ok((20, 0)));
    assert_eq!(esp_key_lengths(20, Some(192), Some(0)), Ok((28, 0)));
    assert_eq!(esp_key_lengths(20, Some(256), None), Ok((36, 0)));
    assert_eq!(esp_key_lengths(21, Some(128), None), Ok((20, 0)));
    assert_eq!(esp_key_lengths(21, Some(256), None), Ok((36, 0)));
    // Errors.
    assert!(matches!(
        esp_key_lengths(11, None, None),
        Err(CryptoError::MissingIntegrity { .. })
    ));
    assert!(matches!(
        esp_key_lengths(11, Some(128), sha256),
        Err(CryptoError::Unsupported { .. })
    ));
    assert!(matches!(
        esp_key_lengths(12, None, sha256),
        Err(CryptoError::Unsupported { .. })
    ));
    assert!(matches!(
        esp_key_lengths(12, Some(128), None),
        Err(CryptoError::MissingIntegrity { .. })
    ));
    assert!(matches!(
        esp_key_lengths(20, Some(128), sha256),
        Err(CryptoError::IntegrityWithAead { .. })
    ));
    assert!(matches!(
        esp_key_lengths(21, Some(100), None),
        Err(CryptoError::Unsupported { .. })
    ));
    assert_eq!(
        esp_key_lengths(3, Some(192), sha256)
            .unwrap_err()
            .to_string(),
        "unsupported ESP encryption algorithm: transform ID 3"
    );
    assert_eq!(
        esp_key_lengths(12, Some(128), Some(5))
            .unwrap_err()
            .to_string(),
        "unsupported ESP integrity algorithm: transform ID 5"
    );
}

#[test]
fn types_can_cross_threads() {
    // The IKE state machine keeps these in tasks; they must be Send + Sync.
    fn send_sync<T: Send + Sync>() {}
    send_sync::<ike_crypto::DhPrivate>();
    send_sync::<ike_crypto::IkeKeys>();
    send_sync::<ike_crypto::ChildSaKeys>();
    send_sync::<CryptoError>();
    send_sync::<Cipher>();
}
