//! The 19 analytics through gRPC on the campus of `analytics_support`. Each
//! expected figure is worked out by hand from the campus's events and the
//! SPEC's formulas, in the comments beside it.

use chrono::{Datelike, Days, NaiveDate};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use stride::auth::Role;
use stride::proto::analytics::v1 as pb;
use stride::proto::analytics::v1::analytics_service_client::AnalyticsServiceClient;
use stride::proto::common::v1::AnalyticsMeta;
use stride::proto::events::v1 as ev;
use stride::proto::identity::v1 as id;
use stride::proto::identity::v1::identity_service_client::IdentityServiceClient;
use tonic::Code;
use tonic::transport::Channel;
use uuid::Uuid;

use crate::analytics_support::{Campus, lesson_id};
use crate::harness::{TestServer, authed};
use crate::ingest_support::{count, timestamp};

fn client(server: &TestServer) -> AnalyticsServiceClient<Channel> {
    AnalyticsServiceClient::new(server.channel())
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 1e-6
}

#[track_caller]
fn assert_close(actual: f64, expected: f64) {
    assert!(close(actual, expected), "{actual} != {expected}");
}

fn learner(user: Uuid) -> Option<pb::LearnerSubject> {
    Some(pb::LearnerSubject {
        user_id: user.to_string(),
    })
}

fn me() -> Option<pb::LearnerSubject> {
    Some(pb::LearnerSubject::default())
}

fn meta(m: &Option<AnalyticsMeta>) -> &AnalyticsMeta {
    m.as_ref().expect("every answer carries meta")
}

fn seconds(t: &Option<prost_types::Timestamp>) -> i64 {
    t.as_ref().expect("timestamp").seconds
}

/// OK, or the status code of the refusal.
fn code<T>(r: Result<tonic::Response<T>, tonic::Status>) -> Code {
    r.err().map_or(Code::Ok, |s| s.code())
}

fn today(campus: &Campus) -> NaiveDate {
    campus.now.date_naive()
}

fn monday(day: NaiveDate) -> NaiveDate {
    day - Days::new(u64::from(day.weekday().num_days_from_monday()))
}

#[tokio::test]
async fn learner_analytics_match_the_hand_computed_figures() {
    let (server, campus) = Campus::start().await;
    let mut api = client(&server);
    let l0 = campus.learner_token(&server, 0);

    // 1. Velocity of L0: lessons d1, d2, d3 (last 7) and d8, d9 (prior 7),
    // d15: 6 in 28 days = 1.5 a week; change (3 - 2) / 2 = +50%.
    let v = api
        .get_learning_velocity(authed(
            pb::GetLearningVelocityRequest {
                subject: me(),
                fresh: false,
            },
            &l0,
        ))
        .await
        .expect("velocity")
        .into_inner();
    assert_eq!((v.last7, v.prior7), (3, 2));
    assert_close(v.lessons_per_week, 1.5);
    assert_close(v.momentum_change.expect("change"), 0.5);
    assert_eq!(v.momentum, pb::Momentum::Accelerating as i32);
    assert_close(v.target_per_week, 4.0); // organization setting
    // Remaining: C1 10 lessons at 60% -> 4, C2 4 at 0% -> 4, C3 5 -> 5 = 13;
    // 13 / 1.5 a week = 60.67 days -> 61.
    assert_eq!(v.remaining_lessons, 13);
    assert_eq!(
        v.estimated_completion_date,
        (today(&campus) + Days::new(61)).to_string()
    );
    let m = meta(&v.meta);
    assert!(!m.from_cache);
    assert_eq!(seconds(&m.expires_at) - seconds(&m.computed_at), 4 * 3600);

    // 3. Engagement of L0 over d13..d0 (d6..d0 weigh 2, total weight 21):
    // logins and 30-minute sessions every day d0..d6 -> 14/21 each;
    // activities (target 2): d1 lesson+progress 1, d2 lesson+assessment 1,
    // d3 0.5 (x2), d8 and d9 0.5 (x1) -> 6/21.
    // 100 x (0.35 x 14/21 + 0.25 x 14/21 + 0.40 x 6/21) = 51.43 -> 51.
    let e = api
        .get_engagement_score(authed(
            pb::GetEngagementScoreRequest {
                subject: me(),
                fresh: false,
            },
            &l0,
        ))
        .await
        .expect("engagement")
        .into_inner();
    assert_eq!(e.score, 51);
    assert_eq!(e.band, pb::EngagementBand::Medium as i32);
    assert_close(e.logins_component, 14.0 / 21.0);
    assert_close(e.session_component, 14.0 / 21.0);
    assert_close(e.activity_component, 6.0 / 21.0);

    // 2. Skill gaps of L0 (role analyst + active courses C1, C2, C3; no
    // mastery yet). S1: role and C1 need 80 -> gap 0.8, priority 1,
    // demand 0, blocks S2 (1 of the 2 other gaps), career 0.5:
    // 100 x (0.25 x 0.8 + 0.3 + 0 + 0.15 x 0.5 + 0.1 x 0.5) = 62.5.
    // S2: C3 needs 80 -> 0.8, demand 0.5 (catalogue): 20 + 10 = 30.
    // S3: role needs 70 -> 0.7, career 1: 17.5 + 10 = 27.5.
    let g = api
        .get_skill_gap_matrix(authed(
            pb::GetSkillGapMatrixRequest {
                subject: me(),
                fresh: false,
            },
            &l0,
        ))
        .await
        .expect("gaps")
        .into_inner();
    let [s1, s2, s3] = campus.skills;
    let ids: Vec<&str> = g.gaps.iter().map(|g| g.skill_id.as_str()).collect();
    assert_eq!(ids, [s1.to_string(), s2.to_string(), s3.to_string()]);
    let priorities: Vec<f64> = g.gaps.iter().map(|g| g.priority).collect();
    assert!(close(priorities[0], 62.5) && close(priorities[1], 30.0) && close(priorities[2], 27.5));
    assert_close(g.gaps[0].prerequisite_blocking, 0.5);
    assert_close(g.gaps[1].market_demand, 0.5);
    assert_close(g.gaps[2].required_mastery, 70.0);
    assert_eq!(g.gaps[2].skill_name, "Statistics");

    // 4. Mastery of L1: S1 at 90 (mastered at d40, domain data), S3 at 50
    // (math): one mastered, one in progress; cumulative mastered per month
    // is 1 from the month of d40 on.
    let l1 = campus.learner_token(&server, 1);
    let mp = api
        .get_mastery_progress(authed(
            pb::GetMasteryProgressRequest {
                subject: me(),
                fresh: false,
            },
            &l1,
        ))
        .await
        .expect("mastery")
        .into_inner();
    assert_eq!((mp.mastered, mp.in_progress), (1, 1));
    let domains: Vec<(&str, u32, u32, u32)> = mp
        .domains
        .iter()
        .map(|d| (d.domain.as_str(), d.mastered, d.in_progress, d.total_skills))
        .collect();
    assert_eq!(domains, [("data", 1, 0, 1), ("math", 0, 1, 1)]);
    assert_eq!(mp.over_time.len(), 12);
    let mastered_month = campus.ago(40).date_naive().with_day(1).unwrap().to_string();
    for point in &mp.over_time {
        let expected = u32::from(point.month >= mastered_month);
        assert_eq!(point.mastered, expected, "month {}", point.month);
    }

    // 5. Assessments of L1, oldest first: 60, 65, 70, 80, 85. Mean 72, pass
    // rate 3/5 (70 passes), slope 65/10 = 6.5 > 2: improving.
    let p = api
        .get_assessment_performance(authed(
            pb::GetAssessmentPerformanceRequest {
                subject: me(),
                fresh: false,
            },
            &l1,
        ))
        .await
        .expect("performance")
        .into_inner();
    assert_eq!(p.assessments, 5);
    assert_close(p.average_score, 72.0);
    assert_close(p.pass_rate, 0.6);
    assert_close(p.trend_slope, 6.5);
    assert_eq!(p.trend, pb::Trend::Improving as i32);
    assert_eq!(p.last_scores, [60.0, 65.0, 70.0, 80.0, 85.0]);

    // 6. Content effectiveness of L2: C1 enrolled d30, completed d10 -> 20
    // days; C1's ten completers all took 20 days -> average 20 (10 shown).
    let l2 = campus.learner_token(&server, 2);
    let c = api
        .get_content_effectiveness(authed(
            pb::GetContentEffectivenessRequest {
                subject: me(),
                fresh: false,
            },
            &l2,
        ))
        .await
        .expect("effectiveness")
        .into_inner();
    assert_close(c.completion_rate, 1.0);
    assert_eq!(c.courses.len(), 1);
    assert!(c.courses[0].completed);
    assert_close(c.courses[0].progress_percent, 100.0);
    assert_close(c.courses[0].days_spent, 20.0);
    assert_close(
        c.courses[0].course_average_days.expect("10 completers"),
        20.0,
    );
    assert!(!meta(&c.meta).any_group_suppressed);
    // L0: nothing completed of 3; nobody completed C2 or C3, so their
    // averages are suppressed.
    let c0 = api
        .get_content_effectiveness(authed(
            pb::GetContentEffectivenessRequest {
                subject: me(),
                fresh: false,
            },
            &l0,
        ))
        .await
        .expect("effectiveness")
        .into_inner();
    let names: Vec<&str> = c0.courses.iter().map(|c| c.course_name.as_str()).collect();
    assert_eq!(names, ["Advanced", "Data 101", "Python"]);
    assert_close(c0.completion_rate, 0.0);
    assert_eq!(c0.courses[0].course_average_days, None);
    assert!(meta(&c0.meta).any_group_suppressed);
}

