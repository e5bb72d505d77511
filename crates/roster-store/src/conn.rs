//! The one seam between Roster's SQL and a backend. Queries are written once, with `$N`
//! placeholders that SQLite and PostgreSQL both accept, and run through [`Conn`], which
//! each backend implements by binding [`Arg`]s to its own query type.

use async_trait::async_trait;
use sqlx::{PgConnection, SqliteConnection, postgres::PgRow, sqlite::SqliteRow};

use crate::StoreResult;

/// SQL text. Most queries are string literals; some are assembled at run time, but only
/// from literal fragments of this crate (filters present, table lists): input always travels
/// as a bound [`Arg`], never inside the text.
pub type Sql = std::borrow::Cow<'static, str>;

fn safe(sql: impl Into<Sql>) -> sqlx::AssertSqlSafe<Sql> {
    sqlx::AssertSqlSafe(sql.into())
}

/// The type of a column, for code that copies rows without knowing their struct.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    OptInt,
    Text,
    Bool,
}

/// A bound parameter.
#[derive(Debug, Clone)]
pub enum Arg {
    Text(Option<String>),
    Int(i64),
    OptInt(Option<i64>),
    Bool(bool),
}

impl From<&str> for Arg {
    fn from(s: &str) -> Self {
        Arg::Text(Some(s.to_string()))
    }
}

impl From<String> for Arg {
    fn from(s: String) -> Self {
        Arg::Text(Some(s))
    }
}

impl From<Option<String>> for Arg {
    fn from(s: Option<String>) -> Self {
        Arg::Text(s)
    }
}

impl From<i64> for Arg {
    fn from(n: i64) -> Self {
        Arg::Int(n)
    }
}

impl From<bool> for Arg {
    fn from(b: bool) -> Self {
        Arg::Bool(b)
    }
}

/// `LIMIT` and `OFFSET` of a list, as parameters. Offsets are signed 64-bit in SQL; a
/// larger one is simply past the end.
pub fn page_args(page: roster_domain::Page) -> [Arg; 2] {
    [
        Arg::Int(i64::from(page.limit)),
        Arg::Int(i64::try_from(page.offset).unwrap_or(i64::MAX)),
    ]
}

/// A list query whose WHERE clause grows by the filters present, so the planner can use
/// the index that fits them. Fragments are literals of this crate; values are bound.
pub struct Filtered {
    sql: String,
    args: Vec<Arg>,
}

impl Filtered {
    /// `head` ends in a WHERE clause over `args`.
    pub fn new(head: &str, args: Vec<Arg>) -> Self {
        Self {
            sql: head.to_string(),
            args,
        }
    }

    /// Appends `fragment` (`" AND ..."`), in which `$N` stands for `value`.
    pub fn and(&mut self, fragment: &str, value: impl Into<Arg>) {
        self.args.push(value.into());
        self.sql
            .push_str(&fragment.replace("$N", &format!("${}", self.args.len())));
    }

    /// Appends a fragment that binds nothing (a closing parenthesis).
    pub fn push(&mut self, fragment: &'static str) {
        self.sql.push_str(fragment);
    }

