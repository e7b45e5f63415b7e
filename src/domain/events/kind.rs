//! What happened, by name: the kinds of learning events.

/// Event kinds, as stored (`learning_events.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    EnrollmentCreated,
    ProgressUpdated,
    LessonCompleted,
    CourseCompleted,
    AssessmentGraded,
    SkillMasteryUpdated,
    PracticePassed,
    LearningSession,
    Login,
    PeerHelped,
    LearningPathCompleted,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::EnrollmentCreated => "enrollment_created",
            Kind::ProgressUpdated => "progress_updated",
            Kind::LessonCompleted => "lesson_completed",
            Kind::CourseCompleted => "course_completed",
            Kind::AssessmentGraded => "assessment_graded",
            Kind::SkillMasteryUpdated => "skill_mastery_updated",
            Kind::PracticePassed => "practice_passed",
            Kind::LearningSession => "learning_session",
            Kind::Login => "login",
            Kind::PeerHelped => "peer_helped",
            Kind::LearningPathCompleted => "learning_path_completed",
        }
    }

    /// SPEC "learning activity" (streak days, velocity): learning progress,
    /// not presence. Mirrors the CHECK on `learning_events`.
    pub fn is_learning_activity(self) -> bool {
        matches!(
            self,
            Kind::ProgressUpdated
                | Kind::LessonCompleted
                | Kind::CourseCompleted
                | Kind::AssessmentGraded
                | Kind::SkillMasteryUpdated
                | Kind::PracticePassed
                | Kind::LearningPathCompleted
        )
    }
}