#[tokio::test]
async fn predictive_analytics_name_their_factors_model_and_freshness() {
    let (server, campus) = Campus::start().await;
    let mut api = client(&server);
    // 15. L1: engagement 7 (d8..d13: 0.5 on five days, 1 on d12, weight 1:
    // 3.5/21 x 40 = 6.67 -> 7) < 50: +40; lessons 0 vs 2: -100% < -20%:
    // +30; nothing learned since d8: +30. 100: critical.
    let l1 = campus.learner_token(&server, 1);
    let r = api
        .get_drop_off_risk(authed(
            pb::GetDropOffRiskRequest {
                subject: me(),
                fresh: false,
            },
            &l1,
        ))
        .await
        .expect("risk")
        .into_inner();
    assert!(!r.opted_out);
    assert_eq!(r.score, 100);
    assert_eq!(r.band, pb::RiskBand::Critical as i32);
    let factors: Vec<(&str, u32)> = r
        .factors
        .iter()
        .map(|f| (f.name.as_str(), f.points))
        .collect();
    assert_eq!(
        factors,
        [
            ("low_engagement", 40),
            ("velocity_drop", 30),
            ("no_recent_progress", 30)
        ]
    );
    assert!(r.factors[0].description.contains('7'));
    let m = meta(&r.meta);
    assert_eq!(m.model_version, "stride-rules-2026.12");
    assert_eq!(seconds(&m.expires_at) - seconds(&m.computed_at), 48 * 3600);
    // L1's newest activity: the lessons of d8.
    assert_eq!(seconds(&m.data_freshness), campus.ago(8).timestamp());

    // L0: engagement 51, accelerating, learned yesterday: no factor, low.
    let l0 = campus.learner_token(&server, 0);
    let r0 = api
        .get_drop_off_risk(authed(
            pb::GetDropOffRiskRequest {
                subject: me(),
                fresh: false,
            },
            &l0,
        ))
        .await
        .expect("risk")
        .into_inner();
    assert_eq!((r0.score, r0.band), (0, pb::RiskBand::Low as i32));
    assert!(r0.factors.is_empty());
    assert_eq!(
        seconds(&meta(&r0.meta).data_freshness),
        campus.ago(0).timestamp()
    );

    // 16. L0 in C1: 60% in 31 started days -> 40% left at 60/31 a day =
    // 20.67 -> 21 days; no C1 score, so the overall average (40); confidence
    // 0.5 x 0/5 + 0.5 x 0.6 = 0.3.
    let [c1, _, c3, c4] = campus.courses;
    let f = api
        .get_outcome_forecast(authed(
            pb::GetOutcomeForecastRequest {
                subject: me(),
                course_id: c1.to_string(),
                fresh: false,
            },
            &l0,
        ))
        .await
        .expect("forecast")
        .into_inner();
    assert_eq!(f.courses.len(), 1);
    assert_eq!(
        f.courses[0].projected_completion_date,
        (today(&campus) + Days::new(21)).to_string()
    );
    assert_close(f.courses[0].projected_final_score, 40.0);
    assert_close(f.courses[0].confidence, 0.3);
    // All active courses: C3 has one score (40) -> confidence 0.5 x 1/5.
    let all = api
        .get_outcome_forecast(authed(
            pb::GetOutcomeForecastRequest {
                subject: me(),
                course_id: String::new(),
                fresh: false,
            },
            &l0,
        ))
        .await
        .expect("forecast")
        .into_inner();
    assert_eq!(all.courses.len(), 3);
    let python = all
        .courses
        .iter()
        .find(|c| c.course_id == c3.to_string())
        .unwrap();
    assert_eq!(python.projected_completion_date, "");
    assert_close(python.confidence, 0.1);

    // 17. The top 3 gaps of L0: S1 -> C4 (C1 also teaches it, but L0 takes
    // it), S2 -> only C3 teaches it and L0 takes it: the skill, S3 -> no
    // course: the skill.
    let rec = api
        .get_recommendations(authed(
            pb::GetRecommendationsRequest {
                subject: me(),
                fresh: false,
            },
            &l0,
        ))
        .await
        .expect("recommendations")
        .into_inner();
    let [_, s2, s3] = campus.skills;
    let got: Vec<(&str, String, &str)> = rec
        .recommendations
        .iter()
        .map(|r| (r.kind.as_str(), r.id.clone(), r.title.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("course", c4.to_string(), "SQL Deep Dive"),
            ("skill", s2.to_string(), "Python"),
            ("skill", s3.to_string(), "Statistics"),
        ]
    );
    assert_close(rec.recommendations[0].priority, 62.5);
    assert!(rec.recommendations[0].reason.contains("SQL"));
}