    /// The finished query: ordered, then limited to one page.
    pub fn page(mut self, order_by: &str, page: roster_domain::Page) -> (Sql, Vec<Arg>) {
        let n = self.args.len();
        self.sql.push_str(&format!(
            " ORDER BY {order_by} LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        ));
        self.args.extend(page_args(page));
        (self.sql.into(), self.args)
    }
}

/// `args![a, b, c]`: a parameter list.
macro_rules! args {
    ($($value:expr),* $(,)?) => { vec![$($crate::conn::Arg::from($value)),*] };
}
pub(crate) use args;

/// A row type both backends can decode (every `#[derive(FromRow)]` struct of this crate).
pub trait RowType:
    for<'r> sqlx::FromRow<'r, SqliteRow> + for<'r> sqlx::FromRow<'r, PgRow> + Send + Unpin + 'static
{
}
impl<T> RowType for T where
    T: for<'r> sqlx::FromRow<'r, SqliteRow>
        + for<'r> sqlx::FromRow<'r, PgRow>
        + Send
        + Unpin
        + 'static
{
}

#[async_trait]
pub trait Conn: Send {
    /// Whether `SELECT ... FOR UPDATE` is needed (and understood) to lock rows read for a
    /// write. SQLite's write transactions already exclude each other.
    const ROW_LOCKS: bool;
    /// Whether long generated statements should use anonymous `?` parameters: SQLite
    /// finds each numbered one (`$7`) by a linear search of the names, which made binding
    /// a 7,000-parameter INSERT quadratic. See [`Params`].
    const ANONYMOUS_PARAMS: bool;

    /// A select-list expression gathering `columns` of every row into one JSON array of
    /// arrays, as text (`[]` without rows): a query selecting it answers with one row.
    fn json_rows(columns: &str) -> String;

    async fn fetch_all<T: RowType>(
        &mut self,
        sql: impl Into<Sql> + Send,
        args: Vec<Arg>,
    ) -> StoreResult<Vec<T>>;
    async fn fetch_optional<T: RowType>(
        &mut self,
        sql: impl Into<Sql> + Send,
        args: Vec<Arg>,
    ) -> StoreResult<Option<T>>;
    /// Returns the number of rows affected.
    async fn execute(&mut self, sql: impl Into<Sql> + Send, args: Vec<Arg>) -> StoreResult<u64>;
    /// Returns each row's cells, read as `kinds` says (for code that copies rows without
    /// knowing their struct).
    async fn fetch_cells(
        &mut self,
        sql: impl Into<Sql> + Send,
        args: Vec<Arg>,
        kinds: &[Kind],
    ) -> StoreResult<Vec<Vec<Arg>>>;
    /// Holds, until the transaction ends, a lock on each key, so writers that could touch
    /// the same identity run one after the other.
    async fn lock_keys(&mut self, keys: &mut Vec<String>) -> StoreResult<()>;
}

fn cells<R: sqlx::Row>(row: &R, kinds: &[Kind]) -> StoreResult<Vec<Arg>>
where
    usize: sqlx::ColumnIndex<R>,
    i64: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<i64>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    bool: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'r> sqlx::Decode<'r, R::Database> + sqlx::Type<R::Database>,
{
    kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            Ok(match kind {
                Kind::Int => Arg::Int(row.try_get(i)?),
                Kind::OptInt => Arg::OptInt(row.try_get(i)?),
                Kind::Bool => Arg::Bool(row.try_get(i)?),
                Kind::Text => Arg::Text(row.try_get(i)?),
            })
        })
        .collect()
}

macro_rules! bind_all {
    ($query:expr, $args:expr) => {{
        let mut query = $query;
        for arg in $args {
            query = match arg {
                Arg::Text(text) => query.bind(text),
                Arg::Int(n) => query.bind(n),
                Arg::OptInt(n) => query.bind(n),
                Arg::Bool(b) => query.bind(b),
            };
        }
        query
    }};
}

