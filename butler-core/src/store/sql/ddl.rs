//! Tables, columns and indexes declared once and rendered for each SQL
//! dialect Butler stores in, so a column is added in one place.

/// A SQL dialect a Butler store speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// SQLite (`butler_core::store::SqliteStore`).
    Sqlite,
    /// PostgreSQL (`butler_postgres::PostgresStore`).
    Postgres,
}

/// A column's type, as Butler uses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Type {
    /// A 64-bit integer (`INTEGER` / `BIGINT`).
    Int,
    /// A 64-bit key the database assigns, counting up and never reused;
    /// always the table's primary key (`INTEGER PRIMARY KEY AUTOINCREMENT` /
    /// `BIGSERIAL PRIMARY KEY`).
    Serial,
    /// Text (`TEXT`), JSON bodies included.
    Text,
    /// Bytes (`BLOB` / `BYTEA`).
    Bytes,
    /// A flag (`INTEGER` 0/1 / `BOOLEAN`).
    Bool,
}

/// A column's default value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    /// An integer.
    Int(i64),
    /// A flag.
    Bool(bool),
}

/// One column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub ty: Type,
    /// Whether it may hold NULL.
    pub nullable: bool,
    /// Whether its values are unique.
    pub unique: bool,
    /// Its default, if any.
    pub default: Option<Default>,
    /// The `table(column)` it refers to, if any.
    pub references: Option<&'static str>,
}

impl Column {
    /// A NOT NULL column of `ty`, no default, not unique.
    pub const fn new(name: &'static str, ty: Type) -> Column {
        Column {
            name,
            ty,
            nullable: false,
            unique: false,
            default: None,
            references: None,
        }
    }

    /// The same column, nullable.
    pub const fn nullable(mut self) -> Column {
        self.nullable = true;
        self
    }

    /// The same column, unique.
    pub const fn unique(mut self) -> Column {
        self.unique = true;
        self
    }

    /// The same column with a default.
    pub const fn default(mut self, d: Default) -> Column {
        self.default = Some(d);
        self
    }

    /// The same column, referring to `target` (`table(column)`).
    pub const fn references(mut self, target: &'static str) -> Column {
        self.references = Some(target);
        self
    }

    fn render(&self, dialect: Dialect, sole_key: bool) -> String {
        use Dialect::{Postgres, Sqlite};
        let ty = match (self.ty, dialect) {
            (Type::Serial, Sqlite) => "INTEGER PRIMARY KEY AUTOINCREMENT",
            (Type::Serial, Postgres) => "BIGSERIAL PRIMARY KEY",
            (Type::Int | Type::Bool, Sqlite) => "INTEGER",
            (Type::Int, Postgres) => "BIGINT",
            (Type::Bool, Postgres) => "BOOLEAN",
            (Type::Text, _) => "TEXT",
            (Type::Bytes, Sqlite) => "BLOB",
            (Type::Bytes, Postgres) => "BYTEA",
        };
        let mut s = format!("{} {ty}", self.name);
        if self.ty != Type::Serial {
            if sole_key {
                // Inline, so SQLite makes an INTEGER key the row id.
                s.push_str(" PRIMARY KEY");
            } else if !self.nullable {
                s.push_str(" NOT NULL");
            }
        }
        if self.unique {
            s.push_str(" UNIQUE");
        }
        match (self.default, dialect) {
            (None, _) => {}
            (Some(Default::Int(n)), _) => s.push_str(&format!(" DEFAULT {n}")),
            (Some(Default::Bool(b)), Sqlite) => s.push_str(&format!(" DEFAULT {}", u8::from(b))),
            (Some(Default::Bool(b)), Postgres) => {
                s.push_str(if b { " DEFAULT TRUE" } else { " DEFAULT FALSE" })
            }
        }
        if let Some(target) = self.references {
            s.push_str(&format!(" REFERENCES {target}"));
        }
        s
    }
}

