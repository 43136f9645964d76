//! Case lifecycle: the states a case passes through and the actions that
//! move it, for the six-step supervision loop and the public-complaint
//! variant.
//!
//! Six-step loop (patrol and camera reports):
//! `reported → filed → dispatched → handled → verifying → closed → evaluated`,
//! with `not_filed` (the centre refuses a wrong report), `escalated` (sent up
//! to district leaders / the city platform, then dispatched again), a street
//! taking its own case directly (`reported → dispatched`), and a failed
//! re-verification reopening the case (`verifying → reopened → dispatched`)
//! for another round of handling.
//!
//! Public complaint (hotline, SMS, microblog):
//! `accepted → site_verifying → dispatched → handled → replied → closed`;
//! a complainant not satisfied with the reply sends the case to
//! `second_handling`, and if still not satisfied after that to
//! `investigating`, until it is resolved.
//!
//! The table here is the single source of truth: [`Lifecycle::apply`] refuses
//! anything not in it, and [`Action::performed_by`] says which role records
//! each action.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::roles::Role;

/// Which loop a case follows; fixed when the case is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flow {
    /// Found by an inspector or a camera: the six-step supervision loop.
    Supervision,
    /// Reported by the public: the five-step complaint loop.
    Complaint,
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaseState {
    /// Step 1: reported by an inspector or camera, waiting for the centre.
    Reported,
    /// Step 2: checked and filed (立案) by the supervision centre.
    Filed,
    /// The centre refused to file it (wrong or duplicate report). Final.
    NotFiled,
    /// Step 3: sent to the responsible unit.
    Dispatched,
    /// Sent up to district leaders or the city platform.
    Escalated,
    /// Step 4 done: the unit reports the problem fixed.
    Handled,
    /// Step 5: an inspector is re-verifying on site.
    Verifying,
    /// Re-verification failed; the case goes back to the unit.
    Reopened,
    /// Closed (结案): verified fixed, or the complainant satisfied.
    Closed,
    /// Step 6: counted in the responsible unit's evaluation. Final.
    Evaluated,
    /// Complaint step 1: accepted by a hotline operator.
    Accepted,
    /// Complaint step 2: an inspector checks the complaint on site.
    SiteVerifying,
    /// Complaint: the operator has told the complainant the outcome.
    Replied,
    /// Complaint: the complainant was not satisfied; handled a second time.
    SecondHandling,
    /// Complaint: still not satisfied after second handling; investigated.
    Investigating,
}

impl CaseState {
    /// Every state, in a stable order.
    pub const ALL: [CaseState; 15] = [
        CaseState::Reported,
        CaseState::Filed,
        CaseState::NotFiled,
        CaseState::Dispatched,
        CaseState::Escalated,
        CaseState::Handled,
        CaseState::Verifying,
        CaseState::Reopened,
        CaseState::Closed,
        CaseState::Evaluated,
        CaseState::Accepted,
        CaseState::SiteVerifying,
        CaseState::Replied,
        CaseState::SecondHandling,
        CaseState::Investigating,
    ];

    /// Stable identifier used in documents, the database and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::Reported => "reported",
            CaseState::Filed => "filed",
            CaseState::NotFiled => "not_filed",
            CaseState::Dispatched => "dispatched",
            CaseState::Escalated => "escalated",
            CaseState::Handled => "handled",
            CaseState::Verifying => "verifying",
            CaseState::Reopened => "reopened",
            CaseState::Closed => "closed",
            CaseState::Evaluated => "evaluated",
            CaseState::Accepted => "accepted",
            CaseState::SiteVerifying => "site_verifying",
            CaseState::Replied => "replied",
            CaseState::SecondHandling => "second_handling",
            CaseState::Investigating => "investigating",
        }
    }

    /// Parses [`CaseState::as_str`] output.
    pub fn parse(s: &str) -> Option<CaseState> {
        CaseState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Chinese label for lists and detail screens.
    pub fn label_zh(self) -> &'static str {
        match self {
            CaseState::Reported => "已上报",
            CaseState::Filed => "已立案",
            CaseState::NotFiled => "不予立案",
            CaseState::Dispatched => "已派遣",
            CaseState::Escalated => "已升级",
            CaseState::Handled => "已处置",
            CaseState::Verifying => "核查中",
            CaseState::Reopened => "核查未通过",
            CaseState::Closed => "已结案",
            CaseState::Evaluated => "已评价",
            CaseState::Accepted => "已受理",
            CaseState::SiteVerifying => "现场核实中",
            CaseState::Replied => "已回复",
            CaseState::SecondHandling => "二次处置",
            CaseState::Investigating => "调查中",
        }
    }

    /// True when no action can move the case any more.
    pub fn is_final(self) -> bool {
        matches!(self, CaseState::NotFiled | CaseState::Evaluated)
    }
}