/// Someone with no activity at all (the case drop-off risk exists for)
/// gets answers, not INTERNAL: the fallback read of the newest activity
/// once started at NaiveDate::MIN, outside PostgreSQL's dates.
#[tokio::test]
async fn predictive_analytics_answer_for_someone_without_any_activity() {
    let (server, campus) = Campus::start().await;
    let (newcomer, _) = server.person(Some(campus.org), &[Role::Learner]).await;
    let token = server.user_token(newcomer, campus.org, Role::Learner);
    let mut api = client(&server);
    let risk = api
        .get_drop_off_risk(authed(
            pb::GetDropOffRiskRequest {
                subject: me(),
                fresh: false,
            },
            &token,
        ))
        .await
        .expect("risk for a newcomer")
        .into_inner();
    assert!(
        meta(&risk.meta).data_freshness.is_none(),
        "no activity, no freshness"
    );
    api.get_outcome_forecast(authed(
        pb::GetOutcomeForecastRequest {
            subject: me(),
            ..Default::default()
        },
        &token,
    ))
    .await
    .expect("forecast for a newcomer");
    api.get_recommendations(authed(
        pb::GetRecommendationsRequest {
            subject: me(),
            fresh: false,
        },
        &token,
    ))
    .await
    .expect("recommendations for a newcomer");
}

#[tokio::test]
async fn trainer_analytics_cover_their_courses_with_small_groups_suppressed() {
    let (server, campus) = Campus::start().await;
    let mut api = client(&server);
    let t = campus.token(&server, campus.trainer, Role::Trainer);
    let [c1, c2, _, _] = campus.courses;

    // 7. All of T's courses, by name: C2 "Advanced" (2 enrolled:
    // suppressed), C1 "Data 101": 12 enrolled, 10 completed, mean score of
    // 50, 55, ..., 95 = 72.5, one drop-out (L1: nothing since enrolling d30).
    let perf = api
        .get_course_performance(authed(pb::GetCoursePerformanceRequest::default(), &t))
        .await
        .expect("performance")
        .into_inner();
    assert_eq!(perf.courses.len(), 2);
    let (small, big) = (&perf.courses[0], &perf.courses[1]);
    assert_eq!(small.course_id, c2.to_string());
    assert!(small.suppressed && small.enrolled.is_none() && small.average_score.is_none());
    assert_eq!(big.course_id, c1.to_string());
    assert!(!big.suppressed);
    assert_eq!(
        (big.enrolled, big.completed, big.drop_outs),
        (Some(12), Some(10), Some(1))
    );
    assert_close(big.average_score.unwrap(), 72.5);
    assert!(meta(&perf.meta).any_group_suppressed);
    assert_eq!(
        seconds(&meta(&perf.meta).expires_at) - seconds(&meta(&perf.meta).computed_at),
        2 * 3600
    );

    // 8. Health of C1: completion 10/12, score 0.725, active 11/12 (the
    // completers and L0), retention 11/12:
    // 100 x (0.3 x 10/12 + 0.3 x 0.725 + 0.2 x 11/12 + 0.2 x 11/12) = 83.4 -> 83.
    let h = api
        .get_course_health(authed(
            pb::GetCourseHealthRequest {
                subject: Some(pb::CourseSubject {
                    course_id: c1.to_string(),
                }),
                fresh: false,
            },
            &t,
        ))
        .await
        .expect("health")
        .into_inner();
    assert_eq!(h.courses.len(), 1);
    assert_eq!(h.courses[0].score, Some(83));
    let factors: Vec<(&str, f64)> = h.courses[0]
        .factors
        .iter()
        .map(|f| (f.name.as_str(), f.value))
        .collect();
    assert_eq!(factors.len(), 4);
    assert!(close(factors[0].1, 10.0 / 12.0) && close(factors[1].1, 0.725));
    assert!(close(factors[2].1, 11.0 / 12.0) && close(factors[3].1, 11.0 / 12.0));

    // 9. C1's ten students (exactly k: shown): 50..95 by 5. Quartiles by
    // interpolation: q1 = 60 + 0.25 x 5, median 72.5, q3 = 80 + 0.75 x 5;
    // no score beyond 1.5 IQR; two per bucket from 50 up.
    let d = api
        .get_student_distribution(authed(
            pb::GetStudentDistributionRequest {
                subject: Some(pb::CourseSubject {
                    course_id: c1.to_string(),
                }),
                fresh: false,
            },
            &t,
        ))
        .await
        .expect("distribution")
        .into_inner();
    assert!(!d.suppressed);
    assert!(close(d.q1, 61.25) && close(d.median, 72.5) && close(d.q3, 83.75));
    assert!(d.outliers.is_empty());
    let counts: Vec<u32> = d.histogram.iter().map(|b| b.count).collect();
    assert_eq!(counts, [0, 0, 0, 0, 0, 2, 2, 2, 2, 2]);
    // C2 has one student with scores: suppressed, no figures.
    let small = api
        .get_student_distribution(authed(
            pb::GetStudentDistributionRequest {
                subject: Some(pb::CourseSubject {
                    course_id: c2.to_string(),
                }),
                fresh: false,
            },
            &t,
        ))
        .await
        .expect("distribution")
        .into_inner();
    assert!(small.suppressed && small.histogram.is_empty());
    assert!(meta(&small.meta).any_group_suppressed);

    // 10. T's students (C1, C2: 12 people, 14 enrollments, 10 completed;
    // 15 scores summing 1085) against the organization (15 enrollments, 16
    // scores summing 1125 with L0's 40 in C3).
    let te = api
        .get_teaching_effectiveness(authed(pb::GetTeachingEffectivenessRequest::default(), &t))
        .await
        .expect("teaching")
        .into_inner();
    assert!(!te.suppressed);
    assert_close(te.students_average_score.unwrap(), 1085.0 / 15.0);
    assert_close(te.org_average_score.unwrap(), 1125.0 / 16.0);
    assert_close(te.score_gain.unwrap(), 1085.0 / 15.0 - 1125.0 / 16.0);
    assert_close(te.students_completion_rate.unwrap(), 10.0 / 14.0);
    assert_close(te.completion_gain.unwrap(), 10.0 / 14.0 - 10.0 / 15.0);
}