/// One table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// Its name.
    pub name: &'static str,
    /// Its columns, in order.
    pub columns: &'static [Column],
    /// Its primary key (empty when a `Serial` column is the key).
    pub primary_key: &'static [&'static str],
    /// Whether SQLite stores it clustered by its key (`WITHOUT ROWID`):
    /// for tables keyed by text or by several columns.
    pub clustered: bool,
}

impl Table {
    /// `CREATE TABLE` for `dialect`.
    pub fn create(&self, dialect: Dialect) -> String {
        let sole = match self.primary_key {
            [one] => Some(*one),
            _ => None,
        };
        let mut lines: Vec<String> = self
            .columns
            .iter()
            .map(|c| format!("    {}", c.render(dialect, sole == Some(c.name))))
            .collect();
        if self.primary_key.len() > 1 {
            lines.push(format!("    PRIMARY KEY ({})", self.primary_key.join(", ")));
        }
        let tail = if self.clustered && dialect == Dialect::Sqlite {
            " WITHOUT ROWID"
        } else {
            ""
        };
        format!(
            "CREATE TABLE {} (\n{}\n){tail};",
            self.name,
            lines.join(",\n")
        )
    }
}

/// One index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    /// Its name.
    pub name: &'static str,
    /// The table it indexes.
    pub table: &'static str,
    /// Its key, in order (`created_at DESC` allowed).
    pub columns: &'static [&'static str],
    /// Whether the key is unique.
    pub unique: bool,
    /// A partial index's condition (the same SQL in both dialects).
    pub filter: Option<&'static str>,
}

impl Index {
    /// A plain index on `columns` of `table`.
    pub const fn on(
        name: &'static str,
        table: &'static str,
        columns: &'static [&'static str],
    ) -> Index {
        Index {
            name,
            table,
            columns,
            unique: false,
            filter: None,
        }
    }

    /// `CREATE INDEX` (the same in both dialects).
    pub fn create(&self) -> String {
        let unique = if self.unique { "UNIQUE " } else { "" };
        let filter = self
            .filter
            .map(|f| format!(" WHERE {f}"))
            .unwrap_or_default();
        format!(
            "CREATE {unique}INDEX {} ON {}({}){filter};",
            self.name,
            self.table,
            self.columns.join(", ")
        )
    }
}

/// One change to the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Create a table.
    Table(Table),
    /// Create an index.
    Index(Index),
    /// Add a column to a table.
    AddColumn(&'static str, Column),
    /// SQL that reads the same in both dialects (e.g. an `INSERT`).
    Sql(&'static str),
    /// The same change written for each dialect where they differ (a
    /// trigger, say).
    Each {
        /// For SQLite.
        sqlite: &'static str,
        /// For PostgreSQL.
        postgres: &'static str,
    },
    /// A change one dialect alone needs (storage tuning, a legacy step);
    /// the other skips it.
    Only(Dialect, &'static str),
    /// Several changes that go together (a table and its indexes), in order.
    Group(&'static [Change]),
}

impl Change {
    /// The change as SQL for `dialect` (empty when it does not apply).
    pub fn render(&self, dialect: Dialect) -> String {
        match self {
            Change::Table(t) => t.create(dialect),
            Change::Index(i) => i.create(),
            Change::AddColumn(table, c) => {
                format!(
                    "ALTER TABLE {table} ADD COLUMN {};",
                    c.render(dialect, false)
                )
            }
            Change::Sql(sql) => sql.to_string(),
            Change::Each { sqlite, postgres } => match dialect {
                Dialect::Sqlite => sqlite.to_string(),
                Dialect::Postgres => postgres.to_string(),
            },
            Change::Only(d, sql) if *d == dialect => sql.to_string(),
            Change::Only(..) => String::new(),
            Change::Group(changes) => render(changes, dialect),
        }
    }
}

/// One schema version: the changes applied together, in one transaction.
pub type Version = &'static [Change];

/// A version rendered for `dialect`, as one batch of statements.
pub fn render(version: Version, dialect: Dialect) -> String {
    version
        .iter()
        .map(|c| c.render(dialect))
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}
