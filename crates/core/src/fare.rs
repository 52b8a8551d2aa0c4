//! Transit fares: a flat fare per tap, or a distance fare from pairing a rider's entry with the exit
//! that follows it. An entry without an exit is a trip of the maximum fare (corrected when a late exit
//! arrives); an exit without an entry is charged the maximum fare too — the rider could have come
//! from anywhere.

/// How long an entry waits for its exit; a later tap starts a new trip.
pub const MAX_TRIP_SECS: i64 = 4 * 3600;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    In,
    Out,
}

impl Direction {
    pub fn as_u8(self) -> u8 {
        match self {
            Direction::In => 0,
            Direction::Out => 1,
        }
    }
    pub fn from_u8(b: u8) -> Option<Direction> {
        match b {
            0 => Some(Direction::In),
            1 => Some(Direction::Out),
            _ => None,
        }
    }
}

/// An operator's fares. Positions are metres along the line; bands are `(up to metres, fare)` in
/// increasing order, the last band covering everything beyond.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FareTable {
    Flat(i64),
    Distance { stops: Vec<(u16, u32)>, bands: Vec<(u32, i64)>, max_fare: i64 },
}

impl FareTable {
    /// The most a single ride can cost (what a code's max fare and the deposit are sized by).
    pub fn max_fare(&self) -> i64 {
        match self {
            FareTable::Flat(f) => *f,
            FareTable::Distance { max_fare, .. } => *max_fare,
        }
    }

    fn position(&self, stop: u16) -> Option<u32> {
        match self {
            FareTable::Flat(_) => None,
            FareTable::Distance { stops, .. } => stops.iter().find(|(s, _)| *s == stop).map(|(_, p)| *p),
        }
    }

    /// The fare from `from` to `to`; unknown stops cost the maximum.
    pub fn between(&self, from: u16, to: u16) -> i64 {
        match self {
            FareTable::Flat(f) => *f,
            FareTable::Distance { bands, max_fare, .. } => {
                let (Some(a), Some(b)) = (self.position(from), self.position(to)) else { return *max_fare };
                let d = a.abs_diff(b);
                bands.iter().find(|(upto, _)| d <= *upto).map(|(_, f)| *f).unwrap_or(*max_fare).min(*max_fare)
            }
        }
    }
}

/// One accepted tap of one rider.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tap {
    pub id: u128,
    pub time: i64,
    pub stop: u16,
    pub direction: Direction,
}

/// A trip to charge: the taps it is made of and its fare.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trip {
    /// Flat fare: every entry tap is a trip.
    Flat { tap: Tap, fare: i64 },
    Complete { entry: Tap, exit: Tap, fare: i64 },
    /// No exit (yet): the maximum fare.
    NoExit { entry: Tap, fare: i64 },
    /// An exit with no entry before it: the maximum fare.
    NoEntry { exit: Tap, fare: i64 },
}

impl Trip {
    pub fn fare(&self) -> i64 {
        match *self {
            Trip::Flat { fare, .. } | Trip::Complete { fare, .. } | Trip::NoExit { fare, .. } | Trip::NoEntry { fare, .. } => fare,
        }
    }

    /// The tap that names the trip (its idempotency key for charging): the entry, or the lone exit.
    pub fn first(&self) -> Tap {
        match *self {
            Trip::Flat { tap, .. } => tap,
            Trip::Complete { entry, .. } | Trip::NoExit { entry, .. } => entry,
            Trip::NoEntry { exit, .. } => exit,
        }
    }
}

/// A rider's taps (any order) → trips, in time order. Under a flat fare exits cost nothing.
pub fn trips(table: &FareTable, taps: &[Tap]) -> Vec<Trip> {
    let mut taps = taps.to_vec();
    taps.sort_by_key(|t| (t.time, t.direction, t.id));
    let max = table.max_fare();
    if let FareTable::Flat(f) = table {
        return taps.into_iter().filter(|t| t.direction == Direction::In).map(|tap| Trip::Flat { tap, fare: *f }).collect();
    }
    let mut out = Vec::new();
    let mut open: Option<Tap> = None;
    for t in taps {
        match (t.direction, open) {
            (Direction::In, Some(entry)) => {
                out.push(Trip::NoExit { entry, fare: max });
                open = Some(t);
            }
            (Direction::In, None) => open = Some(t),
            (Direction::Out, Some(entry)) if t.time - entry.time <= MAX_TRIP_SECS => {
                out.push(Trip::Complete { entry, exit: t, fare: table.between(entry.stop, t.stop) });
                open = None;
            }
            (Direction::Out, Some(entry)) => {
                out.push(Trip::NoExit { entry, fare: max });
                out.push(Trip::NoEntry { exit: t, fare: max });
                open = None;
            }
            (Direction::Out, None) => out.push(Trip::NoEntry { exit: t, fare: max }),
        }
    }
    if let Some(entry) = open {
        out.push(Trip::NoExit { entry, fare: max });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::*;

    fn table() -> FareTable {
        FareTable::Distance { stops: vec![(1, 0), (2, 4_000), (3, 12_000), (4, 30_000)], bands: vec![(6_000, 200), (15_000, 300), (u32::MAX, 500)], max_fare: 500 }
    }

    fn tap(id: u128, time: i64, stop: u16, direction: Direction) -> Tap {
        Tap { id, time, stop, direction }
    }

    #[test]
    fn distance_fares() {
        let t = table();
        assert_eq!(t.between(1, 2), 200);
        assert_eq!(t.between(2, 1), 200);
        assert_eq!(t.between(1, 3), 300);
        assert_eq!(t.between(1, 4), 500);
        assert_eq!(t.between(1, 99), 500);
        assert_eq!(FareTable::Flat(200).between(1, 4), 200);
    }

    #[test]
    fn pairing() {
        let t = table();
        // In order or not, an entry pairs with the exit after it.
        let taps = [tap(2, 1_000, 3, Out), tap(1, 100, 1, In)];
        assert_eq!(trips(&t, &taps), vec![Trip::Complete { entry: taps[1], exit: taps[0], fare: 300 }]);
        // Entry, entry: the first had no exit. Exit alone: maximum. Entry left open: maximum.
        let taps = [tap(1, 0, 1, In), tap(2, 100, 2, In), tap(3, 200, 3, Out), tap(4, 300, 4, Out), tap(5, 400, 1, In)];
        let got = trips(&t, &taps);
        assert_eq!(got.len(), 4);
        assert_eq!(got[0], Trip::NoExit { entry: taps[0], fare: 500 });
        assert_eq!(got[1], Trip::Complete { entry: taps[1], exit: taps[2], fare: 300 });
        assert_eq!(got[2], Trip::NoEntry { exit: taps[3], fare: 500 });
        assert_eq!(got[3], Trip::NoExit { entry: taps[4], fare: 500 });
        // An exit too long after the entry is not its exit.
        let taps = [tap(1, 0, 1, In), tap(2, MAX_TRIP_SECS + 1, 2, Out)];
        assert_eq!(trips(&t, &taps), vec![Trip::NoExit { entry: taps[0], fare: 500 }, Trip::NoEntry { exit: taps[1], fare: 500 }]);
        // Flat: entries only.
        let taps = [tap(1, 0, 1, In), tap(2, 10, 2, Out)];
        assert_eq!(trips(&FareTable::Flat(200), &taps), vec![Trip::Flat { tap: taps[0], fare: 200 }]);
    }
}