/// (person, days ago, learning activities, lessons, activities on a
/// priority skill): the campus's learning, by hand, for weekly buckets.
fn campus_learning() -> Vec<(usize, u64, i64, i64, i64)> {
    let mut rows = vec![
        (0, 1, 2, 1, 2), // lesson + progress in C1
        (0, 2, 2, 1, 1), // C1 lesson, C3 assessment
        (0, 3, 1, 1, 1),
        (0, 8, 1, 1, 1),
        (0, 9, 1, 1, 1),
        (0, 15, 1, 1, 1),
        (1, 8, 1, 1, 0), // C2 teaches no skill
        (1, 9, 1, 1, 0),
        (1, 10, 1, 0, 0),
        (1, 11, 1, 0, 0),
        (1, 12, 2, 0, 0), // assessment + S3 mastery
        (1, 13, 1, 0, 0),
        (1, 14, 1, 0, 0),
        (1, 40, 1, 0, 1), // S1 mastery
    ];
    for i in 2..12 {
        rows.push((i, 12, 2, 0, 1)); // C1 assessment + S3 mastery
        rows.push((i, 10, 1, 0, 1)); // C1 completed
    }
    rows
}

#[tokio::test]
async fn organization_analytics_by_department_and_week() {
    let (server, campus) = Campus::start().await;
    let mut api = client(&server);
    let admin = campus.token(&server, campus.admin, Role::OrgAdmin);
    let whole = || Some(pb::OrganizationSubject::default());
    let weeks: Vec<NaiveDate> = (0..12u64)
        .rev()
        .map(|w| monday(today(&campus)) - Days::new(7 * w))
        .collect();
    let learning = campus_learning();
    let in_week = |week: NaiveDate, d: u64| monday(today(&campus) - Days::new(d)) == week;

    // 11. Per week: lessons / people who learned; shown from 10 people.
    let v = api
        .get_organization_velocity(authed(
            pb::GetOrganizationVelocityRequest {
                subject: whole(),
                fresh: false,
            },
            &admin,
        ))
        .await
        .expect("velocity")
        .into_inner();
    assert_eq!(v.over_time.len(), 12);
    for (point, week) in v.over_time.iter().zip(&weeks) {
        assert_eq!(point.week_start, week.to_string());
        let rows: Vec<_> = learning.iter().filter(|r| in_week(*week, r.1)).collect();
        let mut people: Vec<usize> = rows.iter().map(|r| r.0).collect();
        people.sort_unstable();
        people.dedup();
        let lessons: i64 = rows.iter().map(|r| r.3).sum();
        if people.len() >= 10 {
            assert!(!point.suppressed);
            assert_close(point.value.unwrap(), lessons as f64 / people.len() as f64);
        } else {
            assert!(point.suppressed && point.value.is_none(), "week {week}");
        }
    }
    // Engineering (exactly 10: L0..L9) is shown: 8 lessons (L0 6, L1 2) /
    // (10 people x 12 weeks), all 10 learned. Sales (L10, L11, T) is not.
    let eng = v
        .groups
        .iter()
        .find(|g| g.group_name == "Engineering")
        .unwrap();
    assert_eq!(eng.members, Some(10));
    assert_close(eng.values["lessons_per_member_week"], 8.0 / 120.0);
    assert_close(eng.values["active_share"], 1.0);
    let sales = v.groups.iter().find(|g| g.group_name == "Sales").unwrap();
    assert!(sales.suppressed && sales.members.is_none() && sales.values.is_empty());
    assert!(meta(&v.meta).any_group_suppressed);
    assert_eq!(
        seconds(&meta(&v.meta).expires_at) - seconds(&meta(&v.meta).computed_at),
        6 * 3600
    );

    // 12. 47 learning activities, 28 on S1 (the priority): C1 lessons,
    // progress, assessments and completions, and L1's S1 mastery.
    let a = api
        .get_strategic_alignment(authed(
            pb::GetStrategicAlignmentRequest {
                subject: whole(),
                fresh: false,
            },
            &admin,
        ))
        .await
        .expect("alignment")
        .into_inner();
    let total: i64 = learning.iter().map(|r| r.2).sum();
    let aligned: i64 = learning.iter().map(|r| r.4).sum();
    assert_eq!((total, aligned), (47, 28));
    assert!(!a.suppressed);
    assert_close(a.aligned_share, 28.0 / 47.0);
    assert_eq!(a.skills.len(), 1);
    assert_eq!(a.skills[0].skill_name, "SQL");
    assert_close(a.skills[0].share, 28.0 / 47.0);
    for (point, week) in a.over_time.iter().zip(&weeks) {
        let rows: Vec<_> = learning.iter().filter(|r| in_week(*week, r.1)).collect();
        let mut people: Vec<usize> = rows.iter().map(|r| r.0).collect();
        people.sort_unstable();
        people.dedup();
        if people.len() >= 10 {
            let all: i64 = rows.iter().map(|r| r.2).sum();
            let on: i64 = rows.iter().map(|r| r.4).sum();
            assert_close(point.value.unwrap(), on as f64 / all as f64);
        } else {
            assert!(point.suppressed);
        }
    }

    // 13. Engineering side by side: mean of its 14 scores (L0 40; L1 60,
    // 65, 70, 80, 85; L2..L9 50..85) = 940/14; 8 of its 13 enrollments
    // completed; average points as stored.
    let dep = api
        .get_department_analytics(authed(
            pb::GetDepartmentAnalyticsRequest {
                subject: whole(),
                fresh: false,
            },
            &admin,
        ))
        .await
        .expect("departments")
        .into_inner();
    let eng = dep
        .groups
        .iter()
        .find(|g| g.group_name == "Engineering")
        .unwrap();
    assert_close(eng.values["average_score"], 940.0 / 14.0);
    assert_close(eng.values["completion_rate"], 8.0 / 13.0);
    let points = count(
        &server.db_url,
        &format!(
            "SELECT coalesce(sum(total_points), 0)::bigint AS n FROM user_points p JOIN users u ON u.id = p.user_id \
             WHERE u.department_id = '{}'",
            campus.engineering
        ),
    )
    .await;
    assert!(points > 0);
    assert_close(eng.values["average_points"], points as f64 / 10.0);
    let sales = dep.groups.iter().find(|g| g.group_name == "Sales").unwrap();
    assert!(sales.suppressed && sales.values.is_empty());
    // One department: Engineering alone.
    let only = api
        .get_department_analytics(authed(
            pb::GetDepartmentAnalyticsRequest {
                subject: Some(pb::OrganizationSubject {
                    department_id: campus.engineering.to_string(),
                    ..Default::default()
                }),
                fresh: false,
            },
            &admin,
        ))
        .await
        .expect("one department")
        .into_inner();
    assert_eq!(only.groups.len(), 1);
    assert!(!meta(&only.meta).any_group_suppressed);

    // 14. 14 members; 12 learned (0.857); one current streak of 3+ (L0:
    // d3, d2, d1); 2 peer helps = 20/14 per 10 people:
    // 100 x (0.5 x 12/14 + 0.3 x 1/14 + 0.2 x 1.43/10) = 47.9 -> 48.
    let culture = api
        .get_learning_culture(authed(
            pb::GetLearningCultureRequest {
                subject: whole(),
                fresh: false,
            },
            &admin,
        ))
        .await
        .expect("culture")
        .into_inner();
    assert!(!culture.suppressed);
    assert_close(culture.participation, 12.0 / 14.0);
    assert_close(culture.streak_share, 1.0 / 14.0);
    assert_close(culture.peer_help_rate, 20.0 / 14.0);
    assert_eq!(culture.index, 48);
    // Sales has 3 people: nothing but the mark.
    let small = api
        .get_learning_culture(authed(
            pb::GetLearningCultureRequest {
                subject: Some(pb::OrganizationSubject {
                    department_id: campus.sales.to_string(),
                    ..Default::default()
                }),
                fresh: false,
            },
            &admin,
        ))
        .await
        .expect("culture")
        .into_inner();
    assert!(small.suppressed && small.over_time.is_empty() && small.index == 0);
}

