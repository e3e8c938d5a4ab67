//! GROUP BY and aggregate functions.
//!
//! Rows are grouped by the [`group_key`] of their group values (so `1` and `1.0` fall in one
//! group and NULLs form one group), groups come out in order of first appearance, and each
//! group's output row is its group values followed by its aggregate results. Without GROUP BY
//! there is exactly one group, even over no rows (`COUNT(*)` = 0, the others NULL).
//!
//! | function | over no non-NULL input | result type |
//! |---|---|---|
//! | `COUNT(*)`, `COUNT(x)` | 0 | INTEGER |
//! | `SUM(x)` | NULL | INTEGER if every input is (exact; only a total outside `i64::MIN..=u64::MAX` is an overflow error), else REAL |
//! | `AVG(x)` | NULL | REAL |
//! | `MIN(x)`, `MAX(x)` | NULL | the input's, by the ORDER BY total order |
//!
//! SUM and AVG keep two sums: the integer inputs exactly (in an `i128`), the REAL inputs with
//! Kahan–Babuska–Neumaier compensated summation, step for step as SQLite (since 3.43) sums
//! them, so `sum` of `1e16, 1.0, -1e16, 0.1, 0.2` is `1.3` in both (plain addition gives
//! `0.30000000000000004`). The result joins them once at the end: AVG of integers is their
//! exact sum rounded once, divided by the count (`avg(9007199254740992, 1, 1)` is
//! `3002399751580331.5`; adding each input as a float lost the two ones). A REAL result that is
//! NaN (`sum` of `1e999` and `-1e999`) is NULL, as in SQLite.

use crate::error::{Error, Result};
use crate::sql::ast::{AggregateFn, Expr};
use crate::sql::eval::{eval, float, group_key, operand, sort_cmp};
use crate::sql::planner::plan::AggregateCall;
use crate::sql::storage::Row;
use crate::value::Value;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

/// A Kahan–Babuska–Neumaier compensated sum of floats: `sum` is the running float sum and
/// `err` the rounding errors it made, so `sum + err` is the total with a single rounding for
/// any realistic input. The step and the end are SQLite's (`kahanBabuskaNeumaierStep` and
/// `sumFinalize`), so REAL sums equal SQLite's bit for bit.
#[derive(Clone, Copy, Debug, Default)]
struct Compensated {
    sum: f64,
    err: f64,
}

impl Compensated {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        // The larger operand's low bits survive in `t`; the smaller one's are what was lost.
        if self.sum.abs() > x.abs() {
            self.err += (self.sum - t) + x;
        } else {
            self.err += (x - t) + self.sum;
        }
        self.sum = t;
    }

    /// `int` exactly, as a high part and the (small) rest the float of `int` rounded away.
    fn of_integer(int: i128) -> Self {
        #[expect(clippy::cast_precision_loss, reason = "the rest is kept in err")]
        let high = int as f64;
        #[expect(clippy::cast_possible_truncation, reason = "whole, and saturating")]
        let rest = int.saturating_sub(high as i128);
        #[expect(
            clippy::cast_precision_loss,
            reason = "below 2^53 for sums below 2^106"
        )]
        let err = rest as f64;
        Compensated { sum: high, err }
    }

    /// The total. An error term that overflowed (±inf or NaN, once the sum did) is left out,
    /// as SQLite does: `sum` of `1e308, 1e308` is `inf`, not NaN.
    fn total(self) -> f64 {
        if self.err.is_finite() {
            self.sum + self.err
        } else {
            self.sum
        }
    }
}

/// Running state of one aggregate in one group.
#[derive(Clone, Debug)]
struct Accumulator {
    count: i64,
    /// SUM's and AVG's integer inputs, summed exactly (`None` once past i128, which no
    /// realistic input reaches: 2^63 inputs of `u64::MAX`).
    int_sum: Option<i128>,
    /// Their REAL inputs, compensated; one makes SUM's result REAL.
    floats: Compensated,
    any_float: bool,
    best: Option<Value>,
    seen: Option<HashSet<Vec<u8>>>,
}

impl Accumulator {
    fn new(call: &AggregateCall) -> Self {
        Accumulator {
            count: 0,
            int_sum: Some(0),
            floats: Compensated::default(),
            any_float: false,
            best: None,
            seen: call.distinct.then(HashSet::new),
        }
    }

