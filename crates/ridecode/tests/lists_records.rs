//! Signed key lists, blacklists and terminal records: round trips, tampering, untrusted signers,
//! and the bounded caller-owned memories.

mod common;

use common::*;
use saoma_ridecode::*;

fn sample_lists() -> (KeyList, Blacklist) {
    let entries = Suite::ALL
        .into_iter()
        .map(|s| {
            let k = IssuerKeyPair::from_seed(s, &seed(0x01), u16::from(s.as_byte()), T0, T0 + 86400).unwrap();
            KeyListEntry { key: k.public(), revoked_at: (s == Suite::Sm2).then_some(T0 + 3600) }
        })
        .collect();
    let key_list = KeyList::new(3, NOW, entries).unwrap();
    let blacklist = Blacklist::new(
        9,
        NOW,
        vec![
            BlacklistEntry { account_id: 5, until: 10 },
            BlacklistEntry { account_id: 1, until: 20 },
            BlacklistEntry { account_id: 5, until: 30 },
        ],
    );
    (key_list, blacklist)
}

#[test]
fn lists_round_trip_on_every_platform_suite() {
    let (key_list, blacklist) = sample_lists();
    assert_eq!(blacklist.entries().len(), 2, "duplicate account keeps its latest until");
    assert!(blacklist.is_blocked(5, 30) && !blacklist.is_blocked(5, 31) && !blacklist.is_blocked(2, 0));
    for suite in Suite::ALL {
        let platform = PlatformKeyPair::from_seed(suite, &seed(0x41), 4).unwrap();
        let trusted = [platform.public()];
        let kl = KeyList::parse_verified(&key_list.sign(&platform), &trusted).unwrap();
        assert_eq!(kl.entries().collect::<Vec<_>>(), key_list.entries().collect::<Vec<_>>());
        assert_eq!((kl.version(), kl.issued_at()), (3, NOW));
        assert_eq!(kl.get(3).unwrap().revoked_at, Some(T0 + 3600));
        let bl = Blacklist::parse_verified(&blacklist.sign(&platform), &trusted).unwrap();
        assert_eq!(bl, blacklist);
    }
}

#[test]
fn tampered_or_untrusted_lists_are_refused() {
    let (key_list, blacklist) = sample_lists();
    let platform = platform();
    let trusted = [platform.public()];
    for bytes in [key_list.sign(&platform), blacklist.sign(&platform)] {
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(KeyList::parse_verified(&bad, &trusted).is_err(), "byte {i}");
            assert!(Blacklist::parse_verified(&bad, &trusted).is_err(), "byte {i}");
        }
        for n in 0..bytes.len() {
            assert!(KeyList::parse_verified(&bytes[..n], &trusted).is_err());
            assert!(Blacklist::parse_verified(&bytes[..n], &trusted).is_err());
        }
        let other = PlatformKeyPair::from_seed(Suite::Ed25519, &seed(0x77), 1).unwrap();
        let wrong = [other.public()];
        assert!(KeyList::parse_verified(&bytes, &wrong).is_err());
        assert!(Blacklist::parse_verified(&bytes, &wrong).is_err());
    }
    assert_eq!(KeyList::parse_verified(&key_list.sign(&platform), &[]).err(), Some(Error::UnknownSigner));
    // A key list is not a blacklist, even under the same key.
    assert_eq!(Blacklist::parse_verified(&key_list.sign(&platform), &trusted), Err(Error::UnknownFormat));
}

#[test]
fn key_list_rejects_duplicates_and_zero_revocation() {
    let k = issuer_for(Suite::Ed25519).public();
    let e = KeyListEntry { key: k, revoked_at: None };
    assert!(KeyList::new(1, 0, vec![e, e]).is_err());
    assert!(KeyList::new(1, 0, vec![KeyListEntry { key: k, revoked_at: Some(0) }]).is_err());
}

#[test]
fn terminal_records_round_trip_and_resist_tampering() {
    let w = World::new(Suite::P256);
    let key = TerminalKeyPair::from_seed(&seed(0x61));
    let record = TerminalRecord {
        terminal_id: 77,
        terminal_sequence: 12,
        time: NOW,
        direction: Direction::Out,
        stop_id: 4,
        code: w.code(NOW, 1),
    };
    let bytes = record.sign(&key).unwrap();
    let parsed = TerminalRecord::parse(&bytes).unwrap();
    assert_eq!(parsed.record(), &record);
    assert_eq!(parsed.verify(&key.public_key()).unwrap(), record);
    let other = TerminalKeyPair::from_seed(&seed(0x62));
    assert_eq!(TerminalRecord::parse(&bytes).unwrap().verify(&other.public_key()), Err(Error::Signature));
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x04;
        let ok = TerminalRecord::parse(&bad).and_then(|r| r.verify(&key.public_key()));
        assert!(ok.is_err(), "byte {i}");
    }
    let mut not_a_code = record.clone();
    not_a_code.code.truncate(10);
    assert!(not_a_code.sign(&key).is_err());
}

