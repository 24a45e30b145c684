//! Country names as USGS and USITC print them, and the codes they stand for.
//!
//! USGS tables say "Burma", USITC says "Myanmar (Burma)", Comtrade says "Myanmar" with code 104:
//! all are `MMR`. The list is closed on purpose: a name not in it is an error naming the name, so
//! a new country in a new edition is added here knowingly instead of being dropped or guessed.
//! Totals and residual rows get non-ISO codes: `WLD` for world totals, `OTH` for "Other countries".

use std::fmt;

/// One known country or aggregate: ISO3 (or `WLD`/`OTH`), the Comtrade numeric code where Comtrade
/// has one (Comtrade's own: 251 France, 699 India, 490 "Other Asia, nes" for Taiwan), and the names
/// sources use for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownCountry {
    pub iso3: &'static str,
    pub comtrade_code: Option<i32>,
    pub names: &'static [&'static str],
}

/// World totals (`WLD`) and residual "other" rows (`OTH`) are aggregates, not countries.
pub const WORLD: &str = "WLD";
pub const OTHER: &str = "OTH";

const fn known(iso3: &'static str, comtrade_code: i32, names: &'static [&'static str]) -> KnownCountry {
    KnownCountry { iso3, comtrade_code: Some(comtrade_code), names }
}

/// Every country or aggregate name the bundled USGS, USITC and compiled sources use.
pub const KNOWN_COUNTRIES: &[KnownCountry] = &[
    known("WLD", 0, &["World", "World total", "World total (rounded)", "World production", "Total"]),
    KnownCountry { iso3: OTHER, comtrade_code: None, names: &["Other countries", "Other"] },
    known("AUS", 36, &["Australia"]),
    known("AUT", 40, &["Austria"]),
    known("BEL", 56, &["Belgium"]),
    known("BRA", 76, &["Brazil"]),
    known("BDI", 108, &["Burundi"]),
    known("CAN", 124, &["Canada"]),
    known("CHL", 152, &["Chile"]),
    known("CHN", 156, &["China"]),
    known("COD", 180, &["Democratic Republic of the Congo", "Congo (Kinshasa)"]),
    known("EST", 233, &["Estonia"]),
    known("FIN", 246, &["Finland"]),
    known("FRA", 251, &["France"]),
    known("DEU", 276, &["Germany"]),
    known("GRL", 304, &["Greenland"]),
    known("HKG", 344, &["Hong Kong"]),
    known("IND", 699, &["India"]),
    known("IDN", 360, &["Indonesia"]),
    known("ITA", 380, &["Italy"]),
    known("JPN", 392, &["Japan"]),
    known("KAZ", 398, &["Kazakhstan"]),
    known("KOR", 410, &["South Korea", "Korea, Republic of", "Rep. of Korea"]),
    known("KGZ", 417, &["Kyrgyzstan"]),
    known("LAO", 418, &["Laos"]),
    known("MDG", 450, &["Madagascar"]),
    known("MYS", 458, &["Malaysia"]),
    known("MEX", 484, &["Mexico"]),
    known("MMR", 104, &["Burma", "Myanmar", "Myanmar (Burma)"]),
    known("NLD", 528, &["Netherlands"]),
    known("NGA", 566, &["Nigeria"]),
    known("RUS", 643, &["Russia", "Russian Federation"]),
    known("SAU", 682, &["Saudi Arabia"]),
    known("ZAF", 710, &["South Africa"]),
    known("LKA", 144, &["Sri Lanka"]),
    known("CHE", 757, &["Switzerland"]),
    known("TWN", 490, &["Taiwan"]),
    known("TZA", 834, &["Tanzania"]),
    known("THA", 764, &["Thailand"]),
    known("GBR", 826, &["United Kingdom"]),
    known("USA", 842, &["United States", "USA"]),
    known("VNM", 704, &["Vietnam", "Viet Nam"]),
];

/// A country name the closed list does not know.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown country name {name:?}: add it to reeflow_model::country::KNOWN_COUNTRIES if it is a real country")]
pub struct UnknownCountry {
    pub name: String,
}

/// Name → country lookups over [`KNOWN_COUNTRIES`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CountryLookup;

impl CountryLookup {
    /// The country a printed name stands for. Surrounding spaces and non-breaking spaces are ignored.
    pub fn by_name(name: &str) -> Result<&'static KnownCountry, UnknownCountry> {
        let wanted = clean_name(name);
        KNOWN_COUNTRIES
            .iter()
            .find(|c| c.names.iter().any(|n| n.eq_ignore_ascii_case(&wanted)))
            .ok_or(UnknownCountry { name: name.to_string() })
    }

    /// The country an ISO3 code stands for.
    pub fn by_iso3(iso3: &str) -> Option<&'static KnownCountry> {
        KNOWN_COUNTRIES.iter().find(|c| c.iso3 == iso3)
    }

    /// Splits a label that carries footnote markers after the name, as USGS workbooks print them:
    /// `Australiae` → (Australia, "e"), `Indiae, 4` → (India, "e, 4"), `China3` → (China, "3").
    /// The longest known name that prefixes the label wins; the rest must look like markers.
    pub fn split_footnotes(label: &str) -> Result<(&'static KnownCountry, String), UnknownCountry> {
        let cleaned = clean_name(label);
        let mut best: Option<(&'static KnownCountry, usize)> = None;
        for country in KNOWN_COUNTRIES {
            for name in country.names {
                let len = name.len();
                let is_prefix =
                    cleaned.len() >= len && cleaned.is_char_boundary(len) && cleaned[..len].eq_ignore_ascii_case(name);
                if is_prefix && best.is_none_or(|(_, l)| len > l) && is_footnote_tail(&cleaned[len..]) {
                    best = Some((country, len));
                }
            }
        }
        best.map(|(country, len)| (country, cleaned[len..].trim().to_string()))
            .ok_or(UnknownCountry { name: label.to_string() })
    }
}