/// `impl Conn` for a backend's connection type: the methods both backends share, plus
/// the backend's own `lock_keys`.
macro_rules! impl_conn {
    ($conn:ty, $db:ty, row_locks: $row_locks:expr, anonymous_params: $anonymous:expr,
     json_rows: $json_rows:expr, $lock_keys:item) => {
        #[async_trait]
        impl Conn for $conn {
            const ROW_LOCKS: bool = $row_locks;
            const ANONYMOUS_PARAMS: bool = $anonymous;

            fn json_rows(columns: &str) -> String {
                $json_rows.replace("{columns}", columns)
            }

            async fn fetch_all<T: RowType>(
                &mut self,
                sql: impl Into<Sql> + Send,
                args: Vec<Arg>,
            ) -> StoreResult<Vec<T>> {
                Ok(bind_all!(sqlx::query_as::<$db, T>(safe(sql)), args).fetch_all(self).await?)
            }

            async fn fetch_optional<T: RowType>(
                &mut self,
                sql: impl Into<Sql> + Send,
                args: Vec<Arg>,
            ) -> StoreResult<Option<T>> {
                Ok(bind_all!(sqlx::query_as::<$db, T>(safe(sql)), args).fetch_optional(self).await?)
            }

            async fn execute(&mut self, sql: impl Into<Sql> + Send, args: Vec<Arg>) -> StoreResult<u64> {
                Ok(bind_all!(sqlx::query::<$db>(safe(sql)), args).execute(self).await?.rows_affected())
            }

            async fn fetch_cells(
                &mut self,
                sql: impl Into<Sql> + Send,
                args: Vec<Arg>,
                kinds: &[Kind],
            ) -> StoreResult<Vec<Vec<Arg>>> {
                let rows = bind_all!(sqlx::query::<$db>(safe(sql)), args).fetch_all(&mut *self).await?;
                rows.iter().map(|row| cells(row, kinds)).collect()
            }

            $lock_keys
        }
    };
}

impl_conn!(
    SqliteConnection,
    sqlx::Sqlite,
    row_locks: false,
    anonymous_params: true,
    json_rows: "json_group_array(json_array({columns}))",
    async fn lock_keys(&mut self, _keys: &mut Vec<String>) -> StoreResult<()> {
        Ok(()) // BEGIN IMMEDIATE already made this the only writer.
    }
);

impl_conn!(
    PgConnection,
    sqlx::Postgres,
    row_locks: true,
    anonymous_params: false,
    json_rows: "COALESCE(json_agg(json_build_array({columns})), '[]')::text",
    async fn lock_keys(&mut self, keys: &mut Vec<String>) -> StoreResult<()> {
        // A fixed order keeps two writers from each holding a key the other waits for:
        // Rust's sort, kept by ORDER BY the array position (PostgreSQL evaluates a volatile
        // select list after the sort; the database's collation plays no part).
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            return Ok(());
        }
        sqlx::query(
            "SELECT pg_advisory_xact_lock(hashtextextended(k.key, 0)) \
             FROM unnest($1::text[]) WITH ORDINALITY AS k(key, n) ORDER BY k.n",
        )
        .bind(&keys[..])
        .execute(&mut *self)
        .await?;
        Ok(())
    }
);

/// The arguments of a generated statement, each placeholder made as its value is added:
/// `$n` in order, or `?` where the backend binds those faster ([`Conn::ANONYMOUS_PARAMS`]).
/// A value used twice is added twice.
pub struct Params<C: ?Sized> {
    args: Vec<Arg>,
    backend: std::marker::PhantomData<fn(&C)>,
}

impl<C: Conn + ?Sized> Params<C> {
    pub fn new() -> Self {
        Self {
            args: Vec::new(),
            backend: std::marker::PhantomData,
        }
    }

    /// Adds a value and returns its placeholder. Placeholders must appear in the SQL in
    /// the order their values were added: SQLite binds `?` by position, so a value added
    /// out of order binds to the wrong place there (and only there).
    pub fn add(&mut self, value: impl Into<Arg>) -> String {
        self.args.push(value.into());
        if C::ANONYMOUS_PARAMS {
            "?".to_string()
        } else {
            format!("${}", self.args.len())
        }
    }

    /// Adds values and returns their placeholders, comma-separated.
    pub fn list<A: Into<Arg>>(&mut self, values: impl IntoIterator<Item = A>) -> String {
        values
            .into_iter()
            .map(|value| self.add(value))
            .collect::<Vec<_>>()
            .join(", ")
    }

    pub fn into_args(self) -> Vec<Arg> {
        self.args
    }
}
