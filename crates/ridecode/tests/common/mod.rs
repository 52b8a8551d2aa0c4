//! A small world for terminal tests: one issuer, one rider, one gate, fixed seeds and times, so
//! every test starts from a code the gate accepts and changes exactly one thing.
#![allow(dead_code)]

use saoma_ridecode::*;

/// 2026-01-01 00:00 at UTC+8 (local midnight in China), as Unix seconds.
pub const T0: u32 = 1_767_196_800;
/// 09:00 local on the first day: the default generation and gate time.
pub const NOW: u32 = T0 + 9 * 3600;
pub const ACCOUNT: u64 = 0x0000_0123_4567_89ab;
pub const SCOPE: u16 = 0x0021;
pub const KEY_ID: u16 = 7;
pub const STALE_LIMIT: u16 = 200;

/// 32 bytes counting up from `start`: reproducible, and a valid P-256/SM2 scalar for small starts.
pub fn seed(start: u8) -> [u8; 32] {
    core::array::from_fn(|i| start.wrapping_add(i as u8))
}

pub fn issuer_for(suite: Suite) -> IssuerKeyPair {
    IssuerKeyPair::from_seed(suite, &seed(0x01), KEY_ID, T0 - 30 * 86400, T0 + 30 * 86400).unwrap()
}

pub fn platform() -> PlatformKeyPair {
    PlatformKeyPair::from_seed(Suite::Ed25519, &seed(0x41), 1).unwrap()
}

pub fn terms(account_id: u64, sequence: u32, not_before: u32) -> CredentialTerms {
    CredentialTerms {
        account_id,
        sequence,
        not_before,
        not_after: not_before + MAX_CREDENTIAL_SPAN,
        max_fare: 400,
        max_uses: 8,
        class_flags: 0,
        scope: SCOPE,
    }
}

pub fn key_list_with(entries: Vec<KeyListEntry>, issued_at: u32) -> KeyList {
    KeyList::new(1, issued_at, entries).unwrap()
}

pub struct World {
    pub suite: Suite,
    pub issuer: IssuerKeyPair,
    pub device: DeviceKeyPair,
    pub credential: Credential,
    pub key_list: KeyList,
    pub blacklist: Blacklist,
    pub config: TerminalConfig,
    pub cache: CredentialCache,
    pub state: TerminalState,
}

impl World {
    pub fn new(suite: Suite) -> World {
        let issuer = issuer_for(suite);
        let device = DeviceKeyPair::from_seed(suite, &seed(0x21)).unwrap();
        let credential = issuer.issue(&terms(ACCOUNT, 42, T0), &device.public_key()).unwrap();
        let key_list =
            key_list_with(vec![KeyListEntry { key: issuer.public(), revoked_at: None }], NOW);
        World {
            suite,
            issuer,
            device,
            credential,
            key_list,
            blacklist: Blacklist::new(1, NOW, vec![BlacklistEntry { account_id: 666, until: T0 + 86400 }]),
            config: TerminalConfig { scope: SCOPE, stale_fare_limit: STALE_LIMIT },
            cache: CredentialCache::new(1024),
            state: TerminalState::new(1024),
        }
    }

    pub fn all() -> Vec<World> {
        Suite::ALL.into_iter().map(World::new).collect()
    }

    /// A code of this world's credential.
    pub fn code(&self, generated_at: u32, counter: u16) -> Vec<u8> {
        RideCode::generate(&self.credential, &self.device, generated_at, counter).unwrap().to_bytes()
    }

    pub fn verify_at(&mut self, code: &[u8], now: u32, fare: u16) -> Result<Accepted, Reject> {
        let trust = Trust { key_list: &self.key_list, blacklist: &self.blacklist };
        verify(code, u64::from(now), fare, &self.config, trust, &mut self.cache, &mut self.state)
    }

    pub fn verify(&mut self, code: &[u8]) -> Result<Accepted, Reject> {
        self.verify_at(code, NOW, 300)
    }

    /// Verifies with a fresh replay memory, so only the code itself decides.
    pub fn verify_fresh(&mut self, code: &[u8], now: u32) -> Result<Accepted, Reject> {
        self.state = TerminalState::new(1024);
        self.verify_at(code, now, 300)
    }
}

/// Offset of the generation time for `suite` (126 or 127).
pub fn gen_at(suite: Suite) -> usize {
    Credential::encoded_len(suite)
}
