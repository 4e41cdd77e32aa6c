//! Asking a request/response BMS for its figures: one request at a time, the next only once the
//! answer is in and the line has been quiet for a moment; an unanswered request is sent again
//! after a timeout, and after a few tries the poller moves on and counts it as missed. Plain
//! Rust driven by the caller's clock, so it is tested natively.

/// How a protocol wants to be polled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    /// How long to wait for an answer before asking again, ms.
    pub timeout_ms: f64,
    /// Quiet time after the last byte before the next request, ms (a multi-frame answer may
    /// still be arriving; half-duplex RS485 needs the line free).
    pub gap_ms: f64,
    /// Time from the start of one round to the start of the next, ms.
    pub round_ms: f64,
    /// Tries per request before it counts as missed.
    pub tries: u32,
}

/// The timing the vendor protocols use: a round a second, a second to answer, three tries.
pub const TIMING: Timing = Timing {
    timeout_ms: 1_000.0,
    gap_ms: 60.0,
    round_ms: 1_000.0,
    tries: 3,
};

/// A polling schedule over a fixed list of requests.
#[derive(Debug, Clone)]
pub struct Poller {
    requests: Vec<Vec<u8>>,
    timing: Timing,
    /// The request being waited for, its tries so far and when it was last sent.
    pending: Option<(usize, u32, f64)>,
    /// The next request of the round.
    next: usize,
    /// When the present round started.
    round_started_ms: Option<f64>,
    /// When the last byte arrived.
    heard_at_ms: f64,
    /// Requests sent again after a timeout.
    pub retries: u64,
    /// Requests given up on after every try.
    pub missed: u64,
    /// Requests in a row that went unanswered (0 once one is answered).
    pub unanswered_in_a_row: u64,
    /// Another form of the same requests to try when these go unanswered (e.g. Daly's RS485
    /// host address), swapped in after [`SWITCH_AFTER_MISSES`] misses in a row.
    alternate: Option<Vec<Vec<u8>>>,
    /// Times the poller switched to the other form.
    pub switched: u64,
}

/// Misses in a row after which a poller with an alternate form switches to it.
pub const SWITCH_AFTER_MISSES: u64 = 2;

impl Poller {
    /// A poller sending `requests` round after round with `timing`.
    pub fn new(requests: Vec<Vec<u8>>, timing: Timing) -> Self {
        Poller {
            requests,
            timing,
            pending: None,
            next: 0,
            round_started_ms: None,
            heard_at_ms: f64::NEG_INFINITY,
            retries: 0,
            missed: 0,
            unanswered_in_a_row: 0,
            alternate: None,
            switched: 0,
        }
    }

    /// The same poller, switching between `requests` and `alternate` whenever one form goes
    /// unanswered [`SWITCH_AFTER_MISSES`] times in a row.
    pub fn with_alternate(mut self, alternate: Vec<Vec<u8>>) -> Self {
        self.alternate = Some(alternate);
        self
    }

    /// Bytes arrived at `now_ms` (a frame may be partly in).
    pub fn heard(&mut self, now_ms: f64) {
        self.heard_at_ms = now_ms;
    }

    /// A good answer arrived at `now_ms`: the request waited for is done.
    pub fn answered(&mut self, now_ms: f64) {
        self.heard_at_ms = now_ms;
        if self.pending.take().is_some() {
            self.unanswered_in_a_row = 0;
        }
    }

    /// What to send at `now_ms`, if anything.
    pub fn due(&mut self, now_ms: f64) -> Option<Vec<u8>> {
        if self.requests.is_empty() {
            return None;
        }
        if let Some((index, tries, sent_ms)) = self.pending {
            if now_ms - sent_ms < self.timing.timeout_ms {
                return None;
            }
            if tries < self.timing.tries {
                self.retries += 1;
                self.pending = Some((index, tries + 1, now_ms));
                return self.requests.get(index).cloned();
            }
            // Given up on: move on as if answered, but count it.
            self.pending = None;
            self.missed += 1;
            self.unanswered_in_a_row += 1;
            if self.unanswered_in_a_row.is_multiple_of(SWITCH_AFTER_MISSES)
                && let Some(other) = self.alternate.take()
            {
                self.alternate = Some(std::mem::replace(&mut self.requests, other));
                self.switched += 1;
                self.next = 0;
                self.round_started_ms = None;
            }
        }
        if now_ms - self.heard_at_ms < self.timing.gap_ms {
            return None;
        }
        if self.next == 0 {
            if let Some(started) = self.round_started_ms
                && now_ms - started < self.timing.round_ms
            {
                return None;
            }
            self.round_started_ms = Some(now_ms);
        }
        let index = self.next;
        self.next = (self.next + 1) % self.requests.len();
        self.pending = Some((index, 1, now_ms));
        self.requests.get(index).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn poller() -> Poller {
        Poller::new(vec![vec![1], vec![2]], TIMING)
    }

    #[test]
    fn one_request_at_a_time_and_a_round_a_second() {
        let mut p = poller();
        assert_eq!(p.due(0.0), Some(vec![1]));
        assert_eq!(p.due(10.0), None, "waits for the answer");
        p.answered(40.0);
        assert_eq!(p.due(80.0), None, "waits for a quiet line");
        assert_eq!(p.due(101.0), Some(vec![2]));
        p.answered(150.0);
        assert_eq!(
            p.due(300.0),
            None,
            "the next round starts a second after the last"
        );
        assert_eq!(p.due(1_000.0), Some(vec![1]));
        assert_eq!((p.retries, p.missed), (0, 0));
    }

    #[test]
    fn a_silent_device_gets_retries_then_a_miss() {
        let mut p = poller();
        assert_eq!(p.due(0.0), Some(vec![1]));
        assert_eq!(p.due(999.0), None);
        assert_eq!(p.due(1_000.0), Some(vec![1]), "second try");
        assert_eq!(p.due(2_000.0), Some(vec![1]), "third try");
        // After the third timeout: counted as missed, and the next request goes out.
        assert_eq!(p.due(3_000.0), Some(vec![2]));
        assert_eq!((p.retries, p.missed, p.unanswered_in_a_row), (2, 1, 1));
        p.answered(3_100.0);
        assert_eq!(p.unanswered_in_a_row, 0);
    }

    #[test]
    fn an_unanswered_form_gives_way_to_the_alternate() {
        let timing = Timing { tries: 1, ..TIMING };
        let mut p = Poller::new(vec![vec![0x80]], timing).with_alternate(vec![vec![0x40]]);
        assert_eq!(p.due(0.0), Some(vec![0x80]));
        assert_eq!(p.due(1_000.0), Some(vec![0x80]), "one miss: same form");
        assert_eq!(
            p.due(2_000.0),
            Some(vec![0x40]),
            "two misses: the other form"
        );
        assert_eq!(p.switched, 1);
        p.answered(2_050.0);
        assert_eq!(p.due(3_100.0), Some(vec![0x40]), "an answered form stays");
    }

    #[test]
    fn bytes_still_arriving_hold_the_next_request() {
        let mut p = poller();
        p.due(0.0);
        p.answered(20.0);
        p.heard(70.0);
        assert_eq!(p.due(100.0), None);
        assert_eq!(p.due(131.0), Some(vec![2]));
    }
}
