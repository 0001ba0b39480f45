//! A/B experiments on a recommendation slot, so a merchant sees what the widget is worth.
//!
//! An experiment names a slot (an intent) and two arms, each a strategy: `personalized` (what
//! the intent serves today), `popular` (best sellers, the same for everyone) or `control` (no
//! recommendations: the widget hides). Shoppers are split by a hash of (experiment, unit): the
//! unit is the logged-in customer, else the storefront session, so the same shopper always sees
//! the same arm, on every instance. A shopper without a session id (the widget sends none
//! while the visitor's privacy choices do not allow analytics) is left out of the experiment:
//! they get the slot's ordinary list and nothing is recorded about them.
//!
//! States: `draft` (editable) → `running` (at most one per slot, the database decides) →
//! `stopped` (final; its exposures and results stay).

pub mod report;
pub mod stats;

use std::sync::Arc;
use std::time::Duration;

use diesel::prelude::*;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Digest;
use time::PrimitiveDateTime;

use super::serve::Intent;
use crate::cache::TtlCache;
use crate::db::schema::{rec_events, rec_experiment_exposures as ex, rec_experiments as re};
use crate::db::{Db, DbConnection, new_id, now, rfc3339, write_tx};
use crate::error::{AppError, AppResult, FieldError};
use crate::input::{self, Lenient, Problems, Unknown};

/// The slots an experiment can run on.
pub const INTENTS: [Intent; 4] = [
    Intent::Related,
    Intent::Complementary,
    Intent::ForYou,
    Intent::Trending,
];
/// Experiments a shop keeps at most (stopped ones included).
pub const MAX_EXPERIMENTS: i64 = 200;
/// How long an instance trusts its copy of a shop's running experiments: a start or stop made
/// through another instance reaches this one within it (this instance's own at once).
pub const RUNNING_TTL: Duration = Duration::from_secs(5);
/// How often, at most, one unit's exposure is written again (its `last_at` moves forward).
pub const EXPOSURE_REFRESH: Duration = Duration::from_secs(600);
pub const NAME_MAX: usize = 100;
pub const STATES: [&str; 3] = ["draft", "running", "stopped"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    Personalized,
    Popular,
    Control,
}

