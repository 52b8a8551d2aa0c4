//! The one vocabulary of reasons, gate and platform alike.
//!
//! A gate's refusal is a [`Reject`] (checks 1–18 of the specification). The platform re-runs
//! those checks on every uploaded record and adds its own: the record itself (its structure, its
//! gate, its signature, its sequence) and what only the issuance table and the other gates'
//! uploads can tell. [`RecordReason::code`] is the snake_case name the gate prints, the server
//! stores and answers, and the specification's tables list; nothing else names a reason.

use crate::Reject;

/// Why the platform refuses an uploaded terminal record, or does not charge it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordReason {
    /// The record is not a well-formed terminal record.
    MalformedRecord,
    /// The record names another terminal than the one uploading it.
    OtherTerminal,
    /// The terminal signature does not verify under the gate's registered key.
    TerminalSignature,
    /// The gate uploaded this sequence before with other content (an alarm).
    SequenceConflict,
    /// The code fails one of the gate's own checks, re-run with the keys' status at the code's
    /// generation time and the record's time as the gate's clock.
    Code(Reject),
    /// The credential verifies but was never issued (a stolen issuer key).
    CredentialNotIssued,
    /// The credential differs from the one issued under its account and sequence (issuer key or
    /// device key).
    CredentialMismatch,
    /// The same use again at the same gate within the double-tap window: recorded, not charged.
    DoubleTap,
    /// The same use already accepted at another gate (or later at this one): a copied code;
    /// charged once, an alarm raised, the card blocked.
    Clone,
}

impl RecordReason {
    /// The platform's own reasons (every [`Reject`] is one too, as [`RecordReason::Code`]).
    pub const PLATFORM: [RecordReason; 8] = [
        RecordReason::MalformedRecord,
        RecordReason::OtherTerminal,
        RecordReason::TerminalSignature,
        RecordReason::SequenceConflict,
        RecordReason::CredentialNotIssued,
        RecordReason::CredentialMismatch,
        RecordReason::DoubleTap,
        RecordReason::Clone,
    ];

    /// The stable snake_case code; for [`RecordReason::Code`] the gate's own ([`Reject::code`]).
    pub fn code(self) -> &'static str {
        match self {
            RecordReason::MalformedRecord => "malformed_record",
            RecordReason::OtherTerminal => "other_terminal",
            RecordReason::TerminalSignature => "terminal_signature",
            RecordReason::SequenceConflict => "sequence_conflict",
            RecordReason::Code(r) => r.code(),
            RecordReason::CredentialNotIssued => "credential_not_issued",
            RecordReason::CredentialMismatch => "credential_mismatch",
            RecordReason::DoubleTap => "double_tap",
            RecordReason::Clone => "clone",
        }
    }

    /// The reason for a stable code, the inverse of [`RecordReason::code`].
    pub fn from_code(code: &str) -> Option<RecordReason> {
        Reject::from_code(code)
            .map(RecordReason::Code)
            .or_else(|| RecordReason::PLATFORM.into_iter().find(|r| r.code() == code))
    }
}

impl From<Reject> for RecordReason {
    fn from(r: Reject) -> Self {
        RecordReason::Code(r)
    }
}

impl core::fmt::Display for RecordReason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.code())
    }
}
