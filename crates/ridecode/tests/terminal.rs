//! The terminal-side adversarial cases of the specification, on every suite.

mod common;

use common::*;
use saoma_ridecode::*;

#[test]
fn a_fresh_code_is_accepted_on_every_suite() {
    for mut w in World::all() {
        let code = w.code(NOW, 1);
        assert_eq!(code.len(), if w.suite == Suite::Ed25519 { 196 } else { 197 });
        let ok = w.verify(&code).unwrap();
        assert_eq!(ok.tap, TapKind::New);
        assert!(ok.makes_record());
        assert_eq!((ok.account_id, ok.credential_sequence, ok.counter), (ACCOUNT, 42, 1));
        assert_eq!(ok.suite, w.suite);
        assert!(!ok.issuer_signature_cached && !ok.stale);
        // The next code of the same credential hits the cache.
        let ok = w.verify_at(&w.code(NOW + 30, 2), NOW + 30, 300).unwrap();
        assert!(ok.issuer_signature_cached);
    }
}

#[test]
fn every_byte_flipped_is_rejected() {
    for mut w in World::all() {
        let code = w.code(NOW, 1);
        // Warm the cache with the genuine credential: a flip must not ride on its verdict.
        w.verify_fresh(&code, NOW).unwrap();
        for i in 0..code.len() {
            for mask in [0x01u8, 0x80, 0xff] {
                let mut bad = code.clone();
                bad[i] ^= mask;
                let r = w.verify_fresh(&bad, NOW);
                assert!(r.is_err(), "{:?} byte {i} ^ {mask:#x} accepted", w.suite);
            }
        }
    }
}

#[test]
fn truncated_extended_and_empty_are_length_errors() {
    for mut w in World::all() {
        let code = w.code(NOW, 1);
        for n in 0..code.len() {
            assert_eq!(w.verify_fresh(&code[..n], NOW), Err(Reject::Length), "prefix {n}");
        }
        for extra in [1usize, 2, 64] {
            let mut long = code.clone();
            long.extend(std::iter::repeat_n(0u8, extra));
            assert_eq!(w.verify_fresh(&long, NOW), Err(Reject::Length));
        }
        assert_eq!(w.verify_fresh(&[], NOW), Err(Reject::Length));
        assert_eq!(RideCode::parse(&[]), Err(Error::Length));
    }
}

#[test]
fn unknown_format_or_suite() {
    for mut w in World::all() {
        let mut code = w.code(NOW, 1);
        code[0] = 0x02;
        assert_eq!(w.verify_fresh(&code, NOW), Err(Reject::UnknownFormat));
        let mut code = w.code(NOW, 1);
        for suite in [0u8, 4, 0xff] {
            code[1] = suite;
            assert_eq!(w.verify_fresh(&code, NOW), Err(Reject::UnknownSuite));
        }
    }
}

#[test]
fn suite_swapped() {
    // Ed25519 ↔ the 33-byte-key suites: the length no longer fits the suite byte.
    let mut w = World::new(Suite::Ed25519);
    let mut code = w.code(NOW, 1);
    code[1] = 2;
    assert_eq!(w.verify_fresh(&code, NOW), Err(Reject::Length));
    let mut w = World::new(Suite::P256);
    let mut code = w.code(NOW, 1);
    code[1] = 1;
    assert_eq!(w.verify_fresh(&code, NOW), Err(Reject::Length));
    // P-256 relabelled SM2: the gate's key 7 is P-256, so no SM2 key 7 is known…
    code[1] = 3;
    assert_eq!(w.verify_fresh(&code, NOW), Err(Reject::UnknownIssuerKey));
    // …and where an SM2 key 7 is known, the suite byte is inside the issuer signature.
    let sm2 = issuer_for(Suite::Sm2);
    w.key_list = key_list_with(vec![KeyListEntry { key: sm2.public(), revoked_at: None }], NOW);
    assert_eq!(w.verify_fresh(&code, NOW), Err(Reject::IssuerSignature));
}

