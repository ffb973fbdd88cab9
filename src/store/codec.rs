//! How domain enums are stored: as their SCREAMING_SNAKE name in a text column,
//! on both backends.

use crate::domain::types::*;
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Encode, Type};

macro_rules! text_enum {
    ($($t:ty),* $(,)?) => {$(
        impl<DB: Database> Type<DB> for $t
        where
            str: Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as Type<DB>>::type_info()
            }
            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as Type<DB>>::compatible(ty)
            }
        }

        impl<'q, DB: Database> Encode<'q, DB> for $t
        where
            &'q str: Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as Database>::ArgumentBuffer<'q>,
            ) -> Result<IsNull, BoxDynError> {
                <&'q str as Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }

        impl<'r, DB: Database> Decode<'r, DB> for $t
        where
            &'r str: Decode<'r, DB>,
        {
            fn decode(value: <DB as Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
                let s = <&'r str as Decode<'r, DB>>::decode(value)?;
                <$t>::parse(s).ok_or_else(|| {
                    format!(concat!("unknown ", stringify!($t), " {:?}"), s).into()
                })
            }
        }
    )*};
}

text_enum!(
    Role,
    Stage,
    CaseStatus,
    Priority,
    Channel,
    InstitutionKind,
    ReferralStatus,
    DeclineReason,
    NoteVisibility,
    Outcome,
    EventKind,
);

/// Domain enums bind as their stored name (see [`super::db::Val`]).
macro_rules! enum_val {
    ($($t:ty),* $(,)?) => {$(
        impl From<$t> for super::db::Val {
            fn from(x: $t) -> Self {
                super::db::Val::Text(Some(x.as_str().to_owned()))
            }
        }
        impl From<Option<$t>> for super::db::Val {
            fn from(x: Option<$t>) -> Self {
                super::db::Val::Text(x.map(|x| x.as_str().to_owned()))
            }
        }
    )*};
}

enum_val!(
    Role,
    Stage,
    CaseStatus,
    Priority,
    Channel,
    InstitutionKind,
    ReferralStatus,
    DeclineReason,
    NoteVisibility,
    Outcome,
    EventKind,
);
