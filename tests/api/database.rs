//! The database a test app runs on: a SQLite file in the test's own folder or, when
//! `DOORCODE_TEST_POSTGRES_URL` names a PostgreSQL server, a fresh database of its
//! own there. Tests read and change it through these helpers, in SQL both accept.

use std::future::Future;

use tokio_postgres::NoTls;
use tokio_postgres::types::Type;

/// The PostgreSQL server the suite runs against, if one is named.
pub fn postgres_server() -> Option<String> {
    std::env::var("DOORCODE_TEST_POSTGRES_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// Creates an empty database on `server` and returns its URL.
pub fn fresh_postgres(server: &str) -> String {
    let name = format!("doorcode_test_{}", hex(&rand::random::<[u8; 8]>()));
    let admin = server.to_owned();
    let create = format!("CREATE DATABASE {name}");
    on_own_runtime(async move {
        let client = connect(&admin).await;
        client
            .batch_execute(&create)
            .await
            .expect("create a test database");
    });
    let mut url = url::Url::parse(server).expect("DOORCODE_TEST_POSTGRES_URL is a URL");
    url.set_path(&name);
    url.to_string()
}

/// A random server secret, as every instance on one PostgreSQL shares one.
pub fn random_secret() -> String {
    hex(&rand::random::<[u8; 32]>())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub enum Database {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

impl Database {
    /// The one number `sql` selects.
    pub fn query_i64(&self, sql: &str) -> i64 {
        match self {
            Database::Sqlite(path) => r2d2_sqlite::rusqlite::Connection::open(path)
                .unwrap()
                .query_row(sql, [], |r| r.get(0))
                .unwrap_or_else(|e| panic!("{sql}: {e}")),
            Database::Postgres(url) => {
                let (url, sql) = (url.clone(), sql.to_owned());
                on_own_runtime(async move {
                    let row = connect(&url).await.query_one(&sql, &[]).await;
                    row.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
                })
            }
        }
    }

    /// Runs statements that return nothing.
    pub fn execute(&self, sql: &str) {
        match self {
            Database::Sqlite(path) => r2d2_sqlite::rusqlite::Connection::open(path)
                .unwrap()
                .execute_batch(sql)
                .unwrap(),
            Database::Postgres(url) => {
                let (url, sql) = (url.clone(), sql.to_owned());
                on_own_runtime(
                    async move { connect(&url).await.batch_execute(&sql).await.unwrap() },
                )
            }
        }
    }

    /// Every text and binary value of every table as one string, and every integer.
    pub fn dump(&self) -> (String, Vec<i64>) {
        match self {
            Database::Sqlite(path) => dump_sqlite(path),
            Database::Postgres(url) => {
                let url = url.clone();
                on_own_runtime(async move { dump_postgres(&url).await })
            }
        }
    }
}

fn dump_sqlite(path: &std::path::Path) -> (String, Vec<i64>) {
    use r2d2_sqlite::rusqlite::{Connection, types::ValueRef};
    let conn = Connection::open(path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let (mut dump, mut numbers) = (String::new(), Vec::new());
    for table in tables {
        let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\"")).unwrap();
        let columns = stmt.column_count();
        let mut rows = stmt.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..columns {
                match row.get_ref(i).unwrap() {
                    ValueRef::Text(t) => dump.push_str(&String::from_utf8_lossy(t)),
                    ValueRef::Blob(b) => dump.push_str(&String::from_utf8_lossy(b)),
                    ValueRef::Integer(n) => numbers.push(n),
                    _ => {}
                }
                dump.push(' ');
            }
        }
    }
    (dump, numbers)
}

async fn dump_postgres(url: &str) -> (String, Vec<i64>) {
    let client = connect(url).await;
    let tables = client
        .query(
            "SELECT table_name::TEXT FROM information_schema.tables WHERE table_schema = 'public'",
            &[],
        )
        .await
        .unwrap();
    let (mut dump, mut numbers) = (String::new(), Vec::new());
    for table in tables {
        let table: String = table.get(0);
        for row in client
            .query(&format!("SELECT * FROM \"{table}\""), &[])
            .await
            .unwrap()
        {
            for (i, column) in row.columns().iter().enumerate() {
                match *column.type_() {
                    Type::TEXT => {
                        dump.push_str(&row.get::<_, Option<String>>(i).unwrap_or_default())
                    }
                    Type::BYTEA => dump.push_str(&String::from_utf8_lossy(
                        &row.get::<_, Option<Vec<u8>>>(i).unwrap_or_default(),
                    )),
                    Type::INT8 => numbers.extend(row.get::<_, Option<i64>>(i)),
                    Type::BOOL => numbers.extend(row.get::<_, Option<bool>>(i).map(i64::from)),
                    ref other => panic!("{table}: add {other} to the dump"),
                }
                dump.push(' ');
            }
        }
    }
    (dump, numbers)
}

pub async fn connect(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e:?}"));
    tokio::spawn(connection);
    client
}

/// Runs `work` to completion on a runtime of its own, so the helpers above can be
/// called from synchronous code inside any test.
fn on_own_runtime<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> T {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work)
    })
    .join()
    .expect("database helper thread")
}
