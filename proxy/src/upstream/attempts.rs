//! When to ask which upstream for one question, as a state machine with no I/O and no
//! clock of its own: the forwarding loop feeds it events (a deadline passed, an answer with
//! its RCODE, a failure) and carries out the action it returns (ask upstream i, wait until
//! t, take the answer, give up). The rules: ask the best upstream; ask the next best as well
//! when the ones asked are past their hedge delay, or at once when one failed or answered
//! SERVFAIL or REFUSED (kept as a last resort); once every candidate has been asked, resend
//! to the best one still silent at the retransmission interval, at most `MAX_RETRANSMITS`
//! times. Every attempt after the first must be allowed by the chooser (the overload rules
//! and the retry budget); once one is refused, the question waits for what is out and
//! sends nothing more. The caller's query budget bounds the whole.

use std::time::Duration;

use tokio::time::Instant;

pub use super::overload::{Denied, Extra};

/// Resends of one question once every upstream has been asked.
pub const MAX_RETRANSMITS: u32 = 3;

/// What happened since the last step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The time the last `Wait` named has come.
    Deadline,
    /// Upstream `i` answered with this RCODE.
    Answer { upstream: usize, rcode: u16 },
    /// Upstream `i` failed (timeout, refusal, I/O error).
    Failure { upstream: usize },
}

/// What the loop should do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send the question to upstream `upstream`; `resend` when it was asked before.
    Ask { upstream: usize, resend: bool },
    /// Wait for an answer, or until `until` (then feed `Event::Deadline`).
    Wait { until: Option<Instant> },
    /// The answer just fed is the one to use.
    Done,
    /// Nothing more to try: use the last SERVFAIL or REFUSED if any, else fail.
    GiveUp,
}

/// The choices the machine needs from the pool: the health-aware pick, and the delays.
pub trait Chooser {
    /// The best upstream not in `exclude` (a bit set), if any is worth a packet.
    fn pick(&mut self, exclude: u64) -> Option<usize>;
    /// The best of the `silent` upstreams (a bit set) to send the question to again.
    fn pick_again(&mut self, silent: u64) -> Option<usize> {
        self.pick(!silent)
    }
    /// How long to wait on upstream `i` just asked: its hedge delay while `others_left`,
    /// else its retransmission interval after `resent` resends.
    fn wait(&self, i: usize, others_left: bool, resent: u32) -> Duration;
    /// Whether an extra attempt of `kind` may go to upstream `i`, `waited` after the
    /// question's first attempt; a yes spends retry budget.
    fn allow_extra(&mut self, i: usize, kind: Extra, waited: Duration) -> Result<(), Denied>;
}

/// Whether an answer with `rcode` is an error to get around (SERVFAIL, or REFUSED unless
/// REFUSED is final, `--ttl-strict`) rather than the question's answer.
pub fn is_error_reply(rcode: u16, refused_final: bool) -> bool {
    use crate::wire::rcode::{REFUSED, SERVFAIL};
    rcode == SERVFAIL || (rcode == REFUSED && !refused_final)
}

#[derive(Debug, Default)]
pub struct Attempts {
    /// REFUSED is the answer (a DNS policy's verdict, as Cilium's), not a reason to ask
    /// another upstream.
    refused_final: bool,
    /// Bit sets of upstreams asked, and of those that have answered or failed.
    tried: u64,
    done: u64,
    outstanding: usize,
    retransmits: u32,
    /// When to ask one more upstream; None once nothing more is worth sending.
    next: Option<Instant>,
    /// When the first attempt went out.
    started: Option<Instant>,
    /// The next attempt is a move on after a failure or error answer, not a hedge.
    hurried: bool,
    /// Why the last extra attempt was refused, if one was.
    denied: Option<Denied>,
}

impl Attempts {
    pub fn new() -> Attempts {
        Attempts::default()
    }

    /// A plan in which REFUSED ends the question as any answer does (`--ttl-strict`).
    pub fn refused_final(refused_final: bool) -> Attempts {
        Attempts {
            refused_final,
            ..Attempts::default()
        }
    }

    /// Takes one event (None to start, and after an `Ask`) and says what to do next.
    pub fn step(&mut self, now: Instant, event: Option<Event>, c: &mut dyn Chooser) -> Action {
        let started = *self.started.get_or_insert_with(|| {
            self.next = Some(now);
            now
        });
        match event {
            None | Some(Event::Deadline) => {}
            Some(Event::Answer { upstream, rcode }) => {
                self.settle(upstream);
                if !is_error_reply(rcode, self.refused_final) {
                    return Action::Done;
                }
                self.hurry(now, c);
            }
            Some(Event::Failure { upstream }) => {
                self.settle(upstream);
                self.hurry(now, c);
            }
        }
        let due = self.next.is_some_and(|t| t <= now);
        if due || (self.outstanding == 0 && self.next.is_some()) {
            self.next = None;
            let fresh = c.pick(self.tried);
            let silent = self.tried & !self.done;
            let resend = if fresh.is_none() && self.retransmits < MAX_RETRANSMITS {
                c.pick_again(silent)
            } else {
                None
            };
            if let Some(i) = fresh.or(resend) {
                let resend = fresh.is_none();
                if self.tried != 0 {
                    let kind = match (resend, self.hurried) {
                        (true, _) => Extra::Resend,
                        (false, true) => Extra::MoveOn,
                        (false, false) => Extra::Hedge,
                    };
                    self.hurried = false;
                    if let Err(d) = c.allow_extra(i, kind, now.saturating_duration_since(started)) {
                        self.denied = Some(d);
                        return self.wait_or_give_up();
                    }
                }
                self.retransmits += resend as u32;
                self.tried |= 1 << i;
                self.outstanding += 1;
                let others_left = c.pick(self.tried).is_some();
                self.next = Some(now + c.wait(i, others_left, self.retransmits));
                return Action::Ask {
                    upstream: i,
                    resend,
                };
            }
        }
        self.wait_or_give_up()
    }

    fn wait_or_give_up(&self) -> Action {
        if self.outstanding == 0 {
            return Action::GiveUp;
        }
        Action::Wait { until: self.next }
    }

    /// Whether more than one upstream was asked before this one (a hedge, for metrics).
    pub fn outstanding(&self) -> usize {
        self.outstanding
    }

    /// Whether any attempt went out (none: every replica was out of credit, so shed).
    pub fn asked(&self) -> bool {
        self.tried != 0
    }

    /// Why an extra attempt was last refused.
    pub fn denied(&self) -> Option<Denied> {
        self.denied
    }

    fn settle(&mut self, upstream: usize) {
        self.outstanding = self.outstanding.saturating_sub(1);
        self.done |= 1 << upstream;
    }

    /// After a failure or an error answer: ask the next one now rather than at the hedge
    /// delay; with none left, wait for the others as planned.
    fn hurry(&mut self, now: Instant, c: &mut dyn Chooser) {
        if self.next.is_some() && c.pick(self.tried).is_some() {
            self.next = Some(now);
            self.hurried = true;
        }
    }
}

#[cfg(test)]
mod tests;