#[test]
fn scope_and_fare() {
    for mut w in World::all() {
        let code = w.code(NOW, 1);
        w.config.scope = SCOPE + 1;
        assert_eq!(w.verify_fresh(&code, NOW), Err(Reject::ScopeMismatch));
        w.config.scope = SCOPE;
        assert_eq!(w.verify_at(&code, NOW, 401), Err(Reject::FareAboveMax));
        assert!(w.verify_at(&code, NOW, 400).is_ok());
    }
}

#[test]
fn unknown_expired_or_revoked_issuer_key() {
    for mut w in World::all() {
        let code = w.code(NOW, 1);
        let key = w.issuer.public();
        w.key_list = key_list_with(vec![], NOW);
        assert_eq!(w.verify_fresh(&code, NOW), Err(Reject::UnknownIssuerKey));
        let other_id = IssuerPublicKey { key_id: KEY_ID + 1, ..key };
        w.key_list = key_list_with(vec![KeyListEntry { key: other_id, revoked_at: None }], NOW);
        assert_eq!(w.verify_fresh(&code, NOW), Err(Reject::UnknownIssuerKey));

        for (nb, na, expect) in [
            (NOW + 1, NOW + 86400, Err(Reject::IssuerKeyExpired)),
            (T0, NOW - 1, Err(Reject::IssuerKeyExpired)),
            (NOW, NOW, Ok(())),
        ] {
            let key = IssuerPublicKey { not_before: nb, not_after: na, ..key };
            w.key_list = key_list_with(vec![KeyListEntry { key, revoked_at: None }], NOW);
            assert_eq!(w.verify_fresh(&code, NOW).map(|_| ()), expect);
        }
        for (revoked, expect) in [(NOW, Err(Reject::IssuerKeyRevoked)), (NOW + 1, Ok(()))] {
            w.key_list = key_list_with(vec![KeyListEntry { key, revoked_at: Some(revoked) }], NOW);
            assert_eq!(w.verify_fresh(&code, NOW).map(|_| ()), expect);
        }
    }
}

#[test]
fn victims_credential_with_an_attackers_device_key() {
    for mut w in World::all() {
        let attacker = DeviceKeyPair::from_seed(w.suite, &seed(0x99)).unwrap();
        let victim = w.code(NOW, 1);
        let cred_len = Credential::encoded_len(w.suite);
        // Untouched credential, code signed by the attacker: the device signature fails.
        let forged = RideCode::generate(&w.credential, &w.device, NOW, 1).unwrap();
        assert_eq!(RideCode::generate(&w.credential, &attacker, NOW, 1), Err(Error::DeviceKeyMismatch));
        let mut bytes = forged.to_bytes();
        let attacker_cred = w.issuer.issue(&terms(999, 1, T0), &attacker.public_key()).unwrap();
        let attacker_code = RideCode::generate(&attacker_cred, &attacker, NOW, 1).unwrap().to_bytes();
        bytes[cred_len + 6..].copy_from_slice(&attacker_code[cred_len + 6..]);
        assert_eq!(w.verify_fresh(&bytes, NOW), Err(Reject::DeviceSignature));
        // The attacker's key spliced into the victim's credential: the issuer signature fails.
        let mut spliced = victim[..30].to_vec();
        spliced.extend_from_slice(attacker.public_key().as_bytes());
        spliced.extend_from_slice(&victim[30 + w.suite.public_key_len()..cred_len]);
        let spliced_cred = Credential::parse(&spliced).unwrap();
        let mut code = spliced.clone();
        code.extend_from_slice(&NOW.to_be_bytes());
        code.extend_from_slice(&1u16.to_be_bytes());
        let sig = RideCode::generate(&spliced_cred, &attacker, NOW, 1).unwrap().to_bytes();
        code.extend_from_slice(&sig[cred_len + 6..]);
        assert_eq!(w.verify_fresh(&code, NOW), Err(Reject::IssuerSignature));
    }
}

#[test]
fn credential_signed_by_the_wrong_key() {
    for mut w in World::all() {
        let rogue =
            IssuerKeyPair::from_seed(w.suite, &seed(0x55), KEY_ID, T0 - 86400, T0 + 86400).unwrap();
        let cred = rogue.issue(&terms(ACCOUNT, 42, T0), &w.device.public_key()).unwrap();
        let code = RideCode::generate(&cred, &w.device, NOW, 1).unwrap().to_bytes();
        assert_eq!(w.verify_fresh(&code, NOW), Err(Reject::IssuerSignature));
        assert_eq!(cred.verify(&w.issuer.public()), Err(Error::Signature));
        assert_eq!(w.credential.verify(&w.issuer.public()), Ok(()));
    }
}

