//! Aggregates in SQL over a typed collection: `GROUP BY` / `HAVING` with `COUNT`, `SUM`, `AVG`,
//! `MIN` and `MAX`, printed as tables and read back into structs with `query_as`.
//!
//! ```text
//! cargo run --example aggregate_demo
//! ```

use rustlite::{params, Collection, Database, QueryResult, Value};
use serde::{Deserialize, Serialize};

/// One sale; the collection is the SQL table `sales`.
#[derive(Debug, Serialize, Deserialize, Collection)]
#[collection(name = "sales")]
struct Sale {
    #[key]
    id: u64,
    #[index]
    region: String,
    product: String,
    units: i64,
    cents: i64,
}

/// One row of the per-region report, read back by column name.
#[derive(Debug, Deserialize)]
struct RegionReport {
    region: String,
    sales: i64,
    revenue: i64,
    avg_units: f64,
}

fn print(title: &str, result: &QueryResult) {
    println!("\n{title}");
    let cell = |v: &Value| match v {
        Value::Float(f) => format!("{f:.2}"),
        other => other.to_string(),
    };
    let rows: Vec<Vec<String>> = result
        .rows
        .iter()
        .map(|r| r.iter().map(cell).collect())
        .collect();
    let widths: Vec<usize> = (0..result.columns.len())
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i).map(String::len))
                .chain([result.columns[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:>w$}"))
            .collect();
        println!("  {}", padded.join("  "));
    };
    line(&result.columns);
    for row in &rows {
        line(row);
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let db = Database::in_memory()?;
    let sales = db.collection::<Sale>()?;
    let data = [
        ("north", "widget", 3, 1_500),
        ("north", "gadget", 1, 9_900),
        ("north", "widget", 7, 3_500),
        ("south", "widget", 2, 1_000),
        ("south", "gizmo", 5, 12_500),
        ("east", "gadget", 2, 19_800),
        ("east", "gizmo", 1, 2_500),
        ("east", "widget", 10, 5_000),
        ("east", "widget", 4, 2_000),
        ("west", "gizmo", 1, 2_500),
    ];
    for (i, (region, product, units, cents)) in data.into_iter().enumerate() {
        sales.insert(&Sale {
            id: i as u64 + 1,
            region: region.into(),
            product: product.into(),
            units,
            cents,
        })?;
    }
    println!(
        "inserted {} sales through the typed collection",
        sales.count()?
    );

    let totals = db.query(
        "SELECT count(*) AS sales, sum(units) AS units, sum(cents) AS revenue, \
                avg(cents) AS avg_cents, min(cents) AS smallest, max(cents) AS largest \
         FROM sales",
        params![],
    )?;
    print("All sales: COUNT, SUM, AVG, MIN, MAX", &totals);

    let by_product = db.query(
        "SELECT product, count(*) AS sales, sum(units) AS units, min(cents) AS min_cents, \
                max(cents) AS max_cents \
         FROM sales GROUP BY product ORDER BY units DESC",
        params![],
    )?;
    print("GROUP BY product, ordered by units sold", &by_product);

    let sql = "SELECT region, count(*) AS sales, sum(cents) AS revenue, avg(units) AS avg_units \
               FROM sales GROUP BY region HAVING count(*) >= ? ORDER BY revenue DESC";
    print(
        "GROUP BY region HAVING count(*) >= 2",
        &db.query(sql, params![2])?,
    );
    let report: Vec<RegionReport> = db.query_as(sql, params![2])?;
    println!("\nthe same rows through query_as::<RegionReport>:");
    for r in &report {
        println!(
            "  {:<6} {} sales, ${:.2} revenue, {:.1} units on average",
            r.region,
            r.sales,
            r.revenue as f64 / 100.0,
            r.avg_units
        );
    }

    // EXPLAIN plans without running; parameters are bound at run time, so show it with a literal.
    let plan = db.explain(&sql.replace('?', "2"))?;
    println!("\nplan of the grouped query:\n{plan}");
    Ok(())
}