    fn add(&mut self, call: &AggregateCall, row: &[Value]) -> Result<()> {
        let Some(arg) = &call.arg else {
            self.count += 1;
            return Ok(());
        };
        let v = operand(arg, row)?;
        if v.is_null() {
            return Ok(());
        }
        if let Some(seen) = &mut self.seen {
            let mut k = Vec::new();
            group_key(&v, &mut k);
            if !seen.insert(k) {
                return Ok(());
            }
        }
        self.count += 1;
        match call.func {
            AggregateFn::CountStar | AggregateFn::Count => {}
            AggregateFn::Sum | AggregateFn::Avg => {
                let mismatch = || {
                    Error::Sql(format!(
                        "type mismatch: {}() of {}",
                        call.func.name(),
                        v.type_name()
                    ))
                };
                match (&*v, v.as_integer()) {
                    (_, Some(i)) => self.int_sum = self.int_sum.and_then(|s| s.checked_add(i)),
                    (Value::Float(f), _) => {
                        self.floats.add(*f);
                        self.any_float = true;
                    }
                    _ => return Err(mismatch()),
                }
            }
            AggregateFn::Min | AggregateFn::Max => {
                let replace = match &self.best {
                    None => true,
                    Some(b) => {
                        let o = sort_cmp(&v, b);
                        if call.func == AggregateFn::Min {
                            o == Ordering::Less
                        } else {
                            o == Ordering::Greater
                        }
                    }
                };
                if replace {
                    self.best = Some(v.into_owned());
                }
            }
        }
        Ok(())
    }

    /// The sum of every input as one float: the exact integer sum and the compensated float
    /// sum joined by one more compensated step, so integers alone are rounded once.
    fn real_sum(&self, call: &AggregateCall) -> Result<f64> {
        let ints = self
            .int_sum
            .ok_or_else(|| Error::Sql(format!("integer overflow in {}()", call.func.name())))?;
        let mut all = Compensated::of_integer(ints);
        all.add(self.floats.sum);
        all.err += self.floats.err;
        Ok(all.total())
    }

    fn finish(self, call: &AggregateCall) -> Result<Value> {
        Ok(match call.func {
            AggregateFn::CountStar | AggregateFn::Count => Value::Int(self.count),
            AggregateFn::Sum | AggregateFn::Avg if self.count == 0 => Value::Null,
            AggregateFn::Sum if self.any_float => float(self.real_sum(call)?),
            AggregateFn::Sum => self
                .int_sum
                .and_then(Value::from_integer)
                .ok_or_else(|| Error::Sql("integer overflow in sum()".into()))?,
            #[expect(clippy::cast_precision_loss, reason = "a count of rows")]
            AggregateFn::Avg => float(self.real_sum(call)? / self.count as f64),
            AggregateFn::Min | AggregateFn::Max => self.best.unwrap_or(Value::Null),
        })
    }
}

/// Groups rows as they arrive and computes the aggregates (see the module docs).
pub struct Groups<'a> {
    group_by: &'a [Expr],
    aggregates: &'a [AggregateCall],
    /// Group key → position in `groups`.
    index: HashMap<Vec<u8>, usize>,
    /// Group values and accumulators, in order of first appearance.
    groups: Vec<(Vec<Value>, Vec<Accumulator>)>,
    /// The current row's group key (reused).
    key: Vec<u8>,
}

impl<'a> Groups<'a> {
    /// No rows yet: without GROUP BY, the one group already exists.
    pub fn new(group_by: &'a [Expr], aggregates: &'a [AggregateCall]) -> Self {
        let mut g = Groups {
            group_by,
            aggregates,
            index: HashMap::new(),
            groups: Vec::new(),
            key: Vec::new(),
        };
        if group_by.is_empty() {
            g.groups.push((vec![], g.fresh()));
            g.index.insert(vec![], 0);
        }
        g
    }

    fn fresh(&self) -> Vec<Accumulator> {
        self.aggregates.iter().map(Accumulator::new).collect()
    }

    /// Adds one input row to its group.
    pub fn add(&mut self, row: &[Value]) -> Result<()> {
        self.key.clear();
        for g in self.group_by {
            group_key(&*operand(g, row)?, &mut self.key);
        }
        let slot = match self.index.get(self.key.as_slice()) {
            Some(&i) => i,
            None => {
                let values = self
                    .group_by
                    .iter()
                    .map(|g| eval(g, row))
                    .collect::<Result<Vec<_>>>()?;
                let fresh = self.fresh();
                self.groups.push((values, fresh));
                self.index.insert(self.key.clone(), self.groups.len() - 1);
                self.groups.len() - 1
            }
        };
        if let Some((_, accs)) = self.groups.get_mut(slot) {
            for (acc, call) in accs.iter_mut().zip(self.aggregates) {
                acc.add(call, row)?;
            }
        }
        Ok(())
    }

