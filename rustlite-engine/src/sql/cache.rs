//! Caches that spare a repeated statement the work that does not depend on its snapshot:
//! the parsed statement and the reusable plan, keyed by the SQL text, and the decoded table
//! schema, keyed by the bytes of its catalog entry.
//!
//! ```text
//! "SELECT * FROM t WHERE id = ?" ──PlanCache──────▶ Prepared (checked against t, then bound)
//! "SELECT * FROM t WHERE id = ?" ──StatementCache─▶ ast::Statement   (then planned per call)
//! catalog entry bytes of t       ──SchemaCache────▶ (Arc<TableSchema>, TableInfo)
//! ```
//!
//! # Why none can go stale
//! The statement and schema caches map a key to a pure function of that key, so an entry is
//! never invalidated: it is only ever evicted. A reusable plan is checked on every use.
//! - Parsing and translation ([`translate::parse`](super::translate::parse)) read nothing but
//!   the text: the cached [`Statement`](super::ast::Statement) holds table and column *names*, never positions, ids or
//!   indexes.
//! - A reusable plan ([`Prepared`]) records the table descriptions it was planned against;
//!   each use looks them up again through the statement's transaction (its snapshot, its own
//!   DDL, its Serializable read set) and plans afresh unless all are equal, so a
//!   `CREATE INDEX`, `DROP TABLE` or a changed field list between two calls is always
//!   honoured. Parameters are bound into it per call, with the access path they allow. A
//!   statement that cannot be planned without its values (`LIMIT ?`), and every write and
//!   DDL, is marked "planned per call" and planned from its cached parse.
//! - A schema is looked up by first reading its catalog entry through the statement's
//!   transaction (its snapshot and its own DDL), then by those bytes: equal bytes decode to an
//!   equal schema. What is saved is the MessagePack decode and the `TableInfo` construction.
//!
//! # Bounds
//! All are per thread (no lock on the query path) and bounded: at most
//! [`STATEMENT_CAPACITY`] statements and as many plans, of at most [`MAX_CACHED_SQL_BYTES`]
//! bytes of text each, evicted least recently used first, and at most [`SCHEMA_CAPACITY`]
//! schemas (cleared when full).

use super::planner::prepared::Prepared;
use super::storage::TableInfo;
use super::translate::Parsed;
use crate::catalog::TableSchema;
use crate::error::Result;
use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// Most statements cached per thread.
pub const STATEMENT_CAPACITY: usize = 128;
/// Longest statement text that is cached (longer ones are parsed every time).
pub const MAX_CACHED_SQL_BYTES: usize = 16 * 1024;
/// Most decoded schemas cached per thread.
pub const SCHEMA_CAPACITY: usize = 256;

/// Hashes a SQL text with one `xxh3` call (plus one for `str`'s terminator byte) instead of
/// SipHash: every repeated statement hashes its whole text once per lookup. SipHash's keyed
/// defence against chosen collisions buys nothing here: a cache holds at most
/// [`STATEMENT_CAPACITY`] entries, so even texts made to collide cost a bounded scan.
#[derive(Clone, Copy, Default)]
pub struct TextHasher(u64);

impl std::hash::Hasher for TextHasher {
    fn write(&mut self, bytes: &[u8]) {
        self.0 = xxhash_rust::xxh3::xxh3_64_with_seed(bytes, self.0);
    }

