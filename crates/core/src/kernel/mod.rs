//! What every area of the core shares: the clock and calendar, ID and phone numbers, the
//! administrative divisions, jurisdiction paths and the caller's access. Imports no area.

pub mod access;
pub mod audit;
pub mod clock;
pub mod division;
pub mod idnumber;
pub mod labels;
pub mod path;
pub mod phone;
pub mod token;