#[test]
fn credential_cache_is_bounded_and_bound_to_the_issuer_key() {
    let mut w = World::new(Suite::Ed25519);
    w.cache = CredentialCache::new(2);
    for account in 1..=3u64 {
        let device = DeviceKeyPair::from_seed(Suite::Ed25519, &seed(account as u8 + 0x80)).unwrap();
        let cred = w.issuer.issue(&terms(account, 1, T0), &device.public_key()).unwrap();
        let code = RideCode::generate(&cred, &device, NOW, 1).unwrap().to_bytes();
        assert!(!w.verify_fresh(&code, NOW).unwrap().issuer_signature_cached);
        assert!(w.verify_fresh(&code, NOW).unwrap().issuer_signature_cached);
    }
    assert_eq!(w.cache.len(), 2);
    // Same id, another key: the cached verdict does not carry over.
    let code = w.code(NOW, 1);
    w.verify_fresh(&code, NOW).unwrap();
    let rogue = IssuerKeyPair::from_seed(Suite::Ed25519, &seed(0x55), KEY_ID, T0 - 86400, T0 + 86400).unwrap();
    w.key_list = key_list_with(vec![KeyListEntry { key: rogue.public(), revoked_at: None }], NOW);
    assert_eq!(w.verify_fresh(&code, NOW), Err(Reject::IssuerSignature));
    // Caching disabled still verifies.
    w.cache = CredentialCache::new(0);
    w.key_list = key_list_with(vec![KeyListEntry { key: w.issuer.public(), revoked_at: None }], NOW);
    assert!(!w.verify_fresh(&code, NOW).unwrap().issuer_signature_cached);
    assert!(w.cache.is_empty());
}

#[test]
fn terminal_state_is_bounded_and_prunes_expired_uses() {
    let mut w = World::new(Suite::Ed25519);
    w.state = TerminalState::new(2);
    for (i, counter) in (1..=3u16).enumerate() {
        let now = NOW + 20 * i as u32;
        w.verify_at(&w.code(now, counter), now, 300).unwrap();
    }
    assert_eq!((w.state.remembered(), w.state.evicted()), (2, 1));
    // After the credential's last possible presentation, the memory empties itself.
    w.state.prune(u64::from(T0 + MAX_CREDENTIAL_SPAN + WINDOW_GRACE + MAX_CODE_AGE + 1));
    assert_eq!(w.state.remembered(), 0);
}

#[test]
fn ride_code_round_trips_through_bytes_and_base45() {
    for w in World::all() {
        let code = RideCode::generate(&w.credential, &w.device, NOW, 2).unwrap();
        let bytes = code.to_bytes();
        assert_eq!(bytes.len(), RideCode::encoded_len(w.suite));
        let parsed = RideCode::parse(&bytes).unwrap();
        assert_eq!(parsed, code);
        assert_eq!(parsed.credential(), &w.credential);
        assert_eq!((parsed.generated_at(), parsed.counter()), (NOW, 2));
        assert_eq!(RideCode::from_base45(&code.to_base45()).unwrap(), code);
        assert_eq!(Credential::parse(&w.credential.to_bytes()).unwrap(), w.credential);
        assert!(parsed.verify_device_signature().is_ok());
    }
}

#[test]
fn key_generation_from_a_caller_rng() {
    struct Counter(u8);
    impl rand_core::TryRng for Counter {
        type Error = core::convert::Infallible;
        fn try_next_u32(&mut self) -> Result<u32, Self::Error> {
            Ok(u32::from(self.0))
        }
        fn try_next_u64(&mut self) -> Result<u64, Self::Error> {
            Ok(u64::from(self.0))
        }
        fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Self::Error> {
            for d in dst {
                self.0 = self.0.wrapping_add(1);
                *d = self.0;
            }
            Ok(())
        }
    }
    impl rand_core::TryCryptoRng for Counter {}
    for suite in Suite::ALL {
        let a = DeviceKeyPair::generate(suite, &mut Counter(0));
        let b = DeviceKeyPair::from_seed(suite, &seed(1)).unwrap();
        assert_eq!(a.public_key(), b.public_key());
    }
    // A P-256/SM2 seed at or above the group order is refused, not reduced.
    assert_eq!(KeyPair::from_seed(Suite::P256, &[0xff; 32]).err(), Some(Error::InvalidSeed));
    assert_eq!(KeyPair::from_seed(Suite::Sm2, &[0; 32]).err(), Some(Error::InvalidSeed));
}
