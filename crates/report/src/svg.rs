//! Writing SVG by hand: escaping, numbers for coordinates and for people, and the palette.

/// Text for an XML attribute or element.
pub fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// A coordinate: two decimals, no trailing zeros.
pub fn px(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Tonnes for people: `44,931`, `0.47`, `-6,184`.
pub fn tonnes(value: f64) -> String {
    if value.abs() < 10.0 && value != 0.0 {
        return format!("{value:.2}");
    }
    let rounded = value.round() as i64;
    let digits = rounded.unsigned_abs().to_string();
    let mut grouped = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    if rounded < 0 { format!("-{grouped}") } else { grouped }
}

/// `+2,526` / `-52,931`: a signed quantity.
pub fn signed_tonnes(value: f64) -> String {
    if value > 0.0 { format!("+{}", tonnes(value)) } else { tonnes(value) }
}

/// One colour per position in the region list, the same in every figure.
pub fn region_colour(index: usize) -> &'static str {
    const PALETTE: [&str; 12] = [
        "#1f5fa8", "#c8312b", "#e0a100", "#2d8a4e", "#7b4fa0", "#d1652a", "#2a9bb5", "#8a6d3b", "#b84d8b", "#6b7a8f",
        "#4d4d4d", "#9fb83a",
    ];
    PALETTE[index % PALETTE.len()]
}

/// Colour of unregistered supply (U > 0) and unregistered use (U < 0).
pub const UNREGISTERED_SUPPLY: &str = "#b2182b";
pub const UNREGISTERED_USE: &str = "#2166ac";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(tonnes(44_930.748_6), "44,931");
        assert_eq!(tonnes(-6_183.87), "-6,184");
        assert_eq!(tonnes(0.46833), "0.47");
        assert_eq!(tonnes(1_000_000.0), "1,000,000");
        assert_eq!(signed_tonnes(2_525.7), "+2,526");
        assert_eq!(px(12.5), "12.5");
        assert_eq!(px(3.0), "3");
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
    }
}
