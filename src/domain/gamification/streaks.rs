//! Streaks (SPEC "Streak day"): consecutive local days with learning
//! activity, replayed from the set of active days, so late and out-of-order
//! events give the state of an in-order replay.
//!
//! Freezes: every 10th completed course earns one (lost when 3 are held);
//! one is spent only when it bridges exactly one missed day between two
//! active days. A bridged day keeps the streak but adds no length. A freeze
//! earned on an active day is credited after that day's gap is judged: it
//! cannot bridge the gap that ends on the day it was earned.

use chrono::NaiveDate;

/// Streak lengths that pay a one-time bonus (each once per person).
pub const MILESTONES: [u32; 4] = [7, 30, 90, 365];
/// Freezes a person can hold.
pub const MAX_FREEZES: u8 = 3;
/// Completed courses per freeze earned.
pub const COURSES_PER_FREEZE: usize = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FreezeKind {
    Earned,
    Spent,
    Lost,
}

impl FreezeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FreezeKind::Earned => "earned",
            FreezeKind::Spent => "spent",
            FreezeKind::Lost => "lost",
        }
    }
}

/// One freeze fact, as `streak_freeze_events` records it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FreezeFact {
    pub kind: FreezeKind,
    /// Earned/lost: the day of the completion; spent: the bridged day.
    pub local_date: NaiveDate,
    /// Earned/lost: the completion's key; spent: `bridge`.
    pub source_key: String,
}

/// A milestone reached: its length and the day the streak reached it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Milestone {
    pub days: u32,
    pub local_date: NaiveDate,
}

/// A person's streak history, replayed.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreakState {
    /// Length of the streak ending on `last_active`.
    pub run: u32,
    pub longest: u32,
    pub last_active: Option<NaiveDate>,
    pub freezes_held: u8,
    pub freezes: Vec<FreezeFact>,
    pub milestones: Vec<Milestone>,
}

impl StreakState {
    /// The current streak on `today`: the run, if its last day is today or
    /// yesterday (SPEC), else 0.
    pub fn current(&self, today: NaiveDate) -> u32 {
        match self.last_active {
            Some(last) if last >= today.pred_opt().unwrap_or(today) && last <= today => self.run,
            _ => 0,
        }
    }

    /// The next milestone not yet reached; 0 when all are.
    pub fn next_milestone(&self) -> u32 {
        MILESTONES
            .into_iter()
            .find(|m| *m > self.longest)
            .unwrap_or(0)
    }
}

/// Replays `active_days` (any order, repeats allowed) with the course
/// completions `(local date, key)` that earn freezes.
pub fn replay(active_days: &[NaiveDate], completions: &[(NaiveDate, String)]) -> StreakState {
    resume(&Resume::default(), active_days, completions)
}

/// Where a replay ended, as `user_points` stores it: enough to go on
/// without reading the history again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Resume {
    pub run: u32,
    pub longest: u32,
    pub last_active: Option<NaiveDate>,
    pub freezes_held: u8,
    /// Completions the replay counted (every 10th earns a freeze).
    pub completions: usize,
}

/// Whether [`resume`] from a stored replay, given only what came since,
/// gives what replaying everything would. `stored_latest` is the latest
/// completion the stored replay counted. It holds when no stored gap would
/// be judged again: every day given is the last stored day or a later one
/// after every stored completion (a stored freeze earned on or after it
/// would be credited later in a whole replay), and every new completion
/// sorts after the stored ones and falls on or after the last stored day
/// (a freeze earned earlier could have bridged a stored gap). A run that
/// may have reached a milestone on its last day does not take that day
/// again: the milestone is dated by the day's first learning time, which a
/// new event that day can move, and only a replay dates it anew.
pub fn can_resume(
    start: &Resume,
    stored_latest: Option<&(NaiveDate, String)>,
    days: &[NaiveDate],
    new_completions: &[(NaiveDate, String)],
) -> bool {
    let last_active = start.last_active;
    let milestone_on_last = start.run == start.longest && MILESTONES.contains(&start.run);
    let days_after = days.iter().all(|d| match last_active {
        Some(last) if *d == last => !milestone_on_last,
        Some(last) if *d < last => false,
        _ => stored_latest.is_none_or(|c| *d > c.0),
    });
    let completions_after = new_completions
        .iter()
        .all(|c| last_active.is_none_or(|last| c.0 >= last) && stored_latest.is_none_or(|s| c > s));
    days_after && completions_after
}