#[test]
fn generation_time_outside_the_window() {
    for mut w in World::all() {
        let na = T0 + MAX_CREDENTIAL_SPAN;
        for (gen, ok) in [
            (T0 - WINDOW_GRACE - 1, false),
            (T0 - WINDOW_GRACE, true),
            (na + WINDOW_GRACE, true),
            (na + WINDOW_GRACE + 1, false),
        ] {
            let r = w.verify_fresh(&w.code(gen, 1), gen);
            assert_eq!(r.is_ok(), ok, "{:?} gen {gen}: {r:?}", w.suite);
            if !ok {
                assert_eq!(r, Err(Reject::OutsideWindow));
            }
        }
    }
}

#[test]
fn issuer_refuses_terms_a_gate_would_refuse() {
    let w = World::new(Suite::Ed25519);
    let device = w.device.public_key();
    let mut t = terms(ACCOUNT, 1, T0);
    t.not_after = T0 + MAX_CREDENTIAL_SPAN + 1;
    assert!(matches!(w.issuer.issue(&t, &device), Err(Error::InvalidTerms(_))));
    let mut t = terms(ACCOUNT, 1, T0);
    t.max_uses = 0;
    assert!(matches!(w.issuer.issue(&t, &device), Err(Error::InvalidTerms(_))));
    let p256 = DeviceKeyPair::from_seed(Suite::P256, &seed(0x21)).unwrap();
    assert_eq!(w.issuer.issue(&terms(ACCOUNT, 1, T0), &p256.public_key()), Err(Error::SuiteMismatch));
}

#[test]
fn age_and_future_boundaries() {
    for mut w in World::all() {
        let code = w.code(NOW, 1);
        for (now, expect) in [
            (NOW + 59, Ok(())),
            (NOW + 60, Ok(())),
            (NOW + 61, Err(Reject::CodeTooOld)),
            (NOW - 29, Ok(())),
            (NOW - 30, Ok(())),
            (NOW - 31, Err(Reject::CodeFromFuture)),
        ] {
            assert_eq!(w.verify_fresh(&code, now).map(|_| ()), expect, "{:?} now {now}", w.suite);
        }
    }
}

#[test]
fn screenshot_replay_at_one_gate() {
    for mut w in World::all() {
        let code = w.code(NOW, 1);
        w.verify(&code).unwrap();
        // Within the double-tap window and after it: the same code is a replay either way.
        assert_eq!(w.verify_at(&code, NOW + 5, 300), Err(Reject::Replay));
        assert_eq!(w.verify_at(&code, NOW + 40, 300), Err(Reject::Replay));
        // Another gate (its own memory) accepts it offline; the server charges once and flags it.
        let mut other = World::new(w.suite);
        assert!(other.verify_at(&code, NOW + 40, 300).is_ok());
    }
}

#[test]
fn counter_replayed_rolled_back_zero_and_above_max() {
    for mut w in World::all() {
        w.verify_at(&w.code(NOW, 3), NOW, 300).unwrap();
        // Same counter, newer time (a phone restored from a backup): replay.
        assert_eq!(w.verify_at(&w.code(NOW + 30, 3), NOW + 30, 300), Err(Reject::Replay));
        // A lower counter not yet seen here is accepted: a rider's codes reach gates out of order.
        assert_eq!(w.verify_at(&w.code(NOW + 60, 2), NOW + 60, 300).map(|a| a.counter), Ok(2));
        assert_eq!(w.verify_fresh(&w.code(NOW, 0), NOW), Err(Reject::CounterOutOfRange));
        assert_eq!(w.verify_fresh(&w.code(NOW, 9), NOW), Err(Reject::CounterOutOfRange));
        assert_eq!(w.verify_fresh(&w.code(NOW, u16::MAX), NOW), Err(Reject::CounterOutOfRange));
        assert!(w.verify_fresh(&w.code(NOW, 8), NOW).is_ok());
    }
}