#[tokio::test]
async fn comparison_analytics_show_only_groups_of_ten() {
    let (server, campus) = Campus::start().await;
    let mut api = client(&server);
    let admin = campus.token(&server, campus.admin, Role::OrgAdmin);
    // The aggregates are a materialized view, refreshed by a job (issue 8).
    let mut owner = AsyncPgConnection::establish(&server.db_url).await.unwrap();
    owner
        .batch_execute("REFRESH MATERIALIZED VIEW skill_demand_aggregates")
        .await
        .unwrap();

    // 18. Cohorts: S1 in the month of d40 (L1 alone: suppressed); S3 in the
    // month of d12: L1 (50) and L2..L11 (50..95): 11 learners, 4 at 80+,
    // mean 775/11 = 70.45.
    let sd = api
        .get_skill_demand(authed(pb::GetSkillDemandRequest::default(), &admin))
        .await
        .expect("demand")
        .into_inner();
    let [s1, _, s3] = campus.skills;
    assert_eq!(sd.points.len(), 2);
    let sql = &sd.points[0];
    assert_eq!(sql.skill_id, s1.to_string());
    assert!(sql.suppressed && sql.learners.is_none() && sql.average_mastery.is_none());
    let stats = &sd.points[1];
    assert_eq!(stats.skill_id, s3.to_string());
    assert_eq!(
        stats.month,
        campus.ago(12).date_naive().with_day(1).unwrap().to_string()
    );
    assert_eq!((stats.learners, stats.mastered), (Some(11), Some(4)));
    assert_close(stats.average_mastery.unwrap(), 70.45);
    assert!(meta(&sd.meta).any_group_suppressed);
    assert_eq!(
        seconds(&meta(&sd.meta).expires_at) - seconds(&meta(&sd.meta).computed_at),
        24 * 3600
    );

    // 19. L0 among C1's 12 people: lessons a week 1.5 against L1's 0.5 and
    // ten 0s; engagement 51 against 7 and ten 3s; average score 40, the
    // lowest of the 12 assessed.
    let l0 = campus.learner_token(&server, 0);
    let [c1, c2, _, _] = campus.courses;
    let peers = api
        .get_peer_comparison(authed(
            pb::GetPeerComparisonRequest {
                subject: me(),
                group: pb::PeerGroup::Course as i32,
                course_id: c1.to_string(),
                fresh: false,
            },
            &l0,
        ))
        .await
        .expect("peers")
        .into_inner();
    assert!(!peers.suppressed);
    assert_eq!(peers.peers, Some(11));
    let of = |name: &str| peers.metrics.iter().find(|m| m.metric == name).unwrap();
    assert_close(of("lessons_per_week").value, 1.5);
    assert_close(of("lessons_per_week").percentile, 100.0 * 11.0 / 12.0);
    assert_close(of("engagement").value, 51.0);
    assert_close(of("engagement").percentile, 100.0 * 11.0 / 12.0);
    assert_close(of("average_score").value, 40.0);
    assert_close(of("average_score").percentile, 0.0);
    let below = count(
        &server.db_url,
        &format!(
            "SELECT count(*) AS n FROM users u LEFT JOIN user_points p ON p.user_id = u.id \
             WHERE u.id IN (SELECT user_id FROM enrollments WHERE course_id = '{c1}') \
               AND coalesce(p.total_points, 0) < (SELECT total_points FROM user_points WHERE user_id = '{}')",
            campus.learners[0]
        ),
    )
    .await;
    assert_close(of("points").percentile, 100.0 * below as f64 / 12.0);
    // C2 has two people: suppressed, no count, no figures.
    let small = api
        .get_peer_comparison(authed(
            pb::GetPeerComparisonRequest {
                subject: me(),
                group: pb::PeerGroup::Course as i32,
                course_id: c2.to_string(),
                fresh: false,
            },
            &l0,
        ))
        .await
        .expect("peers")
        .into_inner();
    assert!(small.suppressed && small.peers.is_none() && small.metrics.is_empty());
    // The job role "analyst" has exactly 10 people: shown.
    let role = api
        .get_peer_comparison(authed(
            pb::GetPeerComparisonRequest {
                subject: me(),
                group: pb::PeerGroup::JobRole as i32,
                course_id: String::new(),
                fresh: false,
            },
            &l0,
        ))
        .await
        .expect("peers")
        .into_inner();
    assert_eq!((role.suppressed, role.peers), (false, Some(9)));
}

