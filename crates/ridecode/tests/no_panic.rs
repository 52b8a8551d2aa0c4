//! Random and mutated inputs never panic any parser or the terminal check.

mod common;

use common::*;
use proptest::prelude::*;
use saoma_ridecode::*;

fn poke_everything(bytes: &[u8], w: &mut World) {
    let _ = RideCode::parse(bytes);
    let _ = Credential::parse(bytes);
    let trusted = [platform().public()];
    let _ = KeyList::parse_verified(bytes, &trusted);
    let _ = Blacklist::parse_verified(bytes, &trusted);
    let _ = TerminalRecord::parse(bytes);
    let _ = base45_decode(&String::from_utf8_lossy(bytes));
    let _ = TerminalState::from_bytes(bytes, 64);
    let _ = w.verify_at(bytes, NOW, 300);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut w = World::new(Suite::Ed25519);
        poke_everything(&bytes, &mut w);
    }

    #[test]
    fn code_shaped_bytes_never_panic(
        suite in 0u8..5,
        len in prop_oneof![Just(196usize), Just(197usize)],
        fill in proptest::collection::vec(any::<u8>(), 197),
    ) {
        let mut bytes = fill[..len].to_vec();
        bytes[0] = 1;
        bytes[1] = suite;
        bytes[28..30].copy_from_slice(&SCOPE.to_be_bytes());
        bytes[2..4].copy_from_slice(&KEY_ID.to_be_bytes());
        let mut w = World::new(Suite::from_byte(suite).unwrap_or(Suite::Ed25519));
        poke_everything(&bytes, &mut w);
    }

    #[test]
    fn mutated_valid_codes_never_panic(
        suite in 1u8..=3,
        edits in proptest::collection::vec((0usize..197, any::<u8>()), 1..6),
        now_delta in -100i64..100,
    ) {
        let mut w = World::new(Suite::from_byte(suite).unwrap());
        let mut code = w.code(NOW, 1);
        for (i, v) in edits {
            let n = code.len();
            code[i % n] = v;
        }
        let now = (i64::from(NOW) + now_delta) as u32;
        let _ = w.verify_at(&code, now, 300);
    }

    #[test]
    fn a_mutated_gate_memory_never_panics(
        edits in proptest::collection::vec((0usize..200, any::<u8>()), 1..6),
        cut in 0usize..200,
    ) {
        let mut w = World::new(Suite::Ed25519);
        for counter in 1..=3u16 {
            let t = NOW + 20 * u32::from(counter);
            let _ = w.verify_at(&w.code(t, counter), t, 300);
        }
        let mut bytes = w.state.to_bytes();
        for (i, v) in edits {
            let n = bytes.len();
            bytes[i % n] = v;
        }
        bytes.truncate(cut.max(1));
        if let Ok(mut state) = TerminalState::from_bytes(&bytes, 16) {
            // Whatever it read, the gate keeps working with it.
            w.state = std::mem::replace(&mut state, TerminalState::new(1));
            let _ = w.verify_at(&w.code(NOW + 200, 5), NOW + 200, 300);
        }
    }

    #[test]
    fn base45_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        prop_assert_eq!(base45_decode(&base45_encode(&bytes)).unwrap(), bytes);
    }
}
