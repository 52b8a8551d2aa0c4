//! Second encodings of valid signatures and weak keys: P-256 high-S, Ed25519 non-canonical `s`,
//! Ed25519 small-order keys. Each case first shows that a lax verifier would accept the input,
//! so the test proves the gate's strictness rather than a broken signature.

mod common;

use common::*;
use ed25519_dalek::Signer as _;
use p256::ecdsa::signature::Verifier as _;
use saoma_ridecode::*;

const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];
const ED25519_L: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// n - s, big-endian.
fn negate_be(n: &[u8; 32], s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(n[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        out[i] = d.rem_euclid(256) as u8;
    }
    out
}

/// s + L, little-endian (Ed25519 scalars are little-endian).
fn add_l_le(s: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in 0..32 {
        let v = u16::from(s[i]) + u16::from(ED25519_L[i]) + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    out
}

#[test]
fn p256_high_s_is_refused_for_device_and_issuer_signatures() {
    let mut w = World::new(Suite::P256);
    let code = w.code(NOW, 1);
    let sig_at = gen_at(Suite::P256) + 6;
    let mut high = code.clone();
    let s = negate_be(&P256_ORDER, &code[sig_at + 32..sig_at + 64]);
    high[sig_at + 32..sig_at + 64].copy_from_slice(&s);
    // A plain ECDSA verifier accepts the high-S twin.
    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(w.device.public_key().as_bytes()).unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&high[sig_at..]).unwrap();
    let mut msg = tags::CODE.to_vec();
    msg.extend_from_slice(&high[..sig_at]);
    assert!(vk.verify(&msg, &sig).is_ok());
    assert_eq!(w.verify_fresh(&high, NOW), Err(Reject::DeviceSignature));
    assert!(RideCode::parse(&high).unwrap().verify_device_signature().is_err());

    // The issuer's signature sits at 63..127 for P-256.
    let mut high = code.clone();
    let s = negate_be(&P256_ORDER, &code[63 + 32..127]);
    high[63 + 32..127].copy_from_slice(&s);
    w.cache.clear();
    assert_eq!(w.verify_fresh(&high, NOW), Err(Reject::IssuerSignature));
    // The genuine code was signed low-S and still passes.
    assert!(w.verify_fresh(&code, NOW).is_ok());
}

#[test]
fn ed25519_non_canonical_s_is_refused() {
    let mut w = World::new(Suite::Ed25519);
    let code = w.code(NOW, 1);
    let sig_at = gen_at(Suite::Ed25519) + 6;
    let mut bad = code.clone();
    let s = add_l_le(&code[sig_at + 32..]);
    bad[sig_at + 32..].copy_from_slice(&s);
    assert_eq!(w.verify_fresh(&bad, NOW), Err(Reject::DeviceSignature));
    let mut bad = code.clone();
    let s = add_l_le(&code[62 + 32..126]);
    bad[62 + 32..126].copy_from_slice(&s);
    assert_eq!(w.verify_fresh(&bad, NOW), Err(Reject::IssuerSignature));
}

#[test]
fn ed25519_small_order_device_key_is_refused() {
    let mut w = World::new(Suite::Ed25519);
    // The identity point: every signature (R = identity, s = 0) verifies under it laxly.
    let mut weak = [0u8; 32];
    weak[0] = 1;
    let weak_key = PublicKey::from_bytes(Suite::Ed25519, &weak).unwrap();
    assert_eq!(w.issuer.issue(&terms(ACCOUNT, 42, T0), &weak_key), Err(Error::InvalidKey));

    // A careless issuer (hand-rolled here with the issuer's seed) certifies it anyway.
    let mut cred = w.credential.to_bytes();
    cred[30..62].copy_from_slice(&weak);
    let issuer = ed25519_dalek::SigningKey::from_bytes(&seed(0x01));
    let mut msg = tags::CREDENTIAL.to_vec();
    msg.extend_from_slice(&cred[..62]);
    cred[62..126].copy_from_slice(&issuer.sign(&msg).to_bytes());
    let mut code = cred.clone();
    code.extend_from_slice(&NOW.to_be_bytes());
    code.extend_from_slice(&1u16.to_be_bytes());
    let mut forged = [0u8; 64];
    forged[0] = 1;
    code.extend_from_slice(&forged);

    let lax = ed25519_dalek::VerifyingKey::from_bytes(&weak).unwrap();
    let mut msg = tags::CODE.to_vec();
    msg.extend_from_slice(&code[..132]);
    let sig = ed25519_dalek::Signature::from_bytes(&forged);
    assert!(ed25519_dalek::Verifier::verify(&lax, &msg, &sig).is_ok(), "lax verification accepts");
    assert_eq!(w.verify_fresh(&code, NOW), Err(Reject::DeviceSignature));
}

/// 2^255 - 19, little-endian: the field prime.
const ED25519_P: [u8; 32] = {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

#[test]
fn ed25519_non_canonical_key_encodings_are_refused() {
    // y = p + k encodes the same point as y = k; for some small k the point is on the curve and of
    // large order, so only the encoding is wrong.
    let mut found = 0;
    for k in 2u8..19 {
        let mut canonical = [0u8; 32];
        canonical[0] = k;
        let Ok(point) = ed25519_dalek::VerifyingKey::from_bytes(&canonical) else { continue };
        if point.is_weak() {
            continue;
        }
        let mut twin = ED25519_P;
        twin[0] = ED25519_P[0].wrapping_add(k);
        // The twin decodes (lax) to the same point…
        let lax = ed25519_dalek::VerifyingKey::from_bytes(&twin).expect("decodes");
        assert_eq!(lax.to_edwards(), point.to_edwards());
        // …but is not a key in the ride code: not as a device key, not as a list or issuer key.
        assert!(PublicKey::from_bytes(Suite::Ed25519, &canonical).is_ok());
        assert_eq!(PublicKey::from_bytes(Suite::Ed25519, &twin), Err(Error::InvalidKey));
        assert_eq!(PublicKey::certifiable(Suite::Ed25519, &twin), Err(Error::InvalidKey));
        found += 1;
    }
    assert!(found > 0, "some y < 19 is a large-order point");
    // A small-order key parses (it is a point) but is never certifiable.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert!(PublicKey::from_bytes(Suite::Ed25519, &identity).is_ok());
    assert_eq!(PublicKey::certifiable(Suite::Ed25519, &identity), Err(Error::InvalidKey));
}
