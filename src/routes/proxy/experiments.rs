//! What recommendation experiments add to the storefront routes: the arm of the shopper (an
//! anonymous one is split by the `session_id` the widget sends with its request), the list an
//! arm's strategy gives, and the arm a widget's events carry.

use serde::Serialize;
use serde_json::Value;

use crate::error::{AppResult, FieldError};
use crate::recommendations::Rec;
use crate::recommendations::experiments::{Arm, Assignment, Strategy};
use crate::recommendations::serve::Intent;
use crate::state::AppState;

/// The arm this request is in, if an experiment runs on the slot (its exposure recorded).
pub async fn assign(
    state: &AppState,
    shop_id: &str,
    intent: Intent,
    customer: Option<i64>,
    session: Option<&str>,
) -> AppResult<Option<Assignment>> {
    state
        .experiments
        .assign(&state.db, shop_id, intent, customer, session)
        .await
}

/// The list of an arm whose strategy is not the slot's own scoring: nothing for `control`,
/// best sellers for `popular`. `None`: the slot's own list (`personalized`).
pub async fn arm_list(
    state: &AppState,
    shop_id: &str,
    assigned: Option<&Assignment>,
    product: Option<i64>,
    limit: usize,
) -> AppResult<Option<Vec<Rec>>> {
    match assigned.map(|a| a.strategy) {
        None | Some(Strategy::Personalized) => Ok(None),
        Some(Strategy::Control) => Ok(Some(Vec::new())),
        Some(Strategy::Popular) => {
            if let Some(list) = state.recs.cached_popular(shop_id, product, limit) {
                return Ok(Some(list));
            }
            let (st, shop) = (state.clone(), shop_id.to_owned());
            let list = state
                .db
                .run(move |c| Ok(st.recs.popular(c, &shop, product, limit)?))
                .await?;
            Ok(Some(list))
        }
    }
}

/// `"experiment":{"id","arm"}` of the answer, only while an experiment runs on the slot.
#[derive(Serialize)]
pub struct ExperimentOut {
    pub id: String,
    pub arm: &'static str,
}

impl From<&Assignment> for ExperimentOut {
    fn from(a: &Assignment) -> Self {
        ExperimentOut {
            id: a.experiment_id.clone(),
            arm: a.arm.as_str(),
        }
    }
}

/// An event's optional `experiment` member, `{"id","arm"}` as the widget got it with its list.
pub fn parse_tag(raw: Option<&Value>) -> Result<Option<(String, Arm)>, Vec<FieldError>> {
    let v = match raw {
        None | Some(Value::Null) => return Ok(None),
        Some(v) => v,
    };
    let Some(o) = v.as_object() else {
        return Err(vec![FieldError::new(
            "experiment",
            "invalid_type",
            "experiment must be an object: {\"id\", \"arm\"}, as the recommendations answer gave it",
        )]);
    };
    let mut errors = Vec::new();
    let id = o.get("id").and_then(Value::as_str).filter(|s| {
        (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if id.is_none() {
        errors.push(FieldError::new(
            "experiment.id",
            "invalid_id",
            "experiment.id must be the experiment's id, as the recommendations answer gave it",
        ));
    }
    let arm = o.get("arm").and_then(Value::as_str).and_then(Arm::parse);
    if arm.is_none() {
        errors.push(FieldError::new(
            "experiment.arm",
            "invalid_arm",
            "experiment.arm must be a or b",
        ));
    }
    match (id, arm) {
        (Some(id), Some(arm)) if errors.is_empty() => Ok(Some((id.to_owned(), arm))),
        _ => Err(errors),
    }
}
