//! The tornado chart of one year: for each significant unregistered flow U, the inputs that move
//! it most, each as a bar from U with that input alone at its 5th percentile to U with it at its
//! 95th (`unregistered_drivers`), largest share of U's variance first, beside U's own 90 %
//! interval (`unregistered_uncertainty`). One x axis in t REO for the whole chart, zero marked.

use std::fmt::Write;

use crate::chart::nice_step;
use crate::svg::{UNREGISTERED_SUPPLY, UNREGISTERED_USE, esc, px, signed_tonnes, tonnes};

/// One significant U and its drivers.
#[derive(Debug, Clone)]
pub struct Balance {
    pub region: String,
    pub stage: String,
    pub u: f64,
    pub p05: f64,
    pub p95: f64,
    /// (input, share of U's variance, U with the input low, U with the input high), largest first.
    pub drivers: Vec<(String, f64, f64, f64)>,
}

const WIDTH: f64 = 900.0;
const LEFT: f64 = 330.0;
const RIGHT: f64 = 30.0;
const TOP: f64 = 40.0;
const BAR: f64 = 14.0;
const GAP: f64 = 6.0;
const GROUP_GAP: f64 = 26.0;
/// Inputs drawn per U; the rest are summed in the caption.
pub const MOST: usize = 5;

/// The chart as a standalone SVG document; `year` titles it.
pub fn to_svg(year: i32, balances: &[Balance]) -> String {
    let rows: usize = balances.iter().map(|b| 1 + b.drivers.len().min(MOST)).sum();
    let height = TOP + rows as f64 * (BAR + GAP) + balances.len() as f64 * GROUP_GAP + 40.0;
    let mut low: f64 = 0.0;
    let mut high: f64 = 0.0;
    for balance in balances {
        low = low.min(balance.p05);
        high = high.max(balance.p95);
        for (_, _, input_low, input_high) in &balance.drivers {
            low = low.min(*input_low);
            high = high.max(*input_high);
        }
    }
    let step = nice_step((high - low).max(1.0) / 6.0);
    let (axis_low, axis_high) = ((low / step).floor() * step, (high / step).ceil() * step);
    let x = |value: f64| LEFT + (value - axis_low) / (axis_high - axis_low) * (WIDTH - LEFT - RIGHT);
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"tornado\" id=\"tornado-{year}\" viewBox=\"0 0 {WIDTH} {h}\" width=\"{WIDTH}\" height=\"{h}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"11\">\n<rect width=\"{WIDTH}\" height=\"{h}\" fill=\"#ffffff\"/>\n",
        h = px(height)
    );
    let _ = writeln!(
        svg,
        "<text x=\"10\" y=\"20\" font-size=\"13\" font-weight=\"bold\">What drives each significant unregistered flow U, {year} (t REO)</text>"
    );
    if balances.is_empty() {
        let _ = writeln!(
            svg,
            "<text class=\"no-data\" x=\"10\" y=\"{}\" fill=\"#777\" font-style=\"italic\">no unregistered flow in {year} is significant (its 90 % interval includes zero)</text>",
            px(TOP + 14.0)
        );
        svg.push_str("</svg>\n");
        return svg;
    }
    let bottom = height - 30.0;
    let mut tick = axis_low;
    while tick <= axis_high + step / 2.0 {
        let _ = writeln!(
            svg,
            "<line x1=\"{x}\" y1=\"{TOP}\" x2=\"{x}\" y2=\"{b}\" stroke=\"{c}\"/><text x=\"{x}\" y=\"{t}\" text-anchor=\"middle\" fill=\"#555\">{label}</text>",
            x = px(x(tick)),
            b = px(bottom),
            c = if tick == 0.0 { "#333" } else { "#e4e4e4" },
            t = px(bottom + 14.0),
            label = tonnes(tick)
        );
        tick += step;
    }
    let mut y = TOP;
    for balance in balances {
        let colour = if balance.u > 0.0 { UNREGISTERED_SUPPLY } else { UNREGISTERED_USE };
        let _ = writeln!(
            svg,
            "<g class=\"balance\" data-region=\"{r}\" data-stage=\"{s}\" data-u=\"{u}\" data-p05=\"{lo}\" data-p95=\"{hi}\"><text x=\"10\" y=\"{ty}\" font-weight=\"bold\">{r} {s}: U {ut} (90 %: {lot} to {hit})</text><rect x=\"{x0}\" y=\"{y}\" width=\"{w}\" height=\"{BAR}\" fill=\"{colour}\" fill-opacity=\"0.25\" stroke=\"{colour}\"/><line x1=\"{xu}\" y1=\"{y}\" x2=\"{xu}\" y2=\"{y1}\" stroke=\"{colour}\" stroke-width=\"2\"/></g>",
            r = esc(&balance.region),
            s = esc(&balance.stage),
            u = balance.u,
            lo = balance.p05,
            hi = balance.p95,
            ty = px(y + BAR - 3.0),
            ut = signed_tonnes(balance.u),
            lot = signed_tonnes(balance.p05),
            hit = signed_tonnes(balance.p95),
            x0 = px(x(balance.p05)),
            y = px(y),
            w = px((x(balance.p95) - x(balance.p05)).max(1.0)),
            xu = px(x(balance.u)),
            y1 = px(y + BAR),
        );
        y += BAR + GAP;
        for (input, share, input_low, input_high) in balance.drivers.iter().take(MOST) {
            let _ = writeln!(
                svg,
                "<g class=\"bar\" data-region=\"{r}\" data-stage=\"{s}\" data-input=\"{i}\" data-share=\"{share}\" data-low=\"{input_low}\" data-high=\"{input_high}\"><text x=\"{tx}\" y=\"{ty}\" text-anchor=\"end\">{i} ({pct:.0} %)</text><rect x=\"{x0}\" y=\"{y}\" width=\"{w}\" height=\"{BAR}\" fill=\"{colour}\" fill-opacity=\"0.7\"/><title>{i}: U from {l} to {h} t REO with this input alone at its 5th and 95th percentile; {pct:.1} % of U's variance</title></g>",
                r = esc(&balance.region),
                s = esc(&balance.stage),
                i = esc(input),
                tx = px(LEFT - 8.0),
                ty = px(y + BAR - 3.0),
                pct = share * 100.0,
                x0 = px(x(*input_low)),
                y = px(y),
                w = px((x(*input_high) - x(*input_low)).max(1.0)),
                l = signed_tonnes(*input_low),
                h = signed_tonnes(*input_high),
            );
            y += BAR + GAP;
        }
        y += GROUP_GAP;
    }
    svg.push_str("</svg>\n");
    svg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_span_the_input_swings_on_one_axis() {
        let balance = Balance {
            region: "USA".into(),
            stage: "mining".into(),
            u: 5_594.0,
            p05: 3_454.0,
            p95: 8_318.0,
            drivers: vec![
                ("exports 253090".into(), 0.78, 3_802.0, 8_109.0),
                ("production".into(), 0.22, 4_463.0, 6_778.0),
            ],
        };
        let svg = to_svg(2018, &[balance]);
        assert_eq!(svg.matches("<g class=\"bar\"").count(), 2);
        assert!(
            svg.contains("data-input=\"exports 253090\" data-share=\"0.78\" data-low=\"3802\" data-high=\"8109\""),
            "{svg}"
        );
        assert!(svg.contains("USA mining: U +5,594 (90 %: +3,454 to +8,318)"));
        assert!(to_svg(2019, &[]).contains("no unregistered flow in 2019 is significant"));
    }
}