async fn cache_rows(server: &TestServer, kind: &str, user: Uuid) -> i64 {
    count(
        &server.db_url,
        &format!(
            "SELECT count(*) AS n FROM analytics_cache WHERE kind = '{kind}' AND user_id = '{user}'"
        ),
    )
    .await
}

#[tokio::test]
async fn the_cache_serves_refreshes_invalidates_and_computes_a_cold_entry_once() {
    let (server, campus) = Campus::start().await;
    // Every campus event was counted as accepted by the metrics.
    let stored = count(&server.db_url, "SELECT count(*) AS n FROM learning_events").await;
    let text = crate::health::scrape(&server).await;
    assert!(
        text.contains(&format!(
            "stride_events_ingested_total{{outcome=\"accepted\"}} {stored}"
        )),
        "{text}"
    );
    let mut api = client(&server);
    let l0 = campus.learner_token(&server, 0);
    let ask = |fresh: bool| {
        authed(
            pb::GetEngagementScoreRequest {
                subject: me(),
                fresh,
            },
            &l0,
        )
    };
    let first = api
        .get_engagement_score(ask(false))
        .await
        .unwrap()
        .into_inner();
    let second = api
        .get_engagement_score(ask(false))
        .await
        .unwrap()
        .into_inner();
    let (m1, m2) = (meta(&first.meta), meta(&second.meta));
    assert!(!m1.from_cache && m2.from_cache);
    assert_eq!(m1.computed_at, m2.computed_at);
    assert_eq!(second.score, first.score);
    // The trainer of L0's courses is served the same entry.
    let t = campus.token(&server, campus.trainer, Role::Trainer);
    let by_trainer = api
        .get_engagement_score(authed(
            pb::GetEngagementScoreRequest {
                subject: learner(campus.learners[0]),
                fresh: false,
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(meta(&by_trainer.meta).from_cache);
    // fresh = true recomputes.
    let fresh = api
        .get_engagement_score(ask(true))
        .await
        .unwrap()
        .into_inner();
    assert!(!meta(&fresh.meta).from_cache);
    assert_eq!(
        cache_rows(&server, "engagement_score", campus.learners[0]).await,
        1
    );

    // An event for L0 invalidates L0's answers (and only L0's).
    let l1 = campus.learner_token(&server, 1);
    api.get_engagement_score(authed(
        pb::GetEngagementScoreRequest {
            subject: me(),
            fresh: false,
        },
        &l1,
    ))
    .await
    .unwrap();
    let [c1, _, _, _] = campus.courses;
    let results = campus
        .publish(
            &server,
            vec![ev::Event {
                event_id: "late-lesson".into(),
                occurred_at: timestamp(campus.ago(0)),
                user_id: campus.learners[0].to_string(),
                organization_id: String::new(),
                payload: Some(ev::event::Payload::LessonCompleted(ev::LessonCompleted {
                    course_id: c1.to_string(),
                    lesson_id: lesson_id(c1, 9).to_string(),
                })),
            }],
        )
        .await;
    assert_eq!(results[0].status, ev::EventStatus::Accepted as i32);
    assert_eq!(
        cache_rows(&server, "engagement_score", campus.learners[0]).await,
        0
    );
    assert_eq!(
        cache_rows(&server, "engagement_score", campus.learners[1]).await,
        1
    );
    let after = api
        .get_engagement_score(ask(false))
        .await
        .unwrap()
        .into_inner();
    assert!(!meta(&after.meta).from_cache);
    // One more learning activity today: 0.5 x 2 more of 21 -> 0.4 x 1/21 more.
    assert_close(after.activity_component, 7.0 / 21.0);

    // 100 concurrent requests for a cold entry: one computation; the other
    // 99 are served it from the cache.
    let l5 = campus.learner_token(&server, 5);
    let calls = (0..100).map(|_| {
        let mut api = client(&server);
        let token = l5.clone();
        async move {
            api.get_learning_velocity(authed(
                pb::GetLearningVelocityRequest {
                    subject: me(),
                    fresh: false,
                },
                &token,
            ))
            .await
            .expect("velocity")
            .into_inner()
        }
    });
    let answers = futures::future::join_all(calls).await;
    let computed = answers.iter().filter(|a| !meta(&a.meta).from_cache).count();
    assert_eq!(computed, 1);
    let stamps: std::collections::HashSet<i64> = answers
        .iter()
        .map(|a| {
            seconds(&meta(&a.meta).computed_at) * 1_000_000_000
                + i64::from(meta(&a.meta).computed_at.as_ref().unwrap().nanos)
        })
        .collect();
    assert_eq!(stamps.len(), 1);
}

#[tokio::test]
async fn opting_out_deletes_and_stops_a_predictive_kind() {
    let (server, campus) = Campus::start().await;
    let mut api = client(&server);
    let user = campus.learners[1];
    let token = campus.learner_token(&server, 1);
    let risk = || {
        authed(
            pb::GetDropOffRiskRequest {
                subject: me(),
                fresh: false,
            },
            &token,
        )
    };
    api.get_drop_off_risk(risk()).await.unwrap();
    assert_eq!(cache_rows(&server, "drop_off_risk", user).await, 1);

    let mut identity = IdentityServiceClient::new(server.channel());
    let set = |out: bool| {
        authed(
            id::UpdatePreferencesRequest {
                user_id: String::new(),
                preferences: Some(id::Preferences {
                    drop_off_risk_opt_out: out,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["drop_off_risk_opt_out".into()],
                }),
            },
            &token,
        )
    };
    identity
        .update_preferences(set(true))
        .await
        .expect("opt out");
    assert_eq!(cache_rows(&server, "drop_off_risk", user).await, 0);

    let out = api.get_drop_off_risk(risk()).await.unwrap().into_inner();
    assert!(out.opted_out);
    assert_eq!((out.score, out.factors.len()), (0, 0));
    assert_eq!(cache_rows(&server, "drop_off_risk", user).await, 0);
    // A trainer asking about L1 gets the same answer.
    let t = campus.token(&server, campus.trainer, Role::Trainer);
    let by_trainer = api
        .get_drop_off_risk(authed(
            pb::GetDropOffRiskRequest {
                subject: learner(user),
                fresh: true,
            },
            &t,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(by_trainer.opted_out);
    // The other kinds are still computed.
    let f = api
        .get_outcome_forecast(authed(
            pb::GetOutcomeForecastRequest {
                subject: me(),
                course_id: String::new(),
                fresh: false,
            },
            &token,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(!f.opted_out && !f.courses.is_empty());

    identity
        .update_preferences(set(false))
        .await
        .expect("opt in");
    let back = api.get_drop_off_risk(risk()).await.unwrap().into_inner();
    assert!(!back.opted_out && back.score == 100);
}

#[tokio::test]
async fn every_family_is_denied_to_those_who_may_not_see_it() {
    let (server, campus) = Campus::start().await;
    let mut api = client(&server);
    let l0 = campus.learner_token(&server, 0);
    let t = campus.token(&server, campus.trainer, Role::Trainer);
    let admin = campus.token(&server, campus.admin, Role::OrgAdmin);
    let (other_admin, _) = server
        .person(Some(campus.other_org), &[Role::OrgAdmin])
        .await;
    let other_admin = server.user_token(other_admin, campus.other_org, Role::OrgAdmin);
    let (platform, platform_org) = server.person(None, &[Role::PlatformAdmin]).await;
    let platform = server.user_token(platform, platform_org, Role::PlatformAdmin);
    let [c1, _, c3, _] = campus.courses;
    let engagement = |subject: Uuid, token: &str| {
        authed(
            pb::GetEngagementScoreRequest {
                subject: learner(subject),
                fresh: false,
            },
            token,
        )
    };
    // Learner family: self yes, another learner no; the trainer of L0's
    // courses yes; a person outside them unseen; another org's admin unseen.
    assert_eq!(
        code(
            api.get_engagement_score(engagement(campus.learners[0], &l0))
                .await
        ),
        Code::Ok
    );
    assert_eq!(
        code(
            api.get_engagement_score(engagement(campus.learners[1], &l0))
                .await
        ),
        Code::PermissionDenied
    );
    assert_eq!(
        code(
            api.get_engagement_score(engagement(campus.learners[0], &t))
                .await
        ),
        Code::Ok
    );
    assert_eq!(
        code(api.get_engagement_score(engagement(campus.admin, &t)).await),
        Code::NotFound
    );
    assert_eq!(
        code(
            api.get_engagement_score(engagement(campus.learners[0], &other_admin))
                .await
        ),
        Code::NotFound
    );
    assert_eq!(
        code(
            api.get_engagement_score(engagement(campus.learners[0], &admin))
                .await
        ),
        Code::Ok
    );
    assert_eq!(
        code(
            api.get_engagement_score(engagement(campus.learners[0], &platform))
                .await
        ),
        Code::Ok
    );

    // Trainer family: learners never; trainers only their courses; other
    // organizations unseen.
    let health = |course: Uuid, token: &str| {
        authed(
            pb::GetCourseHealthRequest {
                subject: Some(pb::CourseSubject {
                    course_id: course.to_string(),
                }),
                fresh: false,
            },
            token,
        )
    };
    assert_eq!(
        code(api.get_course_health(health(c1, &l0)).await),
        Code::PermissionDenied
    );
    assert_eq!(code(api.get_course_health(health(c1, &t)).await), Code::Ok);
    assert_eq!(
        code(api.get_course_health(health(c3, &t)).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(api.get_course_health(health(c3, &admin)).await),
        Code::Ok
    );
    assert_eq!(
        code(api.get_course_health(health(c1, &other_admin)).await),
        Code::NotFound
    );
    let other_trainer = api
        .get_teaching_effectiveness(authed(
            pb::GetTeachingEffectivenessRequest {
                trainer_id: campus.admin.to_string(),
                fresh: false,
            },
            &t,
        ))
        .await
        .unwrap_err();
    assert_eq!(other_trainer.code(), Code::PermissionDenied);

    // Organization family: admins of the organization and platform admins.
    let culture = |org: Uuid, token: &str| {
        authed(
            pb::GetLearningCultureRequest {
                subject: Some(pb::OrganizationSubject {
                    organization_id: org.to_string(),
                    ..Default::default()
                }),
                fresh: false,
            },
            token,
        )
    };
    assert_eq!(
        code(api.get_learning_culture(culture(campus.org, &l0)).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(api.get_learning_culture(culture(campus.org, &t)).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(api.get_learning_culture(culture(campus.org, &admin)).await),
        Code::Ok
    );
    assert_eq!(
        code(
            api.get_learning_culture(culture(campus.org, &other_admin))
                .await
        ),
        Code::PermissionDenied
    );
    assert_eq!(
        code(
            api.get_learning_culture(culture(campus.org, &platform))
                .await
        ),
        Code::Ok
    );

    // Predictive: learner about self, trainer about a student, not another
    // learner.
    let risk = |subject: Uuid, token: &str| {
        authed(
            pb::GetDropOffRiskRequest {
                subject: learner(subject),
                fresh: false,
            },
            token,
        )
    };
    assert!(
        api.get_drop_off_risk(risk(campus.learners[0], &t))
            .await
            .is_ok()
    );
    assert_eq!(
        api.get_drop_off_risk(risk(campus.learners[1], &l0))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );

    // Comparison: skill demand for admins only, of their own organization;
    // the platform view for platform admins.
    let demand = |org: &str, token: &str| {
        authed(
            pb::GetSkillDemandRequest {
                months: 0,
                organization_id: org.to_string(),
                fresh: false,
            },
            token,
        )
    };
    assert_eq!(
        api.get_skill_demand(demand("", &t))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert_eq!(
        api.get_skill_demand(demand(&campus.org.to_string(), &other_admin))
            .await
            .unwrap_err()
            .code(),
        Code::PermissionDenied
    );
    assert!(api.get_skill_demand(demand("", &platform)).await.is_ok());
    let peer = api
        .get_peer_comparison(authed(
            pb::GetPeerComparisonRequest {
                subject: learner(campus.learners[1]),
                group: pb::PeerGroup::Organization as i32,
                course_id: String::new(),
                fresh: false,
            },
            &l0,
        ))
        .await
        .unwrap_err();
    assert_eq!(peer.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn bad_subjects_are_refused_with_the_field_and_cache_nothing() {
    let (server, campus) = Campus::start().await;
    let mut api = client(&server);
    let l0 = campus.learner_token(&server, 0);
    let admin = campus.token(&server, campus.admin, Role::OrgAdmin);
    let bad = api
        .get_learning_velocity(authed(
            pb::GetLearningVelocityRequest {
                subject: Some(pb::LearnerSubject {
                    user_id: "nope".into(),
                }),
                fresh: false,
            },
            &l0,
        ))
        .await
        .unwrap_err();
    assert_eq!(bad.code(), Code::InvalidArgument);
    assert!(
        bad.message().contains("subject.user_id"),
        "{}",
        bad.message()
    );
    let weeks = api
        .get_organization_velocity(authed(
            pb::GetOrganizationVelocityRequest {
                subject: Some(pb::OrganizationSubject {
                    weeks: 13,
                    ..Default::default()
                }),
                fresh: false,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(weeks.code(), Code::InvalidArgument);
    assert!(weeks.message().contains("subject.weeks"));
    let months = api
        .get_skill_demand(authed(
            pb::GetSkillDemandRequest {
                months: 85,
                organization_id: String::new(),
                fresh: false,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert!(months.code() == Code::InvalidArgument && months.message().contains("months"));
    let group = api
        .get_peer_comparison(authed(
            pb::GetPeerComparisonRequest {
                subject: me(),
                group: 99,
                course_id: String::new(),
                fresh: false,
            },
            &l0,
        ))
        .await
        .unwrap_err();
    assert!(group.code() == Code::InvalidArgument && group.message().contains("group"));
    let [_, _, _, c4] = campus.courses;
    let not_enrolled = api
        .get_peer_comparison(authed(
            pb::GetPeerComparisonRequest {
                subject: me(),
                group: pb::PeerGroup::Course as i32,
                course_id: c4.to_string(),
                fresh: false,
            },
            &l0,
        ))
        .await
        .unwrap_err();
    assert!(
        not_enrolled.code() == Code::InvalidArgument
            && not_enrolled.message().contains("course_id")
    );
    let department = api
        .get_department_analytics(authed(
            pb::GetDepartmentAnalyticsRequest {
                subject: Some(pb::OrganizationSubject {
                    department_id: Uuid::new_v4().to_string(),
                    ..Default::default()
                }),
                fresh: false,
            },
            &admin,
        ))
        .await
        .unwrap_err();
    assert_eq!(department.code(), Code::NotFound);
    assert_eq!(
        count(&server.db_url, "SELECT count(*) AS n FROM analytics_cache").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_concurrency_limit_are_shed_with_resource_exhausted() {
    // The campus's data, served by a second server limited to one request
    // at a time.
    let (first, campus) = Campus::start().await;
    let limits = stride::config::Limits {
        max_concurrent_requests: 1,
        ..Default::default()
    };
    let server = first.serve_again(limits).await;
    let token = campus.learner_token(&server, 0);
    let calls = (0..40).map(|_| {
        let mut api = client(&server);
        let token = token.clone();
        async move {
            api.get_skill_gap_matrix(authed(
                pb::GetSkillGapMatrixRequest {
                    subject: me(),
                    fresh: true,
                },
                &token,
            ))
            .await
            .map(|_| ())
            .map_err(|s| s.code())
        }
    });
    let results = futures::future::join_all(calls).await;
    let shed = results
        .iter()
        .filter(|r| **r == Err(Code::ResourceExhausted))
        .count();
    assert!(shed > 0, "40 at once against a limit of 1: {results:?}");
    assert!(
        results
            .iter()
            .all(|r| r.is_ok() || *r == Err(Code::ResourceExhausted))
    );
    assert!(results.iter().any(|r| r.is_ok()));
    // Once the burst is over, calls go through again.
    let mut api = client(&server);
    assert!(
        api.get_skill_gap_matrix(authed(
            pb::GetSkillGapMatrixRequest {
                subject: me(),
                fresh: false,
            },
            &token,
        ))
        .await
        .is_ok()
    );
}

/// One stored history row: (bucket, result as JSON text).
async fn history_row(server: &TestServer, org: Uuid, kind: &str) -> (String, serde_json::Value) {
    use diesel_async::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        bucket: String,
        #[diesel(sql_type = diesel::sql_types::Text)]
        result: String,
    }
    let mut conn = AsyncPgConnection::establish(&server.db_url).await.unwrap();
    let row: Row = diesel::sql_query(
        "SELECT bucket_start::text AS bucket, result::text AS result FROM analytics_history \
         WHERE organization_id = $1 AND kind = $2 AND granularity = 'week' AND department_id IS NULL",
    )
    .bind::<diesel::sql_types::Uuid, _>(org)
    .bind::<diesel::sql_types::Text, _>(kind)
    .get_result(&mut conn)
    .await
    .expect("one history row");
    (row.bucket, serde_json::from_str(&row.result).unwrap())
}

#[tokio::test]
async fn the_history_job_keeps_the_week_of_each_organization_analytic_without_people() {
    use stride::jobs::{Job, JobSettings, Outcome, run_once};

    let (server, campus) = Campus::start().await;
    let settings = stride::server::job_runner(JobSettings::default());
    let orgs = count(&server.db_url, "SELECT count(*) AS n FROM organizations").await;
    let rows = count(
        &server.db_url,
        "SELECT count(*) AS n FROM analytics_history",
    );
    assert_eq!(rows.await, 0);
    for round in 0..2 {
        let outcome = run_once(&server.db_url, Job::RecordHistory, &settings)
            .await
            .expect("record_history");
        let Outcome::Ran { rows, .. } = outcome else {
            panic!("round {round} skipped")
        };
        assert_eq!(rows, 4 * orgs, "four analytics per organization");
        // A second run in the same week rewrites its rows.
        let stored = count(
            &server.db_url,
            "SELECT count(*) AS n FROM analytics_history",
        );
        assert_eq!(stored.await, 4 * orgs, "round {round}");
    }

    // The row is the RPC's answer over the week (1 week), without the
    // answer's meta, in the organization's current week.
    let admin = campus.token(&server, campus.admin, Role::OrgAdmin);
    let mut live = client(&server)
        .get_organization_velocity(authed(
            pb::GetOrganizationVelocityRequest {
                subject: Some(pb::OrganizationSubject {
                    weeks: 1,
                    ..Default::default()
                }),
                fresh: true,
            },
            &admin,
        ))
        .await
        .expect("velocity")
        .into_inner();
    live.meta = None;
    let (bucket, stored) = history_row(&server, campus.org, "organization_velocity").await;
    assert_eq!(stored, serde_json::to_value(&live).unwrap());
    assert_eq!(bucket, monday(today(&campus)).to_string());

    // Aggregates only: no person's id in any recorded analytic.
    for kind in stride::api::analytics::HISTORY_KINDS {
        let (_, stored) = history_row(&server, campus.org, kind.as_str()).await;
        let text = stored.to_string();
        for person in campus
            .learners
            .iter()
            .chain([&campus.trainer, &campus.admin])
        {
            assert!(!text.contains(&person.to_string()), "{kind:?}: {text}");
        }
    }
}
