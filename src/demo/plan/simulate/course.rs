//! Taking lessons, and what finishing a course brings: its final assessment
//! and, on a pass, the course, skill mastery and any learning path it
//! completes.

use chrono::{DateTime, Duration, Utc};
use rand::Rng;
use rand::rngs::StdRng;
use serde_json::json;

use super::log::{About, Log};
use super::{Catalog, Learner};
use crate::demo::plan::{Assessment, Course};

use crate::domain::thresholds::PASS_MARK;

/// 1-3 lessons, 5-25 minutes apart, each of the first unfinished course the
/// learner is enrolled in by then; the last lesson of a course leads to its
/// final assessment.
pub(super) fn take_lessons(
    l: &mut Learner,
    log: &mut Log,
    rng: &mut StdRng,
    catalog: Catalog,
    t: &mut DateTime<Utc>,
) {
    let lessons: i32 = rng.random_range(1..=3);
    for _ in 0..lessons {
        *t += Duration::minutes(rng.random_range(5..25));
        let Some(i) = l.progress.iter().position(|p| {
            p.done < catalog.courses[p.course].lessons.len()
                && log.enrollments[p.enrollment].enrolled_at <= *t
        }) else {
            break;
        };
        if !complete_lesson(l, log, catalog, i, *t) {
            continue;
        }
        let course = &catalog.courses[l.progress[i].course];
        let score = take_final(l, log, rng, course, t);
        if score >= PASS_MARK {
            let enrollment = l.progress[i].enrollment;
            complete_course(l, log, catalog, course, enrollment, score, *t);
        }
    }
}

/// The next lesson of the learner's `i`th course, and the progress it
/// makes; true when it was the course's last.
fn complete_lesson(
    l: &mut Learner,
    log: &mut Log,
    catalog: Catalog,
    i: usize,
    t: DateTime<Utc>,
) -> bool {
    let progress = &mut l.progress[i];
    let course = &catalog.courses[progress.course];
    let lesson = course.lessons[progress.done];
    progress.done += 1;
    log.push(
        l.who,
        "lesson_completed",
        t,
        About {
            course: Some(course.id),
            lesson: Some(lesson),
            skill: None,
        },
        json!({}),
    );
    let pct = (100.0 * progress.done as f64 / course.lessons.len() as f64 * 100.0).round() / 100.0;
    log.push(
        l.who,
        "progress_updated",
        t,
        About::course(course.id),
        json!({"progress_percent": pct}),
    );
    progress.done == course.lessons.len()
}

/// The course's final assessment, 20 minutes per attempt, retaken (a little
/// better each time) until passed, three attempts at most; returns the last
/// score.
fn take_final(
    l: &Learner,
    log: &mut Log,
    rng: &mut StdRng,
    course: &Course,
    t: &mut DateTime<Utc>,
) -> f64 {
    let mut score = 0.0;
    for retake in 0..3 {
        *t += Duration::minutes(20);
        score = (l.profile.skill + rng.random_range(-15.0..15.0) + 4.0 * f64::from(retake))
            .clamp(0.0, 100.0)
            .round();
        log.push(
            l.who,
            "assessment_graded",
            *t,
            About::course(course.id),
            json!({"assessment_id": format!("{}-final", course.name), "score": score}),
        );
        log.assessments.push(Assessment { score });
        if score >= PASS_MARK {
            break;
        }
    }
    score
}

/// A passed course: it is complete, each of its skills gains 90% of the
/// score in mastery (up to 100), and a learning path whose courses are now
/// all passed is complete too.
fn complete_course(
    l: &mut Learner,
    log: &mut Log,
    catalog: Catalog,
    course: &Course,
    enrollment: usize,
    score: f64,
    t: DateTime<Utc>,
) {
    log.push(
        l.who,
        "course_completed",
        t,
        About::course(course.id),
        json!({}),
    );
    log.enrollments[enrollment].completed_at = Some(t);
    l.completed.push(course.id);
    for (skill_id, _) in &course.skills {
        let mastery = l.mastery.entry(*skill_id).or_insert(0.0);
        *mastery = (*mastery + score * 0.9).min(100.0).round();
        log.push(
            l.who,
            "skill_mastery_updated",
            t,
            About::skill(*skill_id),
            json!({"mastery": *mastery}),
        );
    }
    for path in catalog
        .paths
        .iter()
        .filter(|p| p.courses.contains(&course.id))
    {
        if path.courses.iter().all(|c| l.completed.contains(c)) {
            log.push(
                l.who,
                "learning_path_completed",
                t,
                About::nothing(),
                json!({"path_id": path.id}),
            );
        }
    }
}
