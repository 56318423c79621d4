//! Enums with a stable code (stored in the database, sent in URLs and the API) and a Chinese
//! label (shown to people). The variants take their code and label from strum derives —
//! `#[strum(serialize = "code", props(zh = "标签", aliases = "别名|…"))]` with `IntoStaticStr`,
//! `EnumProperty` and `VariantArray` — and [`Labelled`] adds what every such enum offers: its
//! list of variants, code, label, and parsing from any of what people type.
//! [`labelled!`](crate::labelled) declares such an enum with those derives in one place.

use crate::CoreError;

/// An enum whose variants carry a code and a Chinese label (see the module notes). Bring it
/// into scope to call `as_str`, `label_zh` or `ALL`.
pub trait Labelled:
    Copy + PartialEq + strum::VariantArray + strum::EnumProperty + Into<&'static str> + 'static
{
    /// The input field a refusal names.
    const FIELD: &'static str;
    /// Every variant, in declaration order.
    const ALL: &'static [Self] = Self::VARIANTS;

    /// The stable code.
    fn as_str(self) -> &'static str {
        self.into()
    }

    /// The name shown to people.
    fn label_zh(self) -> &'static str {
        self.get_str("zh").unwrap_or_else(|| self.as_str())
    }

    /// The variant whose code is exactly `s` (for the enums whose own `FromStr` accepts only
    /// the code: each keeps its refusal message).
    fn from_code(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.as_str() == s)
    }

    /// The choices as a refusal lists them: `标签（code）`, joined with `、`.
    fn choices() -> String {
        Self::ALL
            .iter()
            .map(|v| format!("{}（{}）", v.label_zh(), v.as_str()))
            .collect::<Vec<_>>()
            .join("、")
    }

    /// The variant named by its code, its label or one of its aliases (surrounding spaces
    /// ignored); otherwise an error on [`Labelled::FIELD`] that lists the choices.
    fn parse_labelled(s: &str) -> Result<Self, CoreError> {
        let s = s.trim();
        Self::ALL
            .iter()
            .copied()
            .find(|v| {
                v.as_str() == s
                    || v.label_zh() == s
                    || v.get_str("aliases")
                        .is_some_and(|a| a.split('|').any(|a| a == s))
            })
            .ok_or_else(|| {
                CoreError::invalid(
                    Self::FIELD,
                    format!("「{s}」不是可选的值，应为以下之一：{}", Self::choices()),
                )
            })
    }
}

/// Declares a code table: the enum with the derives every one of them needs (`Serialize` with
/// snake_case codes, and the strum derives [`Labelled`] reads), and its [`Labelled`] impl naming
/// the input field a refusal points at. `, FromStr` adds the lenient parse
/// ([`Labelled::parse_labelled`]); enums with their own parse leave it out and write `FromStr`.
/// Extra derives (`Hash`, `Deserialize`, `strum::Display`, …) go in the enum's own attributes.
#[macro_export]
macro_rules! labelled {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $field:literal, FromStr { $($body:tt)* }
    ) => {
        $crate::labelled! { $(#[$meta])* $vis enum $name : $field { $($body)* } }

        impl ::std::str::FromStr for $name {
            type Err = $crate::CoreError;
            fn from_str(s: &str) -> Result<Self, $crate::CoreError> {
                <Self as $crate::kernel::labels::Labelled>::parse_labelled(s)
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident : $field:literal { $($body:tt)* }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, ::serde::Serialize)]
        #[derive(::strum::IntoStaticStr, ::strum::VariantArray, ::strum::EnumProperty)]
        #[serde(rename_all = "snake_case")]
        $vis enum $name { $($body)* }

        impl $crate::kernel::labels::Labelled for $name {
            const FIELD: &'static str = $field;
        }
    };
}

/// Asserts that `T`'s variants are exactly those of `table`, in its order, with these codes
/// and labels: codes are stored and labels shown, so changing one must be deliberate.
#[cfg(test)]
pub(crate) fn assert_table<T: Labelled + std::fmt::Debug>(table: &[(T, &str, &str)]) {
    let variants: Vec<T> = table.iter().map(|row| row.0).collect();
    assert_eq!(T::ALL, &variants[..]);
    for &(v, code, zh) in table {
        assert_eq!((v.as_str(), v.label_zh()), (code, zh), "{v:?}");
    }
}
