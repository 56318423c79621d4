//! Accounts: login names and the passwords people choose.

use std::fmt;

use serde::Serialize;

use crate::CoreError;

pub mod throttle;

/// A login name: 3 to 32 characters, lowercase ASCII letters, digits, `_`, `.` or `-`,
/// starting with a letter. (The person's Chinese name goes in the display name.)
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Username, CoreError> {
        let name = raw.trim().to_ascii_lowercase();
        let ok_len = (3..=32).contains(&name.len());
        let ok_chars = name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
        let starts = name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
        if !(ok_len && ok_chars && starts) {
            return Err(CoreError::invalid(
                "username",
                "登录名应为 3 至 32 位英文字母、数字或「_」「.」「-」，并以字母开头",
            ));
        }
        Ok(Username(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password, as chosen: 8 to 128 characters, not all of one character.
/// (Only checked when set; logins compare whatever is typed against the stored hash.)
pub struct NewPassword(String);

impl NewPassword {
    pub fn parse(raw: &str) -> Result<NewPassword, CoreError> {
        let n = raw.chars().count();
        if n < 8 {
            return Err(CoreError::invalid("password", "密码至少需要 8 个字符"));
        }
        if n > 128 {
            return Err(CoreError::invalid("password", "密码不能超过 128 个字符"));
        }
        let mut chars = raw.chars();
        let first = chars.next();
        if chars.all(|c| Some(c) == first) {
            return Err(CoreError::invalid("password", "密码不能全部是同一个字符"));
        }
        Ok(NewPassword(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for NewPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NewPassword(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_normalised_and_checked() {
        assert_eq!(Username::parse(" WangGe01 ").unwrap().as_str(), "wangge01");
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("1abc").is_err());
        assert!(Username::parse("张三").is_err());
        assert!(Username::parse("a b c").is_err());
    }

    #[test]
    fn passwords_have_a_floor() {
        assert!(NewPassword::parse("short").is_err());
        assert!(NewPassword::parse("aaaaaaaaaa").is_err());
        NewPassword::parse("correct horse").unwrap();
        assert_eq!(
            format!("{:?}", NewPassword::parse("correct horse").unwrap()),
            "NewPassword(***)"
        );
    }
}
