use super::*;
use proptest::prelude::*;

const H: i64 = 3_600_000;

fn rotation(members: &[&str], start: &str, zone: &str, hours: u32) -> Rotation {
    Rotation::new(&RotationOptions {
        members: members.iter().map(|m| (*m).to_owned()).collect(),
        start: start.into(),
        time_zone: zone.into(),
        shift_hours: hours,
    })
    .unwrap()
}

fn ms(rfc3339: &str) -> i64 {
    rfc3339.parse::<Timestamp>().unwrap().as_millisecond()
}

const ZONES: [&str; 4] = [
    "America/Los_Angeles",
    "Europe/Berlin",
    "Australia/Sydney",
    "UTC",
];

prop_compose! {
    fn any_rotation()(
        n in 2usize..7,
        zone in 0usize..ZONES.len(),
        day in 1u32..28,
        hour in 0u32..24,
        hours in prop_oneof![Just(72u32), 1u32..200],
    ) -> Rotation {
        let names = ["ana", "bo", "cy", "dee", "eli", "fay"];
        rotation(&names[..n], &format!("2026-03-{day:02}T{hour:02}:30"), ZONES[zone], hours)
    }
}

/// The zone's real clock changes from 2025 to 2028 (none in UTC).
fn clock_changes(r: &Rotation) -> Vec<i64> {
    let end = ms("2028-01-01T00:00:00Z");
    r.tz.following(Timestamp::from_millisecond(ms("2025-01-01T00:00:00Z")).unwrap())
        .map(|t| t.timestamp().as_millisecond())
        .take_while(|t| *t < end)
        .collect()
}

/// An instant within `off_ms` of one of the zone's real clock changes (a uniform draw over two
/// years lands in a shift with a change in about 2 % of cases), or of mid-2026 in UTC.
fn near_a_change(r: &Rotation, pick: prop::sample::Index, off_ms: i64) -> i64 {
    let changes = clock_changes(r);
    if changes.is_empty() {
        ms("2026-06-01T00:00:00Z") + off_ms
    } else {
        changes[pick.index(changes.len())] + off_ms
    }
}