fn clean_name(name: &str) -> String {
    name.trim_matches(|c: char| c.is_whitespace() || c == '\u{a0}').to_string()
}

/// Footnote tails: `e`, `r`, digits, separated by commas and spaces (`e, 4`, `3`, `e, 5`).
fn is_footnote_tail(tail: &str) -> bool {
    tail.split([',', ' '])
        .filter(|p| !p.is_empty())
        .all(|part| part == "e" || part == "r" || part == "p" || part.chars().all(|c| c.is_ascii_digit()))
}

impl fmt::Display for KnownCountry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.names[0], self.iso3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_every_source_resolve() {
        assert_eq!(CountryLookup::by_name("Burma").unwrap().iso3, "MMR");
        assert_eq!(CountryLookup::by_name("Myanmar (Burma)").unwrap().iso3, "MMR");
        assert_eq!(CountryLookup::by_name("World total (rounded)").unwrap().iso3, WORLD);
        assert_eq!(CountryLookup::by_name(" China\u{a0}").unwrap().comtrade_code, Some(156));
        assert_eq!(CountryLookup::by_name("Other countries").unwrap().comtrade_code, None);
        let err = CountryLookup::by_name("Atlantis").unwrap_err();
        assert!(err.to_string().contains("Atlantis"));
    }

    #[test]
    fn footnote_markers_are_split_off() {
        let (c, notes) = CountryLookup::split_footnotes("Australiae").unwrap();
        assert_eq!((c.iso3, notes.as_str()), ("AUS", "e"));
        let (c, notes) = CountryLookup::split_footnotes("Indiae, 4").unwrap();
        assert_eq!((c.iso3, notes.as_str()), ("IND", "e, 4"));
        let (c, notes) = CountryLookup::split_footnotes("Thailande, 5").unwrap();
        assert_eq!((c.iso3, notes.as_str()), ("THA", "e, 5"));
        let (c, notes) = CountryLookup::split_footnotes("United States").unwrap();
        assert_eq!((c.iso3, notes.as_str()), ("USA", ""));
        assert!(CountryLookup::split_footnotes("Chinatown").is_err());
    }

    #[test]
    fn iso3_codes_are_unique() {
        let mut codes: Vec<_> = KNOWN_COUNTRIES.iter().map(|c| c.iso3).collect();
        codes.sort();
        let before = codes.len();
        codes.dedup();
        assert_eq!(before, codes.len());
    }
}