/// Goes on from `start` with active days and completions that came after
/// it (see [`can_resume`]; days up to `start.last_active` are known and
/// skipped). The state is the whole replay's; `freezes` and `milestones`
/// hold only the new facts.
pub fn resume(
    start: &Resume,
    active_days: &[NaiveDate],
    completions: &[(NaiveDate, String)],
) -> StreakState {
    let mut days: Vec<NaiveDate> = active_days
        .iter()
        .copied()
        .filter(|d| start.last_active.is_none_or(|last| *d > last))
        .collect();
    days.sort_unstable();
    days.dedup();
    let mut completions = completions.to_vec();
    completions.sort();
    let earnings: Vec<(NaiveDate, String)> = completions
        .into_iter()
        .enumerate()
        .filter(|(i, _)| (start.completions + i + 1) % COURSES_PER_FREEZE == 0)
        .map(|(_, c)| c)
        .collect();

    let mut state = StreakState {
        run: start.run,
        longest: start.longest,
        last_active: start.last_active,
        freezes_held: start.freezes_held,
        ..StreakState::default()
    };
    let mut next_earning = 0;
    let mut credit_until = |state: &mut StreakState, last: NaiveDate, inclusive: bool| {
        while let Some((date, key)) = earnings.get(next_earning) {
            if *date > last || (!inclusive && *date == last) {
                break;
            }
            let kind = if state.freezes_held < MAX_FREEZES {
                state.freezes_held += 1;
                FreezeKind::Earned
            } else {
                FreezeKind::Lost
            };
            state.freezes.push(FreezeFact {
                kind,
                local_date: *date,
                source_key: key.clone(),
            });
            next_earning += 1;
        }
    };
    for day in days {
        credit_until(&mut state, day, false);
        state.run = match state.last_active {
            None => 1,
            Some(prev) => match (day - prev).num_days() - 1 {
                0 => state.run + 1,
                1 if state.freezes_held > 0 => {
                    state.freezes_held -= 1;
                    state.freezes.push(FreezeFact {
                        kind: FreezeKind::Spent,
                        local_date: prev.succ_opt().unwrap_or(prev),
                        source_key: "bridge".into(),
                    });
                    state.run + 1
                }
                _ => 1,
            },
        };
        credit_until(&mut state, day, true);
        if state.run > state.longest {
            if MILESTONES.contains(&state.run) {
                state.milestones.push(Milestone {
                    days: state.run,
                    local_date: day,
                });
            }
            state.longest = state.run;
        }
        state.last_active = Some(day);
    }
    if let Some(last) = earnings.last() {
        credit_until(&mut state, last.0, true);
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, 1).unwrap() + chrono::Duration::days(i64::from(day))
    }

    fn days(list: &[u32]) -> Vec<NaiveDate> {
        list.iter().map(|x| d(*x)).collect()
    }

    /// `n` completions on `day`, keys c<day>-<i>.
    fn completions(day: u32, n: usize) -> Vec<(NaiveDate, String)> {
        (0..n).map(|i| (d(day), format!("c{day}-{i}"))).collect()
    }

    #[test]
    fn consecutive_days_make_a_run_and_a_gap_ends_it() {
        let s = replay(&days(&[0, 1, 2, 4, 5]), &[]);
        assert_eq!((s.run, s.longest, s.last_active), (2, 3, Some(d(5))));
        assert!(s.freezes.is_empty());
    }

    #[test]
    fn order_and_repeats_do_not_matter() {
        let a = replay(&days(&[3, 0, 2, 1, 1, 3]), &completions(1, 10));
        let b = replay(&days(&[0, 1, 2, 3]), &completions(1, 10));
        assert_eq!(a, b);
        assert_eq!(a.run, 4);
    }

    #[test]
    fn current_only_when_last_day_is_today_or_yesterday() {
        let s = replay(&days(&[0, 1, 2]), &[]);
        assert_eq!(s.current(d(2)), 3);
        assert_eq!(s.current(d(3)), 3);
        assert_eq!(s.current(d(4)), 0);
        assert_eq!(StreakState::default().current(d(4)), 0);
    }

    #[test]
    fn a_freeze_bridges_one_missed_day_without_adding_length() {
        // 10 completions on day 0 earn one freeze; day 2 is missed.
        let s = replay(&days(&[0, 1, 3, 4]), &completions(0, 10));
        assert_eq!(
            s.run, 4,
            "days 0,1,3,4 count; the bridged day 2 adds nothing"
        );
        assert_eq!(s.freezes_held, 0);
        assert_eq!(
            s.freezes,
            vec![
                FreezeFact {
                    kind: FreezeKind::Earned,
                    local_date: d(0),
                    source_key: "c0-9".into()
                },
                FreezeFact {
                    kind: FreezeKind::Spent,
                    local_date: d(2),
                    source_key: "bridge".into()
                },
            ]
        );
    }

    #[test]
    fn two_missed_days_end_the_streak_and_spend_nothing() {
        let s = replay(&days(&[0, 1, 4]), &completions(0, 10));
        assert_eq!((s.run, s.longest, s.freezes_held), (1, 2, 1));
        assert!(s.freezes.iter().all(|f| f.kind == FreezeKind::Earned));
    }

    #[test]
    fn no_freeze_no_bridge() {
        let s = replay(&days(&[0, 1, 3]), &completions(0, 9));
        assert_eq!((s.run, s.longest), (1, 2));
    }

    #[test]
    fn a_freeze_earned_on_the_day_after_a_gap_cannot_bridge_it() {
        let s = replay(&days(&[0, 2]), &completions(2, 10));
        assert_eq!((s.run, s.freezes_held), (1, 1));
    }

    #[test]
    fn at_most_three_freezes_are_held_and_the_fourth_is_lost() {
        let s = replay(&days(&[0]), &completions(0, 40));
        assert_eq!(s.freezes_held, 3);
        let kinds: Vec<_> = s.freezes.iter().map(|f| f.kind).collect();
        use FreezeKind::*;
        assert_eq!(kinds, [Earned, Earned, Earned, Lost]);
        // Spending one makes room again.
        let mut c = completions(0, 30);
        c.extend(completions(3, 10));
        let s = replay(&days(&[0, 1, 3]), &c);
        let kinds: Vec<_> = s.freezes.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [Earned, Earned, Earned, Spent, Earned]);
        assert_eq!(s.freezes_held, 3);
    }

    #[test]
    fn days_are_the_persons_local_days_across_zones_and_dst() {
        use chrono::{DateTime, Utc};
        let instants: Vec<DateTime<Utc>> = [
            "2026-11-01T03:30:00Z", // New York: Sat 31 Oct 23:30 (EDT)
            "2026-11-02T04:30:00Z", // Sun 1 Nov 23:30 (EST: the 25-hour day)
            "2026-11-02T05:30:00Z", // Mon 2 Nov 00:30
        ]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
        let local = |zone: chrono_tz::Tz| -> Vec<NaiveDate> {
            instants
                .iter()
                .map(|t| t.with_timezone(&zone).date_naive())
                .collect()
        };
        let new_york = replay(&local(chrono_tz::America::New_York), &[]);
        assert_eq!((new_york.run, new_york.longest), (3, 3));
        // The same instants are two days in UTC and in Tokyo.
        assert_eq!(replay(&local(chrono_tz::UTC), &[]).longest, 2);
        assert_eq!(replay(&local(chrono_tz::Asia::Tokyo), &[]).longest, 2);
    }

    #[test]
    fn milestones_pay_once_on_the_day_they_are_reached() {
        let first: Vec<u32> = (0..8).collect();
        let mut all = first.clone();
        all.extend(20..28); // a second 8-day streak: 7 is not paid again
        let s = replay(&days(&all), &[]);
        assert_eq!(
            s.milestones,
            vec![Milestone {
                days: 7,
                local_date: d(6)
            }]
        );
        assert_eq!(s.next_milestone(), 30);
        let year: Vec<u32> = (0..365).collect();
        let s = replay(&days(&year), &[]);
        let reached: Vec<u32> = s.milestones.iter().map(|m| m.days).collect();
        assert_eq!(reached, MILESTONES);
        assert_eq!(s.milestones[3].local_date, d(364));
        assert_eq!(s.next_milestone(), 0);
    }

    /// The stored row of a replay of `days` and `completions`, and the
    /// latest completion it counted.
    fn stored(
        days: &[NaiveDate],
        completions: &[(NaiveDate, String)],
    ) -> (StreakState, Resume, Option<(NaiveDate, String)>) {
        let s = replay(days, completions);
        let start = Resume {
            run: s.run,
            longest: s.longest,
            last_active: s.last_active,
            freezes_held: s.freezes_held,
            completions: completions.len(),
        };
        (s, start, completions.iter().max().cloned())
    }

    #[test]
    fn resuming_goes_on_from_the_stored_state() {
        // Days 0-5 and 9 completions stored; a new day 6 reaches the 7-day
        // milestone, and the 10th completion earns a freeze that bridges 8.
        let old_days = days(&[0, 1, 2, 3, 4, 5]);
        let old_done = completions(0, 9);
        let (_, start, latest) = stored(&old_days, &old_done);
        let new_days = days(&[5, 6, 7, 9]);
        let new_done = vec![(d(7), "z".to_string())];
        assert!(can_resume(&start, latest.as_ref(), &new_days, &new_done));
        let s = resume(&start, &new_days, &new_done);
        assert_eq!((s.run, s.longest, s.last_active), (9, 9, Some(d(9))));
        assert_eq!(
            s.milestones,
            vec![Milestone {
                days: 7,
                local_date: d(6)
            }]
        );
        let kinds: Vec<_> = s.freezes.iter().map(|f| f.kind).collect();
        assert_eq!(kinds, [FreezeKind::Earned, FreezeKind::Spent]);
    }

    #[test]
    fn late_facts_cannot_resume() {
        let (_, start, latest) = stored(&days(&[3, 4]), &completions(2, 1));
        // A day before the last stored one, and a completion before it.
        assert!(!can_resume(&start, latest.as_ref(), &days(&[2]), &[]));
        assert!(!can_resume(
            &start,
            latest.as_ref(),
            &[],
            &[(d(3), "z".into())]
        ));
        // A completion on the last day sorting before a stored one.
        let (_, start, latest) = stored(&days(&[3, 4]), &[(d(4), "m".into())]);
        let early = [(d(4), "a".to_string())];
        assert!(!can_resume(&start, latest.as_ref(), &[], &early));
        // A stored completion after the last stored day: a new day on it.
        let (_, start, latest) = stored(&days(&[3]), &[(d(5), "m".into())]);
        assert!(!can_resume(&start, latest.as_ref(), &days(&[5]), &[]));
        assert!(can_resume(&start, latest.as_ref(), &days(&[3, 6]), &[]));
    }

    #[test]
    fn a_milestone_day_is_not_taken_again() {
        // Days 0-6 reach 7 on day 6: another event on day 6 could move the
        // milestone's time, so it replays; day 7 resumes.
        let (_, start, latest) = stored(&days(&[0, 1, 2, 3, 4, 5, 6]), &[]);
        assert!(!can_resume(&start, latest.as_ref(), &days(&[6]), &[]));
        assert!(can_resume(&start, latest.as_ref(), &days(&[7]), &[]));
        // A run of 7 after a longer one reached nothing on its last day.
        let eight_then_seven: Vec<u32> = (0..8).chain(9..16).collect();
        let (_, start, latest) = stored(&days(&eight_then_seven), &[]);
        assert_eq!((start.run, start.longest), (7, 8));
        assert!(can_resume(&start, latest.as_ref(), &days(&[15]), &[]));
    }

    use proptest::prelude::*;

    /// Dates close together (streaks, gaps, milestones), completions with
    /// distinct keys and shared days, and the days to split both at (apart,
    /// so completions can end before or after the stored days do).
    type History = (Vec<u32>, Vec<(u32, String)>, u32, u32);

    fn history() -> impl Strategy<Value = History> {
        (
            prop::collection::vec(0u32..24, 0..24),
            // Completions come in clumps on a day (a freeze's 10th often
            // shares its day with others).
            prop::collection::vec((0u32..24, 1usize..6), 0..10),
            0u32..26,
            0u32..26,
        )
            .prop_map(|(days, clumps, day_cut, done_cut)| {
                let done = clumps
                    .into_iter()
                    .flat_map(|(day, n)| std::iter::repeat_n(day, n))
                    .enumerate()
                    .map(|(i, day)| (day, format!("course:{}", (i * 7919) % 101)))
                    .collect();
                (days, done, day_cut, done_cut)
            })
    }

    fn split<T: Clone>(items: &[T], old: impl Fn(&T) -> bool) -> (Vec<T>, Vec<T>) {
        items.iter().cloned().partition(|x| old(x))
    }

    proptest! {
        // Pure and fast: enough cases to meet the rare orders (a freeze
        // earned on the day a gap ends, ties between completions).
        #![proptest_config(ProptestConfig::with_cases(50_000))]

        /// Resuming equals replaying everything whenever `can_resume` says
        /// so, for any way of splitting a history (a few facts moved across
        /// the cut make late ones).
        #[test]
        fn resuming_is_replaying_everything(
            (all_days, all_done, day_cut, done_cut) in history(),
            moved in prop::collection::vec(any::<bool>(), 80),
        ) {
            let late = |i: usize| moved[i % moved.len()] && i % 3 == 0;
            let indexed_days: Vec<(usize, u32)> = all_days.iter().copied().enumerate().collect();
            let (old_days, new_days) = split(&indexed_days, |(i, x)| (*x < day_cut) != late(*i));
            let indexed_done: Vec<(usize, (u32, String))> =
                all_done.iter().cloned().enumerate().collect();
            let (old_done, new_done) =
                split(&indexed_done, |(i, (x, _))| (*x < done_cut) != late(*i + 40));
            let to_days = |v: &[(usize, u32)]| v.iter().map(|(_, x)| d(*x)).collect::<Vec<_>>();
            let to_done = |v: &[(usize, (u32, String))]| {
                v.iter().map(|(_, (x, k))| (d(*x), k.clone())).collect::<Vec<_>>()
            };
            let (old_days, new_days) = (to_days(&old_days), to_days(&new_days));
            let (old_done, new_done) = (to_done(&old_done), to_done(&new_done));
            let (before, start, latest) = stored(&old_days, &old_done);
            if can_resume(&start, latest.as_ref(), &new_days, &new_done) {
                let resumed = resume(&start, &new_days, &new_done);
                let mut every_day = old_days.clone();
                every_day.extend(&new_days);
                let mut every_done = old_done.clone();
                every_done.extend(new_done.iter().cloned());
                let whole = replay(&every_day, &every_done);
                prop_assert_eq!(
                    (resumed.run, resumed.longest, resumed.last_active, resumed.freezes_held),
                    (whole.run, whole.longest, whole.last_active, whole.freezes_held)
                );
                let mut facts = before.freezes.clone();
                facts.extend(resumed.freezes);
                prop_assert_eq!(facts, whole.freezes);
                let mut reached = before.milestones.clone();
                reached.extend(resumed.milestones);
                prop_assert_eq!(reached, whole.milestones);
            }
        }

        /// A history cut cleanly (everything new after everything stored)
        /// always resumes: the fast path is the common one.
        #[test]
        fn a_clean_cut_resumes((all_days, all_done, cut, _) in history()) {
            let (old_days, new_days) = split(&days(&all_days), |x| *x < d(cut));
            let done: Vec<(NaiveDate, String)> =
                all_done.iter().map(|(x, k)| (d(*x), k.clone())).collect();
            let (old_done, new_done) = split(&done, |(x, _)| *x < d(cut));
            let (_, start, latest) = stored(&old_days, &old_done);
            prop_assert!(can_resume(&start, latest.as_ref(), &new_days, &new_done));
        }
    }
}