/// The offset's jump at `t` (after minus before), in ms: +1 h when clocks go forward.
fn jump_at(r: &Rotation, t: i64) -> i64 {
    let at = |t: i64| {
        i64::from(
            r.tz.to_offset(Timestamp::from_millisecond(t).unwrap())
                .seconds(),
        ) * 1000
    };
    at(t) - at(t - 1)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every instant is in exactly one shift, whose primary and secondary differ, and the shift
    /// lasts exactly its real hours.
    #[test]
    fn every_instant_has_one_primary_and_one_secondary(
        r in any_rotation(),
        pick in any::<prop::sample::Index>(),
        off in -400 * H..400 * H,
    ) {
        let t = near_a_change(&r, pick, off);
        let s = r.shift_at(t);
        prop_assert_eq!(s.index, r.index_at(t));
        prop_assert!(s.start_ms <= t && t < s.end_ms);
        prop_assert_eq!(s.end_ms - s.start_ms, r.shift_ms());
        prop_assert_ne!(&s.primary, &s.secondary);
        let holding: Vec<_> = r
            .shifts(t - 3 * r.shift_ms(), t + 3 * r.shift_ms())
            .into_iter()
            .filter(|x| x.start_ms <= t && t < x.end_ms)
            .collect();
        prop_assert_eq!(holding.len(), 1);
        // Consecutive shifts meet exactly.
        prop_assert_eq!(r.shift(s.index + 1).start_ms, s.end_ms);
    }

    /// Overrides, asked for at random and kept when the check lets them through: at every
    /// instant the primary and secondary still differ; inside an accepted cover's span its
    /// person holds the seat, and outside every cover the base rotation holds.
    #[test]
    fn overrides_cover_exactly_their_span(
        r in any_rotation(),
        base in ms("2026-03-01T00:00:00Z")..ms("2026-06-01T00:00:00Z"),
        asks in proptest::collection::vec((0i64..600, 1i64..200, any::<bool>(), 0usize..6), 1..12),
        probes in proptest::collection::vec(0i64..900 * H, 40),
    ) {
        let mut accepted: Vec<Cover> = Vec::new();
        for (offset_h, len_h, primary, who) in asks {
            let start_ms = base + offset_h * H;
            let seat = if primary { Seat::Primary } else { Seat::Secondary };
            let holder = on_call_at(&r, &accepted, start_ms).holder(seat).to_owned();
            let c = Cover {
                seat,
                start_ms,
                end_ms: start_ms + len_h * H,
                covered: holder,
                covering: r.members()[who % r.members().len()].clone(),
            };
            if check_cover(&r, &accepted, &c).is_ok() {
                accepted.push(c);
            }
        }
        let segments = timeline(&r, &accepted, base - 10 * H, base + 900 * H);
        // The timeline tiles its span with no gap or overlap.
        for w in segments.windows(2) {
            prop_assert_eq!(w[0].end_ms, w[1].start_ms);
        }
        for off in probes {
            let t = base - 10 * H + off;
            let now = on_call_at(&r, &accepted, t);
            prop_assert_ne!(&now.primary, &now.secondary, "at {}", t);
            let seg = segments.iter().find(|s| s.start_ms <= t && t < s.end_ms).unwrap();
            prop_assert_eq!(&seg.primary, &now.primary);
            prop_assert_eq!(&seg.secondary, &now.secondary);
            let shift = r.shift_at(t);
            for seat in [Seat::Primary, Seat::Secondary] {
                let inside: Vec<&Cover> = accepted
                    .iter()
                    .filter(|c| c.seat == seat && c.start_ms <= t && t < c.end_ms)
                    .collect();
                let base_holder = match seat {
                    Seat::Primary => &shift.primary,
                    Seat::Secondary => &shift.secondary,
                };
                match inside.last() {
                    // The last accepted cover of this instant decides.
                    Some(c) => prop_assert_eq!(now.holder(seat), c.covering.as_str()),
                    None => prop_assert_eq!(now.holder(seat), base_holder.as_str()),
                }
            }
        }
        // Just outside each cover's span, that cover does not apply.
        for c in &accepted {
            for t in [c.start_ms - 1, c.end_ms] {
                let others: Vec<Cover> = accepted
                    .iter()
                    .filter(|o| *o != c)
                    .cloned()
                    .collect();
                let with = on_call_at(&r, &accepted, t);
                let without = on_call_at(&r, &others, t);
                prop_assert_eq!(with, without);
            }
        }
    }

    /// The shift under way at each of a zone's real clock changes (Los Angeles, Berlin,
    /// Sydney, 2025–2028), for rotations of any start and length: it lasts its real hours, its
    /// wall clock runs longer or shorter by exactly the jump, the page's end time says so, and
    /// the note appears exactly when the change falls inside it, in the right direction.
    #[test]
    fn a_shift_across_a_real_clock_change_says_what_the_wall_clock_does(
        zone in 0usize..3,
        pick in any::<prop::sample::Index>(),
        day in 1u32..28,
        hour in 0u32..24,
        hours in prop_oneof![Just(72u32), 2u32..200],
    ) {
        let r = rotation(
            &["ana", "bo", "cy"],
            &format!("2026-01-{day:02}T{hour:02}:00"),
            ZONES[zone],
            hours,
        );
        let changes = clock_changes(&r);
        prop_assert!(changes.len() >= 5, "{}: {:?}", ZONES[zone], changes);
        let change = changes[pick.index(changes.len())];
        let jump = jump_at(&r, change);
        prop_assert!(jump == H || jump == -H, "{}", jump);
        let s = r.shift_at(change);
        let real = i64::from(hours) * H;
        prop_assert_eq!(s.end_ms - s.start_ms, real);
        let inside = s.start_ms < change;
        let wall = |t: i64| Timestamp::from_millisecond(t).unwrap().to_zoned(r.tz.clone());
        let wall_ms = wall(s.start_ms)
            .datetime()
            .duration_until(wall(s.end_ms).datetime())
            .as_millis() as i64;
        prop_assert_eq!(wall_ms, if inside { real + jump } else { real });
        // The end as the page writes it is the start's wall clock moved by the real hours and
        // the jump.
        let expected_end = wall(s.start_ms)
            .datetime()
            .checked_add(jiff::SignedDuration::from_millis(wall_ms))
            .unwrap();
        prop_assert_eq!(wall(s.end_ms).datetime(), expected_end);
        match r.clock_change(s.start_ms, s.end_ms) {
            Some(note) => {
                prop_assert!(inside, "a note without a change: {}", note);
                let word = if jump > 0 { "go forward 1 h" } else { "go back 1 h" };
                prop_assert!(note.contains(word), "{}", note);
            }
            None => prop_assert!(!inside, "no note for a change at {}", change),
        }
    }
}

#[test]
fn spring_forward_in_los_angeles_is_72_real_hours_and_says_so() {
    // 2027-03-14 02:00 PST → 03:00 PDT. A shift from Fri 12 Mar 09:00 PST ends Mon 15 Mar
    // 10:00 PDT: 72 real hours, 73 on the wall clock.
    let r = rotation(
        &["ana", "bo"],
        "2027-03-12T09:00",
        "America/Los_Angeles",
        72,
    );
    let s = r.shift(0);
    assert_eq!(s.start_ms, ms("2027-03-12T17:00:00Z"));
    assert_eq!(s.end_ms, ms("2027-03-15T17:00:00Z"));
    assert_eq!(r.local(s.end_ms), "Mon 15 Mar 2027 10:00 PDT");
    assert_eq!(
        r.clock_change(s.start_ms, s.end_ms).unwrap(),
        "local clocks go forward 1 h during this span: 72 real hours end at 10:00 on the wall clock, not 09:00"
    );
    // The next shift keeps its 72 hours and no note.
    let next = r.shift(1);
    assert_eq!(next.end_ms - next.start_ms, 72 * H);
    assert_eq!(r.clock_change(next.start_ms, next.end_ms), None);
}

