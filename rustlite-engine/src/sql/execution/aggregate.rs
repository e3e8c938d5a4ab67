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

use crate::error::{Error, Result};
use crate::sql::ast::{AggregateFn, Expr};
use crate::sql::eval::{eval, group_key, operand, sort_cmp};
use crate::sql::planner::plan::AggregateCall;
use crate::sql::storage::Row;
use crate::value::Value;
use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};

/// Running state of one aggregate in one group.
#[derive(Clone, Debug)]
struct Accumulator {
    count: i64,
    /// SUM's integer inputs, summed exactly (`None` once past i128, which no realistic input
    /// reaches), and its float inputs; a float input makes the sum REAL.
    int_sum: Option<i128>,
    float_part: f64,
    any_float: bool,
    /// Every input as a float, for AVG.
    float_sum: f64,
    best: Option<Value>,
    seen: Option<HashSet<Vec<u8>>>,
}

impl Accumulator {
    fn new(call: &AggregateCall) -> Self {
        Accumulator {
            count: 0,
            int_sum: Some(0),
            float_part: 0.0,
            any_float: false,
            float_sum: 0.0,
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
                        self.float_part += f;
                        self.any_float = true;
                    }
                    _ => return Err(mismatch()),
                }
                self.float_sum += v.as_f64().unwrap_or(0.0);
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

    fn finish(self, call: &AggregateCall) -> Result<Value> {
        Ok(match call.func {
            AggregateFn::CountStar | AggregateFn::Count => Value::Int(self.count),
            AggregateFn::Sum if self.count == 0 => Value::Null,
            AggregateFn::Sum if self.any_float => {
                #[expect(clippy::cast_precision_loss, reason = "a REAL sum")]
                let ints = self
                    .int_sum
                    .map_or(self.float_sum - self.float_part, |i| i as f64);
                Value::Float(ints + self.float_part)
            }
            AggregateFn::Sum => self
                .int_sum
                .and_then(Value::from_integer)
                .ok_or_else(|| Error::Sql("integer overflow in sum()".into()))?,
            AggregateFn::Avg => {
                if self.count == 0 {
                    Value::Null
                } else {
                    Value::Float(self.float_sum / self.count as f64)
                }
            }
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
