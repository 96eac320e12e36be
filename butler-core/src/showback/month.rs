//! A calendar month, the period showback reports by.

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A calendar month (`2026-03`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month {
    year: i32,
    month: u32,
}

/// A month that is not `YYYY-MM` within the calendar.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("month {0:?} is not YYYY-MM (for example 2026-03)")]
pub struct BadMonth(pub String);

impl Month {
    /// `month` (1–12) of `year`, if the calendar has its days.
    pub fn new(year: i32, month: u32) -> Option<Month> {
        let m = Month { year, month };
        (m.first_day().is_some() && m.next().and_then(|n| n.first_day()).is_some()).then_some(m)
    }

    /// The month `day` falls in.
    pub fn of(day: NaiveDate) -> Month {
        Month {
            year: day.year(),
            month: day.month(),
        }
    }

    /// Its first day.
    pub fn first(self) -> NaiveDate {
        self.first_day().unwrap_or(NaiveDate::MIN)
    }

    /// Its last day.
    pub fn last(self) -> NaiveDate {
        self.next()
            .and_then(|n| n.first_day())
            .and_then(|d| d.pred_opt())
            .unwrap_or(NaiveDate::MAX)
    }

    /// How many days it has.
    pub fn days(self) -> u32 {
        self.last().day()
    }

    /// The month after it.
    pub fn next(self) -> Option<Month> {
        if self.month == 12 {
            Some(Month {
                year: self.year.checked_add(1)?,
                month: 1,
            })
        } else {
            Some(Month {
                year: self.year,
                month: self.month + 1,
            })
        }
    }

    fn first_day(self) -> Option<NaiveDate> {
        NaiveDate::from_ymd_opt(self.year, self.month, 1)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

impl FromStr for Month {
    type Err = BadMonth;

    fn from_str(s: &str) -> Result<Month, BadMonth> {
        let bad = || BadMonth(s.chars().take(crate::limits::ECHO_CHARS).collect());
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 || !(y.bytes().chain(m.bytes())).all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        let year = y.parse().map_err(|_| bad())?;
        let month = m.parse().map_err(|_| bad())?;
        Month::new(year, month).ok_or_else(bad)
    }
}

impl Serialize for Month {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Month, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