/// Something a person records that moves a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Centre files a reported case (立案).
    File,
    /// Centre refuses to file a reported case.
    RefuseFiling,
    /// A street/township takes its own case without a centre filing.
    TakeDirectly,
    /// Command centre sends the case to the responsible unit.
    Dispatch,
    /// Case sent up to district leaders or the city platform.
    Escalate,
    /// The unit reports the problem fixed (recorded by the centre).
    ReportHandled,
    /// Centre sends an inspector to re-verify on site.
    RequestVerification,
    /// The inspector confirms the fix on site.
    VerifyPass,
    /// The inspector finds it not fixed.
    VerifyFail,
    /// The case is counted in the unit's evaluation (step 6).
    Evaluate,
    /// Complaint: the inspector's on-site check confirms the problem.
    ConfirmOnSite,
    /// Complaint: the operator tells the complainant the outcome.
    Reply,
    /// Complaint: the complainant is satisfied.
    Satisfied,
    /// Complaint: the complainant is not satisfied.
    NotSatisfied,
}

impl Action {
    /// Every action, in a stable order.
    pub const ALL: [Action; 14] = [
        Action::File,
        Action::RefuseFiling,
        Action::TakeDirectly,
        Action::Dispatch,
        Action::Escalate,
        Action::ReportHandled,
        Action::RequestVerification,
        Action::VerifyPass,
        Action::VerifyFail,
        Action::Evaluate,
        Action::ConfirmOnSite,
        Action::Reply,
        Action::Satisfied,
        Action::NotSatisfied,
    ];

    /// The stored name (the snake_case serde form), e.g. `verify_fail`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::File => "file",
            Action::RefuseFiling => "refuse_filing",
            Action::TakeDirectly => "take_directly",
            Action::Dispatch => "dispatch",
            Action::Escalate => "escalate",
            Action::ReportHandled => "report_handled",
            Action::RequestVerification => "request_verification",
            Action::VerifyPass => "verify_pass",
            Action::VerifyFail => "verify_fail",
            Action::Evaluate => "evaluate",
            Action::ConfirmOnSite => "confirm_on_site",
            Action::Reply => "reply",
            Action::Satisfied => "satisfied",
            Action::NotSatisfied => "not_satisfied",
        }
    }

    /// The action with this stored name.
    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The role whose act this step records. Units outside GridPatrol (the
    /// responsible departments) report through the centre, so their acts
    /// are the centre's. A pass or fail is the inspector's finding on site,
    /// whoever writes the step into the case: the centre does when it closes
    /// on a passed re-verification or reopens on a failed one, citing the
    /// verification document the inspector signed. Who may write what into
    /// a document is for the write rules (`gridpatrol_docs::authorize`).
    pub fn performed_by(self) -> Role {
        match self {
            Action::VerifyPass | Action::VerifyFail | Action::ConfirmOnSite => Role::Inspector,
            _ => Role::CentreOperator,
        }
    }
}

/// Why an action was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TransitionError {
    /// The action makes no sense in the case's current state.
    #[error("{action:?} is not allowed on a {flow:?} case in state {state}", state = .state.as_str())]
    NotAllowed {
        /// The case's loop.
        flow: Flow,
        /// Its current state.
        state: CaseState,
        /// The refused action.
        action: Action,
    },
    /// The person recording the action does not have the role for it.
    #[error("{action:?} must be recorded by a {required}, not a {actual}", required = .required.as_str(), actual = .actual.as_str())]
    WrongRole {
        /// The refused action.
        action: Action,
        /// The role the action needs.
        required: Role,
        /// The role that tried.
        actual: Role,
    },
}