#[test]
fn fall_back_in_berlin_is_72_real_hours_and_says_so() {
    // 2026-10-25 03:00 CEST → 02:00 CET.
    let r = rotation(&["ana", "bo"], "2026-10-23T09:00", "Europe/Berlin", 72);
    let s = r.shift(0);
    assert_eq!(s.start_ms, ms("2026-10-23T07:00:00Z"));
    assert_eq!(s.end_ms - s.start_ms, 72 * H);
    assert_eq!(r.local(s.end_ms), "Mon 26 Oct 2026 08:00 CET");
    assert!(r
        .clock_change(s.start_ms, s.end_ms)
        .unwrap()
        .starts_with("local clocks go back 1 h"));
}

#[test]
fn a_start_inside_a_gap_is_taken_as_the_clock_reads_after_it() {
    // 02:30 does not exist in Los Angeles on 2027-03-14; jiff's compatible reading is 03:30 PDT.
    let r = rotation(
        &["ana", "bo"],
        "2027-03-14T02:30",
        "America/Los_Angeles",
        72,
    );
    assert_eq!(r.shift(0).start_ms, ms("2027-03-14T10:30:00Z"));
}

#[test]
fn the_configuration_says_what_is_wrong() {
    let bad = |f: &dyn Fn(&mut RotationOptions)| {
        let mut o = RotationOptions {
            members: vec!["ana".into(), "bo".into()],
            ..RotationOptions::default()
        };
        f(&mut o);
        Rotation::new(&o).unwrap_err().to_string()
    };
    assert!(bad(&|o| o.members.truncate(1)).contains("at least two"));
    assert!(bad(&|o| o.members.push("Ana".into())).contains("listed twice"));
    assert!(bad(&|o| o.time_zone = "Mars/Olympus".into()).contains("IANA"));
    assert!(bad(&|o| o.start = "next tuesday".into()).contains("oncall.start"));
    assert!(bad(&|o| o.shift_hours = 0).contains("shift_hours"));
}

#[test]
fn a_cover_is_refused_when_it_would_seat_one_person_twice_or_give_away_another_seat() {
    let r = rotation(&["ana", "bo", "cy"], "2026-11-02T09:00", "UTC", 72);
    let s = r.shift(0); // ana primary, bo secondary
    let cover = |seat, covered: &str, covering: &str| Cover {
        seat,
        start_ms: s.start_ms + H,
        end_ms: s.start_ms + 5 * H,
        covered: covered.into(),
        covering: covering.into(),
    };
    assert!(check_cover(&r, &[], &cover(Seat::Primary, "ana", "cy")).is_ok());
    let twice = check_cover(&r, &[], &cover(Seat::Primary, "ana", "bo")).unwrap_err();
    assert!(twice.why.contains("bo is already secondary"), "{twice}");
    let not_theirs = check_cover(&r, &[], &cover(Seat::Primary, "cy", "bo")).unwrap_err();
    assert!(not_theirs.why.contains("cy is not primary"), "{not_theirs}");
    let outsider = check_cover(&r, &[], &cover(Seat::Primary, "ana", "zed")).unwrap_err();
    assert!(outsider.why.contains("not in the rotation"), "{outsider}");
    // A cover across the boundary into bo's primary shift is refused: ana does not hold it.
    let across = Cover {
        end_ms: s.end_ms + H,
        ..cover(Seat::Primary, "ana", "cy")
    };
    assert!(check_cover(&r, &[], &across).is_err());
}