#[test]
fn blacklisted_account() {
    for mut w in World::all() {
        let code = w.code(NOW, 1);
        w.blacklist = Blacklist::new(2, NOW, vec![BlacklistEntry { account_id: ACCOUNT, until: NOW }]);
        assert_eq!(w.verify_fresh(&code, NOW), Err(Reject::Blacklisted));
        // An entry past its end no longer refuses.
        w.blacklist = Blacklist::new(3, NOW, vec![BlacklistEntry { account_id: ACCOUNT, until: NOW - 1 }]);
        assert!(w.verify_fresh(&code, NOW).is_ok());
    }
}

#[test]
fn stale_key_list_or_blacklist() {
    for mut w in World::all() {
        let code = w.code(NOW, 1);
        let key = KeyListEntry { key: w.issuer.public(), revoked_at: None };
        w.key_list = key_list_with(vec![key], NOW - STALE_AFTER);
        let fresh = w.verify_fresh(&code, NOW).unwrap();
        assert!(!fresh.stale, "exactly 24 h old is not stale yet");
        w.key_list = key_list_with(vec![key], NOW - STALE_AFTER - 1);
        assert_eq!(w.verify_fresh(&code, NOW), Err(Reject::StaleLists));
        w.state = TerminalState::new(16);
        let low = w.verify_at(&code, NOW, STALE_LIMIT).unwrap();
        assert!(low.stale);
        w.key_list = key_list_with(vec![key], NOW);
        w.blacklist = Blacklist::new(1, NOW - STALE_AFTER - 1, vec![]);
        assert_eq!(w.verify_fresh(&code, NOW), Err(Reject::StaleLists));
        w.config.stale_fare_limit = 0;
        w.state = TerminalState::new(16);
        assert_eq!(w.verify_at(&code, NOW, 1), Err(Reject::StaleLists));
        // A limit of 0 refuses everything while stale, even a ride that costs nothing.
        assert_eq!(w.verify_at(&code, NOW, 0), Err(Reject::StaleLists));
        w.blacklist = Blacklist::new(1, NOW, vec![]);
        assert!(w.verify_at(&code, NOW, 0).is_ok(), "fresh lists: a 0 fare passes");
    }
}

#[test]
fn the_memory_survives_a_restart() {
    for mut w in World::all() {
        assert!(w.verify(&w.code(NOW, 1)).is_ok());
        let saved = w.state.to_bytes();
        // The gate restarts: a new process with the memory read back.
        w.state = TerminalState::from_bytes(&saved, 1024).unwrap();
        assert_eq!(w.state.remembered(), 1);
        assert_eq!(w.state.to_bytes(), saved, "round trip is exact");
        assert_eq!(w.verify_at(&w.code(NOW, 1), NOW + 1, 300), Err(Reject::Replay));
        // The last tap too: another use of the account within 10 s is a double tap.
        w.state = TerminalState::from_bytes(&saved, 1024).unwrap();
        assert_eq!(w.verify_at(&w.code(NOW + 3, 2), NOW + 3, 300).unwrap().tap, TapKind::DoubleTap);
        // Without the memory the same code would pass again: what persistence prevents.
        w.state = TerminalState::new(1024);
        assert!(w.verify_at(&w.code(NOW, 1), NOW + 1, 300).is_ok());
        // Anything but an exact encoding is refused.
        for bad in [&saved[..saved.len() - 1], &[saved.as_slice(), &[0]].concat(), &saved[..3], b"RCTS\x02"] {
            assert!(TerminalState::from_bytes(bad, 1024).is_err());
        }
        // A smaller capacity keeps the uses that expire last.
        let mut big = TerminalState::from_bytes(&saved, 1024).unwrap();
        for counter in 2..=4 {
            let mut w2 = World::new(w.suite);
            w2.state = big;
            assert!(w2.verify_at(&w2.code(NOW + 20 * u32::from(counter), counter), NOW + 20 * u32::from(counter), 300).is_ok());
            big = w2.state;
        }
        assert_eq!(TerminalState::from_bytes(&big.to_bytes(), 2).unwrap().remembered(), 2);
    }
}

