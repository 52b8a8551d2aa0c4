//! Withholding agreements (签约代扣): a merchant proposes, the user consents, and the merchant may then
//! charge the user's wallet without the user present — within the limits the user agreed to, until
//! either side ends it. The rules here are pure; the server persists what they decide.

/// Where an agreement stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AgreementState {
    /// Proposed by the merchant, waiting for the user.
    Proposed,
    /// Consented: the merchant may charge.
    Signed,
    /// Ended by the user or the merchant (or refused before signing).
    Terminated,
}

impl AgreementState {
    pub fn as_str(&self) -> &'static str {
        match self {
            AgreementState::Proposed => "PROPOSED",
            AgreementState::Signed => "SIGNED",
            AgreementState::Terminated => "TERMINATED",
        }
    }

    pub fn parse(s: &str) -> Option<AgreementState> {
        Some(match s {
            "PROPOSED" => AgreementState::Proposed,
            "SIGNED" => AgreementState::Signed,
            "TERMINATED" => AgreementState::Terminated,
            _ => return None,
        })
    }
}

/// How long a proposal waits for the user.
pub const PROPOSAL_SECS: i64 = 24 * 3600;

/// The limits a user agrees to, in minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    pub per_charge: i64,
    pub per_day: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgreementError {
    /// Limits must be positive, the daily one at least the per-charge one, both within an order's maximum.
    BadLimits,
    /// Not (or no longer) signed.
    NotSigned,
    /// Already signed or ended: a proposal can be signed once.
    NotProposed,
    /// The proposal waited longer than a day.
    ProposalExpired,
    /// Ended already.
    Terminated,
    /// Above the per-charge limit.
    AbovePerCharge,
    /// The day's charges would pass the daily limit.
    AbovePerDay { left: i64 },
}

pub fn check_limits(l: Limits) -> Result<(), AgreementError> {
    if l.per_charge <= 0 || l.per_day < l.per_charge || l.per_day > crate::order::MAX_TOTAL {
        return Err(AgreementError::BadLimits);
    }
    Ok(())
}

/// The user signs a proposal made at `proposed_at`.
pub fn sign(state: AgreementState, proposed_at: i64, now: i64) -> Result<AgreementState, AgreementError> {
    match state {
        AgreementState::Proposed if now >= proposed_at + PROPOSAL_SECS => Err(AgreementError::ProposalExpired),
        AgreementState::Proposed => Ok(AgreementState::Signed),
        AgreementState::Signed => Err(AgreementError::NotProposed),
        AgreementState::Terminated => Err(AgreementError::Terminated),
    }
}

/// Either side ends the agreement (a proposal may be declined the same way).
pub fn terminate(state: AgreementState) -> Result<AgreementState, AgreementError> {
    match state {
        AgreementState::Proposed | AgreementState::Signed => Ok(AgreementState::Terminated),
        AgreementState::Terminated => Err(AgreementError::Terminated),
    }
}

/// A charge of `amount` when `charged_today` has been charged already this (China) day.
pub fn charge(state: AgreementState, l: Limits, charged_today: i64, amount: i64) -> Result<(), AgreementError> {
    match state {
        AgreementState::Signed => {}
        AgreementState::Proposed => return Err(AgreementError::NotSigned),
        AgreementState::Terminated => return Err(AgreementError::Terminated),
    }
    if amount > l.per_charge {
        return Err(AgreementError::AbovePerCharge);
    }
    let left = l.per_day - charged_today;
    if amount > left {
        return Err(AgreementError::AbovePerDay { left: left.max(0) });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use AgreementState::*;

    #[test]
    fn lifecycle_and_limits() {
        let l = Limits { per_charge: 500, per_day: 1_000 };
        assert!(check_limits(l).is_ok());
        assert_eq!(check_limits(Limits { per_charge: 0, per_day: 1 }), Err(AgreementError::BadLimits));
        assert_eq!(check_limits(Limits { per_charge: 10, per_day: 9 }), Err(AgreementError::BadLimits));
        assert_eq!(sign(Proposed, 0, PROPOSAL_SECS - 1), Ok(Signed));
        assert_eq!(sign(Proposed, 0, PROPOSAL_SECS), Err(AgreementError::ProposalExpired));
        assert_eq!(sign(Signed, 0, 0), Err(AgreementError::NotProposed));
        assert_eq!(charge(Proposed, l, 0, 1), Err(AgreementError::NotSigned));
        assert_eq!(charge(Signed, l, 0, 500), Ok(()));
        assert_eq!(charge(Signed, l, 0, 501), Err(AgreementError::AbovePerCharge));
        assert_eq!(charge(Signed, l, 600, 401), Err(AgreementError::AbovePerDay { left: 400 }));
        assert_eq!(charge(Signed, l, 600, 400), Ok(()));
        assert_eq!(terminate(Signed), Ok(Terminated));
        assert_eq!(terminate(Terminated), Err(AgreementError::Terminated));
        assert_eq!(charge(Terminated, l, 0, 1), Err(AgreementError::Terminated));
    }
}