#[test]
fn a_partial_cover_splits_the_shift_into_parts_each_with_its_holder() {
    let r = rotation(&["ana", "bo", "cy", "dee"], "2030-01-07T09:00", "UTC", 72);
    let s = r.shift(0); // ana primary, bo secondary
    let first_day = Cover {
        seat: Seat::Primary,
        start_ms: s.start_ms,
        end_ms: s.start_ms + 24 * H,
        covered: "ana".into(),
        covering: "cy".into(),
    };
    let covers = [first_day];
    let part = |seat, start_ms, end_ms, holder: &str, covering, others: &[&str]| Part {
        shift_index: 0,
        seat,
        start_ms,
        end_ms,
        holder: holder.into(),
        covering,
        others: others.iter().map(|o| (*o).to_owned()).collect(),
    };
    assert_eq!(
        parts(&r, &covers, s.start_ms, s.end_ms),
        vec![
            part(
                Seat::Primary,
                s.start_ms,
                s.start_ms + 24 * H,
                "cy",
                true,
                &["bo"]
            ),
            part(
                Seat::Secondary,
                s.start_ms,
                s.end_ms,
                "bo",
                false,
                &["cy", "ana"]
            ),
            part(
                Seat::Primary,
                s.start_ms + 24 * H,
                s.end_ms,
                "ana",
                false,
                &["bo"]
            ),
        ]
    );
    // Each part can be given away whole, to anyone but its holder and the other seat's.
    for p in parts(&r, &covers, s.start_ms, s.end_ms) {
        let c = Cover {
            seat: p.seat,
            start_ms: p.start_ms,
            end_ms: p.end_ms,
            covered: p.holder.clone(),
            covering: "dee".into(),
        };
        assert_eq!(check_cover(&r, &covers, &c), Ok(()), "{p:?}");
    }
    // Cut to a span (the part under way from now on).
    let later = parts(&r, &covers, s.start_ms + 30 * H, s.end_ms);
    assert_eq!(later.len(), 2);
    assert_eq!(later[0].start_ms, s.start_ms + 30 * H);
    assert_eq!(later[0].holder, "ana");
    // Covered in the middle: ana holds the two ends, cy the middle.
    let middle = Cover {
        seat: Seat::Primary,
        start_ms: s.start_ms + 24 * H,
        end_ms: s.start_ms + 48 * H,
        covered: "ana".into(),
        covering: "cy".into(),
    };
    let ana: Vec<(i64, i64)> = parts(&r, &[middle], s.start_ms, s.end_ms)
        .into_iter()
        .filter(|p| p.holder == "ana")
        .map(|p| (p.start_ms - s.start_ms, p.end_ms - s.start_ms))
        .collect();
    assert_eq!(ana, vec![(0, 24 * H), (48 * H, 72 * H)]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// With any accepted overrides, each seat's parts tile each shift, every instant of a part
    /// is its holder's, and a cover of a whole part by someone who is neither its holder nor
    /// one of `others` passes the check (what the pickers offer, the server accepts).
    #[test]
    fn parts_tile_each_seat_and_each_can_be_given_away(
        r in any_rotation(),
        base in ms("2026-03-01T00:00:00Z")..ms("2026-06-01T00:00:00Z"),
        asks in proptest::collection::vec((0i64..300, 1i64..100, any::<bool>(), 0usize..6), 1..10),
    ) {
        let mut accepted: Vec<Cover> = Vec::new();
        for (offset_h, len_h, primary, who) in asks {
            let start_ms = base + offset_h * H;
            let seat = if primary { Seat::Primary } else { Seat::Secondary };
            let holder = on_call_at(&r, &accepted, start_ms).holder(seat).to_owned();
            let c = Cover {
                seat,
                start_ms,
                end_ms: start_ms + len_h * H,
                covered: holder,
                covering: r.members()[who % r.members().len()].clone(),
            };
            if check_cover(&r, &accepted, &c).is_ok() {
                accepted.push(c);
            }
        }
        let (from, to) = (base, base + 400 * H);
        let all = parts(&r, &accepted, from, to);
        for seat in [Seat::Primary, Seat::Secondary] {
            let mine: Vec<&Part> = all.iter().filter(|p| p.seat == seat).collect();
            prop_assert_eq!(mine.first().unwrap().start_ms, from);
            prop_assert_eq!(mine.last().unwrap().end_ms, to);
            for w in mine.windows(2) {
                prop_assert_eq!(w[0].end_ms, w[1].start_ms);
                // Two parts in a row differ in shift, holder or how it is held.
                prop_assert!(
                    w[0].shift_index != w[1].shift_index
                        || w[0].holder != w[1].holder
                        || w[0].covering != w[1].covering
                );
            }
        }
        for p in &all {
            let shift = r.shift(p.shift_index);
            prop_assert!(shift.start_ms <= p.start_ms && p.end_ms <= shift.end_ms);
            for g in timeline(&r, &accepted, p.start_ms, p.end_ms) {
                prop_assert_eq!(g.holder(p.seat), p.holder.as_str());
                prop_assert!(p.others.iter().any(|o| o == g.holder(p.seat.other())));
            }
            if let Some(covering) = r
                .members()
                .iter()
                .find(|m| **m != p.holder && !p.others.contains(m))
            {
                let c = Cover {
                    seat: p.seat,
                    start_ms: p.start_ms,
                    end_ms: p.end_ms,
                    covered: p.holder.clone(),
                    covering: covering.clone(),
                };
                prop_assert_eq!(check_cover(&r, &accepted, &c), Ok(()), "{:?}", p);
            }
        }
    }
}
