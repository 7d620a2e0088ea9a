//! How the domain's values are stored: rows decode straight into [`Email`], [`PersonName`],
//! [`Level`], [`Month`] and the id types, and those bind as parameters, so the rest of the
//! program never handles a stored value as a bare string or integer. A stored value that no
//! longer parses is a decoding error, not a value passed on.
//!
//! Both backends keep text as `TEXT` and numbers, times and flags as `BIGINT`; the impls are
//! generic over the database and lean on `String`'s and `i64`'s own.

use sqlx::{Database, Decode, Encode, Type, encode::IsNull, error::BoxDynError};

use crate::domain::{
    Email, FreeTimes, Frequency, GroupId, LedTo, Level, MeetFormat, Mode, Month, PersonName, RoundId,
    RoundKind, UserId,
};

/// Implements `Type`, `Decode` and `Encode` for a value stored as `$raw`: decoded with `$parse`
/// (a `Result` whose error is shown), encoded from `$store`.
macro_rules! stored_as {
    ($t:ty, $raw:ty, |$p:ident| $parse:expr, |$v:ident| $store:expr) => {
        impl<DB: Database> Type<DB> for $t
        where
            $raw: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <$raw as Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <$raw as Type<DB>>::compatible(ty)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $t
        where
            $raw: Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let $p = <$raw as Decode<'r, DB>>::decode(value)?;
                $parse.map_err(|e| format!("a stored {} does not parse: {e}", stringify!($t)).into())
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $t
        where
            $raw: Encode<'q, DB>,
        {
            fn encode_by_ref(&self, buf: &mut DB::ArgumentBuffer<'q>) -> Result<IsNull, BoxDynError> {
                let $v = self;
                <$raw as Encode<'q, DB>>::encode($store, buf)
            }
        }
    };
}

stored_as!(Email, String, |raw| Email::parse(&raw), |v| v.as_str().to_owned());
stored_as!(PersonName, String, |raw| PersonName::parse(&raw), |v| v.as_str().to_owned());
stored_as!(Month, String, |raw| Month::parse(&raw).map_err(|e| format!("{e:?}")), |v| v.to_string());
stored_as!(
    Level,
    i64,
    |raw| u32::try_from(raw).map(Level).map_err(|_| format!("level {raw} is negative or too large")),
    |v| i64::from(v.0)
);
stored_as!(MeetFormat, String, |raw| MeetFormat::parse(&raw), |v| v.as_str().to_owned());
stored_as!(FreeTimes, i64, |raw| FreeTimes::from_bits(raw), |v| v.bits());
stored_as!(Mode, String, |raw| Mode::parse(&raw).ok_or("not a group mode"), |v| v.as_str().to_owned());
stored_as!(Frequency, String, |raw| Frequency::parse(&raw), |v| v.as_str().to_owned());
stored_as!(RoundKind, String, |raw| RoundKind::parse(&raw).ok_or("not a kind of round"), |v| v
    .as_str()
    .to_owned());
stored_as!(LedTo, String, |raw| LedTo::parse(&raw), |v| v.as_str().to_owned());
stored_as!(UserId, i64, |raw| Ok::<_, String>(UserId(raw)), |v| v.0);
stored_as!(GroupId, i64, |raw| Ok::<_, String>(GroupId(raw)), |v| v.0);
stored_as!(RoundId, i64, |raw| Ok::<_, String>(RoundId(raw)), |v| v.0);

/// A yes/no column (`BIGINT` 0 or 1, as neither backend's boolean is shared). Row types name it
/// in `#[sqlx(try_from = "Flag")]` and hold a plain `bool`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flag(pub bool);

stored_as!(Flag, i64, |raw| Ok::<_, String>(Flag(raw != 0)), |v| i64::from(v.0));

impl From<Flag> for bool {
    fn from(flag: Flag) -> Self {
        flag.0
    }
}

#[cfg(test)]
mod tests {
    use sqlx::{Connection, Row, SqliteConnection};

    use super::*;

    #[tokio::test]
    async fn values_round_trip_and_a_bad_stored_value_is_an_error() {
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let email = Email::parse("Ana@Hospital.org").unwrap();
        let row = sqlx::query("SELECT $1 AS e, $2 AS m, $3 AS l, $4 AS f, $5 AS u")
            .bind(&email)
            .bind(Month::parse("2027-01").unwrap())
            .bind(Level(3))
            .bind(Flag(true))
            .bind(UserId(7))
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(row.get::<Email, _>("e"), email);
        assert_eq!(row.get::<Month, _>("m").to_string(), "2027-01");
        assert_eq!(row.get::<Level, _>("l"), Level(3));
        assert!(bool::from(row.get::<Flag, _>("f")));
        assert_eq!(row.get::<UserId, _>("u"), UserId(7));
        let bad = sqlx::query("SELECT 'not an address' AS e, -1 AS l").fetch_one(&mut conn).await.unwrap();
        assert!(bad.try_get::<Email, _>("e").is_err());
        assert!(bad.try_get::<Level, _>("l").is_err());
    }
}
