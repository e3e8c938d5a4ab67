//! Randomized model test of typed collections: random inserts, upserts, updates, deletes (some
//! inside a transaction that is rolled back) run against the database and against a `Vec`
//! model; after every step each index lookup must equal a linear filter of the model, and the
//! key-ordered iteration must equal the sorted model.

use proptest::prelude::*;
use rustlite::{Collection, Database, Error};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Collection)]
struct Rec {
    #[key]
    id: u8,
    #[index(unique)]
    code: Option<u8>,
    #[index]
    score: i16,
    #[index(hash)]
    tag: String,
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Rec),
    Upsert(Rec),
    Update(Rec),
    Delete(u8),
    RolledBack(Vec<Rec>),
}

fn rec() -> impl Strategy<Value = Rec> {
    (
        0u8..12,
        prop::option::of(0u8..6),
        -3i16..4,
        prop::sample::select(vec!["a", "b", "c"]),
    )
        .prop_map(|(id, code, score, tag)| Rec {
            id,
            code,
            score,
            tag: tag.to_string(),
        })
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => rec().prop_map(Op::Insert),
        2 => rec().prop_map(Op::Upsert),
        2 => rec().prop_map(Op::Update),
        2 => (0u8..12).prop_map(Op::Delete),
        1 => prop::collection::vec(rec(), 1..4).prop_map(Op::RolledBack),
    ]
}

/// What the model says a write should do: `Ok`, or the error kind.
#[derive(Debug, PartialEq)]
enum Outcome {
    Ok,
    Exists,
    Missing,
    Unique,
    Other(String),
}

fn outcome(r: rustlite::Result<()>) -> Outcome {
    match r {
        Ok(()) => Outcome::Ok,
        Err(Error::AlreadyExists { .. }) => Outcome::Exists,
        Err(Error::NotFound(_)) => Outcome::Missing,
        Err(Error::UniqueViolation { .. }) => Outcome::Unique,
        Err(e) => Outcome::Other(e.to_string()),
    }
}

/// Applies a write to the model, mirroring the database's rules.
fn model_write(model: &mut Vec<Rec>, r: &Rec, must_exist: Option<bool>) -> Outcome {
    let pos = model.iter().position(|m| m.id == r.id);
    match (must_exist, pos) {
        (Some(false), Some(_)) => return Outcome::Exists,
        (Some(true), None) => return Outcome::Missing,
        _ => {}
    }
    let clash = r.code.is_some() && model.iter().any(|m| m.id != r.id && m.code == r.code);
    if clash {
        return Outcome::Unique;
    }
    match pos {
        Some(i) => model[i] = r.clone(),
        None => model.push(r.clone()),
    }
    Outcome::Ok
}

fn sorted(mut v: Vec<Rec>) -> Vec<Rec> {
    v.sort_by_key(|r| r.id);
    v
}

fn check(db: &Database, model: &[Rec]) -> Result<(), TestCaseError> {
    let recs = db.collection::<Rec>().map_err(fail)?;
    let all: Vec<Rec> = recs
        .iter()
        .map_err(fail)?
        .collect::<Result<_, _>>()
        .map_err(fail)?;
    prop_assert_eq!(&all, &sorted(model.to_vec()));
    for code in 0u8..6 {
        let got = recs.find(Rec::CODE, &Some(code)).map_err(fail)?;
        let want: Vec<Rec> = model
            .iter()
            .filter(|r| r.code == Some(code))
            .cloned()
            .collect();
        prop_assert_eq!(got, sorted(want));
    }
    for score in -3i16..4 {
        let got = recs.find(Rec::SCORE, &score).map_err(fail)?;
        let want: Vec<Rec> = model.iter().filter(|r| r.score == score).cloned().collect();
        prop_assert_eq!(got, sorted(want));
    }
    for tag in ["a", "b", "c"] {
        let got = recs.find(Rec::TAG, tag).map_err(fail)?;
        let want: Vec<Rec> = model.iter().filter(|r| r.tag == tag).cloned().collect();
        prop_assert_eq!(got, sorted(want));
    }
    let got: Vec<Rec> = recs
        .range(Rec::SCORE, -1..2)
        .map_err(fail)?
        .collect::<Result<_, _>>()
        .map_err(fail)?;
    let mut want: Vec<Rec> = model
        .iter()
        .filter(|r| (-1..2).contains(&r.score))
        .cloned()
        .collect();
    want.sort_by_key(|r| (r.score, r.id));
    prop_assert_eq!(got, want);
    prop_assert_eq!(recs.count().map_err(fail)?, model.len() as u64);
    Ok(())
}

fn fail(e: Error) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let db = Database::in_memory().map_err(fail)?;
    let recs = db.collection::<Rec>().map_err(fail)?;
    let mut model: Vec<Rec> = Vec::new();
    for op in ops {
        match op {
            Op::Insert(r) => {
                let want = model_write(&mut model, &r, Some(false));
                prop_assert_eq!(outcome(recs.insert(&r)), want, "insert {:?}", r);
            }
            Op::Upsert(r) => {
                let want = model_write(&mut model, &r, None);
                prop_assert_eq!(outcome(recs.upsert(&r)), want, "upsert {:?}", r);
            }
            Op::Update(r) => {
                let want = model_write(&mut model, &r, Some(true));
                prop_assert_eq!(outcome(recs.update(&r)), want, "update {:?}", r);
            }
            Op::Delete(id) => {
                let existed = model.iter().any(|m| m.id == id);
                model.retain(|m| m.id != id);
                prop_assert_eq!(recs.delete(&id).map_err(fail)?, existed);
            }
            Op::RolledBack(writes) => {
                let mut tx = db.begin().map_err(fail)?;
                {
                    let trecs = tx.collection::<Rec>().map_err(fail)?;
                    let mut shadow = model.clone();
                    for r in &writes {
                        let want = model_write(&mut shadow, r, None);
                        prop_assert_eq!(outcome(trecs.upsert(r)), want);
                    }
                    let seen: Vec<Rec> = trecs
                        .iter()
                        .map_err(fail)?
                        .collect::<Result<_, _>>()
                        .map_err(fail)?;
                    prop_assert_eq!(seen, sorted(shadow));
                }
                tx.rollback();
            }
        }
        check(&db, &model)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn indexes_match_a_linear_filter_of_the_model(ops in prop::collection::vec(op(), 1..40)) {
        run(ops)?;
    }
}