/// A case's position in its loop, plus the counters that decide where a
/// repeated failure goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lifecycle {
    /// The loop this case follows.
    pub flow: Flow,
    /// Where it stands.
    pub state: CaseState,
    /// How many times the unit has been sent to handle it (1 after the
    /// first dispatch).
    pub handling_rounds: u32,
    /// How many replies the complainant has rejected.
    pub dissatisfied: u32,
}

impl Lifecycle {
    /// A new case in the first state of its loop.
    pub fn new(flow: Flow) -> Lifecycle {
        let state = match flow {
            Flow::Supervision => CaseState::Reported,
            Flow::Complaint => CaseState::Accepted,
        };
        Lifecycle {
            flow,
            state,
            handling_rounds: 0,
            dissatisfied: 0,
        }
    }

    /// The state `action` would lead to, without checking roles.
    pub fn next_state(&self, action: Action) -> Result<CaseState, TransitionError> {
        use Action as A;
        use CaseState as S;
        let next = match (self.flow, self.state, action) {
            (Flow::Supervision, S::Reported, A::File) => Some(S::Filed),
            (Flow::Supervision, S::Reported, A::RefuseFiling) => Some(S::NotFiled),
            (Flow::Supervision, S::Reported, A::TakeDirectly) => Some(S::Dispatched),
            (Flow::Supervision, S::Filed, A::Dispatch) => Some(S::Dispatched),
            (Flow::Supervision, S::Filed, A::Escalate) => Some(S::Escalated),
            (Flow::Supervision, S::Dispatched, A::Escalate) => Some(S::Escalated),
            (Flow::Supervision, S::Escalated, A::Dispatch) => Some(S::Dispatched),
            (Flow::Supervision, S::Dispatched, A::ReportHandled) => Some(S::Handled),
            (Flow::Supervision, S::Handled, A::RequestVerification) => Some(S::Verifying),
            (Flow::Supervision, S::Verifying, A::VerifyPass) => Some(S::Closed),
            (Flow::Supervision, S::Verifying, A::VerifyFail) => Some(S::Reopened),
            (Flow::Supervision, S::Reopened, A::Dispatch) => Some(S::Dispatched),
            (Flow::Supervision, S::Reopened, A::Escalate) => Some(S::Escalated),
            (Flow::Supervision, S::Closed, A::Evaluate) => Some(S::Evaluated),

            (Flow::Complaint, S::Accepted, A::RequestVerification) => Some(S::SiteVerifying),
            (Flow::Complaint, S::SiteVerifying, A::ConfirmOnSite) => Some(S::Dispatched),
            // Nothing found on site: the operator replies straight away.
            (Flow::Complaint, S::SiteVerifying, A::Reply) => Some(S::Replied),
            (Flow::Complaint, S::Dispatched, A::ReportHandled) => Some(S::Handled),
            (Flow::Complaint, S::Handled, A::Reply) => Some(S::Replied),
            (Flow::Complaint, S::Replied, A::Satisfied) => Some(S::Closed),
            (Flow::Complaint, S::Replied, A::NotSatisfied) => Some(if self.dissatisfied == 0 {
                S::SecondHandling
            } else {
                S::Investigating
            }),
            (Flow::Complaint, S::SecondHandling, A::ReportHandled) => Some(S::Handled),
            (Flow::Complaint, S::Investigating, A::ReportHandled) => Some(S::Handled),
            (Flow::Complaint, S::Closed, A::Evaluate) => Some(S::Evaluated),
            _ => None,
        };
        next.ok_or(TransitionError::NotAllowed {
            flow: self.flow,
            state: self.state,
            action,
        })
    }

    /// Applies `action` recorded by someone with `role`; on refusal the
    /// lifecycle is left unchanged.
    pub fn apply(&mut self, action: Action, role: Role) -> Result<CaseState, TransitionError> {
        let next = self.next_state(action)?;
        let required = action.performed_by();
        // A squad leader is an inspector too and may verify on site.
        let role_ok =
            role == required || (required == Role::Inspector && role == Role::SquadLeader);
        if !role_ok {
            return Err(TransitionError::WrongRole {
                action,
                required,
                actual: role,
            });
        }
        match action {
            Action::Dispatch | Action::TakeDirectly | Action::ConfirmOnSite => {
                self.handling_rounds += 1
            }
            Action::NotSatisfied => {
                self.dissatisfied += 1;
                self.handling_rounds += 1;
            }
            _ => {}
        }
        self.state = next;
        Ok(next)
    }

