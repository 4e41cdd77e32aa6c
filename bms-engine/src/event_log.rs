//! A fixed-size ring of timestamped events: the newest [`EVENT_LOG_LEN`] trips, clears, latches
//! and resets, each with the cell, value, limit and delay that explain it, and the hosts'
//! switch commands (held open, given back).

use crate::Event;
use core::fmt;
use heapless::Deque;

/// Time since start as events are shown, "+2d 13:05:15": days, then the time within the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(pub u64);

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0;
        write!(
            f,
            "+{}d {:02}:{:02}:{:02}",
            secs / 86_400,
            secs % 86_400 / 3600,
            secs % 3600 / 60,
            secs % 60
        )
    }
}

/// Events the ring keeps.
pub const EVENT_LOG_LEN: usize = 64;

/// The event ring. Sequence numbers count every event ever recorded, so a reader can ask for
/// "everything after n" and notice what the ring has already dropped.
#[derive(Debug, Clone, Default)]
pub struct EventLog {
    ring: Deque<Event, EVENT_LOG_LEN>,
    recorded: u64,
}

impl EventLog {
    /// Records `event`, dropping the oldest when full.
    pub fn push(&mut self, event: Event) {
        if self.ring.is_full() {
            self.ring.pop_front();
        }
        // Room was made above.
        let _ = self.ring.push_back(event);
        self.recorded += 1;
    }

    /// Events recorded since start (including dropped ones).
    pub fn recorded(&self) -> u64 {
        self.recorded
    }

    /// Events held, oldest first, with their sequence numbers (0-based).
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Event)> {
        let first = self.recorded - self.ring.len() as u64;
        (first..).zip(self.ring.iter())
    }

    /// Events with a sequence number of at least `sequence`, oldest first.
    pub fn since(&self, sequence: u64) -> impl Iterator<Item = (u64, &Event)> {
        self.iter().filter(move |(n, _)| *n >= sequence)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{EventKind, Fault, Level};

    fn event(time_ms: u64) -> Event {
        Event {
            time_ms,
            kind: EventKind::Tripped,
            fault: Fault::CellOverVoltage,
            level: Level::Trip,
            location: Some(3),
            value: 3_700,
            limit: 3_650,
            delay_ms: 2_000,
        }
    }

    #[test]
    fn keeps_the_newest_and_numbers_everything() {
        let mut log = EventLog::default();
        for t in 0..100 {
            log.push(event(t));
        }
        assert_eq!(log.recorded(), 100);
        let held: heapless::Vec<(u64, u64), EVENT_LOG_LEN> =
            log.iter().map(|(n, e)| (n, e.time_ms)).collect();
        assert_eq!(held.len(), EVENT_LOG_LEN);
        assert_eq!(held.first(), Some(&(36, 36)));
        assert_eq!(held.last(), Some(&(99, 99)));
        assert_eq!(log.since(98).count(), 2);
        assert_eq!(log.since(0).count(), EVENT_LOG_LEN);
    }
}