    fn write_u8(&mut self, b: u8) {
        self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// A bounded LRU by SQL text.
pub struct TextCache<V> {
    entries: HashMap<String, (V, u64), FastHash>,
    tick: u64,
}

impl<V> Default for TextCache<V> {
    fn default() -> Self {
        TextCache {
            entries: HashMap::default(),
            tick: 0,
        }
    }
}

impl<V: Clone> TextCache<V> {
    /// The value cached for `sql` (marked recently used).
    pub fn get(&mut self, sql: &str) -> Option<V> {
        self.tick += 1;
        let (v, used) = self.entries.get_mut(sql)?;
        *used = self.tick;
        Some(v.clone())
    }

    /// Caches `v` for `sql` when the text is short enough, evicting the least recently used
    /// entry when full.
    pub fn insert(&mut self, sql: &str, v: V) {
        if sql.len() > MAX_CACHED_SQL_BYTES {
            return;
        }
        self.tick += 1;
        if let Some(entry) = self.entries.get_mut(sql) {
            *entry = (v, self.tick);
            return;
        }
        if self.entries.len() >= STATEMENT_CAPACITY {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone());
            if let Some(k) = oldest {
                self.entries.remove(&k);
            }
        }
        self.entries.insert(sql.to_string(), (v, self.tick));
    }

    /// Number of cached entries.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is cached.
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Parsed statements by SQL text.
pub type StatementCache = TextCache<Parsed>;

impl StatementCache {
    /// The statement for `sql`: a clone of the cached parse, or `parse(sql)` (cached on
    /// success when short enough).
    pub fn get_or_parse(
        &mut self,
        sql: &str,
        parse: impl FnOnce(&str) -> Result<Parsed>,
    ) -> Result<Parsed> {
        if let Some(stmt) = self.get(sql) {
            return Ok(stmt);
        }
        let stmt = parse(sql)?;
        self.insert(sql, stmt.clone());
        Ok(stmt)
    }
}

/// Reusable plans by SQL text; `None` marks a statement that is planned per call.
pub type PlanCache = TextCache<Option<Arc<Prepared>>>;

/// Decoded schemas by the bytes of their catalog entry, and the planner's views of schemas
/// taken from the engine's catalog cache by their identity.
#[derive(Default)]
pub struct SchemaCache {
    entries: HashMap<Vec<u8>, (Arc<TableSchema>, Arc<TableInfo>), FastHash>,
    /// Keyed by `Arc::as_ptr`; the value holds the `Arc`, so the address cannot be reused by
    /// another schema while it is a key.
    by_identity: HashMap<usize, (Arc<TableSchema>, Arc<TableInfo>), FastHash>,
}

/// [`TextHasher`] for the schema caches too (bounded by [`SCHEMA_CAPACITY`], so chosen
/// collisions cost a bounded scan here as well).
type FastHash = std::hash::BuildHasherDefault<TextHasher>;

impl SchemaCache {
    /// The schema stored as `entry`: cached, or `decode(entry)` (then cached).
    pub fn get_or_decode(
        &mut self,
        entry: Vec<u8>,
        decode: impl FnOnce(&[u8]) -> Result<Arc<TableSchema>>,
    ) -> Result<(Arc<TableSchema>, Arc<TableInfo>)> {
        if let Some((s, i)) = self.entries.get(&entry) {
            return Ok((Arc::clone(s), Arc::clone(i)));
        }
        let schema = decode(&entry)?;
        let info = self.info_for(&schema);
        if self.entries.len() >= SCHEMA_CAPACITY {
            self.entries.clear();
        }
        self.entries
            .insert(entry, (Arc::clone(&schema), Arc::clone(&info)));
        Ok((schema, info))
    }

    /// The planner's view of `schema` (a schema from the engine's catalog cache): cached by the
    /// schema's identity, or built.
    pub fn info_of(&mut self, schema: Arc<TableSchema>) -> (Arc<TableSchema>, Arc<TableInfo>) {
        let id = Arc::as_ptr(&schema) as usize;
        if let Some((s, i)) = self.by_identity.get(&id) {
            if Arc::ptr_eq(s, &schema) {
                return (schema, Arc::clone(i));
            }
        }
        let info = self.info_for(&schema);
        if self.by_identity.len() >= SCHEMA_CAPACITY {
            self.by_identity.clear();
        }
        self.by_identity
            .insert(id, (Arc::clone(&schema), Arc::clone(&info)));
        (schema, info)
    }
}

impl SchemaCache {
    /// The planner's view of `schema`: the one already cached for an equal schema (either
    /// map), else built. Sharing it keeps a reusable plan's table check a pointer comparison
    /// when the plan was made from a decoded entry and is checked against the engine's
    /// catalog cache, or the other way round ([`Prepared::is_current`]).
    fn info_for(&self, schema: &TableSchema) -> Arc<TableInfo> {
        self.entries
            .values()
            .chain(self.by_identity.values())
            .find(|(s, _)| **s == *schema)
            .map(|(_, i)| Arc::clone(i))
            .unwrap_or_else(|| Arc::new(super::table_storage::table_info(schema)))
    }
}

thread_local! {
    static STATEMENTS: RefCell<StatementCache> = RefCell::new(StatementCache::default());
    static PLANS: RefCell<PlanCache> = RefCell::new(PlanCache::default());
    static SCHEMAS: RefCell<SchemaCache> = RefCell::new(SchemaCache::default());
}

/// [`StatementCache::get_or_parse`] on this thread's cache with the real parser.
pub fn parsed(sql: &str) -> Result<Parsed> {
    STATEMENTS.with(|c| {
        c.borrow_mut()
            .get_or_parse(sql, super::translate::parse_counted)
    })
}

/// The statement of [`parsed`].
#[cfg(test)]
pub fn statement(sql: &str) -> Result<super::ast::Statement> {
    parsed(sql).map(|p| p.statement)
}

/// This thread's entry for `sql` in the plan cache: `None` when there is none,
/// `Some(None)` when the statement is planned per call.
pub fn plan(sql: &str) -> Option<Option<Arc<Prepared>>> {
    PLANS.with(|c| c.borrow_mut().get(sql))
}

/// Caches `prepared` (or "planned per call") for `sql` on this thread.
pub fn set_plan(sql: &str, prepared: Option<Arc<Prepared>>) {
    PLANS.with(|c| c.borrow_mut().insert(sql, prepared));
}

/// [`SchemaCache::get_or_decode`] on this thread's cache.
pub fn schema(
    entry: Vec<u8>,
    decode: impl FnOnce(&[u8]) -> Result<Arc<TableSchema>>,
) -> Result<(Arc<TableSchema>, Arc<TableInfo>)> {
    SCHEMAS.with(|c| c.borrow_mut().get_or_decode(entry, decode))
}

/// [`SchemaCache::info_of`] on this thread's cache.
pub fn info_of(schema: Arc<TableSchema>) -> (Arc<TableSchema>, Arc<TableInfo>) {
    SCHEMAS.with(|c| c.borrow_mut().info_of(schema))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use crate::sql::ast::Statement;

    #[test]
    fn statements_are_parsed_once_and_evicted_least_recently_used() {
        let mut c = StatementCache::default();
        let mut parses = 0;
        for _ in 0..3 {
            let s = c
                .get_or_parse("SELECT 1", |sql| {
                    parses += 1;
                    super::super::translate::parse_counted(sql)
                })
                .expect("parses");
            assert!(matches!(s.statement, Statement::Select(_)));
        }
        assert_eq!(parses, 1);
        for i in 0..STATEMENT_CAPACITY {
            c.get_or_parse(
                &format!("SELECT {i}"),
                super::super::translate::parse_counted,
            )
            .expect("parses");
            // Keep "SELECT 1" recently used.
            c.get_or_parse("SELECT 1", |_| panic!("cached"))
                .expect("cached");
        }
        assert_eq!(c.len(), STATEMENT_CAPACITY);
        c.get_or_parse("SELECT 1", |_| panic!("still cached"))
            .expect("cached");
    }

    /// A schema decoded from its entry and an equal one from the engine's catalog cache (another
    /// `Arc`) get the same planner view, so a plan made from one checks against the other by
    /// pointer; a different schema gets its own.
    #[test]
    fn equal_schemas_share_their_planner_view() -> Result<()> {
        use crate::catalog::{FieldDef, FieldType, Schema};
        let table = |n: &str| TableSchema {
            id: 7,
            schema: Schema {
                name: "t".into(),
                fields: vec![FieldDef::new(n, FieldType::Int, false)],
                key_fields: vec![n.into()],
                indexes: vec![],
            },
            indexes: vec![],
        };
        let mut c = SchemaCache::default();
        let (_, decoded) = c.get_or_decode(b"entry".to_vec(), |_| Ok(Arc::new(table("id"))))?;
        let (_, cached) = c.info_of(Arc::new(table("id")));
        assert!(Arc::ptr_eq(&decoded, &cached));
        let (_, again) = c.get_or_decode(b"other bytes".to_vec(), |_| Ok(Arc::new(table("id"))))?;
        assert!(Arc::ptr_eq(&decoded, &again));
        let (_, other) = c.info_of(Arc::new(table("k")));
        assert!(!Arc::ptr_eq(&decoded, &other));
        assert_eq!(other.columns[0].name, "k");
        Ok(())
    }

    #[test]
    fn errors_and_long_statements_are_not_cached() {
        let mut c = StatementCache::default();
        let bad = c.get_or_parse("SELEC 1", super::super::translate::parse_counted);
        assert!(matches!(bad, Err(Error::Sql(_))));
        assert!(c.is_empty());
        let long = format!("SELECT 1{}", " ".repeat(MAX_CACHED_SQL_BYTES));
        c.get_or_parse(&long, super::super::translate::parse_counted)
            .expect("parses");
        assert!(c.is_empty());
    }

    /// The same SQL text, run again after DDL, is planned against the new catalog: a new
    /// index is used, a dropped table is an error, a recreated or altered table shows its new
    /// columns, and a transaction at an older snapshot keeps its own view.
    #[test]
    fn cached_statements_follow_catalog_changes() -> Result<()> {
        use crate::catalog::{Catalog, FieldDef, FieldType};
        use crate::sql::{execute, explain};
        use crate::value::Value;
        use crate::{Engine, IsolationLevel, Options};
        let engine = Engine::open_in_memory(Options::default())?;
        // The one parameter of the queries below is 7.
        let params = |sql: &str| {
            if sql.contains('?') {
                vec![Value::Int(7)]
            } else {
                vec![]
            }
        };
        let run = |sql: &str| -> Result<crate::sql::QueryResult> {
            let mut tx = engine.begin(IsolationLevel::default());
            let r = execute(&mut tx, sql, &params(sql))?;
            tx.commit()?;
            Ok(r)
        };
        let plan = |sql: &str| -> Result<String> {
            let mut tx = engine.begin(IsolationLevel::default());
            explain(&mut tx, sql, &params(sql))
        };
        run("CREATE TABLE t (id INTEGER PRIMARY KEY, a INTEGER)")?;
        run("INSERT INTO t VALUES (1, 7), (2, 8)")?;
        let query = "SELECT * FROM t WHERE a = ?";
        assert!(plan(query)?.contains("Scan t"), "{}", plan(query)?);
        assert_eq!(run(query)?.rows, [[Value::Int(1), Value::Int(7)]]);

        let old = engine.begin(IsolationLevel::RepeatableRead);
        run("CREATE INDEX t_a ON t (a)")?;
        assert!(plan(query)?.contains("IndexScan t.a = 7 via t_a"));
        assert_eq!(run(query)?.rows, [[Value::Int(1), Value::Int(7)]]);
        let mut old = old;
        assert!(explain(&mut old, query, &[Value::Int(7)])?.contains("Scan t"));
        assert!(!explain(&mut old, query, &[Value::Int(7)])?.contains("IndexScan"));
        assert_eq!(
            execute(&mut old, query, &[Value::Int(7)])?.rows,
            [[Value::Int(1), Value::Int(7)]]
        );
        drop(old);

        run("DROP INDEX t_a")?;
        assert!(!plan(query)?.contains("IndexScan"));
        run("DROP TABLE t")?;
        assert!(matches!(run(query), Err(Error::Sql(m)) if m.contains("unknown table t")));

        run("CREATE TABLE t (id INTEGER PRIMARY KEY, b TEXT, a INTEGER)")?;
        run("INSERT INTO t VALUES (5, 'x', 7)")?;
        let r = run(query)?;
        assert_eq!(*r.columns, ["id", "b", "a"]);
        assert_eq!(
            r.rows,
            [[Value::Int(5), Value::Text("x".into()), Value::Int(7)]]
        );

        // A field added through the catalog (the typed layer's schema change).
        let mut tx = engine.begin(IsolationLevel::default());
        let mut fields = Catalog::table(&mut tx, "t")?
            .map(|t| t.schema.fields.clone())
            .unwrap_or_default();
        fields.push(FieldDef::new("c", FieldType::Int, true));
        Catalog::set_fields(&mut tx, "t", fields)?;
        // The transaction's own DDL is visible to its next statement.
        assert_eq!(
            *execute(&mut tx, query, &[Value::Int(7)])?.columns,
            ["id", "b", "a", "c"]
        );
        tx.commit()?;
        let r = run(query)?;
        assert_eq!(*r.columns, ["id", "b", "a", "c"]);
        assert_eq!(r.rows[0][3], Value::Null);
        Ok(())
    }

    /// A repeated SELECT loads the engine's catalog cache, so its tables are looked up without
    /// reading their entries; a write does not (see `TableStorage::loading_catalog`).
    #[test]
    fn repeated_selects_load_the_catalog_cache() -> Result<()> {
        use crate::catalog::Catalog;
        use crate::sql::execute;
        use crate::value::Value;
        use crate::{Engine, IsolationLevel, Options};
        let engine = Engine::open_in_memory(Options::default())?;
        let mut tx = engine.begin(IsolationLevel::default());
        execute(&mut tx, "CREATE TABLE cc (id INTEGER PRIMARY KEY)", &[])?;
        execute(&mut tx, "INSERT INTO cc VALUES (1)", &[])?;
        tx.commit()?;
        let cached = || Catalog::cached_table(&mut engine.begin(IsolationLevel::default()), "cc");
        assert!(cached().is_none());
        for _ in 0..2 {
            let mut tx = engine.begin(IsolationLevel::Serializable);
            let r = execute(&mut tx, "SELECT id FROM cc WHERE id = ?", &[Value::Int(1)])?;
            assert_eq!(r.rows, [[Value::Int(1)]]);
            tx.commit()?;
        }
        assert!(cached().is_some());
        Ok(())
    }
}
