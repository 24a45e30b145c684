//! Supply-chain stages and the HS headings reeflow reads.

use std::fmt;

/// A node of the rare-earth supply chain (see docs/method.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Stage {
    /// Ore to mineral concentrate (USGS mine production; HS 253090).
    Mining,
    /// Concentrate to compounds and oxides (HS 2846).
    Separation,
    /// Compounds to metals and alloys (HS 2805, 280530).
    Metal,
    /// Metals to permanent magnets and materials (HS 850511).
    Magnet,
    /// Apparent consumption by end use.
    Demand,
}

impl Stage {
    pub const ALL: [Stage; 5] = [Stage::Mining, Stage::Separation, Stage::Metal, Stage::Magnet, Stage::Demand];

    /// The name used in every table (`mining`, `separation`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Mining => "mining",
            Stage::Separation => "separation",
            Stage::Metal => "metal",
            Stage::Magnet => "magnet",
            Stage::Demand => "demand",
        }
    }
}

impl std::str::FromStr for Stage {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Stage::ALL.into_iter().find(|s| s.as_str() == name).ok_or_else(|| format!("unknown stage {name:?}"))
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The default HS headings (4 digits) whose trade rows the normalizer keeps (configurable in
/// `config/reeflow.toml`). Rows of other headings in a source (USITC exports cover cobalt,
/// antimony, …) are counted and reported as out of scope.
/// 2530 holds 253090 (REE concentrates on known lanes), 2805 rare-earth metals (280530),
/// 2846 rare-earth compounds, 8505 permanent magnets (850511).
pub const REE_HS4_HEADINGS: [&str; 4] = ["2530", "2805", "2846", "8505"];

/// Characters in an HS heading.
const HEADING_CHARS: usize = 4;

/// The HS heading of a code: its first four characters (`284690` → `2846`; a shorter code whole).
/// HS codes are ASCII digits, so this takes four bytes when they are ASCII and counts characters
/// otherwise, as SQL's `substr(code, 1, 4)` does.
pub fn hs_heading(code: &str) -> &str {
    let bytes = code.as_bytes();
    if bytes.len() >= HEADING_CHARS && bytes[..HEADING_CHARS].is_ascii() {
        return &code[..HEADING_CHARS];
    }
    match code.char_indices().nth(HEADING_CHARS) {
        Some((end, _)) => &code[..end],
        None => code,
    }
}

/// The stage an HS code belongs to, where the code is specific enough to say.
pub fn stage_of_hs_code(code: &str) -> Option<Stage> {
    let digits: String = code.chars().filter(|c| c.is_ascii_digit()).collect();
    match digits.get(..4)? {
        "2530" => Some(Stage::Mining),
        "2846" => Some(Stage::Separation),
        "2805" => Some(Stage::Metal),
        "8505" => Some(Stage::Magnet),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hs_scope_and_stage() {
        assert_eq!(stage_of_hs_code("850511"), Some(Stage::Magnet));
        assert_eq!(stage_of_hs_code("253090"), Some(Stage::Mining));
        assert_eq!(stage_of_hs_code("7202"), None);
        assert_eq!(Stage::Separation.to_string(), "separation");
    }
}