    /// One row per group: its group values, then its aggregate results (an error when a SUM
    /// overflows).
    pub fn finish(self) -> Result<Vec<Row>> {
        let aggregates = self.aggregates;
        self.groups
            .into_iter()
            .map(|(mut values, accs)| {
                for (a, c) in accs.into_iter().zip(aggregates) {
                    values.push(a.finish(c)?);
                }
                Ok(values)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(func: AggregateFn, values: &[Value]) -> Result<Value> {
        let call = AggregateCall {
            func,
            arg: Some(Expr::Column {
                index: 0,
                label: "x".into(),
            }),
            distinct: false,
        };
        let mut acc = Accumulator::new(&call);
        for v in values {
            acc.add(&call, std::slice::from_ref(v))?;
        }
        acc.finish(&call)
    }

    fn floats(values: &[f64]) -> Vec<Value> {
        values.iter().map(|&f| Value::Float(f)).collect()
    }

    /// AVG divides the exact integer sum, rounded once (adding each input as a float lost
    /// integers past 2^53). The expected values are SQLite's.
    #[test]
    fn avg_of_integers_rounds_their_exact_sum_once() -> Result<()> {
        let avg = |v: &[i64]| {
            run(
                AggregateFn::Avg,
                &v.iter().map(|&i| Value::Int(i)).collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            avg(&[i64::MAX, 1, -i64::MAX])?,
            Value::Float(0.333_333_333_333_333_3)
        );
        assert_eq!(
            avg(&[9_007_199_254_740_992, 1, 1])?,
            Value::Float(3_002_399_751_580_331.5)
        );
        assert_eq!(
            avg(&[i64::MAX, i64::MAX])?,
            Value::Float(9.223_372_036_854_776e18)
        );
        // Integers above i64::MAX too, and mixed with REALs.
        assert_eq!(
            run(
                AggregateFn::Avg,
                &[Value::UInt(u64::MAX), Value::Int(-1), Value::Float(0.5)]
            )?,
            Value::Float((u64::MAX as f64 - 1.0 + 0.5) / 3.0)
        );
        Ok(())
    }

    /// REAL inputs are summed with Neumaier's compensation, as SQLite does (the expected values
    /// are SQLite 3.46's).
    #[test]
    fn real_sums_are_compensated() -> Result<()> {
        let v = floats(&[1e16, 1.0, -1e16, 0.1, 0.2]);
        assert_eq!(run(AggregateFn::Sum, &v)?, Value::Float(1.3));
        assert_eq!(run(AggregateFn::Avg, &v)?, Value::Float(0.26));
        let tenths = floats(&[0.1; 10]);
        assert_eq!(run(AggregateFn::Sum, &tenths)?, Value::Float(1.0));
        // Integers join the compensated float sum exactly.
        let mixed = [
            Value::Float(1e16),
            Value::Int(1),
            Value::Float(-1e16),
            Value::Int(2),
        ];
        assert_eq!(run(AggregateFn::Sum, &mixed)?, Value::Float(3.0));
        // Overflow: the sum is infinite (its error term, NaN or infinite, is left out).
        assert_eq!(
            run(AggregateFn::Sum, &floats(&[1e308, 1e308]))?,
            Value::Float(f64::INFINITY)
        );
        assert_eq!(
            run(AggregateFn::Sum, &floats(&[1e308, 1e308, -1e308]))?,
            Value::Float(f64::INFINITY)
        );
        Ok(())
    }

    /// A NaN result is NULL, as every NaN SQL would make.
    #[test]
    fn a_nan_sum_or_average_is_null() -> Result<()> {
        let v = floats(&[f64::INFINITY, f64::NEG_INFINITY]);
        assert_eq!(run(AggregateFn::Sum, &v)?, Value::Null);
        assert_eq!(run(AggregateFn::Avg, &v)?, Value::Null);
        let stored_nan = floats(&[1.0, f64::NAN]);
        assert_eq!(run(AggregateFn::Sum, &stored_nan)?, Value::Null);
        assert_eq!(run(AggregateFn::Avg, &[])?, Value::Null);
        Ok(())
    }
}