#[test]
fn double_tap() {
    for mut w in World::all() {
        assert_eq!(w.verify_at(&w.code(NOW, 1), NOW, 300).unwrap().tap, TapKind::New);
        let second = w.verify_at(&w.code(NOW + 5, 2), NOW + 5, 300).unwrap();
        assert_eq!(second.tap, TapKind::DoubleTap);
        assert!(!second.makes_record());
        // Exactly 10 s after the recorded tap is still a double tap; 11 s is a new tap.
        let third = w.verify_at(&w.code(NOW + 10, 3), NOW + 10, 300).unwrap();
        assert_eq!(third.tap, TapKind::DoubleTap);
        assert_eq!(w.verify_at(&w.code(NOW + 11, 4), NOW + 11, 300).unwrap().tap, TapKind::New);
        // The double-tapped code is remembered: shown again later it is a replay.
        assert_eq!(w.verify_at(&w.code(NOW + 5, 2), NOW + 30, 300), Err(Reject::Replay));
        // The same account at another gate within 10 s is a new tap there.
        let mut other = World::new(w.suite);
        assert_eq!(other.verify_at(&w.code(NOW + 12, 5), NOW + 12, 300).unwrap().tap, TapKind::New);
    }
}

#[test]
fn midnight_handover_at_utc_plus_8() {
    for mut w in World::all() {
        // Day 1's credential runs 00:00 → 02:00 next day (local); day 2's starts at midnight.
        let day2 = T0 + 86400;
        let device2 = DeviceKeyPair::from_seed(w.suite, &seed(0x31)).unwrap();
        let cred2 = w.issuer.issue(&terms(ACCOUNT, 43, day2), &device2.public_key()).unwrap();
        let code2 = |gen: u32, counter: u16| {
            RideCode::generate(&cred2, &device2, gen, counter).unwrap().to_bytes()
        };
        let before = day2 - 60;
        assert!(w.verify_at(&w.code(before, 1), before, 300).is_ok());
        assert_eq!(w.verify_at(&code2(before + 20, 1), before + 20, 300).unwrap().tap, TapKind::New);
        // 00:30 local: both credentials are valid; same counter, different sequence, no clash.
        let half_past = day2 + 1800;
        assert_eq!(w.verify_at(&w.code(half_past, 2), half_past, 300).unwrap().credential_sequence, 42);
        let ok = w.verify_at(&code2(half_past + 20, 2), half_past + 20, 300).unwrap();
        assert_eq!((ok.credential_sequence, ok.tap), (43, TapKind::New));
        // After 02:00 + grace only day 2's credential works.
        let late = day2 + 2 * 3600 + WINDOW_GRACE + 1;
        assert_eq!(w.verify_at(&w.code(late, 3), late, 300), Err(Reject::OutsideWindow));
        assert!(w.verify_at(&code2(late, 3), late, 300).is_ok());
        // Day 2's credential before its own start minus grace is refused.
        let early = day2 - WINDOW_GRACE - 1;
        assert_eq!(w.verify_fresh(&code2(early, 4), early), Err(Reject::OutsideWindow));
    }
}

#[test]
fn reject_codes_are_stable_unique_snake_case() {
    let codes: Vec<_> = Reject::ALL.iter().map(|r| r.code()).collect();
    let mut sorted = codes.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), codes.len());
    for c in &codes {
        assert!(c.chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'), "{c}");
        assert_eq!(Reject::from_code(c).map(Reject::code), Some(*c));
    }
    // The platform's reasons share the vocabulary and clash with none of the gate's.
    for r in RecordReason::PLATFORM {
        assert!(!codes.contains(&r.code()), "{r}");
        assert!(r.code().chars().all(|ch| ch.is_ascii_lowercase() || ch == '_'), "{r}");
        assert_eq!(RecordReason::from_code(r.code()), Some(r));
    }
    for r in Reject::ALL {
        assert_eq!(RecordReason::from_code(r.code()), Some(RecordReason::Code(r)));
        assert_eq!(RecordReason::from(r).code(), r.code());
    }
}