impl Strategy {
    pub fn parse(s: &str) -> Option<Strategy> {
        match s {
            "personalized" => Some(Strategy::Personalized),
            "popular" => Some(Strategy::Popular),
            "control" => Some(Strategy::Control),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Personalized => "personalized",
            Strategy::Popular => "popular",
            Strategy::Control => "control",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arm {
    A,
    B,
}

impl Arm {
    pub fn parse(s: &str) -> Option<Arm> {
        match s {
            "a" => Some(Arm::A),
            "b" => Some(Arm::B),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Arm::A => "a",
            Arm::B => "b",
        }
    }
}

/// The arm of `unit` in experiment `id`: the first 64 bits of SHA-256(`id` LF `unit`), modulo
/// 10,000, against arm A's share in basis points. Stable across instances, restarts and
/// versions (never a process-seeded hash).
pub fn arm_for(id: &str, unit: &str, share_a_percent: i32) -> Arm {
    let digest = sha2::Sha256::digest(format!("{id}\n{unit}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    let bucket = u64::from_be_bytes(first) % 10_000;
    if bucket < u64::from(share_a_percent.clamp(0, 100) as u32) * 100 {
        Arm::A
    } else {
        Arm::B
    }
}

/// The unit a shopper is split by: the signed customer when logged in, else the session.
pub fn unit_of(customer: Option<i64>, session: &str) -> String {
    match customer {
        Some(c) => format!("c:{c}"),
        None => format!("s:{session}"),
    }
}

/// `session_id` as the widget sends it: 1–64 of `A-Za-z0-9_-` (as on `POST /proxy/events`).
pub fn valid_session(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// One experiment as stored.
#[derive(Debug, Clone, Queryable)]
pub struct Experiment {
    pub id: String,
    pub shop_id: String,
    pub name: String,
    pub intent: String,
    pub strategy_a: String,
    pub strategy_b: String,
    pub share_a: i32,
    pub state: String,
    pub created_at: PrimitiveDateTime,
    pub updated_at: PrimitiveDateTime,
    pub started_at: Option<PrimitiveDateTime>,
    pub stopped_at: Option<PrimitiveDateTime>,
}

impl Experiment {
    pub fn strategy(&self, arm: Arm) -> Strategy {
        let s = match arm {
            Arm::A => &self.strategy_a,
            Arm::B => &self.strategy_b,
        };
        Strategy::parse(s).unwrap_or(Strategy::Personalized)
    }

    pub fn share(&self, arm: Arm) -> i32 {
        match arm {
            Arm::A => self.share_a,
            Arm::B => 100 - self.share_a,
        }
    }

    /// EXPERIMENT as the admin API answers it.
    pub fn to_json(&self) -> Value {
        let arms: Vec<Value> = [Arm::A, Arm::B]
            .into_iter()
            .map(|a| {
                json!({
                    "arm": a.as_str(),
                    "strategy": self.strategy(a).as_str(),
                    "share": self.share(a),
                })
            })
            .collect();
        json!({
            "id": self.id,
            "name": self.name,
            "intent": self.intent,
            "state": self.state,
            "arms": arms,
            "created_at": rfc3339(self.created_at),
            "updated_at": rfc3339(self.updated_at),
            "started_at": self.started_at.map(rfc3339),
            "stopped_at": self.stopped_at.map(rfc3339),
        })
    }
}

// ---------------------------------------------------------------- input

#[derive(Deserialize, Default)]
#[serde(default)]
struct Body {
    name: Lenient<String>,
    intent: Lenient<String>,
    arms: Lenient<Vec<Lenient<ArmBody>>>,
    state: Lenient<String>,
    #[serde(flatten)]
    unknown: Unknown,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ArmBody {
    /// Optional, as the API answers it: must then be `a` for the first arm, `b` for the second.
    arm: Lenient<String>,
    strategy: Lenient<String>,
    share: Lenient<i64>,
    #[serde(flatten)]
    unknown: Unknown,
}

/// A create or update body, checked.
#[derive(Debug, Default, Clone)]
pub struct Input {
    pub name: Option<String>,
    pub intent: Option<Intent>,
    /// `(strategy A, strategy B, share of A in percent)`
    pub arms: Option<(Strategy, Strategy, i32)>,
    pub state: Option<String>,
}

fn intents_list() -> &'static str {
    "related, complementary, for_you or trending"
}

/// Reads a body; `create` makes `intent` and `arms` required.
pub fn parse(body: &Value, create: bool) -> Result<Input, Vec<FieldError>> {
    let b: Body = input::object(body, "The body must be a JSON object.")?;
    let mut p = Problems::new();
    p.unknown_members("", b.unknown.keys(), |k| {
        format!("{k} is not a member of an experiment (name, intent, arms, state).")
    });
    let mut out = Input::default();
    if let Some(name) = b.name.typed(&mut p, "name", "name must be a string.") {
        let name = name.trim();
        let n = name.chars().count();
        if n == 0 || n > NAME_MAX {
            p.push(
                "name",
                "invalid_length",
                format!("name must be 1 to {NAME_MAX} characters."),
            );
        } else if name.chars().any(char::is_control) {
            p.push(
                "name",
                "invalid_character",
                "name cannot contain control characters.",
            );
        } else {
            out.name = Some(name.to_owned());
        }
    }
    let intent_absent = b.intent.is_absent();
    match b.intent.typed(&mut p, "intent", "intent must be a string.") {
        Some(s) => match Intent::parse(&s).filter(|i| INTENTS.contains(i)) {
            Some(i) => out.intent = Some(i),
            None => p.push(
                "intent",
                "unknown_intent",
                format!("intent must be {}.", intents_list()),
            ),
        },
        None if create && intent_absent => p.push(
            "intent",
            "required",
            format!("intent is required: {}.", intents_list()),
        ),
        None => {}
    }
    let arms_absent = b.arms.is_absent();
    match b
        .arms
        .typed(&mut p, "arms", "arms must be a list of two arms.")
    {
        Some(arms) => out.arms = parse_arms(arms, &mut p),
        None if create && arms_absent => p.push(
            "arms",
            "required",
            "arms is required: two arms, each with a strategy (personalized, popular or control).",
        ),
        None => {}
    }
    if let Some(s) = b.state.typed(&mut p, "state", "state must be a string.") {
        if STATES.contains(&s.as_str()) {
            out.state = Some(s);
        } else {
            p.push(
                "state",
                "invalid_state",
                "state must be draft, running or stopped.",
            );
        }
    }
    p.finish(out)
}

fn parse_arms(arms: Vec<Lenient<ArmBody>>, p: &mut Problems) -> Option<(Strategy, Strategy, i32)> {
    if arms.len() != 2 {
        p.push(
            "arms",
            "invalid_length",
            "An experiment has exactly two arms: A (the baseline) and B.",
        );
        return None;
    }
    let mut strategies = [None, None];
    let mut shares: [Option<i64>; 2] = [None, None];
    let mut ok = true;
    for (i, arm) in arms.into_iter().enumerate() {
        let path = input::item("arms", i);
        let Some(arm) = arm.typed(p, &path, "Each arm must be an object.") else {
            ok = false;
            continue;
        };
        p.unknown_members(&path, arm.unknown.keys(), |k| {
            format!("{k} is not a member of an arm (arm, strategy, share).")
        });
        let expected = if i == 0 { "a" } else { "b" };
        if let Some(key) = arm
            .arm
            .typed(p, input::member(&path, "arm"), "arm must be a string.")
            && key != expected
        {
            p.push(
                input::member(&path, "arm"),
                "invalid_arm",
                format!("The arm in position {} is arm {expected}.", i + 1),
            );
        }
        let spath = input::member(&path, "strategy");
        let strategy_absent = arm.strategy.is_absent();
        match arm.strategy.typed(p, &spath, "strategy must be a string.") {
            Some(s) => match Strategy::parse(&s) {
                Some(st) => strategies[i] = Some(st),
                None => p.push(
                    spath,
                    "unknown_strategy",
                    "strategy must be personalized, popular or control.",
                ),
            },
            None if strategy_absent => p.push(
                spath,
                "required",
                "strategy is required: personalized, popular or control.",
            ),
            None => {}
        }
        let share_path = input::member(&path, "share");
        match arm.share {
            Lenient::Absent => {}
            Lenient::Ok(n) if (1..=99).contains(&n) => shares[i] = Some(n),
            Lenient::Ok(_) => {
                p.push(
                    share_path,
                    "out_of_range",
                    "share is the percent of shoppers in this arm, from 1 to 99.",
                );
                ok = false;
            }
            _ => {
                p.invalid_type(share_path, "share must be a whole number of percent.");
                ok = false;
            }
        }
    }
    if let (Some(a), Some(b)) = (strategies[0], strategies[1])
        && a == b
    {
        p.push(
            "arms[1].strategy",
            "same_strategy",
            "The two arms must differ: compare two strategies, or one against control.",
        );
        ok = false;
    }
    let share_a = match shares {
        [None, None] => 50,
        [Some(a), None] => a,
        [None, Some(b)] => 100 - b,
        [Some(a), Some(b)] => {
            if a + b != 100 {
                p.push(
                    "arms[1].share",
                    "invalid_sum",
                    format!(
                        "The two shares must add up to 100 (they add up to {}).",
                        a + b
                    ),
                );
                ok = false;
            }
            a
        }
    };
    match (strategies, ok) {
        ([Some(a), Some(b)], true) => Some((a, b, share_a as i32)),
        _ => None,
    }
}

// ---------------------------------------------------------------- storage

pub fn find(c: &mut DbConnection, shop_id: &str, id: &str) -> QueryResult<Option<Experiment>> {
    re::table
        .filter(re::shop_id.eq(shop_id))
        .filter(re::id.eq(id))
        .first(c)
        .optional()
}

/// Newest first, from after the `(created_at, id)` cursor; at most `limit` rows.
pub fn list(
    c: &mut DbConnection,
    shop_id: &str,
    after: Option<(PrimitiveDateTime, String)>,
    limit: i64,
) -> QueryResult<Vec<Experiment>> {
    let mut q = re::table
        .filter(re::shop_id.eq(shop_id))
        .order((re::created_at.desc(), re::id.desc()))
        .limit(limit)
        .into_boxed();
    if let Some((at, id)) = after {
        q = q.filter(
            re::created_at
                .lt(at)
                .or(re::created_at.eq(at).and(re::id.lt(id))),
        );
    }
    q.load(c)
}

/// The shop's running experiments (at most one per slot).
pub fn running(c: &mut DbConnection, shop_id: &str) -> QueryResult<Vec<Experiment>> {
    re::table
        .filter(re::shop_id.eq(shop_id))
        .filter(re::state.eq("running"))
        .load(c)
}

fn conflict_running(intent: &str) -> AppError {
    AppError::conflict(
        "experiment_running",
        format!(
            "Another experiment is already running on the {intent} slot: stop it before starting this one."
        ),
    )
}

/// The unique index allows one running experiment per slot; a start racing another one's
/// loses here.
fn map_unique(e: diesel::result::Error, intent: &str) -> AppError {
    match e {
        diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        ) => conflict_running(intent),
        other => other.into(),
    }
}

pub fn create(c: &mut DbConnection, shop_id: &str, input: Input) -> AppResult<Experiment> {
    write_tx(c, |c| {
        let count: i64 = re::table
            .filter(re::shop_id.eq(shop_id))
            .count()
            .get_result(c)?;
        if count >= MAX_EXPERIMENTS {
            return Err(AppError::conflict(
                "too_many_experiments",
                format!("A shop keeps at most {MAX_EXPERIMENTS} experiments."),
            ));
        }
        let (Some(intent), Some((a, b, share_a))) = (input.intent, input.arms) else {
            return Err(AppError::validation(vec![FieldError::new(
                "arms",
                "required",
                "intent and arms are required.",
            )]));
        };
        let id = new_id();
        let at = now();
        let name = input
            .name
            .clone()
            .unwrap_or_else(|| format!("{}: {} vs {}", intent.as_str(), a.as_str(), b.as_str()));
        diesel::insert_into(re::table)
            .values((
                re::id.eq(&id),
                re::shop_id.eq(shop_id),
                re::name.eq(&name),
                re::intent.eq(intent.as_str()),
                re::strategy_a.eq(a.as_str()),
                re::strategy_b.eq(b.as_str()),
                re::share_a.eq(share_a),
                re::state.eq("draft"),
                re::created_at.eq(at),
                re::updated_at.eq(at),
            ))
            .execute(c)?;
        let created = find(c, shop_id, &id)?.ok_or_else(|| AppError::not_found("Not found."))?;
        match input.state.as_deref() {
            Some("running") => transition(c, created, "running"),
            Some("stopped") => Err(AppError::conflict(
                "invalid_transition",
                "A new experiment starts as a draft or running.",
            )),
            _ => Ok(created),
        }
    })
}

/// Applies `input` to an experiment: name at any time; slot, arms and shares only as a draft;
/// `state` moves draft → running → stopped (or a draft straight to stopped).
pub fn update(
    c: &mut DbConnection,
    shop_id: &str,
    id: &str,
    input: Input,
) -> AppResult<Experiment> {
    write_tx(c, |c| {
        let current: Experiment = crate::db::dialect::first_locked(
            c,
            re::table
                .filter(re::shop_id.eq(shop_id))
                .filter(re::id.eq(id.to_owned())),
            |q| q.for_update(),
        )
        .optional()?
        .ok_or_else(|| AppError::not_found("No such experiment."))?;
        if (input.intent.is_some() || input.arms.is_some()) && current.state != "draft" {
            return Err(AppError::conflict(
                "not_draft",
                "The slot, the arms and their shares can only change before the experiment starts: results would mix two different experiments.",
            ));
        }
        let at = now();
        if let Some(name) = &input.name {
            diesel::update(re::table.find(id))
                .set((re::name.eq(name), re::updated_at.eq(at)))
                .execute(c)?;
        }
        if let Some(intent) = input.intent {
            diesel::update(re::table.find(id))
                .set((re::intent.eq(intent.as_str()), re::updated_at.eq(at)))
                .execute(c)?;
        }
        if let Some((a, b, share)) = input.arms {
            diesel::update(re::table.find(id))
                .set((
                    re::strategy_a.eq(a.as_str()),
                    re::strategy_b.eq(b.as_str()),
                    re::share_a.eq(share),
                    re::updated_at.eq(at),
                ))
                .execute(c)?;
        }
        let now_row = find(c, shop_id, id)?.ok_or_else(|| AppError::not_found("Not found."))?;
        match input.state.as_deref() {
            Some(s) if s != now_row.state => transition(c, now_row, s),
            _ => Ok(now_row),
        }
    })
}

fn transition(c: &mut DbConnection, e: Experiment, to: &str) -> AppResult<Experiment> {
    let at = now();
    match (e.state.as_str(), to) {
        ("draft", "running") => {
            let other: i64 = re::table
                .filter(re::shop_id.eq(&e.shop_id))
                .filter(re::intent.eq(&e.intent))
                .filter(re::state.eq("running"))
                .count()
                .get_result(c)?;
            if other > 0 {
                return Err(conflict_running(&e.intent));
            }
            diesel::update(re::table.find(&e.id))
                .set((
                    re::state.eq("running"),
                    re::started_at.eq(Some(at)),
                    re::updated_at.eq(at),
                ))
                .execute(c)
                .map_err(|err| map_unique(err, &e.intent))?;
        }
        ("running" | "draft", "stopped") => {
            diesel::update(re::table.find(&e.id))
                .set((
                    re::state.eq("stopped"),
                    re::stopped_at.eq(Some(at)),
                    re::updated_at.eq(at),
                ))
                .execute(c)?;
        }
        ("stopped", _) => {
            return Err(AppError::conflict(
                "invalid_transition",
                "A stopped experiment stays stopped (its results are kept): create a new one to test again.",
            ));
        }
        (from, to) => {
            return Err(AppError::conflict(
                "invalid_transition",
                format!("An experiment cannot go from {from} to {to}."),
            ));
        }
    }
    find(c, &e.shop_id, &e.id)?.ok_or_else(|| AppError::not_found("Not found."))
}

// ---------------------------------------------------------------- serving

/// The arm a storefront request is in.
#[derive(Debug, Clone)]
pub struct Assignment {
    pub experiment_id: String,
    pub arm: Arm,
    pub strategy: Strategy,
}

/// Per-instance state of experiments: the running ones per shop, and which units this
/// instance recorded as exposed lately (so a shopper's every page view is not a write).
pub struct Experiments {
    running: TtlCache<String, Arc<Vec<Experiment>>>,
    exposed: TtlCache<(String, String), ()>,
}

impl Default for Experiments {
    fn default() -> Self {
        Experiments {
            running: TtlCache::new(RUNNING_TTL, 10_000),
            exposed: TtlCache::new(EXPOSURE_REFRESH, 200_000),
        }
    }
}

impl Experiments {
    /// A start or stop made through this instance applies to its next request.
    pub fn forget(&self, shop_id: &str) {
        self.running.remove(shop_id);
    }

    async fn running_of(&self, db: &Db, shop_id: &str) -> AppResult<Arc<Vec<Experiment>>> {
        if let Some(r) = self.running.get(shop_id) {
            return Ok(r);
        }
        let id = shop_id.to_owned();
        let r = Arc::new(db.run(move |c| Ok(running(c, &id)?)).await?);
        self.running.insert(shop_id.to_owned(), r.clone());
        Ok(r)
    }

    /// The arm this request is in, and its exposure recorded; `None` when no experiment runs
    /// on the slot or the shopper sent no session (not enrolled).
    pub async fn assign(
        &self,
        db: &Db,
        shop_id: &str,
        intent: Intent,
        customer: Option<i64>,
        session: Option<&str>,
    ) -> AppResult<Option<Assignment>> {
        let Some(session) = session else {
            return Ok(None);
        };
        let running = self.running_of(db, shop_id).await?;
        let Some(e) = running.iter().find(|e| e.intent == intent.as_str()) else {
            return Ok(None);
        };
        let unit = unit_of(customer, session);
        let arm = arm_for(&e.id, &unit, e.share_a);
        let key = (e.id.clone(), unit.clone());
        if self.exposed.get(&key).is_none() {
            let (shop, id, session) = (shop_id.to_owned(), e.id.clone(), session.to_owned());
            db.run_write(move |c| {
                Ok(record_exposure(
                    c, &shop, &id, &unit, arm, customer, &session,
                )?)
            })
            .await?;
            self.exposed.insert(key, ());
        }
        Ok(Some(Assignment {
            experiment_id: e.id.clone(),
            arm,
            strategy: e.strategy(arm),
        }))
    }
}

/// One unit served an arm: its first exposure is kept, its latest moves forward.
pub fn record_exposure(
    c: &mut DbConnection,
    shop_id: &str,
    experiment_id: &str,
    unit: &str,
    arm: Arm,
    customer: Option<i64>,
    session: &str,
) -> QueryResult<()> {
    let at = now();
    crate::per_backend!(c, |c| diesel::insert_into(ex::table)
        .values((
            ex::experiment_id.eq(experiment_id),
            ex::unit.eq(unit),
            ex::shop_id.eq(shop_id),
            ex::arm.eq(arm.as_str()),
            ex::customer_id.eq(customer),
            ex::session_id.eq(Some(session)),
            ex::first_at.eq(at),
            ex::last_at.eq(at),
        ))
        .on_conflict((ex::experiment_id, ex::unit))
        .do_update()
        .set(ex::last_at.eq(at))
        .execute(c))?;
    Ok(())
}

/// The tag a widget's event carries, checked: kept only while the experiment (this shop's)
/// runs and when the arm is the one the split gives this shopper (a tampered or stale arm is
/// dropped, the event itself still counts for its intent).
pub fn event_tag(
    c: &mut DbConnection,
    shop_id: &str,
    experiment_id: &str,
    arm: Arm,
    customer: Option<i64>,
    session: &str,
) -> QueryResult<Option<(String, &'static str)>> {
    let Some(e) = find(c, shop_id, experiment_id)? else {
        return Ok(None);
    };
    let real = arm_for(&e.id, &unit_of(customer, session), e.share_a);
    Ok((real == arm && e.state == "running").then(|| (e.id, arm.as_str())))
}

// ---------------------------------------------------------------- customer data

/// Sessions of the shopper: those their signed events carry (before those events are erased).
fn sessions_of(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<Vec<String>> {
    rec_events::table
        .filter(rec_events::shop_id.eq(shop_id))
        .filter(rec_events::customer_id.eq(customer_id))
        .select(rec_events::session_id)
        .distinct()
        .load(c)
}

/// `experiment_exposures` of a data request: which arm of which experiment, since when.
pub fn export(c: &mut DbConnection, shop_id: &str, customer_id: i64) -> QueryResult<Value> {
    let rows: Vec<(String, String, PrimitiveDateTime, PrimitiveDateTime)> = ex::table
        .filter(ex::shop_id.eq(shop_id))
        .filter(ex::customer_id.eq(customer_id))
        .order(ex::first_at)
        .select((ex::experiment_id, ex::arm, ex::first_at, ex::last_at))
        .load(c)?;
    Ok(Value::Array(
        rows.into_iter()
            .map(|(id, arm, first, last)| {
                json!({"experiment_id": id, "arm": arm, "first_at": rfc3339(first), "last_at": rfc3339(last)})
            })
            .collect(),
    ))
}

/// Erasure: the shopper's exposures, as a customer and in the sessions they were logged in to.
/// Runs before the storefront events are erased (it finds those sessions through them).
pub fn redact(
    c: &mut DbConnection,
    shop_id: &str,
    customer_id: i64,
    _orders: &[i64],
) -> QueryResult<()> {
    let sessions = sessions_of(c, shop_id, customer_id)?;
    diesel::delete(
        ex::table
            .filter(ex::shop_id.eq(shop_id))
            .filter(ex::customer_id.eq(customer_id)),
    )
    .execute(c)?;
    for chunk in sessions.chunks(500) {
        diesel::delete(
            ex::table
                .filter(ex::shop_id.eq(shop_id))
                .filter(ex::session_id.eq_any(chunk)),
        )
        .execute(c)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_split_is_deterministic_and_near_the_share() {
        for share in [50, 20, 90] {
            let n = 20_000;
            let a = (0..n)
                .filter(|i| arm_for("exp-1", &format!("s:{i}"), share) == Arm::A)
                .count();
            let expected = n as f64 * share as f64 / 100.0;
            // 4 standard deviations of a binomial count.
            let sd = (n as f64 * share as f64 / 100.0 * (1.0 - share as f64 / 100.0)).sqrt();
            assert!((a as f64 - expected).abs() < 4.0 * sd, "{share}: {a}");
        }
        assert_eq!(arm_for("x", "c:1", 50), arm_for("x", "c:1", 50));
        // Another experiment splits the same shoppers independently.
        let same = (0..2_000)
            .filter(|i| {
                let u = format!("s:{i}");
                arm_for("e1", &u, 50) == arm_for("e2", &u, 50)
            })
            .count();
        assert!((800..1200).contains(&same), "{same}");
    }

    #[test]
    fn bodies_are_checked_with_every_path_named() {
        let ok = parse(
            &json!({"intent": "related", "arms": [{"strategy": "personalized"}, {"strategy": "control", "share": 30}]}),
            true,
        )
        .unwrap();
        assert_eq!(
            ok.arms,
            Some((Strategy::Personalized, Strategy::Control, 70))
        );
        let errs = parse(
            &json!({"intent": "cart", "arms": [{"strategy": "x", "share": 0}, {"strategy": "popular", "share": "half"}], "colour": 1}),
            true,
        )
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        for f in [
            "colour",
            "intent",
            "arms[0].strategy",
            "arms[0].share",
            "arms[1].share",
        ] {
            assert!(fields.contains(&f), "{f}: {fields:?}");
        }
        let same = parse(
            &json!({"intent": "trending", "arms": [{"strategy": "popular"}, {"strategy": "popular"}]}),
            true,
        )
        .unwrap_err();
        assert_eq!(same[0].field, "arms[1].strategy");
        let sum = parse(
            &json!({"intent": "trending", "arms": [{"strategy": "popular", "share": 60}, {"strategy": "control", "share": 60}]}),
            true,
        )
        .unwrap_err();
        assert_eq!(sum[0].code, "invalid_sum");
        assert_eq!(
            parse(&json!({"arms": [{"strategy": "popular"}]}), true)
                .unwrap_err()
                .iter()
                .map(|e| e.field.as_str())
                .collect::<Vec<_>>(),
            vec!["intent", "arms"]
        );
        assert!(parse(&json!([]), true).is_err());
        assert!(parse(&json!({"name": "Renamed"}), false).is_ok());
    }
}