    /// Actions allowed from the current state, in [`Action::ALL`] order.
    pub fn allowed_actions(&self) -> Vec<Action> {
        Action::ALL
            .into_iter()
            .filter(|a| self.next_state(*a).is_ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_action_names_are_the_serde_names() {
        for a in Action::ALL {
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
            assert_eq!(Action::parse(a.as_str()), Some(a));
        }
        assert_eq!(Action::parse("nope"), None);
    }
    use Action as A;
    use CaseState as S;

    /// The complete table of allowed (flow, state, action) → next state, for
    /// a case with no earlier dissatisfaction. Everything else is refused.
    const ALLOWED: &[(Flow, S, A, S)] = &[
        (Flow::Supervision, S::Reported, A::File, S::Filed),
        (Flow::Supervision, S::Reported, A::RefuseFiling, S::NotFiled),
        (
            Flow::Supervision,
            S::Reported,
            A::TakeDirectly,
            S::Dispatched,
        ),
        (Flow::Supervision, S::Filed, A::Dispatch, S::Dispatched),
        (Flow::Supervision, S::Filed, A::Escalate, S::Escalated),
        (Flow::Supervision, S::Dispatched, A::Escalate, S::Escalated),
        (Flow::Supervision, S::Escalated, A::Dispatch, S::Dispatched),
        (
            Flow::Supervision,
            S::Dispatched,
            A::ReportHandled,
            S::Handled,
        ),
        (
            Flow::Supervision,
            S::Handled,
            A::RequestVerification,
            S::Verifying,
        ),
        (Flow::Supervision, S::Verifying, A::VerifyPass, S::Closed),
        (Flow::Supervision, S::Verifying, A::VerifyFail, S::Reopened),
        (Flow::Supervision, S::Reopened, A::Dispatch, S::Dispatched),
        (Flow::Supervision, S::Reopened, A::Escalate, S::Escalated),
        (Flow::Supervision, S::Closed, A::Evaluate, S::Evaluated),
        (
            Flow::Complaint,
            S::Accepted,
            A::RequestVerification,
            S::SiteVerifying,
        ),
        (
            Flow::Complaint,
            S::SiteVerifying,
            A::ConfirmOnSite,
            S::Dispatched,
        ),
        (Flow::Complaint, S::SiteVerifying, A::Reply, S::Replied),
        (Flow::Complaint, S::Dispatched, A::ReportHandled, S::Handled),
        (Flow::Complaint, S::Handled, A::Reply, S::Replied),
        (Flow::Complaint, S::Replied, A::Satisfied, S::Closed),
        (
            Flow::Complaint,
            S::Replied,
            A::NotSatisfied,
            S::SecondHandling,
        ),
        (
            Flow::Complaint,
            S::SecondHandling,
            A::ReportHandled,
            S::Handled,
        ),
        (
            Flow::Complaint,
            S::Investigating,
            A::ReportHandled,
            S::Handled,
        ),
        (Flow::Complaint, S::Closed, A::Evaluate, S::Evaluated),
    ];

    #[test]
    fn every_transition_is_allowed_or_refused_exactly_as_the_table_says() {
        let mut allowed_seen = 0;
        for flow in [Flow::Supervision, Flow::Complaint] {
            for state in S::ALL {
                for action in A::ALL {
                    let lc = Lifecycle {
                        flow,
                        state,
                        handling_rounds: 1,
                        dissatisfied: 0,
                    };
                    let expected = ALLOWED
                        .iter()
                        .find(|(f, s, a, _)| *f == flow && *s == state && *a == action)
                        .map(|t| t.3);
                    match (lc.next_state(action), expected) {
                        (Ok(got), Some(want)) => {
                            assert_eq!(got, want, "{flow:?} {state:?} {action:?}");
                            allowed_seen += 1;
                        }
                        (Err(TransitionError::NotAllowed { .. }), None) => {}
                        (got, want) => {
                            panic!("{flow:?} {state:?} {action:?}: got {got:?}, want {want:?}")
                        }
                    }
                }
            }
        }
        assert_eq!(allowed_seen, ALLOWED.len());
    }

    #[test]
    fn every_allowed_transition_is_refused_for_the_wrong_role() {
        for &(flow, state, action, next) in ALLOWED {
            for role in Role::ALL {
                let mut lc = Lifecycle {
                    flow,
                    state,
                    handling_rounds: 1,
                    dissatisfied: 0,
                };
                let may = role == action.performed_by()
                    || (action.performed_by() == Role::Inspector && role == Role::SquadLeader);
                let result = lc.apply(action, role);
                if may {
                    assert_eq!(result, Ok(next), "{role:?} {action:?}");
                    assert_eq!(lc.state, next);
                } else {
                    assert!(
                        matches!(result, Err(TransitionError::WrongRole { .. })),
                        "{role:?} may not {action:?}: {result:?}"
                    );
                    assert_eq!(lc.state, state, "a refused action changes nothing");
                }
            }
        }
    }

    fn run(lc: &mut Lifecycle, steps: &[(A, Role)]) {
        for (action, role) in steps {
            lc.apply(*action, *role)
                .unwrap_or_else(|e| panic!("{action:?} by {role:?}: {e}"));
        }
    }

    #[test]
    fn failed_verification_reopens_and_sends_the_case_back_to_the_unit() {
        let c = Role::CentreOperator;
        let i = Role::Inspector;
        let mut lc = Lifecycle::new(Flow::Supervision);
        run(
            &mut lc,
            &[
                (A::File, c),
                (A::Dispatch, c),
                (A::ReportHandled, c),
                (A::RequestVerification, c),
                (A::VerifyFail, i),
            ],
        );
        assert_eq!(lc.state, S::Reopened);
        assert_eq!(lc.handling_rounds, 1);
        run(
            &mut lc,
            &[
                (A::Dispatch, c),
                (A::ReportHandled, c),
                (A::RequestVerification, c),
                (A::VerifyPass, i),
                (A::Evaluate, c),
            ],
        );
        assert_eq!(lc.state, S::Evaluated);
        assert_eq!(lc.handling_rounds, 2);
        assert!(lc.state.is_final());
        assert!(lc.allowed_actions().is_empty());
    }

    #[test]
    fn unsatisfied_complainant_gets_second_handling_then_investigation() {
        let c = Role::CentreOperator;
        let mut lc = Lifecycle::new(Flow::Complaint);
        assert_eq!(lc.state, S::Accepted);
        run(
            &mut lc,
            &[
                (A::RequestVerification, c),
                (A::ConfirmOnSite, Role::Inspector),
                (A::ReportHandled, c),
                (A::Reply, c),
                (A::NotSatisfied, c),
            ],
        );
        assert_eq!(lc.state, S::SecondHandling);
        run(
            &mut lc,
            &[(A::ReportHandled, c), (A::Reply, c), (A::NotSatisfied, c)],
        );
        assert_eq!(lc.state, S::Investigating);
        // Investigation continues until the complainant is satisfied.
        run(
            &mut lc,
            &[(A::ReportHandled, c), (A::Reply, c), (A::NotSatisfied, c)],
        );
        assert_eq!(lc.state, S::Investigating);
        run(
            &mut lc,
            &[(A::ReportHandled, c), (A::Reply, c), (A::Satisfied, c)],
        );
        assert_eq!(lc.state, S::Closed);
        assert_eq!(lc.dissatisfied, 3);
    }

    #[test]
    fn refused_filing_is_final() {
        let mut lc = Lifecycle::new(Flow::Supervision);
        lc.apply(A::RefuseFiling, Role::CentreOperator).unwrap();
        assert!(lc.state.is_final());
        assert!(lc.allowed_actions().is_empty());
        let err = lc.apply(A::File, Role::CentreOperator).unwrap_err();
        assert!(err.to_string().contains("not_filed"), "{err}");
    }

    #[test]
    fn state_ids_round_trip_and_have_chinese_labels() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
            assert!(s.label_zh().chars().all(|c| !c.is_ascii()));
        }
        assert_eq!(S::parse("fixed"), None);
    }
}
