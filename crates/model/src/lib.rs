//! The vocabulary every other reeflow crate speaks, with no IO of its own.
//!
//! It owns: the canonical tables users query (`production`, `trade`, `salient`, `countries`), as
//! row structs and their Arrow schemas; the supply-chain stages and the HS codes that belong to
//! them; the country names that USGS and USITC print and the ISO3 codes they mean; and the value
//! tokens statistical agencies put in number cells (`W`, `NA`, `E`, `>95`, `"7,900"`, `—`), turned
//! into a number, a null and a flag without ever inventing a zero.

pub mod commodity;
pub mod country;
pub mod date;
pub mod table;
pub mod token;

pub use commodity::{REE_HS4_HEADINGS, Stage, hs_heading, stage_of_hs_code};
pub use country::{CountryLookup, KnownCountry, UnknownCountry};
pub use table::{CountryRow, ProductionRow, Provenance, SalientRow, TABLE_NAMES, Table, TradeRow, grain_of};
pub use token::{ParsedValue, TokenError, parse_number_token};
